// Module "backend": client events handled by the application's own HTTP
// backend, and webhooks about sockets.
//
//   RPC: an event whose name matches an `rpc:` rule is POSTed to that
//        backend path as {type:"rpc", event, args, socket}; the answer
//        {result} or {error:{code,message}} becomes the client's ack, after
//        the answer's actions (join, leave, emit, data, disconnect) are
//        applied in order. Anything else — no connection, a timeout, a
//        non-2xx status, a body that is not the contract — acks UNAVAILABLE.
//   Connect proxy: with `connect:`, a Socket.IO CONNECT waits (pending, ABI
//        1.3) for the backend's {allow:true, userId?, claims?, rooms?, data?}
//        (applied, then accepted) or {allow:false, message} (refused with
//        that message); no answer in time refuses "backend unavailable".
//   Webhooks: connect, disconnect, join and leave as batches (webhooks.h).
//
// Nothing here blocks the loop: requests go through the host's outbound
// HTTP client, and every limit (RPCs per socket, in flight per backend, the
// queue behind them, request and response sizes) answers at once instead of
// waiting. A reload hands every waiting RPC and connect to the new
// instance, which adopts the requests in flight, so each client gets
// exactly one answer.
// See README.md and docs/backend.md.
#include "actions.h"
#include "handover.h"
#include "outbound.h"
#include "payloads.h"
#include "reply.h"
#include "settings.h"
#include "webhooks.h"

#include <switchboard/fetch.hpp>
#include <switchboard/module.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace backend {
namespace {

// What a client refused for want of an answer reads; the reason is logged.
constexpr const char* kBackendUnavailable = "backend unavailable";

// An RPC from the moment it is accepted until its client is answered.
struct Rpc {
    sb_socket_id socket = 0;
    int64_t ack_id = -1;
    std::string event;
    std::string backend_name;
    std::optional<size_t> backend;  // none: a backend the configuration no longer has
    std::string path;
    std::string body;        // kept only while queued
    sb_fetch_id fetch = 0;   // 0 while queued
};

struct BackendLoad {
    size_t in_flight = 0;
    std::deque<uint64_t> queue;  // keys of RPCs waiting for a slot, oldest first
};

class Backend {
public:
    static constexpr sb_config_key config_keys[] = {
        {"backends", SB_CONFIG_OBJECT, 1,
         "backends by name: {url, headers?, secret? | secret_file?, connect_timeout?, timeout?, max_in_flight?, "
         "max_queue?, max_response_bytes?, ca_file?, insecure_skip_verify?}"},
        {"rpc", SB_CONFIG_ARRAY, 0, "rules {event: pattern, backend?, path}: events forwarded as RPCs, first match wins"},
        {"max_rpcs_per_socket", SB_CONFIG_INTEGER, 0, "RPCs one socket may have waiting; over it RATE_LIMITED (default 16)"},
        {"max_request_bytes", SB_CONFIG_INTEGER, 0, "largest RPC request body; over it INVALID (default 65536)"},
        {"binary", SB_CONFIG_STRING, 0, "binary arguments: base64 (forwarded as {\"$binary\": ...}, default) or refuse"},
        {"webhooks", SB_CONFIG_OBJECT, 0,
         "{backend?, path, events?, batch_size?, batch_delay?, max_queue?, retry_initial?, retry_max?}"},
        {"connect", SB_CONFIG_ANY, 0, "{backend?, path} (or a path): the backend decides each Socket.IO CONNECT"},
    };

    Backend(sb::Host host, std::string_view config_json)
        : host_(host), settings_(parse_settings(config_json)), fetch_(host), webhooks_(host, fetch_, settings_),
          load_(settings_.backends.size()) {
        if (!sb::host_has_fetch(host)) throw std::runtime_error("backend needs a host with outbound HTTP (ABI 1.3)");
        if (settings_.connect.enabled && !host.has_connect_decide())
            throw std::runtime_error("connect: needs a host that takes pending connects (ABI 1.3)");
    }

    sb::Verdict on_connect(sb_socket_id socket, const sb_connect_info& info) {
        SocketRecord& r = sockets_[socket];
        r.sid = info.socket_sid ? info.socket_sid : "";
        r.ns = info.namespace_name ? info.namespace_name : "/";
        r.remote = info.remote_address ? info.remote_address : "";
        if (!r.sid.empty()) by_sid_[r.sid] = socket;
        if (!settings_.connect.enabled) {
            announce(socket);
            return sb::Verdict::pass();
        }
        const BackendSettings& b = connect_backend();
        std::string body = connect_body(info, socket_json(host_, socket, r));
        if (body.size() > settings_.max_request_bytes) {
            forget(socket);
            count_connect("too_large");
            return sb::Refusal("the connect request is larger than the backend accepts");
        }
        sb_fetch_id id = 0;
        const sb_status st =
            fetch_.start(post_request(b, settings_.connect.path, std::move(body), host_.now_ms()),
                         [this, socket](const sb::FetchResponse& response) { on_connect_answer(socket, response); }, &id);
        if (st != SB_OK) {
            forget(socket);
            count_connect("unavailable");
            return sb::Refusal(kBackendUnavailable);
        }
        connecting_[socket] = id;
        return sb::Verdict::pending();
    }

    void on_disconnect(sb_socket_id socket, std::string_view reason) {
        if (auto c = connecting_.find(socket); c != connecting_.end()) {
            // Ended before the backend answered (closed, timed out): never
            // announced, so no webhook either.
            fetch_.cancel(c->second);
            connecting_.erase(c);
            count_connect(reason == "connect timeout" ? "timeout" : "abandoned");
            forget(socket);
            return;
        }
        auto it = sockets_.find(socket);
        if (it == sockets_.end()) return;
        if (webhooks_.enabled() && webhooks_.config().disconnect)
            notify(socket, it->second, "disconnect", "\"reason\":" + sb::json_string(reason));
        forget(socket);
    }

    void on_room(sb_socket_id socket, std::string_view room, bool joined) {
        if (!webhooks_.enabled() || !(joined ? webhooks_.config().join : webhooks_.config().leave)) return;
        if (connecting_.count(socket)) return;  // reported after its connect (announce)
        auto it = sockets_.find(socket);
        if (it == sockets_.end()) return;
        notify(socket, it->second, joined ? "join" : "leave", "\"room\":" + sb::json_string(room));
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const RpcRule* rule = settings_.match(ev.name);
        if (!rule) return false;
        const std::string& backend_name = settings_.backends[rule->backend].name;
        SocketRecord& rec = record_of(socket, ev.namespace_name);
        if (rec.rpcs >= settings_.max_rpcs_per_socket) {
            count(backend_name, "rate_limited");
            throw sb::Refusal(std::string(ev.name) + ": this socket already has " + std::to_string(rec.rpcs) +
                                  " requests waiting for the backend (at most " +
                                  std::to_string(settings_.max_rpcs_per_socket) + "); wait for an answer first",
                              "RATE_LIMITED");
        }
        if (ev.attachment_count && !settings_.binary_as_base64) {
            count(backend_name, "invalid");
            throw sb::Refusal(std::string(ev.name) + ": binary arguments are not forwarded to the backend", "INVALID");
        }
        std::string body = rpc_body(ev.name, args_with_binary(ev), socket_json(host_, socket, rec));
        if (body.size() > settings_.max_request_bytes) {
            count(backend_name, "too_large");
            throw sb::Refusal(std::string(ev.name) + ": the request is " + std::to_string(body.size()) +
                                  " bytes, more than the " + std::to_string(settings_.max_request_bytes) +
                                  " the backend accepts",
                              "INVALID");
        }
        Rpc rpc;
        rpc.socket = socket;
        rpc.ack_id = ev.ack_id;
        rpc.event = ev.name;
        rpc.backend_name = backend_name;
        rpc.backend = rule->backend;
        rpc.path = rule->path;
        rpc.body = std::move(body);
        ++rec.rpcs;
        submit(store(std::move(rpc)));
        return true;
    }

    void on_timer(sb_timer_id timer, void*) {
        if (webhooks_.on_timer(timer)) return;
        if (timer != resume_timer_) return;
        resume_timer_ = 0;
        std::vector<uint64_t> keys;
        keys.swap(resume_);
        for (uint64_t key : keys) submit(key);
        std::vector<sb_socket_id> lost;
        lost.swap(lost_connects_);
        for (sb_socket_id socket : lost) refuse_connect(socket, kBackendUnavailable);
    }

    std::string export_state() {
        Handover h;
        for (const auto& [id, r] : sockets_) h.sockets.emplace_back(id, r);
        // In arrival order (keys increase), so queued RPCs stay in order.
        std::vector<uint64_t> keys;
        keys.reserve(rpcs_.size());
        for (const auto& [key, rpc] : rpcs_) keys.push_back(key);
        std::sort(keys.begin(), keys.end());
        for (uint64_t key : keys) {
            const Rpc& rpc = rpcs_.at(key);
            HandedRpc x;
            x.fetch = rpc.fetch;
            x.socket = rpc.socket;
            x.ack_id = rpc.ack_id;
            x.event = rpc.event;
            x.backend = rpc.backend_name;
            if (!rpc.fetch) {
                x.path = rpc.path;
                x.body = rpc.body;
            }
            h.rpcs.push_back(std::move(x));
        }
        for (const auto& [socket, fetch] : connecting_) h.connects.emplace_back(socket, fetch);
        h.webhooks = webhooks_.handover();
        return export_handover(h);
    }

    void import_state(std::string_view bytes) {
        Handover h = import_handover(bytes);
        for (auto& [id, r] : h.sockets) {
            r.rpcs = 0;
            if (!r.sid.empty()) by_sid_[r.sid] = id;
            sockets_[id] = std::move(r);
        }
        for (auto& x : h.rpcs) {
            Rpc rpc;
            rpc.socket = x.socket;
            rpc.ack_id = x.ack_id;
            rpc.event = std::move(x.event);
            rpc.backend_name = std::move(x.backend);
            rpc.backend = settings_.backend_named(rpc.backend_name);
            rpc.path = std::move(x.path);
            rpc.body = std::move(x.body);
            if (auto s = sockets_.find(rpc.socket); s != sockets_.end()) ++s->second.rpcs;
            const sb_fetch_id fetch = x.fetch;
            const uint64_t key = store(std::move(rpc));
            if (fetch) {
                Rpc& stored = rpcs_.at(key);
                stored.fetch = fetch;
                if (fetch_.adopt(fetch, [this, key](const sb::FetchResponse& r) { on_answer(key, r); }) == SB_OK) {
                    if (stored.backend) ++load_[*stored.backend].in_flight;
                    continue;
                }
                // Its answer is lost: the client hears UNAVAILABLE instead.
                stored.fetch = 0;
                stored.body.clear();
            }
            resume_.push_back(key);
        }
        for (const auto& [socket, fetch] : h.connects) {
            connecting_[socket] = fetch;
            if (fetch_.adopt(fetch, [this, socket](const sb::FetchResponse& r) { on_connect_answer(socket, r); }) != SB_OK)
                lost_connects_.push_back(socket);  // refused once the reload is done and the connect waits on us
        }
        if (!resume_.empty() || !lost_connects_.empty()) resume_timer_ = host_.start_timer(1);
        if (webhooks_.enabled()) {
            webhooks_.take_over(std::move(h.webhooks));
        } else if (!h.webhooks.batch.empty() || !h.webhooks.queue.empty()) {
            host_.log(SB_LOG_WARN, "webhooks are no longer configured: " +
                                       std::to_string(h.webhooks.batch.size() + h.webhooks.queue.size()) +
                                       " undelivered events dropped");
        }
    }

private:
    const BackendSettings& connect_backend() const { return settings_.backends[settings_.connect.backend]; }

    // Webhooks for a socket now connected here: its connect, then the rooms
    // it joined before (auth_jwt's user room, the connect proxy's rooms),
    // so that every leave a backend sees has its join.
    void announce(sb_socket_id socket) {
        if (!webhooks_.enabled()) return;
        if (webhooks_.config().connect) notify(socket, sockets_.at(socket), "connect", {});
        if (webhooks_.config().join) {
            const size_t count = host_.api()->rooms_of(host_.ctx(), socket, nullptr, 0);
            std::vector<const char*> rooms(count);
            const size_t listed = std::min(count, host_.api()->rooms_of(host_.ctx(), socket, rooms.data(), rooms.size()));
            std::vector<std::string> names(rooms.begin(), rooms.begin() + static_cast<std::ptrdiff_t>(listed));
            for (const auto& room : names)
                notify(socket, sockets_.at(socket), "join", "\"room\":" + sb::json_string(room));
        }
    }

    void forget(sb_socket_id socket) {
        auto it = sockets_.find(socket);
        if (it == sockets_.end()) return;
        if (auto s = by_sid_.find(it->second.sid); s != by_sid_.end() && s->second == socket) by_sid_.erase(s);
        sockets_.erase(it);
    }

    void count_connect(const char* outcome) {
        const std::string labels = "backend=\"" + connect_backend().name + "\",outcome=\"" + outcome + "\"";
        host_.api()->counter_add(host_.ctx(), "backend_connects", labels.c_str(), 1);
    }

    void refuse_connect(sb_socket_id socket, const std::string& message) {
        connecting_.erase(socket);
        forget(socket);
        host_.connect_decide(socket, false, message);
    }

    // The backend's answer to a connect: identity, rooms and data applied,
    // then the connect accepted; or refused with its message.
    void on_connect_answer(sb_socket_id socket, const sb::FetchResponse& response) {
        if (!connecting_.count(socket)) return;
        if (!host_.api()->namespace_of(host_.ctx(), socket)) {
            // The host ended the connect without telling this instance (a
            // reload took the module out of the socket's chain).
            connecting_.erase(socket);
            forget(socket);
            return count_connect("abandoned");
        }
        std::string why = failure_of(connect_backend(), response);
        std::optional<ConnectReply> reply;
        if (why.empty()) {
            std::string broken;
            reply = parse_connect_reply(response.body, broken);
            if (!reply) why = "backend '" + connect_backend().name + "' answered outside the contract: " + broken;
        }
        if (!why.empty()) {
            host_.log(SB_LOG_WARN, "connect refused: " + why);
            count_connect("unavailable");
            return refuse_connect(socket, kBackendUnavailable);
        }
        if (!reply->allow) {
            count_connect("denied");
            return refuse_connect(socket, reply->message.empty() ? "Connection rejected" : reply->message);
        }
        if (reply->user_id || reply->claims_json) {
            // What the backend leaves out keeps what auth_jwt (say) set.
            const char* current = host_.user_of(socket);
            const std::string user = reply->user_id ? *reply->user_id : current ? current : "";
            const std::string claims = reply->claims_json ? *reply->claims_json : host_.claims_of(socket);
            host_.api()->set_identity(host_.ctx(), socket, user.empty() ? nullptr : user.c_str(), claims.c_str());
        }
        for (const auto& room : reply->rooms) host_.join(socket, room);
        set_data(socket, reply->data);
        // A room hook may have ended the connect meanwhile.
        if (!connecting_.count(socket)) return;
        connecting_.erase(socket);
        count_connect("allowed");
        announce(socket);
        host_.connect_decide(socket, true);
    }

    SocketRecord& record_of(sb_socket_id socket, const char* ns) {
        auto it = sockets_.find(socket);
        if (it != sockets_.end()) return it->second;
        // Connected before this module was loaded: no Socket.IO id known.
        SocketRecord& r = sockets_[socket];
        r.ns = ns ? ns : "/";
        const char* remote = host_.api()->remote_address_of(host_.ctx(), socket);
        r.remote = remote ? remote : "";
        return r;
    }

    void notify(sb_socket_id socket, const SocketRecord& r, std::string_view name, std::string_view extra) {
        const std::string id = webhooks_.next_id();
        webhooks_.add(webhook_event(id, name, host_.now_ms(), socket_json(host_, socket, r), extra));
    }

    void count(const std::string& backend_name, const char* outcome) {
        const std::string labels = "backend=\"" + backend_name + "\",outcome=\"" + outcome + "\"";
        host_.api()->counter_add(host_.ctx(), "backend_rpcs", labels.c_str(), 1);
    }

    uint64_t store(Rpc rpc) {
        const uint64_t key = next_key_++;
        rpcs_.emplace(key, std::move(rpc));
        return key;
    }

    // Sends an accepted RPC, queues it behind the backend's requests in
    // flight, or answers UNAVAILABLE when the queue is full too.
    void submit(uint64_t key) {
        Rpc& rpc = rpcs_.at(key);
        if (!rpc.backend) return finish_unavailable(key, "backend '" + rpc.backend_name + "' is no longer configured");
        if (rpc.body.empty()) return finish_unavailable(key, "backend '" + rpc.backend_name + "' was being replaced");
        const BackendSettings& b = settings_.backends[*rpc.backend];
        BackendLoad& load = load_[*rpc.backend];
        if (load.in_flight < b.max_in_flight) return start(key);
        if (load.queue.size() < b.max_queue) {
            load.queue.push_back(key);
            return;
        }
        finish_unavailable(key, "backend '" + b.name + "' is overloaded: " + std::to_string(load.in_flight) +
                                    " requests in flight and " + std::to_string(load.queue.size()) + " waiting");
    }

    void start(uint64_t key) {
        Rpc& rpc = rpcs_.at(key);
        const BackendSettings& b = settings_.backends[*rpc.backend];
        sb_fetch_id id = 0;
        const sb_status st = fetch_.start(post_request(b, rpc.path, std::move(rpc.body), host_.now_ms()),
                                          [this, key](const sb::FetchResponse& r) { on_answer(key, r); }, &id);
        rpc.body.clear();
        if (st != SB_OK)
            return finish_unavailable(key, st == SB_ERR_UNAVAILABLE
                                               ? "too many outbound requests in flight on this server"
                                               : "the request to backend '" + b.name + "' could not start");
        rpc.fetch = id;
        ++load_[*rpc.backend].in_flight;
    }

    // Starts queued RPCs while the backend has free slots.
    void pump(size_t backend) {
        BackendLoad& load = load_[backend];
        while (load.in_flight < settings_.backends[backend].max_in_flight && !load.queue.empty()) {
            const uint64_t key = load.queue.front();
            load.queue.pop_front();
            if (rpcs_.count(key)) start(key);
        }
    }

    void on_answer(uint64_t key, const sb::FetchResponse& r) {
        auto it = rpcs_.find(key);
        if (it == rpcs_.end()) return;
        const std::optional<size_t> backend = it->second.backend;
        if (backend) --load_[*backend].in_flight;
        BackendSettings unknown;
        unknown.name = it->second.backend_name;
        std::string why = failure_of(backend ? settings_.backends[*backend] : unknown, r);
        std::optional<Reply> reply;
        if (why.empty()) {
            std::string broken;
            reply = parse_reply(r.body, broken);
            if (!reply) why = "backend '" + unknown.name + "' answered outside the contract: " + broken;
        }
        if (!why.empty()) {
            host_.log(SB_LOG_DEBUG, it->second.event + ": " + why);
            finish_unavailable(key, why);
        } else {
            Rpc rpc = std::move(it->second);
            rpcs_.erase(it);
            release(rpc.socket);
            count(rpc.backend_name, reply->ok ? "ok" : "error");
            apply(rpc, *reply);
        }
        if (backend) pump(*backend);
    }

    void release(sb_socket_id socket) {
        if (auto s = sockets_.find(socket); s != sockets_.end() && s->second.rpcs) --s->second.rpcs;
    }

    void finish_unavailable(uint64_t key, const std::string& why) {
        auto it = rpcs_.find(key);
        if (it == rpcs_.end()) return;
        Rpc rpc = std::move(it->second);
        rpcs_.erase(it);
        release(rpc.socket);
        count(rpc.backend_name, "unavailable");
        answer_error(rpc, "UNAVAILABLE", why);
    }

    void answer_error(const Rpc& rpc, std::string_view code, std::string_view message) {
        if (rpc.ack_id >= 0) host_.ack(rpc.socket, rpc.ack_id, error_ack(code, message));
        else host_.emit(rpc.socket, "error", error_event(code, message, rpc.event));
    }

    // The answer's actions in order, then the ack; a disconnect last, so
    // that the client still receives its answer.
    void apply(const Rpc& rpc, const Reply& reply) {
        const sb_socket_id socket = rpc.socket;
        bool disconnect = false;
        for (const Action& a : reply.actions) {
            switch (a.kind) {
                case Action::Kind::join: host_.join(socket, a.room); break;
                case Action::Kind::leave: host_.leave(socket, a.room); break;
                case Action::Kind::emit: emit(socket, a.emit); break;
                case Action::Kind::data: set_data(socket, a.data); break;
                case Action::Kind::disconnect: disconnect = true; break;
            }
        }
        if (reply.ok) {
            if (rpc.ack_id >= 0) host_.ack(socket, rpc.ack_id, ok_ack(reply.result_json));
        } else {
            answer_error(rpc, reply.error_code, reply.error_message);
        }
        if (disconnect) host_.disconnect(socket);
    }

    void emit(sb_socket_id socket, const EmitAction& e) {
        auto rec = sockets_.find(socket);
        const char* ns_now = host_.api()->namespace_of(host_.ctx(), socket);
        emit_action(host_, rec != sockets_.end() ? rec->second.ns : ns_now ? ns_now : "/", socket, e, by_sid_);
    }

    void set_data(sb_socket_id socket, const std::vector<DataEntry>& data) {
        auto rec = sockets_.find(socket);
        set_socket_data(host_, socket, data, rec != sockets_.end() ? &rec->second.data_keys : nullptr);
    }

    sb::Host host_;
    Settings settings_;
    sb::Fetch fetch_;
    Webhooks webhooks_;
    std::vector<BackendLoad> load_;  // parallel to settings_.backends
    std::unordered_map<sb_socket_id, SocketRecord> sockets_;
    std::unordered_map<std::string, sb_socket_id> by_sid_;
    std::unordered_map<uint64_t, Rpc> rpcs_;
    uint64_t next_key_ = 1;
    std::vector<uint64_t> resume_;  // handed over by a reload, sent once it is done
    sb_timer_id resume_timer_ = 0;
    // Connects waiting for the backend, by socket: the request in flight.
    std::unordered_map<sb_socket_id, sb_fetch_id> connecting_;
    std::vector<sb_socket_id> lost_connects_;  // handed over without their request: refused after the reload
};

}  // namespace
}  // namespace backend

SWITCHBOARD_MODULE(backend::Backend, "backend", "1.0.0")
