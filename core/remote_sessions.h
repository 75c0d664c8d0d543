// Sessions that live on another node of the cluster.
//
// Behind a load balancer without sticky sessions, a client's long-polling
// requests land on any node, but its session lives on the one that answered
// its handshake. The Engine.IO listener (transport/engine_lws_forward.cpp,
// behind the engine's SessionsElsewhere) asks this interface whether a
// session id it does not know belongs to another node and, if so, hands the
// request over to be answered by that node. The interface keeps the listener
// ignorant of how nodes find and reach each other.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb {

struct ForwardedRequest {
    std::string sid;
    std::string method;  // "GET" or "POST"
    std::string target;  // path and query as sent on to the owner
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct ForwardedAnswer {
    int status = 0;
    std::string content_type;
    // True when this is the owner's answer, whose CORS headers (below) are
    // passed on; false for an error made up here, which gets this node's own.
    bool relayed = false;
    std::vector<std::pair<std::string, std::string>> cors_headers;  // lowercase names
    std::string body;
};

class RemoteSessions {
public:
    virtual ~RemoteSessions() = default;
    // Whether `sid` has the shape of another node's session id.
    virtual bool owned_elsewhere(std::string_view sid) const = 0;
    // Starts forwarding; `done` runs once on the loop (possibly before this
    // returns) unless cancel() is called first with the returned ticket.
    virtual uint64_t forward(ForwardedRequest request, std::function<void(ForwardedAnswer)> done) = 0;
    virtual void cancel(uint64_t ticket) = 0;
};

}  // namespace sb
