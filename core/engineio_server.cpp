// The Engine.IO v4 server (see engineio_server.h).
#include "engineio_server.h"

#include "engineio_packet.h"
#include "log.h"
#include "lws_helpers.h"
#include "metrics.h"
#include "random_id.h"
#include "socketio_packet.h"

#include <libwebsockets.h>

#include <cctype>
#include <cstring>

namespace sb {

namespace {

constexpr uint32_t kMaxDiscard = 16 * 1024 * 1024;

// ForwardPost reads a POST body for another node's session; Forwarding
// waits for that node's answer.
enum class WsiKind : uint8_t { None, PollGet, PollPost, WebSocket, ForwardPost, Forwarding };

constexpr const char* kComponent = "engineio";

// The values we route on, and the rest of the query string as "a=b&c=d"
// (what modules see: EIO, transport, sid and the cache buster t are ours).
struct Query {
    std::string raw;
    std::string eio, transport, sid;
};

Query read_query(lws* wsi) {
    Query q;
    char buf[1024];
    for (int i = 0;; ++i) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        std::string_view arg(buf, static_cast<size_t>(n));
        auto eq = arg.find('=');
        std::string_view key = arg.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : arg.substr(eq + 1);
        if (key == "EIO") q.eio.assign(value);
        else if (key == "transport") q.transport.assign(value);
        else if (key == "sid") q.sid.assign(value);
        else if (key != "t") {
            if (!q.raw.empty()) q.raw.push_back('&');
            q.raw.append(arg);
        }
    }
    return q;
}

std::string peer_address(lws* wsi) {
    char buf[64];
    const char* p = lws_get_peer_simple(wsi, buf, sizeof buf);
    return p ? std::string(p) : std::string();
}

// Marks a request one node forwarded to another, which must not forward it
// again: nodes that disagree about who owns a session cannot bounce it.
constexpr char kForwardedHeader[] = "x-switchboard-forwarded:";

bool arrived_forwarded(lws* wsi) {
    return lws_hdr_custom_length(wsi, kForwardedHeader, static_cast<int>(sizeof kForwardedHeader - 1)) > 0;
}

void percent_encode(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 15]);
        }
    }
}

// The request's path and query as the owner is to see them (lws hands us
// the query decoded, one argument at a time).
std::string forward_target(lws* wsi, std::string_view path) {
    std::string target(path);
    char buf[1024];
    for (int i = 0;; ++i) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        std::string_view arg(buf, static_cast<size_t>(n));
        target.push_back(i == 0 ? '?' : '&');
        const size_t eq = arg.find('=');
        percent_encode(target, arg.substr(0, eq));
        if (eq != std::string_view::npos) {
            target.push_back('=');
            percent_encode(target, arg.substr(eq + 1));
        }
    }
    return target;
}

}  // namespace

// Per-connection data, allocated and zeroed by libwebsockets: plain fields
// only, heap members freed on close.
struct EngineServer::WsiData {
    EngineSession* session;
    std::string* buffer;       // POST body, or a WebSocket message being reassembled
    std::string* cors_origin;  // Access-Control-Allow-Origin for this request
    WsiKind kind;
    bool binary_message;
    bool discarding;     // POST over max_payload: reading the rest before answering 413
    uint32_t discarded;  // bytes thrown away so far
    Forward* forward;    // a request being forwarded to another node
    char sid[24];  // our ids are 15 characters, 21 in a cluster (the node's tag first)
};

// A request for another node's session, from the moment it is known to be
// one until that node's answer (or an error) has been written.
struct EngineServer::Forward {
    ForwardedRequest request;
    uint64_t ticket = 0;
    bool answered = false;
    ForwardedAnswer answer;
};

EngineServer::EngineServer(uv_loop_t* loop, const Config& config)
    : loop_(loop),
      config_(config),
      ping_due_(loop, [this](DeadlineEntry& e) { on_heartbeat(e); }),
      pong_due_(loop, [this](DeadlineEntry& e) { on_heartbeat(e); }),
      upgrades_(loop, [this](EngineSession* s) {
          s->release_poll = false;
          if (s->probe_ws) {
              auto* d = static_cast<WsiData*>(lws_wsi_user(s->probe_ws));
              if (d) d->session = nullptr;
              lws_callback_on_writable(s->probe_ws);  // closes it: it no longer has a session
              s->probe_ws = nullptr;
          }
      }),
      ws_writer_(loop, [this](EngineSession& s) { close(s, "transport error"); }),
      ping_frame_(Frame::make("2", false)) {
    static_assert(sizeof(WsiData) <= kPerConnectionDataSize);
}

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
    ws_writer_.close();
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

EngineSession* EngineServer::create_session(std::string_view query, lws* wsi, TransportKind transport) {
    auto owned = std::make_unique<EngineSession>();
    owned->sid = sid_prefix_ + random_id();  // the table hashes it
    EngineSession* s = sessions_.insert(std::move(owned));
    s->transport = transport;
    // A WebSocket session's open packet then leaves with the turn's other
    // writes instead of a writable callback (two poll changes).
    if (transport == TransportKind::WebSocket) s->ws = wsi;
    s->remote_address = wsi == admitted_wsi_ ? std::move(admitted_peer_) : peer_address(wsi);
    admitted_wsi_ = nullptr;
    std::string authorization = read_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (!query.empty() || !authorization.empty())
        s->extras.reset(new EngineSession::HandshakeExtras{std::string(query), std::move(authorization)});
    s->heartbeat.owner = s;
    metrics().sessions_opened_total++;
    count_transport(transport, +1);
    send(*s, Frame::make(open_packet(*s), false));
    ping_due_.schedule(s->heartbeat, config_.ping_interval_ms);
    listener_->on_session_open(*s);
    return s;
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
        ws_writer_.mark(s);
    } else {
        request_write(s);
    }
}

void EngineServer::request_write(EngineSession& s) {
    if (s.transport == TransportKind::WebSocket) {
        if (s.ws) lws_callback_on_writable(s.ws);
    } else if (s.poll_get) {
        lws_callback_on_writable(s.poll_get);
    }
}

void EngineServer::close(EngineSession& s, std::string_view reason) {
    if (s.state != SessionState::Open) return;
    s.state = SessionState::Closing;
    log::debug(kComponent, "session " + s.sid + " closing: " + std::string(reason));
    cancel_upgrade(s);
    listener_->on_session_close(s, reason);
    if (s.probe_ws) {
        auto* d = static_cast<WsiData*>(lws_wsi_user(s.probe_ws));
        if (d) d->session = nullptr;
        lws_callback_on_writable(s.probe_ws);
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
    for (lws* wsi : {s->ws, s->probe_ws, s->poll_get}) {
        if (!wsi) continue;
        auto* d = static_cast<WsiData*>(lws_wsi_user(wsi));
        if (d) d->session = nullptr;
        lws_callback_on_writable(wsi);
    }
    DeadlineQueue::cancel(s->heartbeat);
    cancel_upgrade(*s);
    ws_writer_.forget(*s);
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

std::string EngineServer::cors_origin_for(lws* wsi) const {
    if (config_.cors_origins.empty()) return {};
    std::string origin = read_header(wsi, WSI_TOKEN_ORIGIN);
    for (const auto& allowed : config_.cors_origins) {
        if (allowed == "*") {
            // With credentials a browser refuses "*", so reflect the origin.
            if (config_.cors_credentials && !origin.empty()) return origin;
            return "*";
        }
        if (!origin.empty() && allowed == origin) return origin;
    }
    return {};
}

int EngineServer::respond(lws* wsi, WsiData* d, int status, std::string_view content_type, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>* relayed_cors) {
    unsigned char headers[LWS_PRE + 1024];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(status), std::string(content_type).c_str(), body.size(),
                                    &p, end))
        return -1;
    if (relayed_cors) {
        for (const auto& [name, value] : *relayed_cors) {
            const std::string header = name + ":";
            if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(header.c_str()),
                                            reinterpret_cast<const unsigned char*>(value.data()),
                                            static_cast<int>(value.size()), &p, end))
                return -1;
        }
    } else if (d && d->cors_origin && !d->cors_origin->empty()) {
        const std::string& o = *d->cors_origin;
        if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("access-control-allow-origin:"),
                                        reinterpret_cast<const unsigned char*>(o.data()), static_cast<int>(o.size()),
                                        &p, end))
            return -1;
        if (config_.cors_credentials &&
            lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("access-control-allow-credentials:"),
                                        reinterpret_cast<const unsigned char*>("true"), 4, &p, end))
            return -1;
        if (o != "*" && lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("vary:"),
                                                    reinterpret_cast<const unsigned char*>("Origin"), 6, &p, end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (!body.empty()) {
        std::string out(LWS_PRE + body.size(), '\0');
        std::memcpy(out.data() + LWS_PRE, body.data(), body.size());
        auto* payload = reinterpret_cast<unsigned char*>(out.data() + LWS_PRE);
        if (lws_write(wsi, payload, body.size(), LWS_WRITE_HTTP_FINAL) < static_cast<int>(body.size())) return -1;
        metrics().bytes_out_total += body.size();
    }
    if (d) {
        delete d->cors_origin;
        d->cors_origin = nullptr;
        d->kind = WsiKind::None;
        drop_forward(d);
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int EngineServer::refuse(lws* wsi, WsiData* d, int code, const std::string& message, int status) {
    if (code >= 0 && code < 6) metrics().handshake_failures_total[static_cast<size_t>(code)]++;
    std::string body = "{\"code\":" + std::to_string(code) + ",\"message\":" + sio::json_quote(message) + "}";
    return respond(wsi, d, status, "application/json", body);
}

int EngineServer::refuse_new_session(lws* wsi, WsiData* d, const std::string& query, const char* transport, bool* refused) {
    *refused = true;
    if (draining_ || sessions_.size() >= config_.max_connections) {
        metrics().connections_refused_total++;
        return refuse(wsi, d, 4, draining_ ? "Server shutting down" : "Server at capacity", 503);
    }
    if (admit) {
        admitted_wsi_ = wsi;
        admitted_peer_ = peer_address(wsi);
        const std::string authorization = read_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        sb_handshake_info info{sizeof(sb_handshake_info), admitted_peer_.c_str(), transport, query.c_str(),
                               authorization.c_str()};
        std::string message;
        if (int status = admit(info, message)) {
            metrics().connections_refused_total++;
            return refuse(wsi, d, 4, message, status);
        }
    }
    *refused = false;
    return 0;
}

int EngineServer::handle_lws_event(lws* wsi, int reason_int, void* user, void* in, size_t len) {
    auto reason = static_cast<lws_callback_reasons>(reason_int);
    auto* d = static_cast<WsiData*>(user);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return on_http_request(wsi, d, std::string_view(static_cast<const char*>(in), len));
        case LWS_CALLBACK_HTTP_BODY:
            return on_http_body(wsi, d, std::string_view(static_cast<const char*>(in), len));
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return on_http_body_complete(wsi, d);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return on_poll_writeable(wsi, d);
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            if (d) on_http_closed(wsi, d);
            return 0;
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return on_ws_filter(wsi, d);
        case LWS_CALLBACK_ESTABLISHED:
            on_ws_established(wsi, d);
            return d->session ? 0 : -1;
        case LWS_CALLBACK_RECEIVE:
            return on_ws_receive(wsi, d, in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return on_ws_writeable(wsi, d);
        case LWS_CALLBACK_CLOSED:
            on_ws_closed(wsi, d);
            return 0;
        default:
            return 0;
    }
}

int EngineServer::on_http_request(lws* wsi, WsiData* d, std::string_view path) {
    d->kind = WsiKind::None;
    d->session = nullptr;
    drop_forward(d);
    delete d->cors_origin;
    d->cors_origin = nullptr;
    const bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    const bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    const bool is_options = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;

    std::string_view eio_path = config_.engineio_path;  // ends with '/'
    const bool engineio = path == eio_path || path == eio_path.substr(0, eio_path.size() - 1);
    if (!engineio) {
        for (const auto& r : routes_) {
            if (r.path != path) continue;
            if ((r.method == "GET" && !is_get) || (r.method == "POST" && !is_post))
                return respond(wsi, d, 405, "application/json", "{\"code\":405,\"message\":\"Method not allowed\"}");
            std::string content_length = read_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
            if (is_post && !content_length.empty() && content_length != "0") {
                respond(wsi, d, 400, "application/json", "{\"code\":400,\"message\":\"No request body expected\"}");
                return -1;
            }
            int status = 200;
            std::string body = r.handle(read_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), status);
            return respond(wsi, d, status, r.content_type, body);
        }
        return respond(wsi, d, 404, "application/json", "{\"code\":404,\"message\":\"Not found\"}");
    }

    d->cors_origin = new std::string(cors_origin_for(wsi));
    if (is_options) {
        // CORS preflight, answered as the reference server's cors middleware does.
        unsigned char headers[LWS_PRE + 1024];
        unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
        if (lws_add_http_common_headers(wsi, 204, "text/plain", 0, &p, end)) return -1;
        auto add = [&](const char* name, std::string_view value) {
            return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name),
                                               reinterpret_cast<const unsigned char*>(value.data()),
                                               static_cast<int>(value.size()), &p, end);
        };
        if (!d->cors_origin->empty()) {
            if (add("access-control-allow-origin:", *d->cors_origin)) return -1;
            if (config_.cors_credentials && add("access-control-allow-credentials:", "true")) return -1;
            if (add("access-control-allow-methods:", "GET,HEAD,PUT,PATCH,POST,DELETE")) return -1;
            std::string req_headers = read_header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS);
            if (!req_headers.empty() && add("access-control-allow-headers:", req_headers)) return -1;
            if (add("vary:", "Origin, Access-Control-Request-Headers")) return -1;
        }
        if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
        delete d->cors_origin;
        d->cors_origin = nullptr;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }

    Query q = read_query(wsi);
    if (q.transport != "polling" || !config_.allow_polling) {
        // A WebSocket transport over a plain GET (no Upgrade header) is a bad
        // request; anything else is an unknown transport.
        if (q.transport == "websocket" && config_.allow_websocket) return refuse(wsi, d, 3, "Bad request");
        return refuse(wsi, d, 0, "Transport unknown");
    }
    if (q.sid.empty()) {
        if (!is_get) return refuse(wsi, d, 2, "Bad handshake method");
        if (q.eio != "4") return refuse(wsi, d, 5, "Unsupported protocol version");
        bool refused = false;
        int rc = refuse_new_session(wsi, d, q.raw, "polling", &refused);
        if (refused) return rc;
        EngineSession* s = create_session(q.raw, wsi, TransportKind::Polling);
        // The first GET returns the open packet (and anything queued with it) at once.
        s->poll_get = wsi;
        d->session = s;
        d->kind = WsiKind::PollGet;
        return on_poll_writeable(wsi, d);
    }

    EngineSession* found = sessions_.find(q.sid);
    if (!found) {
        if (remote_ && (is_get || is_post) && remote_->owned_elsewhere(q.sid) && !arrived_forwarded(wsi))
            return start_forward(wsi, d, path, q.sid, is_post);
        return refuse(wsi, d, 1, "Session ID unknown");
    }
    EngineSession& s = *found;
    if (s.transport != TransportKind::Polling) return refuse(wsi, d, 3, "Bad request");

    if (is_get) {
        if (s.poll_get) {
            // Two concurrent GETs: the reference server refuses the second and
            // closes the session (a client that does this is broken or hostile).
            int rc = refuse(wsi, d, 3, "Bad request");
            metrics().protocol_errors_total++;
            close(s, "transport error");
            return rc;
        }
        s.poll_get = wsi;
        d->session = &s;
        d->kind = WsiKind::PollGet;
        if (s.has_queued() || s.state == SessionState::Closing || s.release_poll) return on_poll_writeable(wsi, d);
        // Held until there is something to send; our heartbeat bounds the wait.
        // Its header buffer goes back to the pool: everything needed to
        // answer (the CORS origin) is already copied.
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        lws_http_headers_detach(wsi);
        return 0;
    }
    if (is_post) {
        if (s.post_in_flight) {
            int rc = refuse(wsi, d, 3, "Bad request");
            metrics().protocol_errors_total++;
            close(s, "transport error");
            return rc;
        }
        s.post_in_flight = true;
        d->kind = WsiKind::PollPost;
        d->session = nullptr;  // looked up again by sid when the body is complete
        std::snprintf(d->sid, sizeof d->sid, "%s", s.sid.c_str());
        return start_body(wsi, d);
    }
    return refuse(wsi, d, 3, "Bad request");
}

// A body over max_payload closes the session at once, but the request is
// read to its end before the 413 goes out: closing a socket with unread
// input resets it, and the client would never see the status. A body far
// beyond the limit is cut off instead.
// Readies `d` for a POST body: buffered up to max_payload, discarded beyond
// (a declared length already over it is discarded from the first byte).
int EngineServer::start_body(lws* wsi, WsiData* d) {
    const std::string content_length = read_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    d->discarding = false;
    d->discarded = 0;
    d->buffer = new std::string();
    if (!content_length.empty() && std::strtoull(content_length.c_str(), nullptr, 10) > config_.max_payload)
        start_discarding(d);
    if (content_length == "0") return on_http_body_complete(wsi, d);
    return 0;
}

void EngineServer::start_discarding(WsiData* d) {
    metrics().handshake_failures_total[6]++;
    d->discarding = true;
    delete d->buffer;
    d->buffer = nullptr;
    EngineSession* found = sessions_.find(d->sid);
    if (found) close(*found, "payload too large");
}

int EngineServer::on_http_body(lws*, WsiData* d, std::string_view chunk) {
    if (d->kind != WsiKind::PollPost && d->kind != WsiKind::ForwardPost) return -1;
    if (!d->discarding && d->buffer->size() + chunk.size() > config_.max_payload) start_discarding(d);
    if (d->discarding) {
        d->discarded += static_cast<uint32_t>(std::min<size_t>(chunk.size(), UINT32_MAX - d->discarded));
        return d->discarded > kMaxDiscard ? -1 : 0;
    }
    d->buffer->append(chunk);
    return 0;
}

int EngineServer::on_http_body_complete(lws* wsi, WsiData* d) {
    if (d->kind == WsiKind::ForwardPost) {
        if (d->discarding) return respond(wsi, d, 413, "text/plain", "");
        if (!d->buffer || !d->forward || !remote_) return refuse(wsi, d, 1, "Session ID unknown");
        d->forward->request.body = std::move(*d->buffer);
        delete d->buffer;
        d->buffer = nullptr;
        send_forward(wsi, d);
        return 0;
    }
    if (d->kind != WsiKind::PollPost) return -1;
    if (d->discarding) {
        EngineSession* found = sessions_.find(d->sid);
        if (found) found->post_in_flight = false;
        return respond(wsi, d, 413, "text/plain", "");
    }
    if (!d->buffer) return -1;
    std::unique_ptr<std::string> body(d->buffer);
    d->buffer = nullptr;
    EngineSession* found = sessions_.find(d->sid);
    if (!found) return refuse(wsi, d, 1, "Session ID unknown");
    EngineSession& s = *found;
    s.post_in_flight = false;
    metrics().bytes_in_total += body->size();
    if (s.state != SessionState::Open) return respond(wsi, d, 200, "text/html", "ok");
    std::vector<eio::Packet> packets;
    if (!eio::decode_polling_payload(*body, packets)) {
        metrics().protocol_errors_total++;
        int rc = refuse(wsi, d, 3, "Bad request");
        close(s, "parse error");
        return rc;
    }
    // Answer first: handling a packet may close the session.
    int rc = respond(wsi, d, 200, "text/html", "ok");
    std::string sid = s.sid;
    for (auto& p : packets) {
        EngineSession* again = sessions_.find(sid);
        if (!again || again->state != SessionState::Open) break;
        std::string framed = p.binary ? p.data : eio::encode_text_packet(p.type, p.data);
        if (handle_packet(*again, nullptr, framed, p.binary) != 0) {
            close(*again, "parse error");
            break;
        }
    }
    return rc;
}

int EngineServer::on_poll_writeable(lws* wsi, WsiData* d) {
    if (d->kind == WsiKind::Forwarding) return write_forward_answer(wsi, d);
    if (d->kind != WsiKind::PollGet) return 0;
    EngineSession* s = d->session;
    if (!s) return respond(wsi, d, 200, "text/plain; charset=UTF-8", "1");
    if (s->transport != TransportKind::Polling) {
        // Upgraded while this GET was held: end it with a noop; the queue
        // now belongs to the WebSocket.
        s->poll_get = nullptr;
        s->release_poll = false;
        d->session = nullptr;
        return respond(wsi, d, 200, "text/plain; charset=UTF-8", "6");
    }
    std::string body;
    while (s->has_queued()) {
        FrameRef f = s->pop_front();
        eio::append_polling_packet(body, f->binary(), f->view());
    }
    const bool closing = s->state == SessionState::Closing;
    if (closing) eio::append_polling_packet(body, false, "1");
    if (body.empty() && s->release_poll) body = "6";
    if (body.empty()) return 0;  // spurious wake-up: keep holding
    s->release_poll = s->probe_ws != nullptr;  // still upgrading: the next GET is released too
    s->poll_get = nullptr;
    d->session = nullptr;
    int rc = respond(wsi, d, 200, "text/plain; charset=UTF-8", body);
    if (closing) destroy(s);
    return rc;
}

void EngineServer::on_http_closed(lws* wsi, WsiData* d) {
    if (d->session && d->kind == WsiKind::PollGet && d->session->poll_get == wsi) {
        // The client went away while its GET was held: the session stays,
        // the heartbeat decides its fate.
        d->session->poll_get = nullptr;
    }
    if (d->kind == WsiKind::PollPost) {
        EngineSession* found = sessions_.find(d->sid);
        if (found) found->post_in_flight = false;
    }
    d->session = nullptr;
    d->kind = WsiKind::None;
    delete d->buffer;
    d->buffer = nullptr;
    delete d->cors_origin;
    d->cors_origin = nullptr;
    drop_forward(d);
}

// The request is answered by the node that owns the session. What the owner
// needs of the request is copied now: a held GET gives its header buffer
// back to the pool while it waits, like a local one.
int EngineServer::start_forward(lws* wsi, WsiData* d, std::string_view path, const std::string& sid, bool is_post) {
    auto* f = new Forward();
    d->forward = f;
    f->request.sid = sid;
    f->request.method = is_post ? "POST" : "GET";
    f->request.target = forward_target(wsi, path);
    auto& headers = f->request.headers;
    auto pass = [&](const char* name, lws_token_indexes token) {
        std::string v = read_header(wsi, token);
        if (!v.empty()) headers.emplace_back(name, std::move(v));
    };
    pass("Content-Type", WSI_TOKEN_HTTP_CONTENT_TYPE);
    pass("Origin", WSI_TOKEN_ORIGIN);
    pass("Cookie", WSI_TOKEN_HTTP_COOKIE);
    pass("User-Agent", WSI_TOKEN_HTTP_USER_AGENT);
    std::string chain = read_header(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    const std::string peer = peer_address(wsi);
    headers.emplace_back("X-Forwarded-For", chain.empty() ? peer : chain + ", " + peer);
    headers.emplace_back("X-Switchboard-Forwarded", "1");
    if (!is_post) {
        d->kind = WsiKind::Forwarding;
        send_forward(wsi, d);
        lws_http_headers_detach(wsi);
        return 0;
    }
    d->kind = WsiKind::ForwardPost;
    d->sid[0] = '\0';  // no local session to close if the body is too large
    return start_body(wsi, d);
}

void EngineServer::send_forward(lws* wsi, WsiData* d) {
    d->kind = WsiKind::Forwarding;
    // Bounded by the forwarder's own timeout instead: a held GET waits up to
    // ping_interval on the owner.
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    Forward* f = d->forward;
    f->ticket = remote_->forward(std::move(f->request), [wsi](ForwardedAnswer a) {
        auto* wd = static_cast<WsiData*>(lws_wsi_user(wsi));
        if (!wd || !wd->forward) return;
        wd->forward->answered = true;
        wd->forward->answer = std::move(a);
        lws_callback_on_writable(wsi);
    });
}

int EngineServer::write_forward_answer(lws* wsi, WsiData* d) {
    if (!d->forward || !d->forward->answered) return 0;  // not yet
    ForwardedAnswer a = std::move(d->forward->answer);
    drop_forward(d);
    if (!a.relayed) return respond(wsi, d, a.status, a.content_type, a.body);
    return respond(wsi, d, a.status, a.content_type, a.body, &a.cors_headers);
}

void EngineServer::drop_forward(WsiData* d) {
    Forward* f = d->forward;
    if (!f) return;
    d->forward = nullptr;
    if (!f->answered && f->ticket && remote_) remote_->cancel(f->ticket);
    delete f;
}

int EngineServer::on_ws_filter(lws* wsi, WsiData* d) {
    std::string uri = read_header(wsi, WSI_TOKEN_GET_URI);
    std::string_view eio_path = config_.engineio_path;
    d->cors_origin = nullptr;
    if (uri != eio_path && uri != eio_path.substr(0, eio_path.size() - 1)) {
        return respond(wsi, d, 404, "application/json", "{\"code\":404,\"message\":\"Not found\"}") , -1;
    }
    // RFC 6455: the key is 16 random bytes in base64; lws does not check it.
    std::string key = read_header(wsi, WSI_TOKEN_KEY);
    auto raw_key = eio::base64_decode(key);
    if (!raw_key || raw_key->size() != 16) return refuse(wsi, d, 3, "Bad request"), -1;
    Query q = read_query(wsi);
    if (q.transport != "websocket" || !config_.allow_websocket) return refuse(wsi, d, 0, "Transport unknown"), -1;
    d->sid[0] = '\0';
    if (!q.sid.empty()) {
        EngineSession* found = sessions_.find(q.sid);
        if (!found) return refuse(wsi, d, 1, "Session ID unknown"), -1;
        EngineSession& s = *found;
        if (s.transport != TransportKind::Polling || s.probe_ws || s.state != SessionState::Open)
            return refuse(wsi, d, 3, "Bad request"), -1;
        std::snprintf(d->sid, sizeof d->sid, "%s", q.sid.c_str());
        return 0;
    }
    if (q.eio != "4") return refuse(wsi, d, 5, "Unsupported protocol version"), -1;
    bool refused = false;
    refuse_new_session(wsi, d, q.raw, "websocket", &refused);
    return refused ? -1 : 0;
}

void EngineServer::on_ws_established(lws* wsi, WsiData* d) {
    d->kind = WsiKind::WebSocket;
    d->buffer = nullptr;
    d->session = nullptr;
    if (d->sid[0]) {
        EngineSession* found = sessions_.find(d->sid);
        if (!found || found->probe_ws || found->state != SessionState::Open) return;
        EngineSession& s = *found;
        s.probe_ws = wsi;
        d->session = &s;
        upgrades_.schedule(&s, config_.upgrade_timeout_ms);
        return;
    }
    Query q = read_query(wsi);
    d->session = create_session(q.raw, wsi, TransportKind::WebSocket);
}

int EngineServer::on_ws_receive(lws* wsi, WsiData* d, const void* in, size_t len) {
    EngineSession* s = d->session;
    if (!s) return -1;
    const bool complete = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    std::string_view chunk(static_cast<const char*>(in), len);
    if (lws_is_first_fragment(wsi) && !d->buffer) d->binary_message = lws_frame_is_binary(wsi);
    size_t total = (d->buffer ? d->buffer->size() : 0) + len;
    if (total > config_.max_payload) {
        metrics().protocol_errors_total++;
        static const char reason[] = "max payload exceeded";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(reason)), sizeof reason - 1);
        delete d->buffer;
        d->buffer = nullptr;
        if (wsi == s->ws) {
            s->ws = nullptr;
            d->session = nullptr;
            close(*s, "transport error");
        }
        return -1;
    }
    if (!complete) {
        if (!d->buffer) d->buffer = new std::string();
        d->buffer->append(chunk);
        return 0;
    }
    std::unique_ptr<std::string> assembled;
    if (d->buffer) {
        assembled.reset(d->buffer);
        d->buffer = nullptr;
        assembled->append(chunk);
        chunk = *assembled;
    }
    metrics().bytes_in_total += chunk.size();
    if (handle_packet(*s, wsi, chunk, d->binary_message) != 0) {
        metrics().protocol_errors_total++;
        if (wsi == s->probe_ws) {
            s->probe_ws = nullptr;
            d->session = nullptr;
            cancel_upgrade(*s);
            return -1;
        }
        static const char reason[] = "protocol error";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                         reinterpret_cast<unsigned char*>(const_cast<char*>(reason)), sizeof reason - 1);
        if (d->session && wsi == d->session->ws) {
            EngineSession* owner = d->session;
            owner->ws = nullptr;
            d->session = nullptr;
            close(*owner, "parse error");
        }
        return -1;
    }
    return 0;
}

int EngineServer::handle_packet(EngineSession& s, lws* from, std::string_view data, bool binary) {
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
                lws_callback_on_writable(from);
                // Until the upgrade ends, every GET is answered at once with a
                // noop (the reference server does the same): the client only
                // sends "5" once its polling has paused, i.e. once a GET it
                // has out, held now or sent later, has come back.
                s.release_poll = true;
                if (s.poll_get) lws_callback_on_writable(s.poll_get);
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
                lws_callback_on_writable(s.poll_get);
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

int EngineServer::on_ws_writeable(lws* wsi, WsiData* d) {
    EngineSession* s = d->session;
    if (!s) return -1;  // detached: this connection is to be closed
    if (wsi == s->probe_ws) {
        if (s->probe_reply_pending) {
            s->probe_reply_pending = false;
            static const FrameRef probe = Frame::make("3probe", false);
            if (lws_write(wsi, probe->payload(), probe->size(), LWS_WRITE_TEXT) < static_cast<int>(probe->size()))
                return -1;
        }
        return 0;
    }
    if (wsi != s->ws) return -1;
    if (s->has_queued()) {
        ws_writer_.forget(*s);  // written now, not again at the end of the turn
        if (!ws_writer_.write_queued(*s, wsi)) return -1;
        if (s->has_queued() || s->state == SessionState::Closing) lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->state == SessionState::Closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
        return -1;
    }
    return 0;
}

void EngineServer::on_ws_closed(lws* wsi, WsiData* d) {
    delete d->buffer;
    d->buffer = nullptr;
    EngineSession* s = d->session;
    d->session = nullptr;
    if (!s) return;
    if (wsi == s->probe_ws) {
        s->probe_ws = nullptr;
        cancel_upgrade(*s);
        return;
    }
    if (wsi != s->ws) return;
    s->ws = nullptr;
    if (s->state == SessionState::Open) close(*s, "transport close");
    else destroy(s);
}

}  // namespace sb
