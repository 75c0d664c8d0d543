// The Engine.IO engine's sessions: creating and destroying them, what they
// send, heartbeats, closing, the packets a client sends and the WebSocket
// side of a session (see engine_server.h). The long-polling requests are in
// engine_polling.cpp.
#include "engineio/engine_server.h"

#include "json.h"
#include "log.h"
#include "metrics.h"
#include "random_id.h"

#include <cstdio>

namespace sb {

namespace {

constexpr const char* kComponent = "engineio";

}  // namespace

EngineServer::EngineServer(uv_loop_t* loop, const Config& config)
    : loop_(loop),
      config_(config),
      ping_due_(loop, [this](DeadlineEntry& e) { on_heartbeat(e); }),
      pong_due_(loop, [this](DeadlineEntry& e) { on_heartbeat(e); }),
      upgrades_(loop,
                [this](EngineSession* s) {
                    s->release_poll = false;
                    if (s->probe_ws) {
                        release_conn(s->probe_ws);  // closed: it no longer has a session
                        s->probe_ws = nullptr;
                    }
                }),
      ping_frame_(Frame::make("2", false)) {}

EngineServer::~EngineServer() { shutdown_now(); }

void EngineServer::close_all(std::string_view reason) {
    for (const auto& sid : sessions_.sids())
        if (EngineSession* s = sessions_.find(sid)) close(*s, reason);  // closing one may have destroyed another
}

void EngineServer::shutdown_now() {
    draining_ = true;
    for (const auto& sid : sessions_.sids()) {
        if (EngineSession* s = sessions_.find(sid)) close(*s, "server shutting down");
        if (EngineSession* still = sessions_.find(sid)) destroy(still);
    }
    ping_due_.close();
    pong_due_.close();
    upgrades_.close();
}

void EngineServer::cancel_upgrade(EngineSession& s) {
    s.release_poll = false;
    upgrades_.cancel(&s);
}

void EngineServer::count_transport(TransportKind t, int delta) {
    uint64_t& g = t == TransportKind::Polling ? metrics().connections_polling : metrics().connections_websocket;
    g += static_cast<uint64_t>(static_cast<int64_t>(delta));
}

std::string EngineServer::open_packet(const EngineSession& s) const {
    std::string p = "0{\"sid\":\"" + s.sid + "\",\"upgrades\":";
    p += (s.transport == TransportKind::Polling && config_.allow_websocket) ? "[\"websocket\"]" : "[]";
    p += ",\"pingInterval\":" + std::to_string(config_.ping_interval_ms);
    p += ",\"pingTimeout\":" + std::to_string(config_.ping_timeout_ms);
    p += ",\"maxPayload\":" + std::to_string(config_.max_payload) + "}";
    return p;
}

EngineSession* EngineServer::create_session(std::string_view query, EngineConn& c, TransportKind transport,
                                            RequestDetails& details) {
    auto owned = std::make_unique<EngineSession>();
    owned->sid = sid_prefix_ + random_id();  // the table hashes it
    EngineSession* s = sessions_.insert(std::move(owned));
    s->transport = transport;
    // A WebSocket session's open packet then leaves with the turn's other
    // writes instead of a writable callback (two poll changes).
    if (transport == TransportKind::WebSocket) s->ws = &c;
    s->remote_address = &c == admitted_conn_ ? std::move(admitted_peer_) : details.peer_address();
    admitted_conn_ = nullptr;
    std::string authorization = details.authorization();
    std::string cookie = details.cookie();
    if (!query.empty() || !authorization.empty() || !cookie.empty())
        s->extras = std::make_unique<EngineSession::HandshakeExtras>(std::string(query), std::move(authorization),
                                                                     std::move(cookie));
    s->heartbeat.owner = s;
    metrics().sessions_opened_total++;
    count_transport(transport, +1);
    send(*s, Frame::make(open_packet(*s), false));
    ping_due_.schedule(s->heartbeat, config_.ping_interval_ms);
    listener_->on_session_open(*s);
    return s;
}

int EngineServer::refuse_new_session(EngineConn& c, const std::string& query, const char* transport,
                                     RequestDetails& details, bool* refused) {
    *refused = true;
    if (draining_ || sessions_.size() >= config_.max_connections) {
        metrics().connections_refused_total++;
        return refuse(c, 4, draining_ ? "Server shutting down" : "Server at capacity", 503);
    }
    if (admit) {
        admitted_conn_ = &c;
        admitted_peer_ = details.peer_address();
        const std::string authorization = details.authorization();
        sb_handshake_info info{sizeof(sb_handshake_info), admitted_peer_.c_str(), transport, query.c_str(),
                               authorization.c_str()};
        std::string message;
        if (int status = admit(info, message)) {
            metrics().connections_refused_total++;
            return refuse(c, 4, message, status);
        }
    }
    *refused = false;
    return 0;
}

int EngineServer::refuse(EngineConn& c, int code, const std::string& message, int status) {
    if (code >= 0 && code < 6) metrics().handshake_failures_total[static_cast<size_t>(code)]++;
    std::string body = "{\"code\":" + std::to_string(code) + ",\"message\":" + json_quote(message) + "}";
    return answer(c, status, "application/json", body);
}

int EngineServer::answer(EngineConn& c, int status, std::string_view content_type, std::string_view body) {
    c.role = ConnRole::None;
    return transport_->respond(c, status, content_type, body);
}

void EngineServer::send(EngineSession& s, const FrameRef& frame) {
    if (s.queue.bytes() + frame->size() > config_.max_send_queue) {
        if (s.state == SessionState::Open) {
            metrics().send_queue_overflows_total++;
            log::warn(kComponent, "session " + s.sid + " from " + s.remote_address +
                                      " closed: send queue over limits.max_send_queue (slow consumer)");
            close(s, "send queue overflow");
        }
        return;
    }
    metrics().packets_out_total++;
    s.queue.push_back(frame);
    if (s.transport == TransportKind::WebSocket && s.ws && s.state == SessionState::Open) {
        transport_->queue_write(s);
    } else {
        request_write(s);
    }
}

void EngineServer::request_write(EngineSession& s) {
    if (s.transport == TransportKind::WebSocket) {
        if (s.ws) transport_->want_write(*s.ws);
    } else if (s.poll_get) {
        transport_->want_write(*s.poll_get);
    }
}

void EngineServer::release_conn(EngineConn* c) {
    c->session = nullptr;
    transport_->want_write(*c);
}

void EngineServer::close(EngineSession& s, std::string_view reason) {
    if (s.state != SessionState::Open) return;
    s.state = SessionState::Closing;
    log::debug(kComponent, "session " + s.sid + " closing: " + std::string(reason));
    cancel_upgrade(s);
    listener_->on_session_close(s, reason);
    if (s.probe_ws) {
        release_conn(s.probe_ws);
        s.probe_ws = nullptr;
    }
    // The transport flushes what is queued, then closes; a client that never
    // reads gets ping_timeout to do so before the session is dropped anyway.
    pong_due_.schedule(s.heartbeat, config_.ping_timeout_ms);
    if (s.transport == TransportKind::WebSocket && !s.ws) {
        destroy(&s);
        return;
    }
    request_write(s);
}

void EngineServer::destroy(EngineSession* s) {
    for (EngineConn* c : {s->ws, s->probe_ws, s->poll_get})
        if (c) release_conn(c);
    DeadlineQueue::cancel(s->heartbeat);
    cancel_upgrade(*s);
    transport_->forget(*s);
    metrics().sessions_closed_total++;
    count_transport(s->transport, -1);
    sessions_.erase(s);
}

void EngineServer::on_heartbeat(DeadlineEntry& e) {
    auto* s = static_cast<EngineSession*>(e.owner);
    if (s->state == SessionState::Closing) {
        destroy(s);
    } else if (s->awaiting_pong) {
        metrics().ping_timeouts_total++;
        close(*s, "ping timeout");
    } else {
        s->awaiting_pong = true;
        pong_due_.schedule(s->heartbeat, config_.ping_timeout_ms);
        send(*s, ping_frame_);
    }
}

int EngineServer::handle_packet(EngineSession& s, EngineConn* from, std::string_view data, bool binary) {
    metrics().packets_in_total++;
    const bool probe = from && from == s.probe_ws;
    if (binary) {
        if (probe) return -1;
        listener_->on_session_message(s, data, true);
        return 0;
    }
    if (data.empty()) return -1;
    const char type = data[0];
    std::string_view body = data.substr(1);
    switch (type) {
        case '2':  // ping: only the upgrade probe is expected from a v4 client
            if (probe && body == "probe") {
                s.probe_reply_pending = true;
                transport_->want_write(*from);
                // Until the upgrade ends, every GET is answered at once with a
                // noop (the reference server does the same): the client only
                // sends "5" once its polling has paused, i.e. once a GET it
                // has out, held now or sent later, has come back.
                s.release_poll = true;
                if (s.poll_get) transport_->want_write(*s.poll_get);
                return 0;
            }
            return probe ? -1 : 0;
        case '3':  // pong
            if (probe) return -1;
            if (s.awaiting_pong) {
                s.awaiting_pong = false;
                ping_due_.schedule(s.heartbeat, config_.ping_interval_ms);
            }
            return 0;
        case '4':
            if (probe) return -1;
            listener_->on_session_message(s, body, false);
            return 0;
        case '5':  // upgrade complete: the probe WebSocket becomes the transport
            if (!probe) return -1;
            cancel_upgrade(s);
            count_transport(TransportKind::Polling, -1);
            count_transport(TransportKind::WebSocket, +1);
            s.transport = TransportKind::WebSocket;
            s.ws = s.probe_ws;
            s.probe_ws = nullptr;
            metrics().upgrades_total++;
            if (s.poll_get) {
                s.release_poll = true;
                // The held GET is answered with a noop so the client's poll ends.
                transport_->want_write(*s.poll_get);
            }
            request_write(s);
            return 0;
        case '1':  // the client closes the session
            if (probe) return -1;
            close(s, "transport close");
            return 0;
        case '6':  // noop
            return 0;
        default:
            return -1;
    }
}

// --- WebSocket ---------------------------------------------------------------

int EngineServer::on_ws_handshake(EngineConn& c, const EngineRequest& r, RequestDetails& details) {
    if (r.transport != "websocket" || !config_.allow_websocket) return refuse(c, 0, "Transport unknown"), -1;
    c.sid[0] = '\0';
    if (!r.sid.empty()) {
        EngineSession* found = sessions_.find(r.sid);
        if (!found) return refuse(c, 1, "Session ID unknown"), -1;
        EngineSession& s = *found;
        if (s.transport != TransportKind::Polling || s.probe_ws || s.state != SessionState::Open)
            return refuse(c, 3, "Bad request"), -1;
        std::snprintf(c.sid, sizeof c.sid, "%s", r.sid.c_str());
        return 0;
    }
    if (r.eio != "4") return refuse(c, 5, "Unsupported protocol version"), -1;
    bool refused = false;
    refuse_new_session(c, r.rest, "websocket", details, &refused);
    return refused ? -1 : 0;
}

bool EngineServer::on_ws_open(EngineConn& c, const std::string& query, RequestDetails& details) {
    c.role = ConnRole::WebSocket;
    c.session = nullptr;
    if (c.sid[0]) {
        EngineSession* found = sessions_.find(c.sid);
        if (!found || found->probe_ws || found->state != SessionState::Open) return false;
        EngineSession& s = *found;
        s.probe_ws = &c;
        c.session = &s;
        upgrades_.schedule(&s, config_.upgrade_timeout_ms);
        return true;
    }
    c.session = create_session(query, c, TransportKind::WebSocket, details);
    return c.session != nullptr;
}

void EngineServer::on_ws_over_limit(EngineConn& c) {
    metrics().protocol_errors_total++;
    EngineSession* s = c.session;
    if (s && &c == s->ws) {
        s->ws = nullptr;
        c.session = nullptr;
        close(*s, "transport error");
    }
}

WsVerdict EngineServer::on_ws_message(EngineConn& c, std::string_view data, bool binary) {
    EngineSession* s = c.session;
    if (!s) return WsVerdict::Drop;
    metrics().bytes_in_total += data.size();
    if (handle_packet(*s, &c, data, binary) == 0) return WsVerdict::Keep;
    metrics().protocol_errors_total++;
    if (&c == s->probe_ws) {
        s->probe_ws = nullptr;
        c.session = nullptr;
        cancel_upgrade(*s);
        return WsVerdict::Drop;
    }
    if (c.session && &c == c.session->ws) {
        EngineSession* owner = c.session;
        owner->ws = nullptr;
        c.session = nullptr;
        close(*owner, "parse error");
    }
    return WsVerdict::DropProtocolError;
}

WsVerdict EngineServer::on_ws_writable(EngineConn& c) {
    EngineSession* s = c.session;
    if (!s) return WsVerdict::Drop;  // detached: this connection is to be closed
    if (&c == s->probe_ws) {
        if (s->probe_reply_pending) {
            s->probe_reply_pending = false;
            static const FrameRef probe = Frame::make("3probe", false);
            if (!transport_->write_frame(c, *probe)) return WsVerdict::Drop;
        }
        return WsVerdict::Keep;
    }
    if (&c != s->ws) return WsVerdict::Drop;
    if (s->has_queued()) {
        transport_->forget(*s);  // written now, not again at the end of the turn
        if (!transport_->write_queued(*s, c)) return WsVerdict::Drop;
        if (s->has_queued() || s->state == SessionState::Closing) transport_->want_write(c);
        return WsVerdict::Keep;
    }
    if (s->state == SessionState::Closing) return WsVerdict::DropNormal;
    return WsVerdict::Keep;
}

void EngineServer::on_ws_closed(EngineConn& c) {
    EngineSession* s = c.session;
    c.session = nullptr;
    if (!s) return;
    if (&c == s->probe_ws) {
        s->probe_ws = nullptr;
        cancel_upgrade(*s);
        return;
    }
    if (&c != s->ws) return;
    s->ws = nullptr;
    if (s->state == SessionState::Open) close(*s, "transport close");
    else destroy(s);
}

}  // namespace sb
