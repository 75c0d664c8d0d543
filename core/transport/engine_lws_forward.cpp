// Polling requests for another node's sessions (see engine_lws.h).
//
// Behind a load balancer without sticky sessions, a client's long-polling
// requests land on any node, but its session lives on the one that answered
// its handshake. The engine asks here (its SessionsElsewhere) before calling
// a session id unknown; a request for another node's session is copied as
// the owner needs it and handed to RemoteSessions (cluster/
// session_forwarder.h), and the owner's answer is written back with the
// owner's CORS headers.
#include "encoding.h"
#include "lws_helpers.h"
#include "transport/engine_lws.h"

namespace sb {

namespace {

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

std::string peer_address(lws* wsi) {
    char buf[64];
    const char* p = lws_get_peer_simple(wsi, buf, sizeof buf);
    return p ? std::string(p) : std::string();
}

}  // namespace

void EngineLws::set_remote_sessions(RemoteSessions* remote) {
    remote_ = remote;
    engine_.set_sessions_elsewhere(remote ? this : nullptr);
}

bool EngineLws::owned_elsewhere(std::string_view sid) const { return remote_ && remote_->owned_elsewhere(sid); }

// What the owner needs of the request is copied now: a held GET gives its
// header buffer back to the pool while it waits, like a local one.
int EngineLws::take_over(EngineConn& conn, const std::string& sid, bool is_post) {
    LwsConnection& c = LwsConnection::of(conn);
    lws* wsi = c.wsi;
    if (!c.inbound) c.inbound = std::make_unique<LwsConnection::Inbound>();
    c.inbound->forward = std::make_unique<PollForward>();
    PollForward& f = *c.inbound->forward;
    f.request.sid = sid;
    f.request.method = is_post ? "POST" : "GET";
    f.request.target = forward_target(wsi, request_path_);
    auto& headers = f.request.headers;
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
        send_forward(c);
        lws_http_headers_detach(wsi);
        return 0;
    }
    c.stage = LwsConnection::Stage::ForwardPost;
    c.sid[0] = '\0';  // no local session to close if the body is too large
    return start_body(c);
}

void EngineLws::send_forward(LwsConnection& c) {
    c.stage = LwsConnection::Stage::Forwarding;
    lws* wsi = c.wsi;
    // Bounded by the forwarder's own timeout instead: a held GET waits up to
    // ping_interval on the owner.
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    PollForward& f = *c.inbound->forward;
    f.ticket = remote_->forward(std::move(f.request), [wsi](ForwardedAnswer a) {
        auto* user = lws_wsi_user(wsi);
        if (!user) return;
        auto& wc = *static_cast<LwsConnection*>(user);
        if (!wc.inbound || !wc.inbound->forward) return;
        wc.inbound->forward->answered = true;
        wc.inbound->forward->answer = std::move(a);
        lws_callback_on_writable(wsi);
    });
}

int EngineLws::write_forward_answer(LwsConnection& c) {
    if (!c.inbound || !c.inbound->forward || !c.inbound->forward->answered) return 0;  // not yet
    ForwardedAnswer a = std::move(c.inbound->forward->answer);
    drop_forward(c);
    return respond_with(c, a.status, a.content_type, a.body, a.relayed ? &a.cors_headers : nullptr);
}

void EngineLws::drop_forward(LwsConnection& c) {
    if (!c.inbound || !c.inbound->forward) return;
    std::unique_ptr<PollForward> f = std::move(c.inbound->forward);
    if (!f->answered && f->ticket && remote_) remote_->cancel(f->ticket);
}

}  // namespace sb
