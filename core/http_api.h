// The HTTP API for backends: its own listener (a libwebsockets vhost on the
// server's loop), API keys, limits, and dispatch to core routes and to the
// routes modules register (see docs/http-api.md).
//
// It sits apart from the Engine.IO listener so that a slow or hostile API
// client cannot reach socket traffic: bodies are bounded, requests in flight
// are bounded, reading a body and waiting for a module's answer both time
// out, and every answer is JSON in one write.
#pragma once

#include "config.h"
#include "host_services.h"

#include <switchboard/module.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct lws;
struct lws_context;

namespace sb {

class HookDispatcher;
class Hub;
struct ModuleInstance;

// What a handler answers: an HTTP status and a JSON body.
struct ApiAnswer {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

// `{"error":{"code":...,"message":...}}` with the given status.
ApiAnswer api_error(int status, std::string_view code, std::string_view message);

// A request as the core routes see it (body already read and bounded).
struct ApiRequest {
    std::string method;
    std::string path;
    std::string query;  // without '?', re-encoded from lws' decoded fragments
    std::string body;
    std::string key_name;
    std::vector<std::pair<std::string, std::string>> args;  // decoded query parameters
};

class HttpApi : public ModuleRoutes {
public:
    // `services` is read when a request is served (the cluster, socket
    // disconnects); `hooks` calls the modules that serve routes.
    HttpApi(uv_loop_t* loop, const Config& config, Hub& hub, HookDispatcher& hooks, const HostServices& services);
    ~HttpApi();

    // Creates one vhost per api.listen entry; throws StartupError.
    void listen(lws_context* context);
    // The server's start time (uv_now), for uptime in stats.
    void set_started(uint64_t started_ms) { started_ms_ = started_ms; }

    // libwebsockets callback for every connection of the API vhosts.
    int handle_lws_event(lws* wsi, int reason, void* user, void* in, size_t len);

    // Module routes (host functions http_route / http_respond).
    sb_status add_module_route(ModuleInstance& m, const char* method, const char* path) override;
    sb_status respond(ModuleInstance& m, sb_http_response* response, int status, const char* body, size_t len) override;
    // A module instance is going away: its routes are dropped and its
    // unanswered requests get 503.
    void forget_instance(const ModuleInstance& m) override;

    // Prometheus lines: answers by status, requests in flight.
    void render_metrics(std::string& out) const;

    static constexpr size_t kPerConnectionDataSize = sizeof(void*);

private:
    struct Request;
    struct ModuleRoute {
        std::string method;
        std::string path;  // ends in '/': a prefix
        ModuleInstance* instance;
    };
    struct Pending {
        lws* wsi;  // null once the client has gone
        const ModuleInstance* instance;
        uint64_t deadline_ms;
        bool answered = false;
        ApiAnswer answer;
    };
    struct Bucket {
        double tokens;
        uint64_t at_ms;
    };

    int on_request(lws* wsi, Request*& slot, std::string_view path);
    int on_body(lws* wsi, Request* r, std::string_view chunk);
    int on_body_complete(lws* wsi, Request*& slot);
    int on_writeable(lws* wsi, Request*& slot);
    int dispatch(lws* wsi, Request*& slot);
    int write_answer(lws* wsi, Request*& slot, const ApiAnswer& answer);
    // Forgets the connection's request (answered, or the client went away).
    void release(Request*& slot);
    // The key the Authorization header names, or an error answer.
    const ApiKeyConfig* authenticate(lws* wsi, ApiAnswer& refusal) const;
    bool take_token(const std::string& key_name, uint64_t& retry_after_ms);
    // Decides which route serves the request (or why none does).
    bool resolve(Request& r, ApiAnswer& refusal) const;
    const ModuleRoute* find_module_route(std::string_view method, std::string_view path, bool& path_known) const;
    void finish_pending(uint64_t id, ApiAnswer answer);
    void sweep();

    uv_loop_t* loop_;
    const Config& config_;
    Hub& hub_;
    HookDispatcher& hooks_;
    const HostServices& services_;
    uint64_t started_ms_ = 0;
    std::vector<ModuleRoute> module_routes_;
    std::map<uint64_t, Pending> pending_;  // by id: ids grow, so the oldest come first
    uint64_t next_pending_id_ = 1;
    size_t in_flight_ = 0;
    std::map<int, uint64_t> answers_by_status_;
    std::unordered_map<std::string, Bucket> buckets_;
    uv_timer_t* sweep_timer_ = nullptr;
};

// The core routes (http_api_routes.cpp): whether `path` is one, and serving it.
bool is_core_route(std::string_view path, std::string_view* method = nullptr, std::string_view* scope = nullptr);
// Whether a module route on `path` (a prefix when it ends in '/') would take a core route.
bool covers_core_route(std::string_view path);
ApiAnswer serve_core_route(const ApiRequest& request, Hub& hub, const HostServices& services, uint64_t uptime_ms);

}  // namespace sb
