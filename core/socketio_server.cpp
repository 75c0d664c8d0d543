// The Socket.IO v5 layer (see socketio_server.h).
#include "socketio_server.h"

#include "log.h"
#include "metrics.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace sb {
namespace {
constexpr const char* kComponent = "socketio";
constexpr size_t kMaxAttachments = 1000;
}  // namespace

SocketIOServer::SocketIOServer(uv_loop_t* loop, const Config& config, Hub& hub, HookDispatcher& hooks)
    : config_(config),
      hub_(hub),
      hooks_(hooks),
      connect_timeouts_(loop,
                        [this](Client* c) {
                            if (c->sockets.empty() && !c->pending_connects)
                                hub_.engine().close(*c->session, "connect timeout");
                        }),
      pending_timeouts_(loop, [this](PendingConnect* p) {
          abandon_pending(p->socket->id, "connect timeout", "connect timeout");
      }) {}

SocketIOServer::~SocketIOServer() {
    connect_timeouts_.close();
    pending_timeouts_.close();
}

void SocketIOServer::on_session_open(EngineSession& s) {
    auto* c = new Client();
    c->session = &s;
    s.upper = c;
    connect_timeouts_.schedule(c, config_.connect_timeout_ms);
}

void SocketIOServer::on_session_close(EngineSession& s, std::string_view reason) {
    auto* c = static_cast<Client*>(s.upper);
    if (!c) return;
    const std::string why(reason);
    // Connects still pending end first: their modules hear the close reason.
    while (c->pending_connects) {
        sb_socket_id id = 0;
        for (const auto& [pid, p] : pending_connects_)
            if (p->client == c) id = pid;
        if (!id) break;
        abandon_pending(id, why.c_str(), nullptr);
    }
    while (!c->sockets.empty()) remove_socket(*c, c->sockets.back(), why.c_str());
    connect_timeouts_.cancel(c);
    s.upper = nullptr;
    delete c;
}

void SocketIOServer::protocol_error(Client& c, const std::string& reason) {
    metrics().protocol_errors_total++;
    log::debug(kComponent, "closing session " + c.session->sid + " from " + c.session->remote_address + ": " + reason);
    hub_.engine().close(*c.session, "parse error");
}

Socket* SocketIOServer::socket_for(Client& c, std::string_view nsp) {
    for (Socket* s : c.sockets)
        if (s->ns->name == nsp) return s;
    return nullptr;
}

void SocketIOServer::on_session_message(EngineSession& s, std::string_view data, bool binary) {
    auto* c = static_cast<Client*>(s.upper);
    if (!c) return;
    if (binary) {
        if (!c->pending) return protocol_error(*c, "binary frame without a pending binary packet");
        PendingBinary& pb = *c->pending;
        pb.bytes += data.size();
        if (pb.bytes > config_.max_payload) return protocol_error(*c, "binary packet larger than max_payload");
        pb.attachments.emplace_back(data);
        if (pb.attachments.size() < pb.packet.attachments) return;
        std::unique_ptr<PendingBinary> done = std::move(c->pending);
        return dispatch(*c, done->packet, done->attachments);
    }
    if (c->pending) return protocol_error(*c, "text packet while binary attachments were expected");
    std::string error;
    auto p = sio::decode(data, error);
    if (!p) return protocol_error(*c, error);
    if ((p->type == sio::PacketType::BinaryEvent || p->type == sio::PacketType::BinaryAck) && p->attachments > 0) {
        if (p->attachments > kMaxAttachments) return protocol_error(*c, "too many binary attachments");
        c->pending = std::make_unique<PendingBinary>();
        c->pending->packet = std::move(*p);
        c->pending->bytes = data.size();
        return;
    }
    std::vector<std::string> none;
    dispatch(*c, *p, none);
}

void SocketIOServer::dispatch(Client& c, sio::Packet& p, std::vector<std::string>& attachments) {
    Socket* socket = socket_for(c, p.nsp);
    if (p.type == sio::PacketType::Connect) {
        if (socket) return protocol_error(c, "CONNECT for a namespace already joined");
        // A client that gave up waiting and connects again (socket.io-client
        // after disconnect() and connect() on a shared Manager): the newer
        // CONNECT replaces the one still pending.
        if (c.pending_connects) {
            sb_socket_id earlier = 0;
            for (const auto& [id, pc] : pending_connects_)
                if (pc->client == &c && pc->socket->ns->name == p.nsp) earlier = id;
            if (earlier) abandon_pending(earlier, "client namespace disconnect", nullptr);
        }
        return handle_connect(c, p);
    }
    if (!socket) return protocol_error(c, "packet for namespace '" + p.nsp + "' which the client has not joined");
    switch (p.type) {
        case sio::PacketType::Disconnect:
            remove_socket(c, socket, "client namespace disconnect");
            return;
        case sio::PacketType::Event:
        case sio::PacketType::BinaryEvent:
            handle_event(*socket, p, attachments);
            return;
        case sio::PacketType::Ack:
        case sio::PacketType::BinaryAck:
            // Modules do not request acks from clients (the ABI has no way
            // to); an answer to nothing is dropped, as the reference server does.
            return;
        default:
            return protocol_error(c, "unexpected packet type from a client");
    }
}

void SocketIOServer::send_connect_error(EngineSession& session, const std::string& nsp, std::string_view message) {
    sio::Packet answer;
    answer.type = sio::PacketType::ConnectError;
    answer.nsp = nsp;
    answer.data = "{\"message\":" + sio::json_quote(message) + "}";
    hub_.send_raw(session, sio::encode_message(answer));
}

void SocketIOServer::handle_connect(Client& c, sio::Packet& p) {
    connect_timeouts_.cancel(&c);
    Namespace* ns = hub_.find_namespace(p.nsp);
    if (!ns) return send_connect_error(*c.session, p.nsp, "Invalid namespace");
    Socket& socket = hub_.create_socket(*ns, *c.session);
    c.sockets.push_back(&socket);
    run_connect_chain(c, socket, 0, p.data.empty() ? "{}" : p.data);
}

namespace {
size_t position_in_chain(const Namespace& ns, const ModuleInstance* m) {
    const auto it = std::find(ns.chain.begin(), ns.chain.end(), m);
    return m && it != ns.chain.end() ? static_cast<size_t>(it - ns.chain.begin()) : ns.chain.size();
}
}  // namespace

void SocketIOServer::run_connect_chain(Client& c, Socket& socket, size_t from, std::string auth) {
    const sb_socket_id id = socket.id;
    Namespace& ns = *socket.ns;
    const sb_connect_info info{sizeof(sb_connect_info),
                               ns.name.c_str(),
                               socket.sid,
                               auth.c_str(),
                               c.session->remote_address.c_str(),
                               c.session->query().c_str(),
                               c.session->authorization().c_str(),
                               c.session->cookie().c_str()};
    for (size_t i = from; i < ns.chain.size(); ++i) {
        ModuleInstance& m = *ns.chain[i];
        if (!m.hooks.has_connect()) continue;
        ErrorBuffer err;
        const sb_connect_result r = hooks_.connect(m, id, info, &err.error);
        if (!hub_.find(id)) return;  // the module disconnected it already
        if (r == SB_CONNECT_ACCEPT) continue;
        if (r == SB_CONNECT_PENDING) {
            std::erase(c.sockets, &socket);  // not the client's until decided
            auto pending = std::make_unique<PendingConnect>();
            pending->client = &c;
            pending->socket = &socket;
            pending->module = &m;
            pending->auth = std::move(auth);
            pending_timeouts_.schedule(pending.get(), config_.connect_timeout_ms);
            ++c.pending_connects;
            pending_connects_.emplace(id, std::move(pending));
            return;
        }
        // Modules that already accepted hear that the socket is gone.
        const std::string message = err.message[0] ? err.message : "Connection rejected";
        return end_connect(c, socket, std::span(ns.chain.data(), i), "connect rejected", message.c_str());
    }
    hub_.complete_connect(socket);
}

void SocketIOServer::end_connect(Client& c, Socket& socket, std::span<ModuleInstance* const> told, const char* reason,
                                 const char* answer) {
    const sb_socket_id id = socket.id;
    if (std::find(c.sockets.begin(), c.sockets.end(), &socket) == c.sockets.end()) c.sockets.push_back(&socket);
    // First the rooms joined so far are left, as on any disconnect.
    leave_all_rooms(socket);
    if (!hub_.find(id)) return;  // a room hook disconnected it
    for (ModuleInstance* m : told) {
        hooks_.disconnect(*m, id, reason);
        if (!hub_.find(id)) return;
    }
    std::erase(c.sockets, &socket);
    EngineSession& session = *socket.session;
    const std::string nsp = socket.ns->name;
    hub_.destroy_socket(&socket);
    if (answer) send_connect_error(session, nsp, answer);
}

std::unique_ptr<SocketIOServer::PendingConnect> SocketIOServer::take_pending(sb_socket_id id) {
    auto it = pending_connects_.find(id);
    if (it == pending_connects_.end()) return nullptr;
    std::unique_ptr<PendingConnect> p = std::move(it->second);
    pending_connects_.erase(it);
    pending_timeouts_.cancel(p.get());
    --p->client->pending_connects;
    return p;
}

void SocketIOServer::abandon_pending(sb_socket_id id, const char* reason, const char* answer) {
    std::unique_ptr<PendingConnect> p = take_pending(id);
    if (!p) return;
    Namespace& ns = *p->socket->ns;
    std::vector<ModuleInstance*> told;
    if (p->after_reload == PendingConnect::AfterReload::Abort) {
        for (ModuleInstance* m : ns.chain)
            if (std::find(p->accepted.begin(), p->accepted.end(), m->name) != p->accepted.end()) told.push_back(m);
    } else if (const size_t at = position_in_chain(ns, p->module); at < ns.chain.size()) {
        told.assign(ns.chain.begin(), ns.chain.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    end_connect(*p->client, *p->socket, told, reason, answer);
}

sb_status SocketIOServer::decide_connect(ModuleInstance& m, sb_socket_id id, bool accept, const char* message) {
    auto it = pending_connects_.find(id);
    if (it == pending_connects_.end() || it->second->module != &m) return SB_ERR_NOT_FOUND;
    std::unique_ptr<PendingConnect> p = take_pending(id);
    Client& c = *p->client;
    Socket& socket = *p->socket;
    Namespace& ns = *socket.ns;
    const size_t at = position_in_chain(ns, &m);
    if (!accept) {
        m.rejects_total++;
        const std::string answer = message && *message ? message : "Connection rejected";
        end_connect(c, socket, std::span(ns.chain.data(), std::min(at, ns.chain.size())), "connect rejected",
                    answer.c_str());
        return SB_OK;
    }
    c.sockets.push_back(&socket);
    run_connect_chain(c, socket, at + 1, std::move(p->auth));
    return SB_OK;
}

void SocketIOServer::note_chains_before_reload() {
    for (auto& [id, p] : pending_connects_) {
        const Namespace& ns = *p->socket->ns;
        p->accepted.clear();
        const size_t at = position_in_chain(ns, p->module);
        for (size_t i = 0; i < at && i < ns.chain.size(); ++i) p->accepted.push_back(ns.chain[i]->name);
    }
}

void SocketIOServer::rebind_pending_connects() {
    for (auto& [id, p] : pending_connects_) {
        if (!p->module) continue;
        ModuleInstance* now = nullptr;
        for (ModuleInstance* m : p->socket->ns->chain)
            if (m->name == p->module->name) now = m;
        if (now == p->module) continue;
        if (!now) {
            p->after_reload = PendingConnect::AfterReload::Abort;
        } else if (!HookDispatcher::can_hand_over(*p->module, *now)) {
            p->after_reload = PendingConnect::AfterReload::Reoffer;
        }
        // With a handover the new instance took the decision over.
        p->module = now;
    }
}

void SocketIOServer::settle_pending_connects() {
    std::vector<sb_socket_id> reoffer, aborted;
    for (auto& [id, p] : pending_connects_) {
        if (p->after_reload == PendingConnect::AfterReload::Reoffer) reoffer.push_back(id);
        if (p->after_reload == PendingConnect::AfterReload::Abort) aborted.push_back(id);
    }
    for (sb_socket_id id : aborted) abandon_pending(id, "connect rejected", "connect aborted by a reload");
    for (sb_socket_id id : reoffer) {
        std::unique_ptr<PendingConnect> p = take_pending(id);
        if (!p) continue;
        const size_t at = position_in_chain(*p->socket->ns, p->module);
        p->client->sockets.push_back(p->socket);
        run_connect_chain(*p->client, *p->socket, at, std::move(p->auth));
    }
    for (auto& [id, p] : pending_connects_) p->accepted = {};  // still waiting: for the next reload's note
}

void SocketIOServer::handle_event(Socket& socket, sio::Packet& p, std::vector<std::string>& attachments) {
    sio::EventPayload payload = sio::split_event(p.data);
    std::vector<sb_bytes> bytes;
    bytes.reserve(attachments.size());
    for (const auto& a : attachments) bytes.push_back({reinterpret_cast<const uint8_t*>(a.data()), a.size()});
    sb_event ev{sizeof(sb_event),        socket.ns->name.c_str(), payload.name.c_str(),
                payload.args_json.c_str(), payload.args_json.size(), bytes.data(),
                bytes.size(),            p.id};
    const sb_socket_id id = socket.id;
    Namespace* ns = socket.ns;
    const HookDispatcher::EventArgsScope dispatched(hooks_, payload.args_json);
    for (ModuleInstance* m : ns->chain) {
        if (!m->hooks.has_event()) continue;
        ErrorBuffer err;
        const sb_event_result r = hooks_.event(*m, id, ev, &err.error);
        Socket* still = hub_.find(id);
        if (!still) return;
        switch (r) {
            case SB_EVENT_CONTINUE:
                continue;
            case SB_EVENT_HANDLED:
                return;
            case SB_EVENT_REJECT:
                report_failure(*still, payload.name, p.id, err.code[0] ? err.code : "FORBIDDEN",
                               err.message[0] ? err.message : "Event rejected", err.details);
                return;
            default:
                log::warn(kComponent, "module " + m->name + " failed on event '" + payload.name + "'" +
                                          (err.message[0] ? std::string(": ") + err.message : std::string()));
                report_failure(*still, payload.name, p.id, "INTERNAL", "Internal error");
                return;
        }
    }
    // Nobody in the chain handles this event: tell the client rather than
    // leave an ack callback waiting forever.
    report_failure(socket, payload.name, p.id, "NOT_FOUND", "No handler for event '" + payload.name + "'");
}

void SocketIOServer::report_failure(Socket& socket, const std::string& event, int64_t ack_id, const char* code,
                                    const std::string& message, const char* details_json) {
    std::string error = "{\"code\":" + sio::json_quote(code) + ",\"message\":" + sio::json_quote(message);
    // A module's extra fields ({"retryAfterMs":120}) join the error object.
    if (details_json && *details_json) {
        rapidjson::Document details;
        details.Parse(details_json);
        if (!details.HasParseError() && details.IsObject() && details.MemberCount() > 0) {
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            details.Accept(w);
            std::string_view members(buf.GetString() + 1, buf.GetSize() - 2);  // without the braces
            error += ",";
            error += members;
        }
    }
    std::vector<FrameRef> frames;
    if (ack_id >= 0) {
        frames = Hub::encode(*socket.ns, true, ack_id, "[{\"ok\":false,\"error\":" + error + "}}]", nullptr, 0);
    } else {
        frames = Hub::encode(*socket.ns, false, -1,
                             "[\"error\"," + error + ",\"event\":" + sio::json_quote(event) + "}]", nullptr, 0);
    }
    hub_.deliver(socket, frames);
}

void SocketIOServer::leave_all_rooms(Socket& socket) {
    const sb_socket_id id = socket.id;
    if (const auto* rooms = socket.ns->rooms.rooms_of(id)) {
        const std::vector<std::string> left = *rooms;  // hooks may not change it, but must not see it shrink mid-loop
        for (const auto& room : left) {
            socket.ns->rooms.leave(id, room);
            hooks_.room(socket.ns->chain, id, room.c_str(), false);
        }
    }
}

void SocketIOServer::remove_socket(Client& c, Socket* socket, const char* reason) {
    if (socket->leaving) return;  // a disconnect hook asked to disconnect it again
    socket->leaving = true;
    const sb_socket_id id = socket->id;
    leave_all_rooms(*socket);
    for (ModuleInstance* m : socket->ns->chain) hooks_.disconnect(*m, id, reason);
    if (Socket* s = hub_.find(id)) {
        c.sockets.erase(std::remove(c.sockets.begin(), c.sockets.end(), s), c.sockets.end());
        hub_.destroy_socket(s);
    }
}

void SocketIOServer::disconnect_socket(sb_socket_id id) {
    if (pending_connects_.count(id)) return abandon_pending(id, "server namespace disconnect", "Connection rejected");
    Socket* socket = hub_.find(id);
    if (!socket || socket->leaving) return;
    auto* c = static_cast<Client*>(socket->session->upper);
    if (!c) return;
    if (socket->connected) {
        sio::Packet p;
        p.type = sio::PacketType::Disconnect;
        p.nsp = socket->ns->name;
        hub_.send_raw(*socket->session, sio::encode_message(p));
    }
    remove_socket(*c, socket, "server namespace disconnect");
}

}  // namespace sb
