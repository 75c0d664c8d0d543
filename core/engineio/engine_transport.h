// What the Engine.IO engine needs from the network, and what it is told.
//
// The engine (engine_server.h) is the protocol: sessions, heartbeats,
// upgrades, polling bodies. It never touches a socket. A transport adapter
// (transport/engine_lws.h for libwebsockets, a fake one in the unit tests)
// owns the connections, parses HTTP and WebSocket framing, and calls the
// engine with whole requests and whole messages. The engine answers through
// the small EngineTransport interface below, naming connections by the
// EngineConn each transport embeds in its own per-connection object.
#pragma once

#include "frame.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace sb {

class EngineSession;

// What a connection is to the engine at the moment.
enum class ConnRole : uint8_t { None, PollGet, PollPost, WebSocket };

// The engine's part of one connection. The transport embeds it in its
// per-connection object, which lives exactly as long as the connection; the
// engine reads and writes these fields only, and a session points back at
// the EngineConns that carry it until either goes away.
struct EngineConn {
    EngineSession* session = nullptr;
    // A POST's session, looked up again by id once its body has arrived (the
    // session may be gone by then). Our ids are 15 characters, 21 in a
    // cluster (the node's tag first).
    char sid[22] = {};
    ConnRole role = ConnRole::None;
};

enum class HttpMethod : uint8_t { Get, Post, Other };

// An Engine.IO request as the transport parsed it: the values the engine
// routes on, and the rest of the query as "a=b&c=d" (what modules see: EIO,
// transport, sid and the cache buster t are the engine's).
struct EngineRequest {
    HttpMethod method = HttpMethod::Other;
    std::string eio, transport, sid;
    std::string rest;
};

// Details of the request being handled, read from the connection only when
// the engine needs them (most requests need none).
class RequestDetails {
public:
    virtual ~RequestDetails() = default;
    virtual std::string peer_address() = 0;
    virtual std::string authorization() = 0;
    // The Cookie header ("" when none); a transport that never carries
    // cookies keeps this default.
    virtual std::string cookie() { return {}; }
    // The request was forwarded here by another node, which must not happen
    // twice: nodes that disagree about who owns a session cannot bounce it.
    virtual bool arrived_forwarded() = 0;
};

// How a WebSocket connection is to end after an event, or not.
enum class WsVerdict : uint8_t {
    Keep,
    Drop,             // close it without a close reason
    DropNormal,       // close it with 1000 (the session closed cleanly)
    DropProtocolError // close it with 1008 "protocol error"
};

class EngineTransport {
public:
    virtual ~EngineTransport() = default;
    // Answers the HTTP request on `c` (with that request's CORS headers) and
    // ends the exchange. Returns 0, or nonzero when the connection is to be
    // dropped; the caller passes that on as its own result.
    virtual int respond(EngineConn& c, int status, std::string_view content_type, std::string_view body) = 0;
    // Call the engine back when `c` can be written (on_poll_writable or
    // on_ws_writable); a connection whose session is gone is closed then.
    virtual void want_write(EngineConn& c) = 0;
    // `c` is a long-polling GET held until there is something to send: no
    // transport timeout (the heartbeat bounds it), and nothing of the request
    // kept that the answer does not need.
    virtual void hold(EngineConn& c) = 0;
    // WebSocket output. `queue_write` asks for s's queued frames to be written
    // to its WebSocket at the end of this loop turn, `write_queued` writes them
    // now (false: the connection failed), `forget` drops s from the writes
    // pending (it is about to go), `write_frame` writes one frame at once.
    virtual void queue_write(EngineSession& s) = 0;
    virtual bool write_queued(EngineSession& s, EngineConn& c) = 0;
    virtual void forget(EngineSession& s) = 0;
    virtual bool write_frame(EngineConn& c, const Frame& f) = 0;
};

// Sessions that live on another node. When a polling request names a
// session this node does not have, the engine asks here before refusing it.
class SessionsElsewhere {
public:
    virtual ~SessionsElsewhere() = default;
    // Whether `sid` has the shape of another node's session id.
    virtual bool owned_elsewhere(std::string_view sid) const = 0;
    // Takes the request on `c` over (to be answered by the owner); the engine
    // forgets `c`. Returns as EngineTransport::respond does.
    virtual int take_over(EngineConn& c, const std::string& sid, bool is_post) = 0;
};

}  // namespace sb
