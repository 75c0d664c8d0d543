// One connection to Redis, driven by hiredis on the server's libuv loop.
//
// Everything that crosses nodes (broadcasts, presence leases, forwarded
// polling requests, module storage) goes through Redis, and Redis restarts,
// fails over or drops off the network while the server keeps running. This
// class owns that lifecycle so its users do not: it connects (TCP or unix
// socket), authenticates, selects the database, reconnects with exponential
// backoff, notices a server that stopped answering, and logs the outage once
// when it starts and once when it ends — never per command.
//
// A client is either a command connection (command()) or a subscriber
// (subscribe()/unsubscribe()); Redis does not allow both on one connection.
// The subscriber remembers its channels and subscribes to them again after
// every reconnect.
#pragma once

#include "redis/redis_endpoint.h"

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace sb::redis {

struct RedisClientStats {
    uint64_t connects = 0;         // successful (authenticated) connections
    uint64_t connection_losses = 0;
    uint64_t commands_refused = 0;  // command() while not connected
};

class RedisClient {
public:
    enum class Role { Commands, Subscriber };
    // The reply, or null when the connection was lost before it arrived.
    // An error reply (REDIS_REPLY_ERROR) is passed as is.
    using ReplyFn = std::function<void(const redisReply*)>;
    using MessageFn = std::function<void(std::string_view channel, std::string_view payload)>;

    // `purpose` names the connection in logs: "cluster", "storage".
    RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, Role role, std::string purpose);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // Connects, and keeps reconnecting until stop().
    void start();
    // Disconnects for good; pending replies get null. Safe to call twice.
    void stop();
    bool ready() const { return state_ == State::Ready; }
    const RedisEndpoint& endpoint() const { return endpoint_; }
    const RedisClientStats& stats() const { return stats_; }

    // Called on the loop each time the connection becomes usable (after
    // AUTH/SELECT and, for a subscriber, after the SUBSCRIBEs were sent) and
    // each time it is lost.
    std::function<void()> on_ready;
    std::function<void()> on_lost;

    // Commands role. Sends one command; false (and `done` never called) when
    // not connected. Arguments are binary-safe.
    bool command(const std::vector<std::string_view>& argv, ReplyFn done);
    bool command(std::initializer_list<std::string_view> argv, ReplyFn done) {
        return command(std::vector<std::string_view>(argv), std::move(done));
    }

    // Subscriber role. Channels are remembered across reconnects; a message
    // for a channel no longer subscribed is dropped.
    void set_message_handler(MessageFn fn) { on_message_ = std::move(fn); }
    void subscribe(const std::string& channel);
    void unsubscribe(const std::string& channel);
    bool subscribed(const std::string& channel) const { return channels_.count(channel) != 0; }
    size_t channel_count() const { return channels_.size(); }
    // Bytes of commands sent (or queued in hiredis) whose reply has not
    // arrived: what a slow Redis makes this process hold.
    size_t pending_bytes() const { return pending_bytes_; }

    // Drops the connection now and reconnects (after a backoff step), e.g.
    // when a sibling connection found the server unresponsive.
    void reset(const std::string& why);

private:
    enum class State { Stopped, Connecting, Handshake, Ready, Backoff };

    uv_loop_t* loop_;
    RedisEndpoint endpoint_;
    Role role_;
    std::string purpose_;
    State state_ = State::Stopped;
    redisAsyncContext* ctx_ = nullptr;
    uv_timer_t* retry_timer_ = nullptr;   // backoff, and the liveness PING
    uint64_t backoff_ms_ = 0;
    uint64_t ping_sent_ms_ = 0;           // 0: no PING outstanding
    size_t pending_bytes_ = 0;
    uint64_t outage_since_ms_ = 0;        // 0: not in an outage
    uint64_t last_retry_log_ms_ = 0;
    std::string last_error_;
    std::string awaiting_confirmation_;  // subscriber: the last channel of the batch sent on connect
    std::unordered_set<std::string> channels_;
    MessageFn on_message_;
    RedisClientStats stats_;
    // Lets hiredis callbacks that outlive this object find out.
    std::shared_ptr<RedisClient*> self_;

    void connect();
    void handshake();
    void became_ready();
    void finish_ready();
    void connection_lost(const std::string& why);
    void schedule_retry();
    void arm_timer(uint64_t ms);
    void on_timer();
    void send_subscribe(const std::vector<std::string>& channels, const char* verb);
    bool send(const std::vector<std::string_view>& argv, ReplyFn done);

    static void on_connect(const redisAsyncContext* c, int status);
    static void on_disconnect(const redisAsyncContext* c, int status);
    static void on_reply(redisAsyncContext* c, void* reply, void* privdata);
    static void on_subscription(redisAsyncContext* c, void* reply, void* privdata);
};

// Error text of a reply for logs and status messages: the error string,
// "no reply (connection lost)", or "unexpected reply type N".
std::string reply_error(const redisReply* reply);
bool reply_ok(const redisReply* reply);  // a status or non-error reply

}  // namespace sb::redis
