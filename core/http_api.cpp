// The HTTP API listener and its request life cycle (see http_api.h).
//
// A request goes: headers (limits, key, rate, route, scope, size decided at
// once) -> body (bounded, timed out) -> a core route answers at once, or a
// module's on_http answers now or later through http_respond. A refusal of a
// request that carries a body is sent after the body has been read: closing
// a socket with unread input resets it and the client never sees the status.
#include "http_api.h"

#include "encoding.h"
#include "hook_dispatcher.h"
#include "hub.h"
#include "log.h"
#include "lws_helpers.h"
#include "metrics.h"
#include "socketio_packet.h"
#include "transport/http_response.h"

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sb {
namespace {

constexpr const char* kComponent = "http-api";
constexpr size_t kMaxDiscard = 16 * 1024 * 1024;
constexpr uint64_t kSweepIntervalMs = 100;

std::array<unsigned char, 32> sha256(std::string_view s) {
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
        if (tolower(static_cast<unsigned char>(s[i])) != tolower(static_cast<unsigned char>(prefix[i]))) return false;
    return true;
}

const char* method_of(lws* wsi) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) return "GET";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) return "POST";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0) return "PUT";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0) return "DELETE";
    return "";
}

bool valid_json(const char* text, size_t len) {
    rapidjson::Document doc;
    doc.Parse(text, len);
    return !doc.HasParseError();
}

int api_lws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_vhost* vh = wsi ? lws_get_vhost(wsi) : nullptr;
    auto* api = vh ? static_cast<HttpApi*>(lws_get_vhost_user(vh)) : nullptr;
    if (!api || !user) return lws_callback_http_dummy(wsi, reason, user, in, len);
    return api->handle_lws_event(wsi, reason, user, in, len);
}

// No idle-validity timer per connection (see server.cpp); lws' keep-alive
// and our own timeouts bound an API connection.
const lws_retry_bo_t kNoIdlePolicy = {};

}  // namespace

ApiAnswer api_error(int status, std::string_view code, std::string_view message) {
    return {status,
            "{\"error\":{\"code\":" + sio::json_quote(code) + ",\"message\":" + sio::json_quote(message) + "}}",
            {}};
}

struct HttpApi::Request {
    ApiRequest req;
    bool core = false;
    bool counted = false;     // holds one of max_concurrent
    bool refused = false;     // `refusal` goes out once the body is read
    ApiAnswer refusal;
    size_t expected = 0;      // Content-Length
    size_t discarded = 0;
    uint64_t pending_id = 0;  // waiting for a module's answer
};

HttpApi::HttpApi(uv_loop_t* loop, const Config& config, Hub& hub, HookDispatcher& hooks, const HostServices& services)
    : loop_(loop), config_(config), hub_(hub), hooks_(hooks), services_(services) {
    sweep_timer_ = new uv_timer_t;
    uv_timer_init(loop_, sweep_timer_);
    sweep_timer_->data = this;
    uv_timer_start(sweep_timer_, [](uv_timer_t* t) { static_cast<HttpApi*>(t->data)->sweep(); }, kSweepIntervalMs,
                   kSweepIntervalMs);
    uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
}

HttpApi::~HttpApi() {
    uv_timer_stop(sweep_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(sweep_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void HttpApi::listen(lws_context* context) {
    static lws_protocols protocols[] = {
        {"switchboard-api", api_lws_callback, kPerConnectionDataSize, 0, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };
    for (const auto& l : config_.api.listen) {
        lws_context_creation_info vi;
        std::memset(&vi, 0, sizeof vi);
        vi.protocols = protocols;
        vi.vhost_name = "switchboard-api";
        vi.user = this;
        vi.retry_and_idle_policy = &kNoIdlePolicy;
        // lws bounds reading headers and bodies with these; an idle
        // keep-alive connection is closed after the same time.
        vi.timeout_secs = static_cast<unsigned int>(std::max<uint64_t>(1, config_.api.request_timeout_ms / 1000));
        vi.keepalive_timeout = static_cast<int>(vi.timeout_secs);
        const std::string url = create_listening_vhost(context, l, vi, "api: ");
        log::info(kComponent, "HTTP API listening on " + url + "/api/ with " + std::to_string(config_.api.keys.size()) + " key(s)");
    }
}

int HttpApi::handle_lws_event(lws* wsi, int reason_int, void* user, void* in, size_t len) {
    auto& slot = *static_cast<Request**>(user);
    switch (static_cast<lws_callback_reasons>(reason_int)) {
        case LWS_CALLBACK_HTTP:
            return on_request(wsi, slot, std::string_view(static_cast<const char*>(in), len));
        case LWS_CALLBACK_HTTP_BODY:
            return slot ? on_body(wsi, slot, std::string_view(static_cast<const char*>(in), len)) : -1;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return slot ? on_body_complete(wsi, slot) : -1;
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return on_writeable(wsi, slot);
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return -1;  // no WebSocket here
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            release(slot);
            return 0;
        default:
            return 0;
    }
}

const ApiKeyConfig* HttpApi::authenticate(lws* wsi, ApiAnswer& refusal) const {
    const std::string authorization = read_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    auto unauthorized = [&](std::string_view message) {
        refusal = api_error(401, "UNAUTHORIZED", message);
        refusal.headers.emplace_back("www-authenticate:", "Bearer realm=\"switchboard\"");
        return nullptr;
    };
    if (authorization.empty()) return unauthorized("missing Authorization header; send Authorization: Bearer <api key>");
    if (!iequals_prefix(authorization, "Bearer ")) return unauthorized("the Authorization scheme must be Bearer");
    std::string_view presented = std::string_view(authorization).substr(7);
    while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
    // Digests have equal length whatever was sent, and every key is compared:
    // the time taken says nothing about which key, or how much of it, matched.
    const auto digest = sha256(presented);
    const ApiKeyConfig* match = nullptr;
    for (const auto& k : config_.api.keys) {
        const auto expected = sha256(k.key);
        if (CRYPTO_memcmp(digest.data(), expected.data(), digest.size()) == 0) match = &k;
    }
    if (!match) return unauthorized("unknown API key");
    return match;
}

bool HttpApi::take_token(const std::string& key_name, uint64_t& retry_after_ms) {
    const auto& api = config_.api;
    if (api.rate_per_second == 0) return true;
    const uint64_t now = uv_now(loop_);
    auto [it, fresh] = buckets_.try_emplace(key_name, Bucket{static_cast<double>(api.rate_burst), now});
    Bucket& b = it->second;
    if (!fresh) {
        b.tokens = std::min<double>(static_cast<double>(api.rate_burst),
                                    b.tokens + static_cast<double>(now - b.at_ms) * static_cast<double>(api.rate_per_second) / 1000.0);
        b.at_ms = now;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return true;
    }
    retry_after_ms = static_cast<uint64_t>(std::ceil((1.0 - b.tokens) * 1000.0 / static_cast<double>(api.rate_per_second)));
    return false;
}

const HttpApi::ModuleRoute* HttpApi::find_module_route(std::string_view method, std::string_view path,
                                                       bool& path_known) const {
    const ModuleRoute* best = nullptr;
    bool best_exact = false;
    path_known = false;
    // The last registered wins among equals: during a reload the new
    // instance registers before the old one is gone.
    for (const auto& r : module_routes_) {
        const bool prefix = r.path.back() == '/';
        const bool exact = !prefix && r.path == path;
        if (!exact && !(prefix && path.starts_with(r.path))) continue;
        path_known = true;
        if (r.method != method) continue;
        if (best && (best_exact && !exact)) continue;
        if (best && !exact && !best_exact && r.path.size() < best->path.size()) continue;
        best = &r;
        best_exact = exact;
    }
    return best;
}

bool HttpApi::resolve(Request& r, ApiAnswer& refusal) const {
    std::string_view method, scope;
    if (is_core_route(r.req.path, &method, &scope)) {
        if (method != r.req.method) {
            refusal = api_error(405, "METHOD_NOT_ALLOWED", r.req.path + " takes " + std::string(method));
            refusal.headers.emplace_back("allow:", std::string(method));
            return false;
        }
        r.core = true;
    } else {
        bool path_known = false;
        if (!find_module_route(r.req.method, r.req.path, path_known)) {
            if (path_known) refusal = api_error(405, "METHOD_NOT_ALLOWED", r.req.method + " is not served on " + r.req.path);
            else refusal = api_error(404, "NOT_FOUND", "no route " + r.req.path);
            return false;
        }
        scope = "modules";
    }
    for (const auto& k : config_.api.keys) {
        if (k.name != r.req.key_name || k.scopes.empty()) continue;
        if (std::find(k.scopes.begin(), k.scopes.end(), scope) == k.scopes.end()) {
            refusal = api_error(403, "FORBIDDEN", "the API key '" + k.name + "' lacks the scope '" + std::string(scope) + "'");
            return false;
        }
    }
    return true;
}

void HttpApi::release(Request*& slot) {
    Request* r = slot;
    if (!r) return;
    if (r->pending_id) {
        // The module may still answer; the answer then goes nowhere.
        auto it = pending_.find(r->pending_id);
        if (it != pending_.end()) {
            if (it->second.answered) pending_.erase(it);
            else it->second.wsi = nullptr;
        }
    }
    if (r->counted) --in_flight_;
    delete r;
    slot = nullptr;
}

int HttpApi::on_request(lws* wsi, Request*& slot, std::string_view path) {
    release(slot);  // normally already done when the previous answer went out
    auto* r = slot = new Request;
    r->req.method = method_of(wsi);
    r->req.path.assign(path);
    char buf[2048];
    for (int i = 0;; ++i) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        std::string_view arg(buf, static_cast<size_t>(n));
        const auto eq = arg.find('=');
        std::string key(arg.substr(0, eq));
        std::string value(eq == std::string_view::npos ? std::string_view{} : arg.substr(eq + 1));
        if (!r->req.query.empty()) r->req.query.push_back('&');
        r->req.query += percent_encode(key) + (eq == std::string_view::npos ? "" : "=" + percent_encode(value));
        r->req.args.emplace_back(std::move(key), std::move(value));
    }
    const std::string content_length = read_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    r->expected = content_length.empty() ? 0 : std::strtoull(content_length.c_str(), nullptr, 10);

    ApiAnswer refusal;
    bool ok = true;
    if (r->req.method.empty()) {
        refusal = api_error(405, "METHOD_NOT_ALLOWED", "the API takes GET, POST, PUT and DELETE");
        ok = false;
    } else if (content_length.empty() && !read_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING).empty()) {
        refusal = api_error(411, "LENGTH_REQUIRED", "send the body with a Content-Length");
        ok = false;
    } else if (in_flight_ >= config_.api.max_concurrent) {
        refusal = api_error(503, "BUSY", "too many API requests in flight; retry shortly");
        refusal.headers.emplace_back("retry-after:", "1");
        ok = false;
    } else if (const ApiKeyConfig* key = authenticate(wsi, refusal); !key) {
        ok = false;
    } else {
        r->req.key_name = key->name;
        uint64_t retry_after_ms = 0;
        if (!take_token(key->name, retry_after_ms)) {
            refusal = api_error(429, "RATE_LIMITED", "the API key '" + key->name + "' is over its rate limit");
            refusal.headers.emplace_back("retry-after:", std::to_string((retry_after_ms + 999) / 1000));
            ok = false;
        } else if (!resolve(*r, refusal)) {
            ok = false;
        } else if (r->expected > config_.api.max_body) {
            refusal = api_error(413, "PAYLOAD_TOO_LARGE",
                                "the body is " + std::to_string(r->expected) + " bytes; api.max_body is " +
                                    std::to_string(config_.api.max_body));
            ok = false;
        }
    }
    if (!ok && (refusal.status == 401 || refusal.status == 429 || refusal.status == 503))
        log::debug(kComponent, r->req.method + " " + r->req.path + " refused: " + std::to_string(refusal.status));
    if (!ok) {
        if (r->expected == 0) return write_answer(wsi, slot, refusal);
        if (r->expected > kMaxDiscard) {
            write_answer(wsi, slot, refusal);
            return -1;
        }
        r->refused = true;
        r->refusal = std::move(refusal);
    } else {
        r->counted = true;
        ++in_flight_;
        if (r->expected == 0) return dispatch(wsi, slot);
        r->req.body.reserve(r->expected);
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                    static_cast<int>(std::max<uint64_t>(1, config_.api.request_timeout_ms / 1000)));
    return 0;
}

int HttpApi::on_body(lws*, Request* r, std::string_view chunk) {
    if (r->refused) {
        r->discarded += chunk.size();
        return r->discarded > kMaxDiscard ? -1 : 0;
    }
    if (r->req.body.size() + chunk.size() > config_.api.max_body) return -1;
    r->req.body.append(chunk);
    return 0;
}

int HttpApi::on_body_complete(lws* wsi, Request*& slot) {
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    if (slot->refused) {
        ApiAnswer refusal = std::move(slot->refusal);
        return write_answer(wsi, slot, refusal);
    }
    return dispatch(wsi, slot);
}

int HttpApi::dispatch(lws* wsi, Request*& slot) {
    Request& r = *slot;
    if (r.core) return write_answer(wsi, slot, serve_core_route(r.req, hub_, services_, uv_now(loop_) - started_ms_));
    bool path_known = false;
    const ModuleRoute* route = find_module_route(r.req.method, r.req.path, path_known);
    if (!route || !route->instance->hooks.has_http() || !route->instance->state)
        return write_answer(wsi, slot, api_error(404, "NOT_FOUND", "no route " + r.req.path));
    ModuleInstance& m = *route->instance;
    const uint64_t id = next_pending_id_++;
    pending_.emplace(id, Pending{wsi, &m, uv_now(loop_) + config_.api.request_timeout_ms, false, {}});
    r.pending_id = id;
    sb_http_request request{sizeof(sb_http_request), r.req.method.c_str(), r.req.path.c_str(), r.req.query.c_str(),
                            r.req.body.c_str(), r.req.body.size(), r.req.key_name.c_str()};
    hooks_.http(m, request, reinterpret_cast<sb_http_response*>(static_cast<uintptr_t>(id)));
    auto it = pending_.find(id);
    if (it != pending_.end() && it->second.answered) {
        ApiAnswer answer = std::move(it->second.answer);
        pending_.erase(it);
        r.pending_id = 0;
        return write_answer(wsi, slot, answer);
    }
    // Waiting for a later answer, bounded by our sweep rather than lws'
    // timeouts; the header buffer goes back to the pool meanwhile.
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    lws_http_headers_detach(wsi);
    return 0;
}

int HttpApi::on_writeable(lws* wsi, Request*& slot) {
    if (!slot || !slot->pending_id) return 0;
    auto it = pending_.find(slot->pending_id);
    if (it == pending_.end() || !it->second.answered) return 0;
    ApiAnswer answer = std::move(it->second.answer);
    pending_.erase(it);
    slot->pending_id = 0;
    return write_answer(wsi, slot, answer);
}

int HttpApi::write_answer(lws* wsi, Request*& slot, const ApiAnswer& answer) {
    release(slot);
    answers_by_status_[answer.status]++;
    std::vector<HeaderField> headers;
    headers.reserve(answer.headers.size());
    for (const auto& [name, value] : answer.headers) headers.push_back({name.c_str(), value});
    return write_http_response(wsi, answer.status, "application/json", answer.body, headers);
}

sb_status HttpApi::add_module_route(ModuleInstance& m, const char* method, const char* path) {
    if (!method || !path) return SB_ERR_INVALID;
    const std::string who = "module " + m.name;
    auto refuse = [&](const std::string& why) {
        log::warn(kComponent, who + ": route " + method + " " + path + " refused: " + why);
        return SB_ERR_INVALID;
    };
    const std::string_view mv = method, pv = path;
    if (mv != "GET" && mv != "POST" && mv != "PUT" && mv != "DELETE") return refuse("the method must be GET, POST, PUT or DELETE");
    if (!m.hooks.has_http()) return refuse("the module has no on_http hook");
    if (!pv.starts_with("/api/") || pv.size() > 512 || pv.find("//") != std::string_view::npos ||
        pv.find("/./") != std::string_view::npos || pv.find("/../") != std::string_view::npos ||
        std::any_of(pv.begin(), pv.end(), [](char c) { return c <= ' ' || c == '?' || c == '#' || c == 0x7f; }))
        return refuse("a path starts with /api/, has no '?', '#', spaces, '//' or dot segments");
    if (covers_core_route(pv)) return refuse("it is served by the core");
    for (const auto& r : module_routes_) {
        if (r.method != mv || r.path != pv) continue;
        if (r.instance == &m) return SB_OK;
        if (r.instance->name != m.name) return refuse("already served by module " + r.instance->name);
    }
    module_routes_.push_back({std::string(mv), std::string(pv), &m});
    log::debug(kComponent, who + " serves " + std::string(mv) + " " + std::string(pv));
    return SB_OK;
}

sb_status HttpApi::respond(ModuleInstance& m, sb_http_response* response, int status, const char* body, size_t len) {
    auto it = pending_.find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(response)));
    if (it == pending_.end()) return SB_ERR_NOT_FOUND;  // answered and sent, timed out, or never issued
    Pending& p = it->second;
    if (p.instance != &m || p.answered) return SB_ERR_INVALID;
    if (status < 100 || status > 599 || (!body && len)) return SB_ERR_INVALID;
    if (len && !valid_json(body, len)) return SB_ERR_INVALID;
    p.answered = true;
    p.answer = {status, std::string(body ? body : "", len), {}};
    if (!p.wsi) pending_.erase(it);
    else lws_callback_on_writable(p.wsi);
    return SB_OK;
}

void HttpApi::finish_pending(uint64_t id, ApiAnswer answer) {
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.answered) return;
    if (!it->second.wsi) {
        pending_.erase(it);
        return;
    }
    it->second.answered = true;
    it->second.answer = std::move(answer);
    lws_callback_on_writable(it->second.wsi);
}

void HttpApi::forget_instance(const ModuleInstance& m) {
    std::erase_if(module_routes_, [&](const ModuleRoute& r) { return r.instance == &m; });
    std::vector<uint64_t> ids;
    for (auto& [id, p] : pending_)
        if (p.instance == &m) ids.push_back(id);
    for (uint64_t id : ids) {
        finish_pending(id, api_error(503, "UNAVAILABLE", "module " + m.name + " was reloaded or unloaded before answering"));
        auto it = pending_.find(id);
        if (it != pending_.end()) it->second.instance = nullptr;  // a later respond from anyone is refused
    }
}

void HttpApi::render_metrics(std::string& out) const {
    append_header(out, "switchboard_api_responses_total", "counter", "HTTP API answers by status.");
    for (const auto& [status, n] : answers_by_status_)
        append_labelled(out, "switchboard_api_responses_total", "status=\"" + std::to_string(status) + "\"", n);
    append_metric(out, "switchboard_api_requests_in_flight", "gauge", "HTTP API requests being read or answered.", in_flight_);
}

void HttpApi::sweep() {
    const uint64_t now = uv_now(loop_);
    std::vector<uint64_t> expired;
    for (auto& [id, p] : pending_) {
        if (p.deadline_ms > now) break;  // ids grow with time: the rest are younger
        if (!p.answered) expired.push_back(id);
    }
    for (uint64_t id : expired)
        finish_pending(id, api_error(504, "TIMEOUT", "the module did not answer within api.request_timeout"));
}

}  // namespace sb
