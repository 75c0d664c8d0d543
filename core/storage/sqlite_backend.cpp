// The SQLite backend's storage thread and its two queues (see sqlite_backend.h).
#include "sqlite_backend.h"

#include <sys/time.h>

#include <chrono>

namespace sb::storage {
namespace {

// Expired key-value pairs are invisible at once; their rows are deleted by a
// sweep this often, in its own transaction between batches.
constexpr auto kPurgeInterval = std::chrono::seconds(60);

uint64_t wall_clock_ms() {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

}  // namespace

SqliteBackend::SqliteBackend(uv_loop_t* loop, const SqliteOptions& options, size_t max_queued)
    : path_(options.path), max_queued_(max_queued), store_(options), results_signal_(new uv_async_t), handover_(new uv_idle_t) {
    uv_async_init(loop, results_signal_, on_results);
    results_signal_->data = this;
    uv_idle_init(loop, handover_);
    handover_->data = this;
    // Neither keeps the loop running: at shutdown the destructor hands over
    // and finishes whatever is left.
    uv_unref(reinterpret_cast<uv_handle_t*>(results_signal_));
    uv_unref(reinterpret_cast<uv_handle_t*>(handover_));
    thread_ = std::thread([this] { storage_thread(); });
}

SqliteBackend::~SqliteBackend() {
    hand_over();
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    results_signal_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(results_signal_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    uv_close(reinterpret_cast<uv_handle_t*>(handover_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
}

bool SqliteBackend::submit(StorageOpPtr op) {
    if (stats_.queued >= max_queued_) {
        stats_.rejected_total++;
        return false;
    }
    stats_.requests_total++;
    stats_.queued++;
    if (this_turn_.empty()) uv_idle_start(handover_, on_turn_end);
    this_turn_.push_back(std::move(op));
    return true;
}

void SqliteBackend::on_turn_end(uv_idle_t* handle) { static_cast<SqliteBackend*>(handle->data)->hand_over(); }

void SqliteBackend::hand_over() {
    uv_idle_stop(handover_);
    if (this_turn_.empty()) return;
    {
        std::lock_guard lock(mutex_);
        if (pending_.empty()) {
            pending_.swap(this_turn_);
        } else {
            for (auto& op : this_turn_) pending_.push_back(std::move(op));
            this_turn_.clear();
        }
    }
    wake_.notify_one();
}

void SqliteBackend::storage_thread() {
    auto next_purge = std::chrono::steady_clock::now() + kPurgeInterval;
    std::vector<StorageOpPtr> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait_until(lock, next_purge, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty() && stopping_) return;
            batch.swap(pending_);
        }
        FinishedBatch done;
        const auto started = std::chrono::steady_clock::now();
        if (started >= next_purge) {
            try {
                done.expired_purged = store_.purge_expired(wall_clock_ms());
            } catch (const SqliteFailure&) {
                // Retried at the next sweep; expired pairs are invisible meanwhile.
            }
            next_purge = started + kPurgeInterval;
        }
        if (batch.empty() && done.expired_purged == 0) continue;
        store_.execute(batch, wall_clock_ms());
        done.commit_microseconds = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
        done.ops.swap(batch);
        {
            std::lock_guard lock(mutex_);
            finished_.push_back(std::move(done));
        }
        uv_async_send(results_signal_);
    }
}

void SqliteBackend::on_results(uv_async_t* handle) {
    if (auto* self = static_cast<SqliteBackend*>(handle->data)) self->deliver_results();
}

void SqliteBackend::deliver_results() {
    std::vector<FinishedBatch> finished;
    {
        std::lock_guard lock(mutex_);
        finished.swap(finished_);
    }
    for (auto& batch : finished) {
        stats_.expired_keys_purged_total += batch.expired_purged;
        if (batch.ops.empty()) continue;
        stats_.batches_total++;
        stats_.batch_ops_total += batch.ops.size();
        stats_.commit_microseconds_total += batch.commit_microseconds;
        for (auto& op : batch.ops) {
            stats_.queued--;
            if (op->status != SB_OK && op->status != SB_ERR_NOT_FOUND) stats_.errors_total++;
            if (op->done) op->done(*op);
        }
    }
}

}  // namespace sb::storage
