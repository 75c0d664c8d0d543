// One connection of the Engine.IO listener, as libwebsockets holds it.
//
// libwebsockets allocates a fixed block of zeroed memory per connection
// (EngineLws::kPerConnectionDataSize) and hands it to every callback. This
// object lives in that block: constructed at the connection's first event,
// its heap parts released when it closes, so a connection holds nothing
// that outlives it and nothing is allocated or freed by hand. Idle
// connections are many: the object must stay within the block (checked
// where it is constructed), and what only a request in progress needs sits
// behind one pointer, allocated for that request alone.
#pragma once

#include "engineio/engine_transport.h"
#include "remote_sessions.h"

#include <libwebsockets.h>

#include <cstdint>
#include <memory>
#include <new>
#include <string>

namespace sb {

// A polling request for another node's session, from the moment it is known
// to be one until that node's answer (or an error) has been written.
struct PollForward {
    ForwardedRequest request;
    uint64_t ticket = 0;
    bool answered = false;
    ForwardedAnswer answer;
};

struct LwsConnection : EngineConn {
    // What the HTTP request in progress is, beside what the engine knows:
    // ForwardPost reads a POST body for another node's session, Forwarding
    // waits for that node's answer.
    enum class Stage : uint8_t { Engine, ForwardPost, Forwarding };

    // What is being read: a POST body (bounded by max_payload, discarded
    // beyond it) or a WebSocket message split over several frames, and a
    // forwarded request.
    struct Inbound {
        std::string data;
        uint32_t discarded = 0;  // bytes thrown away so far
        bool discarding = false; // over max_payload: reading the rest before answering 413
        std::unique_ptr<PollForward> forward;
    };

    lws* wsi = nullptr;
    std::unique_ptr<std::string> cors_origin;  // Access-Control-Allow-Origin for the request in progress
    std::unique_ptr<Inbound> inbound;
    Stage stage = Stage::Engine;
    bool binary_message = false;  // the WebSocket message being reassembled is binary
    bool live = false;            // constructed in lws' block

    // The connection's object in the block lws passes as `user`, constructed
    // on first use (lws zeroes the block, so `live` reads false until then).
    static LwsConnection& attach(void* user, lws* wsi) {
        auto* c = static_cast<LwsConnection*>(user);
        if (!c->live) {
            c = new (user) LwsConnection();
            c->wsi = wsi;
            c->live = true;
        }
        return *c;
    }
    static LwsConnection& of(EngineConn& c) { return static_cast<LwsConnection&>(c); }
    // The request in progress has ended: drops what only it needed.
    void end_request() {
        cors_origin.reset();
        inbound.reset();
        stage = Stage::Engine;
    }
};

}  // namespace sb
