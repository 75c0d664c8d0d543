// The Engine.IO engine on libwebsockets: the adapter between lws' callbacks
// and the transport-free engine (engineio/engine_server.h).
//
// Every connection of the Engine.IO listener's protocol lands here. This
// adapter demultiplexes lws' events, parses what the engine routes on (the
// query, the method), applies the HTTP rules that are not Engine.IO's (CORS
// and its preflight, the extra routes, reading POST bodies within
// max_payload, reassembling WebSocket messages), writes the engine's answers
// and frames, and forwards polling requests for another node's sessions to
// that node (the engine's SessionsElsewhere, engine_lws_forward.cpp).
#pragma once

#include "config.h"
#include "engineio/engine_server.h"
#include "remote_sessions.h"
#include "transport/http_routes.h"
#include "transport/lws_connection.h"
#include "transport/ws_batch_writer.h"

#include <libwebsockets.h>
#include <uv.h>

#include <string>
#include <string_view>

namespace sb {

class EngineLws final : public EngineTransport, public SessionsElsewhere {
public:
    EngineLws(uv_loop_t* loop, const Config& config, EngineServer& engine);
    ~EngineLws() override;
    EngineLws(const EngineLws&) = delete;
    EngineLws& operator=(const EngineLws&) = delete;

    // libwebsockets callback for every connection of our protocol.
    int handle_lws_event(lws* wsi, int reason, void* user, void* in, size_t len);

    void add_route(HttpRoute route) { routes_.add(std::move(route)); }
    // In a cluster, polling requests for other nodes' sessions go to
    // `remote`; null (the default, or at shutdown) answers them as unknown.
    void set_remote_sessions(RemoteSessions* remote);
    // Stops the end-of-turn writes (the last step of shutdown).
    void shutdown_now() { ws_writer_.close(); }

    static constexpr size_t kPerConnectionDataSize = 64;

    // EngineTransport
    int respond(EngineConn& c, int status, std::string_view content_type, std::string_view body) override;
    void want_write(EngineConn& c) override { lws_callback_on_writable(LwsConnection::of(c).wsi); }
    void hold(EngineConn& c) override;
    void queue_write(EngineSession& s) override { ws_writer_.mark(s); }
    bool write_queued(EngineSession& s, EngineConn& c) override {
        return ws_writer_.write_queued(s, LwsConnection::of(c).wsi);
    }
    void forget(EngineSession& s) override { ws_writer_.forget(s); }
    bool write_frame(EngineConn& c, const Frame& f) override;

    // SessionsElsewhere (engine_lws_forward.cpp)
    bool owned_elsewhere(std::string_view sid) const override;
    int take_over(EngineConn& c, const std::string& sid, bool is_post) override;

private:
    int on_http_request(LwsConnection& c, std::string_view path);
    int answer_preflight(LwsConnection& c);
    int start_body(LwsConnection& c);
    void start_discarding(LwsConnection& c);
    int on_http_body(LwsConnection& c, std::string_view chunk);
    int on_http_body_complete(LwsConnection& c);
    void on_http_closed(LwsConnection& c);
    int on_ws_filter(LwsConnection& c);
    int on_ws_receive(LwsConnection& c, const void* in, size_t len);
    // `relayed_cors`: another node's CORS headers, sent instead of ours.
    int respond_with(LwsConnection& c, int status, std::string_view content_type, std::string_view body,
                     const std::vector<std::pair<std::string, std::string>>* relayed_cors);
    // Forgets the request in progress (its CORS origin, body, forward).
    void end_request(LwsConnection& c);
    std::string cors_origin_for(lws* wsi) const;

    // Forwarding (engine_lws_forward.cpp).
    void send_forward(LwsConnection& c);
    int write_forward_answer(LwsConnection& c);
    void drop_forward(LwsConnection& c);

    const Config& config_;
    EngineServer& engine_;
    WsBatchWriter ws_writer_;
    HttpRoutes routes_;
    RemoteSessions* remote_ = nullptr;
    // The path of the request being handled, for a forward to repeat.
    std::string_view request_path_;
};

}  // namespace sb
