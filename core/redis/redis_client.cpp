// Connection lifecycle for one Redis connection (see redis_client.h).
#include "redis/redis_client.h"

#include "log.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-function-type"
#include <hiredis/adapters/libuv.h>
#pragma GCC diagnostic pop

#include <algorithm>

namespace sb::redis {
namespace {

constexpr uint64_t kFirstBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 5000;
constexpr uint64_t kPingEveryMs = 1000;
constexpr uint64_t kRetryLogEveryMs = 60000;
constexpr size_t kSubscribeBatch = 1000;

struct Pending {
    std::weak_ptr<RedisClient*> client;
    RedisClient::ReplyFn fn;
    size_t bytes;
};

}  // namespace

std::string RedisEndpoint::describe() const {
    std::string s = unix_path.empty() ? host + ":" + std::to_string(port) : "unix:" + unix_path;
    if (db != 0) s += "/" + std::to_string(db);
    return s;
}

std::string reply_error(const redisReply* reply) {
    if (!reply) return "no reply (connection lost)";
    if (reply->type == REDIS_REPLY_ERROR) return std::string(reply->str, reply->len);
    return "unexpected reply type " + std::to_string(reply->type);
}

bool reply_ok(const redisReply* reply) { return reply && reply->type != REDIS_REPLY_ERROR; }

RedisClient::RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, Role role, std::string purpose)
    : loop_(loop), endpoint_(std::move(endpoint)), role_(role), purpose_(std::move(purpose)),
      self_(std::make_shared<RedisClient*>(this)) {}

RedisClient::~RedisClient() {
    self_.reset();  // replies still queued in hiredis must not call back into a dead owner
    stop();
}

void RedisClient::start() {
    if (state_ != State::Stopped) return;
    if (!retry_timer_) {
        retry_timer_ = new uv_timer_t;
        uv_timer_init(loop_, retry_timer_);
        retry_timer_->data = this;
    }
    connect();
}

void RedisClient::stop() {
    state_ = State::Stopped;
    if (retry_timer_) {
        uv_close(reinterpret_cast<uv_handle_t*>(retry_timer_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        retry_timer_ = nullptr;
    }
    if (redisAsyncContext* c = ctx_) {
        ctx_ = nullptr;
        c->data = nullptr;
        redisAsyncFree(c);  // pending replies get null
    }
}

void RedisClient::arm_timer(uint64_t ms) {
    if (!retry_timer_) return;
    uv_timer_start(retry_timer_, [](uv_timer_t* t) { static_cast<RedisClient*>(t->data)->on_timer(); }, ms, 0);
}

void RedisClient::connect() {
    state_ = State::Connecting;
    redisAsyncContext* c = endpoint_.unix_path.empty() ? redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port)
                                                       : redisAsyncConnectUnix(endpoint_.unix_path.c_str());
    if (!c) {
        connection_lost("out of memory");
        return;
    }
    if (c->err) {
        std::string why = c->errstr;
        redisAsyncFree(c);
        connection_lost(why);
        return;
    }
    c->data = this;
    ctx_ = c;
    redisLibuvAttach(c, loop_);
    redisAsyncSetConnectCallback(c, &RedisClient::on_connect);
    redisAsyncSetDisconnectCallback(c, &RedisClient::on_disconnect);
    arm_timer(endpoint_.command_timeout_ms);  // connect timeout
}

void RedisClient::on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<RedisClient*>(c->data);
    if (!self) return;
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        self->ctx_ = nullptr;
        self->connection_lost(c->errstr);
        return;
    }
    // TCP keepalive notices a Redis host that vanished from the network
    // (no RST ever comes); a unix socket has no such option.
    if (self->endpoint_.unix_path.empty()) redisEnableKeepAlive(const_cast<redisContext*>(&c->c));
    self->handshake();
}

void RedisClient::on_disconnect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<RedisClient*>(c->data);
    if (!self) return;
    self->ctx_ = nullptr;
    self->connection_lost(status == REDIS_OK ? "closed" : c->errstr);
}

void RedisClient::handshake() {
    state_ = State::Handshake;
    auto select = [this] {
        if (endpoint_.db == 0) {
            became_ready();
            return;
        }
        const std::string db = std::to_string(endpoint_.db);
        send({"SELECT", db}, [this](const redisReply* r) {
            if (!reply_ok(r)) return reset("SELECT " + std::to_string(endpoint_.db) + " refused: " + reply_error(r));
            became_ready();
        });
    };
    if (endpoint_.password.empty()) return select();
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint_.username.empty()) auth.push_back(endpoint_.username);
    auth.push_back(endpoint_.password);
    send(auth, [this, select](const redisReply* r) {
        if (!reply_ok(r)) return reset("AUTH refused: " + reply_error(r));
        select();
    });
}

void RedisClient::became_ready() {
    // A subscriber is ready once Redis confirmed its channels: only then are
    // messages for them sure to arrive, and a node may announce itself.
    if (role_ == Role::Subscriber && !channels_.empty()) {
        std::vector<std::string> all(channels_.begin(), channels_.end());
        awaiting_confirmation_ = all.back();
        send_subscribe(all, "SUBSCRIBE");
        return;
    }
    finish_ready();
}

void RedisClient::finish_ready() {
    const uint64_t now = uv_now(loop_);
    state_ = State::Ready;
    backoff_ms_ = 0;
    ping_sent_ms_ = 0;
    ++stats_.connects;
    if (outage_since_ms_) {
        log::info("redis", purpose_ + ": connected to " + endpoint_.describe() + " again after " +
                               std::to_string((now - outage_since_ms_ + 500) / 1000) + " s");
    } else {
        log::info("redis", purpose_ + ": connected to " + endpoint_.describe());
    }
    outage_since_ms_ = 0;
    last_error_.clear();
    if (role_ == Role::Commands) arm_timer(kPingEveryMs);
    else if (retry_timer_) uv_timer_stop(retry_timer_);
    if (on_ready) on_ready();
}

void RedisClient::connection_lost(const std::string& why) {
    if (state_ == State::Stopped) return;
    awaiting_confirmation_.clear();
    const bool was_ready = state_ == State::Ready;
    const uint64_t now = uv_now(loop_);
    if (!outage_since_ms_) {
        outage_since_ms_ = now;
        last_retry_log_ms_ = now;
        last_error_ = why;
        log::warn("redis", purpose_ + ": " + endpoint_.describe() + " " + (was_ready ? "lost: " : "unreachable: ") +
                               why + "; cross-node work is paused, retrying in the background");
    } else if (now - last_retry_log_ms_ >= kRetryLogEveryMs || why != last_error_) {
        last_retry_log_ms_ = now;
        last_error_ = why;
        log::warn("redis", purpose_ + ": " + endpoint_.describe() + " still unreachable after " +
                               std::to_string((now - outage_since_ms_) / 1000) + " s: " + why);
    }
    if (was_ready) {
        ++stats_.connection_losses;
        state_ = State::Backoff;
        if (on_lost) on_lost();
        if (state_ == State::Stopped) return;
    }
    schedule_retry();
}

void RedisClient::schedule_retry() {
    state_ = State::Backoff;
    backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxBackoffMs) : kFirstBackoffMs;
    arm_timer(backoff_ms_);
}

void RedisClient::reset(const std::string& why) {
    if (state_ == State::Stopped) return;
    if (redisAsyncContext* c = ctx_) {
        ctx_ = nullptr;
        c->data = nullptr;
        redisAsyncFree(c);
    }
    connection_lost(why);
}

void RedisClient::on_timer() {
    const uint64_t now = uv_now(loop_);
    switch (state_) {
    case State::Backoff:
        connect();
        break;
    case State::Connecting:
    case State::Handshake:
        reset("no answer within " + std::to_string(endpoint_.command_timeout_ms) + " ms");
        break;
    case State::Ready:
        if (ping_sent_ms_ && now - ping_sent_ms_ >= endpoint_.command_timeout_ms) {
            reset("no answer to PING within " + std::to_string(endpoint_.command_timeout_ms) + " ms");
            break;
        }
        if (!ping_sent_ms_) {
            ping_sent_ms_ = now;
            send({"PING"}, [this](const redisReply* r) {
                if (r) ping_sent_ms_ = 0;
            });
        }
        arm_timer(kPingEveryMs);
        break;
    case State::Stopped:
        break;
    }
}

bool RedisClient::send(const std::vector<std::string_view>& argv, ReplyFn done) {
    if (!ctx_) return false;
    std::vector<const char*> args;
    std::vector<size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    size_t bytes = 0;
    for (auto a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
        bytes += a.size();
    }
    auto* pending = new Pending{self_, std::move(done), bytes};
    if (redisAsyncCommandArgv(ctx_, &RedisClient::on_reply, pending, static_cast<int>(args.size()), args.data(),
                              lens.data()) != REDIS_OK) {
        delete pending;
        return false;
    }
    pending_bytes_ += bytes;
    return true;
}

void RedisClient::on_reply(redisAsyncContext*, void* reply, void* privdata) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
    auto client = pending->client.lock();
    if (!client) return;
    (*client)->pending_bytes_ -= pending->bytes;
    if (pending->fn) pending->fn(static_cast<const redisReply*>(reply));
}

bool RedisClient::command(const std::vector<std::string_view>& argv, ReplyFn done) {
    if (role_ != Role::Commands || state_ != State::Ready || !send(argv, std::move(done))) {
        ++stats_.commands_refused;
        return false;
    }
    return true;
}

void RedisClient::send_subscribe(const std::vector<std::string>& channels, const char* verb) {
    if (!ctx_) return;
    for (size_t at = 0; at < channels.size(); at += kSubscribeBatch) {
        const size_t end = std::min(channels.size(), at + kSubscribeBatch);
        std::vector<const char*> args{verb};
        std::vector<size_t> lens{std::char_traits<char>::length(verb)};
        for (size_t i = at; i < end; ++i) {
            args.push_back(channels[i].data());
            lens.push_back(channels[i].size());
        }
        redisAsyncCommandArgv(ctx_, &RedisClient::on_subscription, nullptr, static_cast<int>(args.size()), args.data(),
                              lens.data());
    }
}

void RedisClient::subscribe(const std::string& channel) {
    if (!channels_.insert(channel).second) return;
    // Once the batch of a new connection was sent, later changes go out at
    // once; before, the batch will carry them.
    if (state_ == State::Ready || !awaiting_confirmation_.empty()) send_subscribe({channel}, "SUBSCRIBE");
}

void RedisClient::unsubscribe(const std::string& channel) {
    if (!channels_.erase(channel)) return;
    if (state_ == State::Ready || !awaiting_confirmation_.empty()) send_subscribe({channel}, "UNSUBSCRIBE");
}

void RedisClient::on_subscription(redisAsyncContext* c, void* r, void*) {
    auto* self = static_cast<RedisClient*>(c->data);
    auto* reply = static_cast<const redisReply*>(r);
    if (!self || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
    const redisReply* kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING) return;
    const std::string_view what(kind->str, kind->len);
    const std::string channel(reply->element[1]->str, reply->element[1]->len);
    if (what == "subscribe") {
        if (self->state_ == State::Handshake && channel == self->awaiting_confirmation_) {
            self->awaiting_confirmation_.clear();
            self->finish_ready();
        }
        return;
    }
    if (what != "message") return;
    if (!self->channels_.count(channel) || !self->on_message_) return;
    self->on_message_(channel, std::string_view(reply->element[2]->str, reply->element[2]->len));
}

}  // namespace sb::redis
