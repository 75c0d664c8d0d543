// Serves long-polling requests for sessions of other nodes by forwarding
// them to the owner and passing its answer back.
//
// A session id starts with its node's session tag, so the owner is known
// from the id alone; its address comes from the cluster (cached, or one
// Redis lookup). Every failure (an unknown tag, Redis down, the owner
// unreachable) ends in the answer a client already handles: 400 "Session ID
// unknown", upon which it reconnects. Requests that arrive already
// forwarded are never forwarded again (see EngineServer), so two nodes that
// disagree cannot bounce a request between them.
#pragma once

#include "cluster/cluster.h"
#include "cluster/http_relay.h"
#include "deadline_queue.h"
#include "remote_sessions.h"

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace sb::cluster {

class SessionForwarder : public RemoteSessions {
public:
    // `timeout_ms` bounds a whole forward, a held GET included (so it must
    // exceed the ping interval); `max_answer` bounds the owner's answer body.
    SessionForwarder(uv_loop_t* loop, Cluster& cluster, uint64_t timeout_ms, size_t max_answer);
    ~SessionForwarder() override;

    bool owned_elsewhere(std::string_view sid) const override;
    uint64_t forward(ForwardedRequest request, std::function<void(ForwardedAnswer)> done) override;
    void cancel(uint64_t ticket) override;
    void render_metrics(std::string& out) const;

    // Total length of a clustered session id: the tag, then a random id.
    static constexpr size_t kRandomPart = 15;

private:
    struct Pending {
        uint64_t ticket = 0;
        DeadlineEntry deadline;
        HttpRelay* relay = nullptr;
        std::function<void(ForwardedAnswer)> done;
    };
    enum Failure { UnknownNode, Unreachable, BadAnswer, Timeout, kFailures };

    void relay_to(uint64_t ticket, const std::string& address, ForwardedRequest request);
    void on_answer(uint64_t ticket, RelayAnswer answer);
    void fail(uint64_t ticket, Failure why, const std::string& detail);
    void complete(uint64_t ticket, ForwardedAnswer answer);

    uv_loop_t* loop_;
    Cluster& cluster_;
    uint64_t timeout_ms_;
    size_t max_answer_;
    uint64_t next_ticket_ = 0;
    std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
    DeadlineQueue timeouts_;
    // Redis answers may arrive after this object is gone; they check this.
    std::shared_ptr<char> alive_ = std::make_shared<char>();
    uint64_t ok_ = 0;
    uint64_t failures_[kFailures] = {};
};

}  // namespace sb::cluster
