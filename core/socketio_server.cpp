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
    : config_(config), hub_(hub), hooks_(hooks), connect_timeouts_(loop, [this](Client* c) {
          if (c->sockets.empty()) hub_.engine().close(*c->session, "connect timeout");
      }) {}

SocketIOServer::~SocketIOServer() { connect_timeouts_.close(); }

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

void SocketIOServer::handle_connect(Client& c, sio::Packet& p) {
    connect_timeouts_.cancel(&c);
    Namespace* ns = hub_.find_namespace(p.nsp);
    sio::Packet answer;
    answer.type = sio::PacketType::ConnectError;
    answer.nsp = p.nsp;
    if (!ns) {
        answer.data = "{\"message\":\"Invalid namespace\"}";
        hub_.send_raw(*c.session, sio::encode_message(answer));
        return;
    }
    Socket& socket = hub_.create_socket(*ns, *c.session);
    const sb_socket_id id = socket.id;
    c.sockets.push_back(&socket);
    const std::string auth = p.data.empty() ? "{}" : p.data;
    sb_connect_info info{sizeof(sb_connect_info),           ns->name.c_str(),          socket.sid,
                         auth.c_str(),                      c.session->remote_address.c_str(), c.session->query().c_str(),
                         c.session->authorization().c_str()};
    for (size_t i = 0; i < ns->chain.size(); ++i) {
        if (!ns->chain[i]->hooks.has_connect()) continue;
        ErrorBuffer err;
        const sb_connect_result r = hooks_.connect(*ns->chain[i], id, info, &err.error);
        if (!hub_.find(id)) return;  // the module disconnected it already
        if (r == SB_CONNECT_ACCEPT) continue;
        // Modules that already accepted hear that the socket is gone: first
        // the rooms they joined it to are left, as on any disconnect.
        leave_all_rooms(socket);
        if (!hub_.find(id)) return;  // a room hook disconnected it
        for (size_t j = 0; j < i; ++j) hooks_.disconnect(*ns->chain[j], id, "connect rejected");
        c.sockets.erase(std::find(c.sockets.begin(), c.sockets.end(), &socket));
        hub_.destroy_socket(&socket);
        answer.data = "{\"message\":" + sio::json_quote(err.message[0] ? err.message : "Connection rejected") + "}";
        hub_.send_raw(*c.session, sio::encode_message(answer));
        return;
    }
    hub_.complete_connect(socket);
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
