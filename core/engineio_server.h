// The Engine.IO v4 server: handshakes, long-polling, WebSocket, upgrades,
// heartbeats and payload limits, on top of libwebsockets.
//
// This is the only place that knows Engine.IO's transport rules (which
// requests are valid for which session, how polling bodies are framed, how an
// upgrade hands the queue over). It hands whole Engine.IO message payloads up
// to a SessionListener (the Socket.IO layer) and takes frames to send back.
// Error answers copy the reference server's bytes so existing clients and
// monitoring see exactly what they expect.
#pragma once

#include "config.h"
#include "deadline_queue.h"
#include "engineio_session.h"
#include "frame.h"
#include "remote_sessions.h"
#include "session_table.h"
#include "ws_batch_writer.h"

#include <switchboard/module.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

struct lws;

namespace sb {

class SessionListener {
public:
    virtual ~SessionListener() = default;
    virtual void on_session_open(EngineSession& s) = 0;
    // One Engine.IO message packet's payload (text, or raw binary).
    virtual void on_session_message(EngineSession& s, std::string_view data, bool binary) = 0;
    // The session is closing; no more messages will arrive. Frames sent now
    // are still flushed before the transport closes.
    virtual void on_session_close(EngineSession& s, std::string_view reason) = 0;
};

// Extra HTTP routes served next to Engine.IO (health, metrics, admin).
struct HttpRoute {
    std::string method;  // "GET" or "POST" (POST routes take no body)
    std::string path;
    std::string content_type;
    // Returns the body; `status` defaults to 200.
    std::function<std::string(const std::string& authorization, int& status)> handle;
};

class EngineServer {
public:
    EngineServer(uv_loop_t* loop, const Config& config);
    void set_listener(SessionListener* listener) { listener_ = listener; }
    ~EngineServer();

    // libwebsockets callback for every connection of our protocol.
    int handle_lws_event(lws* wsi, int reason, void* user, void* in, size_t len);

    void add_route(HttpRoute route) { routes_.push_back(std::move(route)); }
    // In a cluster: new session ids start with `prefix` (this node's session
    // tag), and polling requests for other nodes' sessions go to `remote`.
    // Null `remote` (the default, or at shutdown) answers them as unknown.
    void set_sid_prefix(std::string prefix) { sid_prefix_ = std::move(prefix); }
    void set_remote_sessions(RemoteSessions* remote) { remote_ = remote; }
    // Asked before every new session (both transports): 0 admits, an HTTP
    // status refuses with `message`.
    std::function<int(const sb_handshake_info& info, std::string& message)> admit;

    // Queues a frame; a WebSocket writes it at the end of this loop turn,
    // long-polling when the client's GET is there.
    void send(EngineSession& s, const FrameRef& frame);
    void close(EngineSession& s, std::string_view reason);
    // Stop accepting new sessions (shutdown has begun).
    void stop_accepting() { draining_ = true; }
    // Closes and forgets every session at once and stops the timers (the
    // last step of shutdown, after the drain).
    void shutdown_now();
    // Starts closing every open session (queued output is still flushed).
    void close_all(std::string_view reason);
    size_t session_count() const { return sessions_.size(); }

    static constexpr size_t kPerConnectionDataSize = 64;

private:
    struct Request;
    struct WsiData;
    struct Forward;

    int on_http_request(lws* wsi, WsiData* d, std::string_view path);
    int on_http_body(lws* wsi, WsiData* d, std::string_view chunk);
    int on_http_body_complete(lws* wsi, WsiData* d);
    int on_poll_writeable(lws* wsi, WsiData* d);
    int start_forward(lws* wsi, WsiData* d, std::string_view path, const std::string& sid, bool is_post);
    void send_forward(lws* wsi, WsiData* d);
    int write_forward_answer(lws* wsi, WsiData* d);
    void drop_forward(WsiData* d);
    void on_http_closed(lws* wsi, WsiData* d);
    int start_body(lws* wsi, WsiData* d);
    void start_discarding(WsiData* d);
    int on_ws_filter(lws* wsi, WsiData* d);
    void on_ws_established(lws* wsi, WsiData* d);
    int on_ws_receive(lws* wsi, WsiData* d, const void* in, size_t len);
    int on_ws_writeable(lws* wsi, WsiData* d);
    void on_ws_closed(lws* wsi, WsiData* d);

    int handle_packet(EngineSession& s, lws* from, std::string_view data, bool binary);
    int refuse(lws* wsi, WsiData* d, int code, const std::string& message, int status = 400);
    // Capacity, draining and module admission for a new session; returns 0
    // or the callback's result after refusing.
    int refuse_new_session(lws* wsi, WsiData* d, const std::string& query, const char* transport, bool* refused);
    // The peer address read for admission, taken by the session created
    // next for the same connection: one getpeername per handshake, not two.
    lws* admitted_wsi_ = nullptr;
    std::string admitted_peer_;
    // `relayed_cors`: another node's CORS headers, sent instead of ours.
    int respond(lws* wsi, WsiData* d, int status, std::string_view content_type, std::string_view body,
                const std::vector<std::pair<std::string, std::string>>* relayed_cors = nullptr);
    std::string cors_origin_for(lws* wsi) const;
    EngineSession* create_session(std::string_view query, lws* wsi, TransportKind transport);
    void destroy(EngineSession* s);
    void request_write(EngineSession& s);
    void on_heartbeat(DeadlineEntry& e);
    std::string open_packet(const EngineSession& s) const;
    void count_transport(TransportKind t, int delta);
    void cancel_upgrade(EngineSession& s);

    uv_loop_t* loop_;
    const Config& config_;
    SessionListener* listener_ = nullptr;
    SessionTable sessions_;
    // One queue per delay keeps every schedule an O(1) append at the tail
    // (see deadline_queue.h): mixing the two delays in one queue made each
    // close during a mass disconnect walk past every waiting ping.
    DeadlineQueue ping_due_;  // ping_interval: when to send the next ping
    DeadlineQueue pong_due_;  // ping_timeout: a pong, or a closing session's last flush, is overdue
    SparseDeadlines<EngineSession> upgrades_;  // upgrades are rare and short
    WsBatchWriter ws_writer_;
    std::vector<HttpRoute> routes_;
    bool draining_ = false;
    FrameRef ping_frame_;
    std::string sid_prefix_;
    RemoteSessions* remote_ = nullptr;
};

}  // namespace sb
