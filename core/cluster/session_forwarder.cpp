// Forwarding of long-polling requests to the session's node (see session_forwarder.h).
#include "cluster/session_forwarder.h"

#include "log.h"
#include "metrics.h"

namespace sb::cluster {

namespace {

constexpr const char* kComponent = "cluster";

ForwardedAnswer made_up(int status, const char* message) {
    ForwardedAnswer a;
    a.status = status;
    a.content_type = "application/json";
    a.body = std::string("{\"code\":1,\"message\":\"") + message + "\"}";
    return a;
}

}  // namespace

SessionForwarder::SessionForwarder(uv_loop_t* loop, Cluster& cluster, uint64_t timeout_ms, size_t max_answer)
    : loop_(loop),
      cluster_(cluster),
      timeout_ms_(timeout_ms),
      max_answer_(max_answer),
      timeouts_(loop, [this](DeadlineEntry& e) {
          auto* p = static_cast<Pending*>(e.owner);
          fail(p->ticket, Timeout, "no answer within " + std::to_string(timeout_ms_) + "ms");
      }) {}

SessionForwarder::~SessionForwarder() {
    for (auto& [_, p] : pending_) {
        DeadlineQueue::cancel(p->deadline);
        if (p->relay) p->relay->abort();
    }
}

bool SessionForwarder::owned_elsewhere(std::string_view sid) const {
    const std::string& tag = cluster_.session_tag();
    return sid.size() == tag.size() + kRandomPart && sid.substr(0, tag.size()) != tag;
}

uint64_t SessionForwarder::forward(ForwardedRequest request, std::function<void(ForwardedAnswer)> done) {
    const uint64_t ticket = ++next_ticket_;
    auto owned = std::make_unique<Pending>();
    Pending* p = owned.get();
    p->ticket = ticket;
    p->done = std::move(done);
    p->deadline.owner = p;
    pending_.emplace(ticket, std::move(owned));
    timeouts_.schedule(p->deadline, timeout_ms_);
    const std::string tag = request.sid.substr(0, cluster_.session_tag().size());
    std::weak_ptr<char> alive = alive_;
    cluster_.node_address(tag, [this, alive, ticket, tag, request = std::move(request)](std::optional<std::string> address) mutable {
        if (alive.expired() || !pending_.count(ticket)) return;
        if (!address) return fail(ticket, UnknownNode, "no node has session tag " + tag + " (or Redis is unavailable)");
        relay_to(ticket, *address, std::move(request));
    });
    return ticket;
}

void SessionForwarder::relay_to(uint64_t ticket, const std::string& address, ForwardedRequest request) {
    RelayRequest r{std::move(request.method), std::move(request.target), std::move(request.headers),
                   std::move(request.body)};
    HttpRelay* relay = HttpRelay::start(loop_, address, std::move(r), max_answer_,
                                        [this, ticket](RelayAnswer a) { on_answer(ticket, std::move(a)); });
    // The relay may have finished already (an address that cannot be used).
    if (auto it = pending_.find(ticket); it != pending_.end()) it->second->relay = relay;
}

void SessionForwarder::on_answer(uint64_t ticket, RelayAnswer a) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return;
    it->second->relay = nullptr;  // finished: it frees itself
    if (!a.error.empty()) return fail(ticket, a.unreachable ? Unreachable : BadAnswer, a.error);
    ForwardedAnswer out;
    out.status = a.status;
    out.relayed = true;
    const std::string* type = a.header("content-type");
    out.content_type = type ? *type : "text/plain";
    for (const char* name : {"access-control-allow-origin", "access-control-allow-credentials", "vary"})
        if (const std::string* v = a.header(name)) out.cors_headers.emplace_back(name, *v);
    out.body = std::move(a.body);
    ++ok_;
    complete(ticket, std::move(out));
}

void SessionForwarder::fail(uint64_t ticket, Failure why, const std::string& detail) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return;
    if (it->second->relay) {
        it->second->relay->abort();
        it->second->relay = nullptr;
    }
    ++failures_[why];
    // A session whose node is gone or unknown is a session the client must
    // open again: the answer that makes it do so. A node that took the
    // request and then failed is a fault worth an operator's attention.
    if (why == UnknownNode || why == Unreachable) {
        log::debug(kComponent, "cannot forward a request for another node's session: " + detail);
        return complete(ticket, made_up(400, "Session ID unknown"));
    }
    log::warn(kComponent, "forwarding a request to the session's node failed: " + detail);
    complete(ticket, why == Timeout ? made_up(504, "Session node did not answer in time")
                                    : made_up(502, "Session node gave no valid answer"));
}

void SessionForwarder::complete(uint64_t ticket, ForwardedAnswer answer) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return;
    std::unique_ptr<Pending> p = std::move(it->second);
    pending_.erase(it);
    DeadlineQueue::cancel(p->deadline);
    if (p->done) p->done(std::move(answer));
}

void SessionForwarder::cancel(uint64_t ticket) {
    auto it = pending_.find(ticket);
    if (it == pending_.end()) return;
    DeadlineQueue::cancel(it->second->deadline);
    if (it->second->relay) it->second->relay->abort();
    pending_.erase(it);
}

void SessionForwarder::render_metrics(std::string& out) const {
    const char* name = "switchboard_cluster_forwarded_requests_total";
    append_header(out, name, "counter",
                  "Long-polling requests for another node's session forwarded to it, by outcome.");
    uint64_t errors = 0;
    for (uint64_t f : failures_) errors += f;
    append_labelled(out, name, "result=\"ok\"", ok_);
    append_labelled(out, name, "result=\"error\"", errors);
    name = "switchboard_cluster_forward_failures_total";
    append_header(out, name, "counter", "Forwarded requests that failed, by reason.");
    append_labelled(out, name, "reason=\"unknown_node\"", failures_[UnknownNode]);
    append_labelled(out, name, "reason=\"unreachable\"", failures_[Unreachable]);
    append_labelled(out, name, "reason=\"bad_answer\"", failures_[BadAnswer]);
    append_labelled(out, name, "reason=\"timeout\"", failures_[Timeout]);
}

}  // namespace sb::cluster
