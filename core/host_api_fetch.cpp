// Module-facing outbound HTTP (see host_api_fetch.h).
#include "host_api_fetch.h"

#include "log.h"
#include "hook_dispatcher.h"
#include "module_host.h"

#include <cstring>
#include <vector>

namespace sb::http {

namespace {

sb_fetch_outcome to_abi(Outcome o) {
    switch (o) {
        case Outcome::ok: return SB_FETCH_OK;
        case Outcome::refused: return SB_FETCH_REFUSED;
        case Outcome::dns: return SB_FETCH_DNS;
        case Outcome::timeout: return SB_FETCH_TIMEOUT;
        case Outcome::tls: return SB_FETCH_TLS;
        case Outcome::too_large: return SB_FETCH_TOO_LARGE;
        default: return SB_FETCH_FAILED;
    }
}

bool valid_method(const char* m) {
    const size_t n = strnlen(m, 17);
    if (n == 0 || n > 16) return false;
    for (size_t i = 0; i < n; ++i)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    return true;
}

// Header names and values must not smuggle a second header or request.
bool valid_header(const sb_fetch_header& h) {
    if (!h.name || !h.value || !*h.name) return false;
    for (const char* p = h.name; *p; ++p)
        if (*p <= ' ' || *p == ':' || *p == 0x7f) return false;
    for (const char* p = h.value; *p; ++p)
        if (*p == '\r' || *p == '\n') return false;
    return true;
}

FetchService* service_of(sb_module_ctx* ctx) {
    return ctx && ctx->host && ctx->instance ? ctx->host->services().fetch : nullptr;
}

}  // namespace

FetchService::FetchService(uv_loop_t* loop, const HttpClientConfig& config)
    : client_(loop, ClientOptions{.max_in_flight = config.max_in_flight,
                                  .max_connections_per_host = static_cast<long>(config.max_connections_per_host),
                                  .max_idle_connections = 256,
                                  .ca_file = config.ca_file,
                                  .ca_dir = config.ca_dir,
                                  .proxy = config.proxy}) {}

sb_status FetchService::start(sb_module_ctx* ctx, const sb_fetch_request* r, sb_fetch_cb cb, void* user_data,
                              sb_fetch_id* id) {
    if (!r || r->struct_size < sizeof(sb_fetch_request) || !r->url || !cb) return SB_ERR_INVALID;
    if (r->method && !valid_method(r->method)) return SB_ERR_INVALID;
    if (!r->body && r->body_len) return SB_ERR_INVALID;
    Request req;
    req.method = r->method ? r->method : "GET";
    req.url = r->url;
    for (size_t i = 0; i < r->header_count; ++i) {
        if (!r->headers || !valid_header(r->headers[i])) return SB_ERR_INVALID;
        req.headers.emplace_back(r->headers[i].name, r->headers[i].value);
    }
    if (r->body_len) req.body.assign(r->body, r->body_len);
    if (r->connect_timeout_ms) req.connect_timeout_ms = r->connect_timeout_ms;
    if (r->timeout_ms) req.timeout_ms = r->timeout_ms;
    if (r->max_response_bytes) req.max_response_bytes = r->max_response_bytes;
    if (r->ca_file) req.ca_file = r->ca_file;
    req.verify_tls = !r->insecure_skip_verify;

    Outcome refused{};
    std::string error;
    auto holder = std::make_shared<sb_fetch_id>(0);
    const RequestId started = client_.start(
        std::move(req), [this, holder](Response&& response) { deliver(*holder, std::move(response)); }, &refused,
        &error);
    if (!started) {
        log::debug("http_client", "module " + ctx->instance->name + ": fetch refused: " + error);
        return refused == Outcome::overloaded ? SB_ERR_UNAVAILABLE : SB_ERR_INVALID;
    }
    *holder = started;
    waiters_.emplace(started, Waiter{ctx->instance, &ctx->host->hooks(), ctx->instance->liveness, ctx->instance->name, cb,
                                      user_data});
    if (id) *id = started;
    return SB_OK;
}

sb_status FetchService::cancel(sb_module_ctx* ctx, sb_fetch_id id) {
    auto it = waiters_.find(id);
    if (it == waiters_.end() || it->second.instance != ctx->instance) return SB_ERR_NOT_FOUND;
    waiters_.erase(it);
    client_.cancel(id);
    return SB_OK;
}

sb_status FetchService::adopt(sb_module_ctx* ctx, sb_fetch_id id, sb_fetch_cb cb, void* user_data) {
    auto it = waiters_.find(id);
    if (it == waiters_.end() || it->second.module != ctx->instance->name || !cb) return SB_ERR_NOT_FOUND;
    it->second = Waiter{ctx->instance, &ctx->host->hooks(), ctx->instance->liveness, ctx->instance->name, cb, user_data};
    return SB_OK;
}

void FetchService::deliver(sb_fetch_id id, Response&& response) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    Waiter w = it->second;
    waiters_.erase(it);
    if (w.alive.expired()) return;  // the instance is gone: its code may be too
    std::vector<sb_fetch_header> headers;
    headers.reserve(response.headers.size());
    for (const auto& [k, v] : response.headers) headers.push_back({k.c_str(), v.c_str()});
    const sb_fetch_response abi{
        .struct_size = sizeof(sb_fetch_response),
        .outcome = to_abi(response.outcome),
        .status = response.status,
        .headers = headers.data(),
        .header_count = headers.size(),
        .body = response.body.data(),
        .body_len = response.body.size(),
        .error = response.error.c_str(),
        .elapsed_us = response.elapsed_us,
    };
    w.hooks->call_back(*w.instance, [&] { w.cb(w.user_data, &abi); });
}

sb_status api_fetch(sb_module_ctx* ctx, const sb_fetch_request* request, sb_fetch_cb cb, void* user_data,
                    sb_fetch_id* id) {
    FetchService* s = service_of(ctx);
    return s ? s->start(ctx, request, cb, user_data, id) : SB_ERR_UNAVAILABLE;
}

sb_status api_fetch_cancel(sb_module_ctx* ctx, sb_fetch_id id) {
    FetchService* s = service_of(ctx);
    return s ? s->cancel(ctx, id) : SB_ERR_NOT_FOUND;
}

sb_status api_fetch_adopt(sb_module_ctx* ctx, sb_fetch_id id, sb_fetch_cb cb, void* user_data) {
    FetchService* s = service_of(ctx);
    return s ? s->adopt(ctx, id, cb, user_data) : SB_ERR_NOT_FOUND;
}

}  // namespace sb::http
