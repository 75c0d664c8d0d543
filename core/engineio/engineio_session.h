// One Engine.IO session: the transport-independent state of one client.
//
// A session outlives its transports: it starts on HTTP long-polling or a
// WebSocket, may move from polling to a WebSocket mid-flight, and keeps one
// outbound queue of shared frames across that move so nothing is lost or
// reordered. The session never owns a connection; it only remembers which
// ones currently carry it (as the engine's part of each, see
// engine_transport.h), and the connections point back to it until either
// side goes away.
#pragma once

#include "deadline_queue.h"
#include "engineio/engine_transport.h"
#include "engineio/frame_queue.h"
#include "frame.h"

#include <cstdint>
#include <memory>
#include <string>

namespace sb {

enum class TransportKind : uint8_t { Polling, WebSocket };
enum class SessionState : uint8_t { Open, Closing };

class EngineSession {
public:
    std::string sid;
    TransportKind transport = TransportKind::Polling;
    SessionState state = SessionState::Open;
    uint32_t write_slot = 0;  // WsBatchWriter's: 1 + index in its pending list, 0 when none

    EngineConn* ws = nullptr;        // WebSocket carrying the session (native or upgraded)
    EngineConn* probe_ws = nullptr;  // WebSocket probing an upgrade, until the client sends "5"
    EngineConn* poll_get = nullptr;  // held long-polling GET
    bool post_in_flight = false;
    bool probe_reply_pending = false;  // "3probe" owed on probe_ws
    bool release_poll = false;         // answer the held GET with a noop
    bool awaiting_pong = false;

    // Outbound frames not yet written, oldest first; frames are shared with
    // every other session a broadcast went to.
    FrameQueue queue;

    DeadlineEntry heartbeat;  // next ping, or pong deadline, or final close when Closing

    std::string remote_address;
    // Most clients send neither extra query parameters nor an Authorization
    // or Cookie header: keep them out of line, allocated only when present.
    struct HandshakeExtras {
        std::string query;          // query parameters other than EIO, transport, sid, t
        std::string authorization;  // Authorization header
        std::string cookie;         // Cookie header
    };
    std::unique_ptr<HandshakeExtras> extras;
    const std::string& query() const { return extras ? extras->query : empty(); }
    const std::string& authorization() const { return extras ? extras->authorization : empty(); }
    const std::string& cookie() const { return extras ? extras->cookie : empty(); }

    void* upper = nullptr;  // the Socket.IO layer's per-session state

    static const std::string& empty() {
        static const std::string none;
        return none;
    }

    bool has_queued() const { return !queue.empty(); }
    FrameRef pop_front() { return queue.pop_front(); }
};

}  // namespace sb
