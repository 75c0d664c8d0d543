// The Redis backend: module data in a Redis server shared by every node of a
// cluster, so chat history or notifications read on one node are those
// written on another.
//
// Every request is one round trip on one connection, run in Redis as a
// single command or Lua script (atomic there, so concurrent writers on other
// nodes never break ids, idempotency or trims). Requests are pipelined;
// Redis executes and answers a connection's commands in order, and
// completions are delivered in submission order even when one needs a
// second round trip (a script Redis no longer has cached) or fails at once.
//
// Redis unreachable: requests complete with SB_ERR_UNAVAILABLE on the next
// loop turn, and those in flight when the connection drops (or stops
// answering for storage.redis.command_timeout) as soon as it does. The
// connection is retried in the background; nothing here stops the server.
#pragma once

#include "redis/redis_client.h"
#include "redis_scripts.h"
#include "storage_backend.h"

#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace sb::storage {

class RedisBackend final : public StorageBackend {
public:
    // Starts connecting; returns at once whether or not Redis is up.
    // `key_prefix` starts every key (cluster.prefix).
    RedisBackend(uv_loop_t* loop, const redis::RedisEndpoint& endpoint, std::string key_prefix, size_t max_queued);
    // Disconnects. Completions not yet delivered are dropped: whoever made
    // them is gone by then.
    ~RedisBackend() override;

    bool submit(StorageOpPtr op) override;
    const StorageStats& stats() const override { return stats_; }
    std::string describe() const override { return "redis " + client_->endpoint().describe(); }

private:
    struct Request {
        StorageOpPtr op;
        // EVALSHA <sha1> <numkeys> keys... args..., or a plain command (reads).
        std::vector<std::string> argv;
        const RedisScript* script = nullptr;
        uint64_t sent_ns = 0;
        bool finished = false;
    };
    void load_scripts();
    void send(Request& r);
    void on_reply(Request& r, const redisReply* reply);
    void finish(Request& r, sb_status status, std::string error = {});
    void deliver();
    void deliver_soon();

    uv_loop_t* loop_;
    std::string prefix_;
    size_t max_queued_;
    std::unique_ptr<redis::RedisClient> client_;
    std::deque<std::unique_ptr<Request>> requests_;  // submitted, not yet delivered, in order
    uv_idle_t* later_;  // heap-allocated: closed asynchronously after we are gone
    StorageStats stats_;
    bool delivering_ = false;
};

}  // namespace sb::storage
