// Test-only module "test_http": serves HTTP API routes through the module
// ABI (http_route, on_http, http_respond) so end-to-end tests can check
// exact and prefix routes, answers given at once and later, conflicts, and
// what happens to a pending answer when the module is reloaded.
//   GET  <base>/sync      -> 200 {tag, method, path, query, key}
//   POST <base>/echo      -> 201 {tag, body}  (the request body, parsed)
//   GET  <base>/items/... -> 200 {tag, item: "<the rest of the path>"}
//   POST <base>/async     -> answered from a timer after delay_ms: 202 {tag, async: true, body},
//                            then answered again (refused; the status is kept)
//   GET  <base>/never     -> never answered (the host answers 503 or 504)
//   GET  <status route>   -> 200 {tag, routes: {"METHOD path": status}, double: <status of the last
//                            second answer>, pending: <async answers not given yet>}
// Config: base (default "/api/test"), status_route (default <base>/status),
// tag (string, echoed), delay_ms (default 100), try_routes (list of
// "METHOD path" registered too and reported in routes).
// Module state survives no reload on purpose: a reload must drop the old
// instance's pending answers.
#include <switchboard/module.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <string>
#include <vector>

namespace {

struct Later {
    sb_http_response* response;
    std::string body;
};

struct State {
    sb_module_ctx* ctx;
    const sb_host_api* host;
    std::string base = "/api/test";
    std::string status_route;
    std::string tag;
    uint64_t delay_ms = 100;
    std::map<std::string, int> routes;  // "METHOD path" -> http_route status
    std::map<sb_timer_id, Later> later;
    int double_status = 1;  // 1: no second answer tried yet
};

const sb_config_key kConfigKeys[] = {
    {"base", SB_CONFIG_STRING, 0, "path prefix of the routes"},
    {"status_route", SB_CONFIG_STRING, 0, "where the registration results are served"},
    {"tag", SB_CONFIG_STRING, 0, "echoed in every answer"},
    {"delay_ms", SB_CONFIG_INTEGER, 0, "delay of the async answer"},
    {"try_routes", SB_CONFIG_ARRAY, 0, "extra \"METHOD path\" registrations"},
};

std::string quote(const std::string& s) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    return buf.GetString();
}

void route(State* s, const std::string& method, const std::string& path) {
    s->routes[method + " " + path] = s->host->http_route(s->ctx, method.c_str(), path.c_str());
}

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char* config_json, sb_error* error) {
    if (host->struct_size < offsetof(sb_host_api, http_respond) + sizeof(host->http_respond)) {
        sb_error_set(error, "INVALID", "the host has no HTTP routes");
        return nullptr;
    }
    auto* s = new State{ctx, host};
    rapidjson::Document cfg;
    cfg.Parse(config_json);
    if (cfg.HasMember("base")) s->base = cfg["base"].GetString();
    s->status_route = cfg.HasMember("status_route") ? cfg["status_route"].GetString() : s->base + "/status";
    if (cfg.HasMember("tag")) s->tag = cfg["tag"].GetString();
    if (cfg.HasMember("delay_ms")) s->delay_ms = cfg["delay_ms"].GetUint64();
    route(s, "GET", s->status_route);
    route(s, "GET", s->base + "/sync");
    route(s, "POST", s->base + "/echo");
    route(s, "GET", s->base + "/items/");
    route(s, "POST", s->base + "/async");
    route(s, "GET", s->base + "/never");
    if (cfg.HasMember("try_routes")) {
        for (const auto& v : cfg["try_routes"].GetArray()) {
            std::string spec = v.IsString() ? v.GetString() : "";
            auto space = spec.find(' ');
            if (space != std::string::npos) route(s, spec.substr(0, space), spec.substr(space + 1));
        }
    }
    return s;
}

void destroy(void* state) { delete static_cast<State*>(state); }

void answer(State* s, sb_http_response* response, int status, const std::string& json) {
    s->host->http_respond(s->ctx, response, status, json.data(), json.size());
}

void on_http(void* state, const sb_http_request* req, sb_http_response* response) {
    auto* s = static_cast<State*>(state);
    const std::string path = req->path, tag = quote(s->tag);
    if (path == s->status_route) {
        std::string routes;
        for (const auto& [k, v] : s->routes) routes += (routes.empty() ? "" : ",") + quote(k) + ":" + std::to_string(v);
        answer(s, response, 200, "{\"tag\":" + tag + ",\"routes\":{" + routes + "},\"double\":" + std::to_string(s->double_status) +
                                     ",\"pending\":" + std::to_string(s->later.size()) + "}");
    } else if (path == s->base + "/sync") {
        answer(s, response, 200,
               "{\"tag\":" + tag + ",\"method\":" + quote(req->method) + ",\"path\":" + quote(path) +
                   ",\"query\":" + quote(req->query) + ",\"key\":" + quote(req->api_key_name) + "}");
    } else if (path == s->base + "/echo") {
        rapidjson::Document body;
        body.Parse(req->body, req->body_len);
        if (body.HasParseError()) {
            answer(s, response, 400, "{\"error\":{\"code\":\"INVALID\",\"message\":\"body: not JSON\"}}");
            return;
        }
        answer(s, response, 201, "{\"tag\":" + tag + ",\"body\":" + std::string(req->body, req->body_len) + "}");
    } else if (path.rfind(s->base + "/items/", 0) == 0) {
        answer(s, response, 200, "{\"tag\":" + tag + ",\"item\":" + quote(path.substr(s->base.size() + 7)) + "}");
    } else if (path == s->base + "/async") {
        sb_timer_id t = s->host->timer_start(s->ctx, s->delay_ms, 0, nullptr);
        if (!t) {
            answer(s, response, 500, "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"no timer\"}}");
            return;
        }
        s->later[t] = Later{response, std::string(req->body, req->body_len)};
    }
    // <base>/never: left unanswered on purpose.
}

void on_timer(void* state, sb_timer_id timer, void*) {
    auto* s = static_cast<State*>(state);
    auto it = s->later.find(timer);
    if (it == s->later.end()) return;
    const std::string body = it->second.body.empty() ? "null" : it->second.body;
    answer(s, it->second.response, 202, "{\"tag\":" + quote(s->tag) + ",\"async\":true,\"body\":" + body + "}");
    const std::string again = "{}";
    s->double_status = s->host->http_respond(s->ctx, it->second.response, 200, again.data(), again.size());
    s->later.erase(it);
}

// Hooks left out are NULL: the host does not call them.
const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "test_http",
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .on_timer = on_timer,
    .config_keys = kConfigKeys,
    .config_key_count = sizeof kConfigKeys / sizeof kConfigKeys[0],
    .on_http = on_http,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
