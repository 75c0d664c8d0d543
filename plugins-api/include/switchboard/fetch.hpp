// switchboard/fetch.hpp — an optional, header-only C++20 layer over the
// outbound HTTP calls of module.h (ABI 1.3: fetch, fetch_cancel,
// fetch_adopt), for module authors.
//
// Why it exists: as with storage, the C calls take a function pointer and a
// user_data pointer, and the host drops the answers of an instance that is
// gone. sb::Fetch keeps each request's lambda in a table it owns: a module
// holds one sb::Fetch as a member, and everything still pending is freed
// with the instance. It never cancels in its destructor, so that a new
// instance can adopt the old one's requests during a reload:
//
//   // old instance, export_state: write fetch_.in_flight() ids (and what
//   // each answer is for) into the state
//   // new instance, import_state: for each id, fetch_.adopt(id, lambda)
//
// A callback that throws is caught and logged: it never reaches the host.
#ifndef SWITCHBOARD_FETCH_HPP
#define SWITCHBOARD_FETCH_HPP

#include <switchboard/module.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <strings.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sb {

// Whether the host offers the ABI 1.3 fetch calls at all.
inline bool host_has_fetch(const Host& host) {
    return host.api()->struct_size >= offsetof(sb_host_api, fetch_adopt) + sizeof(host.api()->fetch_adopt);
}

struct FetchRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    uint64_t connect_timeout_ms = 0;  // 0: the host's default (2 s)
    uint64_t timeout_ms = 0;          // 0: the host's default (10 s)
    size_t max_response_bytes = 0;    // 0: the host's default (1 MiB)
    std::string ca_file;              // empty: the server's
    bool insecure_skip_verify = false;
};

// Borrowed views of the host's response: valid during the callback only.
struct FetchResponse {
    sb_fetch_outcome outcome = SB_FETCH_FAILED;
    int status = 0;
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::string_view body;
    std::string_view error;
    uint64_t elapsed_us = 0;

    bool ok() const { return outcome == SB_FETCH_OK; }
    // The first header called `name`, compared case-insensitively.
    const std::string_view* header(std::string_view name) const {
        for (const auto& h : headers)
            if (h.first.size() == name.size() && strncasecmp(h.first.data(), name.data(), name.size()) == 0)
                return &h.second;
        return nullptr;
    }
};

class Fetch {
public:
    using Done = std::function<void(const FetchResponse&)>;

    explicit Fetch(Host host) : host_(host) {}
    Fetch(const Fetch&) = delete;
    Fetch& operator=(const Fetch&) = delete;

    // Starts a request; `done` runs later only when this returns SB_OK.
    sb_status start(const FetchRequest& r, Done done, sb_fetch_id* id_out = nullptr) {
        if (!host_has_fetch(host_)) return SB_ERR_UNAVAILABLE;
        std::vector<sb_fetch_header> headers;
        headers.reserve(r.headers.size());
        for (const auto& [k, v] : r.headers) headers.push_back({k.c_str(), v.c_str()});
        sb_fetch_request req{};
        req.struct_size = sizeof req;
        req.method = r.method.c_str();
        req.url = r.url.c_str();
        req.headers = headers.data();
        req.header_count = headers.size();
        req.body = r.body.data();
        req.body_len = r.body.size();
        req.connect_timeout_ms = r.connect_timeout_ms;
        req.timeout_ms = r.timeout_ms;
        req.max_response_bytes = r.max_response_bytes;
        req.ca_file = r.ca_file.empty() ? nullptr : r.ca_file.c_str();
        req.insecure_skip_verify = r.insecure_skip_verify ? 1 : 0;
        auto call = std::make_unique<Call>(Call{this, 0, std::move(done)});
        sb_fetch_id id = 0;
        const sb_status st = host_.api()->fetch(host_.ctx(), &req, &on_response, call.get(), &id);
        if (st != SB_OK) return st;
        call->id = id;
        calls_.emplace(id, std::move(call));
        if (id_out) *id_out = id;
        return SB_OK;
    }

    // Ends a request; its callback will not run.
    sb_status cancel(sb_fetch_id id) {
        calls_.erase(id);
        return host_.api()->fetch_cancel(host_.ctx(), id);
    }

    // During import_state: take over a request the replaced instance started.
    sb_status adopt(sb_fetch_id id, Done done) {
        if (!host_has_fetch(host_)) return SB_ERR_UNAVAILABLE;
        auto call = std::make_unique<Call>(Call{this, id, std::move(done)});
        const sb_status st = host_.api()->fetch_adopt(host_.ctx(), id, &on_response, call.get());
        if (st == SB_OK) calls_[id] = std::move(call);
        return st;
    }

    // Ids of the requests whose answers this instance still waits for.
    std::vector<sb_fetch_id> in_flight() const {
        std::vector<sb_fetch_id> ids;
        ids.reserve(calls_.size());
        for (const auto& [id, call] : calls_) ids.push_back(id);
        return ids;
    }
    size_t pending() const { return calls_.size(); }

private:
    struct Call {
        Fetch* owner;
        sb_fetch_id id;
        Done done;
    };

    static void on_response(void* cookie, const sb_fetch_response* r) {
        auto* raw = static_cast<Call*>(cookie);
        Fetch* self = raw->owner;
        auto it = self->calls_.find(raw->id);
        if (it == self->calls_.end() || it->second.get() != raw) return;
        std::unique_ptr<Call> call = std::move(it->second);
        self->calls_.erase(it);  // a callback may start new requests
        FetchResponse response;
        response.outcome = r->outcome;
        response.status = r->status;
        response.headers.reserve(r->header_count);
        for (size_t i = 0; i < r->header_count; ++i) response.headers.emplace_back(r->headers[i].name, r->headers[i].value);
        response.body = std::string_view(r->body ? r->body : "", r->body ? r->body_len : 0);
        response.error = r->error ? r->error : "";
        response.elapsed_us = r->elapsed_us;
        try {
            call->done(response);
        } catch (const std::exception& e) {
            self->host_.log(SB_LOG_ERROR, std::string("fetch callback failed: ") + e.what());
        } catch (...) {
            self->host_.log(SB_LOG_ERROR, "fetch callback failed");
        }
    }

    Host host_;
    std::unordered_map<sb_fetch_id, std::unique_ptr<Call>> calls_;
};

}  // namespace sb

#endif  // SWITCHBOARD_FETCH_HPP
