// The SQLite backend: a SqliteStore driven by one storage thread, so the
// event loop never waits for the disk.
//
// The loop collects the requests of one loop turn without any lock and
// hands them over once per turn (a uv_idle handle, which also keeps the loop
// from sleeping before the handover) to a queue guarded by a mutex, never
// held while SQLite works. The storage thread takes everything queued at
// once and executes it as one transaction, so many concurrent writers share
// one commit and one fsync (group commit). Results go back to the loop in a
// second queue, signalled with uv_async; completions run there, in order.
#pragma once

#include "sqlite_store.h"
#include "storage_backend.h"

#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace sb::storage {

class SqliteBackend final : public StorageBackend {
public:
    // Opens the database on the calling thread (errors throw StorageError
    // before anything starts), then starts the storage thread.
    SqliteBackend(uv_loop_t* loop, const SqliteOptions& options, size_t max_queued);
    // Finishes every queued request, stops the thread. Completions not yet
    // delivered are dropped: whoever made them is gone by then.
    ~SqliteBackend() override;

    bool submit(StorageOpPtr op) override;
    const StorageStats& stats() const override { return stats_; }
    std::string describe() const override { return "sqlite " + path_; }

private:
    struct FinishedBatch {
        std::vector<StorageOpPtr> ops;
        uint64_t commit_microseconds = 0;
        size_t expired_purged = 0;
    };
    void storage_thread();
    static void on_results(uv_async_t* handle);
    static void on_turn_end(uv_idle_t* handle);
    void hand_over();
    void deliver_results();

    std::string path_;
    size_t max_queued_;
    SqliteStore store_;
    uv_async_t* results_signal_;  // heap-allocated: closed asynchronously after we are gone
    uv_idle_t* handover_;         // likewise; active while this_turn_ holds requests
    StorageStats stats_;          // loop thread only
    std::vector<StorageOpPtr> this_turn_;  // loop thread only

    std::mutex mutex_;  // guards everything below
    std::condition_variable wake_;
    std::vector<StorageOpPtr> pending_;
    std::vector<FinishedBatch> finished_;
    bool stopping_ = false;

    std::thread thread_;  // last: started once everything above exists
};

}  // namespace sb::storage
