// The Redis backend's requests, replies and in-order completion (see redis_backend.h).
#include "redis_backend.h"

#include "redis_keys.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <string_view>

namespace sb::storage {
namespace {

// A TTL beyond this (about 30,000 years) is stored as this: Lua numbers are
// doubles, and "never" is already spelled 0.
constexpr uint64_t kMaxTtlMs = 1'000'000'000'000'000ull;

// Error replies that mean "Redis cannot serve this right now" (loading its
// data, a replica that became read-only, a busy script, persistence failing)
// rather than "this request is wrong": the module sees SB_ERR_UNAVAILABLE.
bool transient_error(std::string_view message) {
    for (std::string_view code : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN",
                                  "NOREPLICAS", "MISCONF"})
        if (message.substr(0, code.size()) == code) return true;
    return false;
}

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

bool integer(const redisReply* r, uint64_t& out) {
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0) return false;
        out = static_cast<uint64_t>(r->integer);
        return true;
    }
    if (r->type != REDIS_REPLY_STRING) return false;
    const auto* end = r->str + r->len;
    return std::from_chars(r->str, end, out).ptr == end && r->len > 0;
}

bool is_array(const redisReply* r, size_t min_elements) {
    return r->type == REDIS_REPLY_ARRAY && r->elements >= min_elements;
}

// One XRANGE entry: ["0-<id>", [field, value, ...]].
bool parse_entry(const redisReply* r, StoredEntry& out) {
    if (!is_array(r, 2) || r->element[0]->type != REDIS_REPLY_STRING || !is_array(r->element[1], 0)) return false;
    const std::string_view id = text(r->element[0]);
    if (id.substr(0, 2) != "0-" || std::from_chars(id.data() + 2, id.data() + id.size(), out.id).ptr != id.data() + id.size())
        return false;
    const redisReply* fields = r->element[1];
    bool have_ts = false, have_data = false;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply* name = fields->element[i];
        const redisReply* value = fields->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) return false;
        if (text(name) == "t") have_ts = integer(value, out.ts_ms);
        else if (text(name) == "d") {
            out.data.assign(value->str, value->len);
            have_data = true;
        }
    }
    return have_ts && have_data;
}

// Fills `op` from the reply of its script or command; false when the reply
// does not have the shape the script returns.
bool parse_result(StorageOp& op, const redisReply* r, uint64_t& purged) {
    switch (op.kind) {
    case OpKind::Append: {
        uint64_t dup = 0;
        StoredEntry e;
        if (!is_array(r, 3) || !integer(r->element[0], dup) || !integer(r->element[1], e.id) ||
            !integer(r->element[2], e.ts_ms))
            return false;
        op.duplicate = dup != 0;
        if (op.duplicate) {
            if (r->elements < 4 || r->element[3]->type != REDIS_REPLY_STRING) return false;
            e.data.assign(r->element[3]->str, r->element[3]->len);
        } else {
            e.data = op.data;
        }
        op.entries.push_back(std::move(e));
        return true;
    }
    case OpKind::Read:
        if (!is_array(r, 0)) return false;
        op.entries.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i) {
            StoredEntry e;
            if (!parse_entry(r->element[i], e)) return false;
            op.entries.push_back(std::move(e));
        }
        return true;
    case OpKind::Trim:
        return r->type == REDIS_REPLY_INTEGER;
    case OpKind::KvGet:
        if (!is_array(r, 2) || !integer(r->element[0], purged)) return false;
        if (r->element[1]->type == REDIS_REPLY_NIL) {
            op.status = SB_ERR_NOT_FOUND;
            return true;
        }
        if (r->element[1]->type != REDIS_REPLY_STRING) return false;
        op.pairs.push_back({op.name, std::string(text(r->element[1]))});
        return true;
    case OpKind::KvSet:
    case OpKind::KvDelete:
        return is_array(r, 1) && integer(r->element[0], purged);
    case OpKind::KvScan: {
        if (!is_array(r, 2) || !integer(r->element[0], purged) || !is_array(r->element[1], 0)) return false;
        const redisReply* list = r->element[1];
        for (size_t i = 0; i + 1 < list->elements; i += 2) {
            if (list->element[i]->type != REDIS_REPLY_STRING || list->element[i + 1]->type != REDIS_REPLY_STRING)
                return false;
            op.pairs.push_back({std::string(text(list->element[i])), std::string(text(list->element[i + 1]))});
        }
        return true;
    }
    }
    return false;
}

size_t effective_limit(size_t limit) { return limit == 0 || limit > kMaxRows ? kMaxRows : limit; }

std::vector<std::string> script_call(const RedisScript& script, std::vector<std::string> keys,
                                     std::vector<std::string> args) {
    std::vector<std::string> argv{"EVALSHA", script.sha1, std::to_string(keys.size())};
    for (auto& k : keys) argv.push_back(std::move(k));
    for (auto& a : args) argv.push_back(std::move(a));
    return argv;
}

}  // namespace

RedisBackend::RedisBackend(uv_loop_t* loop, const redis::RedisEndpoint& endpoint, std::string key_prefix,
                           size_t max_queued)
    : loop_(loop), prefix_(std::move(key_prefix)), max_queued_(max_queued),
      client_(std::make_unique<redis::RedisClient>(loop, endpoint, redis::RedisClient::Role::Commands, "storage")),
      later_(new uv_idle_t) {
    uv_idle_init(loop_, later_);
    later_->data = this;
    client_->on_ready = [this] { load_scripts(); };
    client_->start();
}

// Sent first on every new connection, before any request: Redis may have
// restarted with an empty script cache, and a request answered NOSCRIPT is
// sent again as EVAL after the requests pipelined behind it, which could let
// a read overtake a write. With the scripts loaded, that only happens if an
// operator runs SCRIPT FLUSH while the servers run.
void RedisBackend::load_scripts() {
    for (const RedisScript* script : {&append_script(), &trim_script(), &kv_get_script(), &kv_set_script(),
                                      &kv_delete_script(), &kv_scan_script()})
        client_->command({"SCRIPT", "LOAD", script->source}, [](const redisReply*) {
            // An error (e.g. an ACL without SCRIPT) is not fatal: EVALSHA
            // then falls back to EVAL.
        });
}

RedisBackend::~RedisBackend() {
    client_.reset();  // replies still due are not delivered (see the header)
    later_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(later_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
}

bool RedisBackend::submit(StorageOpPtr op) {
    if (stats_.queued >= max_queued_) {
        stats_.rejected_total++;
        return false;
    }
    stats_.requests_total++;
    stats_.queued++;
    op->clear_result();
    auto request = std::make_unique<Request>();
    Request& r = *request;
    StorageOp& o = *op;
    r.op = std::move(op);
    requests_.push_back(std::move(request));

    switch (o.kind) {
    case OpKind::Append: {
        auto k = stream_keys(prefix_, o.scope, o.name);
        r.script = &append_script();
        r.argv = script_call(*r.script, {k.seq, k.log, k.idem},
                             {o.data, o.has_idempotency_key ? "1" : "0", o.idempotency_key});
        break;
    }
    case OpKind::Read: {
        const RedisIdRange range = read_range(o.after_id, o.before_id);
        if (range.empty) {
            finish(r, SB_OK);
            deliver_soon();
            return true;
        }
        const std::string log = stream_keys(prefix_, o.scope, o.name).log;
        const std::string count = std::to_string(effective_limit(o.limit));
        if (o.newest_first) r.argv = {"XREVRANGE", log, range.end, range.start, "COUNT", count};
        else r.argv = {"XRANGE", log, range.start, range.end, "COUNT", count};
        break;
    }
    case OpKind::Trim: {
        auto k = stream_keys(prefix_, o.scope, o.name);
        r.script = &trim_script();
        r.argv = script_call(*r.script, {k.log, k.idem}, {std::to_string(o.max_count), std::to_string(o.max_age_ms)});
        break;
    }
    case OpKind::KvGet:
    case OpKind::KvSet:
    case OpKind::KvDelete:
    case OpKind::KvScan: {
        auto k = kv_keys(prefix_, o.scope);
        std::vector<std::string> keys{k.values, k.index, k.expiry};
        if (o.kind == OpKind::KvGet) {
            r.script = &kv_get_script();
            r.argv = script_call(*r.script, std::move(keys), {o.name});
        } else if (o.kind == OpKind::KvSet) {
            r.script = &kv_set_script();
            r.argv = script_call(*r.script, std::move(keys), {o.name, o.data, std::to_string(std::min(o.ttl_ms, kMaxTtlMs))});
        } else if (o.kind == OpKind::KvDelete) {
            r.script = &kv_delete_script();
            r.argv = script_call(*r.script, std::move(keys), {o.name});
        } else {
            const RedisLexRange range = scan_range(o.name, o.after_key);
            r.script = &kv_scan_script();
            r.argv = script_call(*r.script, std::move(keys),
                                 {range.min, range.max, std::to_string(effective_limit(o.limit))});
        }
        break;
    }
    }
    send(r);
    // A request refused by a connection that is down finished at once; its
    // completion still has to wait for the next loop turn.
    if (r.finished) deliver_soon();
    return true;
}

void RedisBackend::send(Request& r) {
    r.sent_ns = uv_hrtime();
    const std::vector<std::string_view> argv(r.argv.begin(), r.argv.end());
    const bool sent = client_->command(argv, [this, request = &r](const redisReply* reply) { on_reply(*request, reply); });
    if (!sent) finish(r, SB_ERR_UNAVAILABLE, "not connected to Redis");
}

void RedisBackend::on_reply(Request& r, const redisReply* reply) {
    if (!reply) {
        finish(r, SB_ERR_UNAVAILABLE, "connection to Redis lost");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        const std::string_view message = text(reply);
        if (message.substr(0, 8) == "NOSCRIPT" && r.script && r.argv[0] == "EVALSHA") {
            // Redis restarted or its script cache was flushed: send the
            // source, which also caches it again for the next EVALSHA.
            r.argv[0] = "EVAL";
            r.argv[1] = r.script->source;
            send(r);
            if (!r.finished) return;
        } else {
            finish(r, transient_error(message) ? SB_ERR_UNAVAILABLE : SB_ERR_INTERNAL,
                   "redis: " + std::string(message));
        }
    } else {
        uint64_t purged = 0;
        if (parse_result(*r.op, reply, purged)) {
            stats_.expired_keys_purged_total += purged;
            finish(r, r.op->status);
        } else {
            finish(r, SB_ERR_INTERNAL, "redis: unexpected reply to " + r.argv[0]);
        }
    }
    deliver();
}

void RedisBackend::finish(Request& r, sb_status status, std::string error) {
    if (status != SB_OK && status != SB_ERR_NOT_FOUND) r.op->clear_result();
    r.op->status = status;
    r.op->error = std::move(error);
    r.finished = true;
    stats_.batches_total++;
    stats_.batch_ops_total++;
    if (r.sent_ns) stats_.commit_microseconds_total += (uv_hrtime() - r.sent_ns) / 1000;
}

void RedisBackend::deliver_soon() {
    uv_idle_start(later_, [](uv_idle_t* h) {
        uv_idle_stop(h);
        if (auto* self = static_cast<RedisBackend*>(h->data)) self->deliver();
    });
}

void RedisBackend::deliver() {
    if (delivering_) return;  // a completion that made another request finish at once
    delivering_ = true;
    while (!requests_.empty() && requests_.front()->finished) {
        std::unique_ptr<Request> r = std::move(requests_.front());
        requests_.pop_front();
        stats_.queued--;
        StorageOp& op = *r->op;
        if (op.status != SB_OK && op.status != SB_ERR_NOT_FOUND) stats_.errors_total++;
        if (op.done) op.done(op);
    }
    delivering_ = false;
}

}  // namespace sb::storage
