// The Engine.IO v4 engine: handshakes, long-polling, WebSocket sessions,
// upgrades, heartbeats and payload limits, apart from any network library.
//
// This is the only place that knows Engine.IO's transport rules (which
// requests are valid for which session, how polling bodies are framed, how an
// upgrade hands the queue over). A transport adapter (engine_transport.h)
// tells it about requests, bodies, messages and closed connections, and
// writes what it answers; it hands whole Engine.IO message payloads up to a
// SessionListener (the Socket.IO layer) and takes frames to send back. Error
// answers copy the reference server's bytes so existing clients and
// monitoring see exactly what they expect.
#pragma once

#include "config.h"
#include "deadline_queue.h"
#include "engineio/engine_transport.h"
#include "engineio/engineio_session.h"
#include "engineio/session_table.h"
#include "frame.h"

#include <switchboard/module.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

class EngineServer {
public:
    EngineServer(uv_loop_t* loop, const Config& config);
    ~EngineServer();
    void set_listener(SessionListener* listener) { listener_ = listener; }
    void set_transport(EngineTransport* transport) { transport_ = transport; }

    // In a cluster: new session ids start with `prefix` (this node's session
    // tag), and polling requests for other nodes' sessions go to `elsewhere`.
    // Null `elsewhere` (the default, or at shutdown) answers them as unknown.
    void set_sid_prefix(std::string prefix) { sid_prefix_ = std::move(prefix); }
    void set_sessions_elsewhere(SessionsElsewhere* elsewhere) { elsewhere_ = elsewhere; }
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
    EngineSession* find_session(std::string_view sid) const { return sessions_.find(sid); }

    // --- What the transport tells the engine. Functions returning int return
    // 0, or nonzero when the transport is to drop the connection.

    // A long-polling request (handshake, GET or POST) on `c`. After a POST
    // is accepted `c.role` is PollPost: the transport reads the body, then
    // calls on_post_body (or on_post_over_limit and on_post_body_refused).
    int on_poll_request(EngineConn& c, const EngineRequest& r, RequestDetails& details);
    // The POST on `c` has its whole body.
    int on_post_body(EngineConn& c, std::string_view body);
    // The POST on `c` went over max_payload: its session closes now; the
    // rest of the body is read and thrown away before on_post_body_refused.
    void on_post_over_limit(EngineConn& c);
    // The over-limit POST on `c` has been read to its end: answers 413.
    int on_post_body_refused(EngineConn& c);
    // A polling connection can be written (a held GET's answer may be due).
    int on_poll_writable(EngineConn& c);
    void on_http_closed(EngineConn& c);

    // A WebSocket handshake is asked for (before it is accepted): 0 accepts
    // it, anything else refuses it (the refusal has been answered).
    int on_ws_handshake(EngineConn& c, const EngineRequest& r, RequestDetails& details);
    // The WebSocket accepted on `c` is open. False: close it.
    bool on_ws_open(EngineConn& c, const std::string& query, RequestDetails& details);
    // One whole WebSocket message on `c`.
    WsVerdict on_ws_message(EngineConn& c, std::string_view data, bool binary);
    // A message on `c` went over max_payload: the transport closes it.
    void on_ws_over_limit(EngineConn& c);
    WsVerdict on_ws_writable(EngineConn& c);
    void on_ws_closed(EngineConn& c);
    // A WebSocket write failed: the session `s` closes.
    void on_ws_write_failed(EngineSession& s) { close(s, "transport error"); }

    // Answers the request on `c` with an Engine.IO error (`code` as the
    // reference server numbers them, counted in the handshake failures).
    int refuse(EngineConn& c, int code, const std::string& message, int status = 400);

private:
    int handle_packet(EngineSession& s, EngineConn* from, std::string_view data, bool binary);
    // Answers the request on `c`, which then carries no Engine.IO request.
    int answer(EngineConn& c, int status, std::string_view content_type, std::string_view body);
    // Capacity, draining and module admission for a new session; returns 0
    // or the transport's result after refusing.
    int refuse_new_session(EngineConn& c, const std::string& query, const char* transport, RequestDetails& details,
                           bool* refused);
    // The peer address read for admission, taken by the session created
    // next for the same connection: one lookup per handshake, not two.
    const EngineConn* admitted_conn_ = nullptr;
    std::string admitted_peer_;
    EngineSession* create_session(std::string_view query, EngineConn& c, TransportKind transport,
                                  RequestDetails& details);
    // Detaches `c` from its session and has the transport close it.
    void release_conn(EngineConn* c);
    void destroy(EngineSession* s);
    void request_write(EngineSession& s);
    void on_heartbeat(DeadlineEntry& e);
    std::string open_packet(const EngineSession& s) const;
    void count_transport(TransportKind t, int delta);
    void cancel_upgrade(EngineSession& s);
    void post_ended(EngineConn& c);

    uv_loop_t* loop_;
    const Config& config_;
    SessionListener* listener_ = nullptr;
    EngineTransport* transport_ = nullptr;
    SessionTable sessions_;
    // One queue per delay keeps every schedule an O(1) append at the tail
    // (see deadline_queue.h): mixing the two delays in one queue made each
    // close during a mass disconnect walk past every waiting ping.
    DeadlineQueue ping_due_;  // ping_interval: when to send the next ping
    DeadlineQueue pong_due_;  // ping_timeout: a pong, or a closing session's last flush, is overdue
    SparseDeadlines<EngineSession> upgrades_;  // upgrades are rare and short
    bool draining_ = false;
    FrameRef ping_frame_;
    std::string sid_prefix_;
    SessionsElsewhere* elsewhere_ = nullptr;
};

}  // namespace sb
