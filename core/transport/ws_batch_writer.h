// One write per WebSocket per loop turn, however many frames it got.
//
// A client with several requests in flight gets several replies from one
// read, and a busy room sends several events in one turn: writing each frame
// as it is produced costs a send() each, and on loopback the send is most of
// the price of a delivery. Sessions with new frames are remembered here and
// written at the end of the loop turn (a libuv check handle, run right after
// the I/O callbacks), their frames framed back to back into one buffer and
// handed to the kernel in one call. A lone frame goes out from its own buffer
// without a copy. While anything waits, an idle handle keeps the loop from
// blocking in poll first, so frames sent from a timer are not held back.
// It writes with libwebsockets, into the headroom every Frame keeps.
#pragma once

#include "engineio/engineio_session.h"

#include <uv.h>

#include <functional>
#include <vector>

struct lws;

namespace sb {

class WsBatchWriter {
public:
    // `on_error` is told about a session whose connection failed a write.
    WsBatchWriter(uv_loop_t* loop, std::function<void(EngineSession&)> on_error);
    ~WsBatchWriter();
    WsBatchWriter(const WsBatchWriter&) = delete;
    WsBatchWriter& operator=(const WsBatchWriter&) = delete;

    // `s` has frames queued for its WebSocket: write them this loop turn.
    void mark(EngineSession& s);
    // `s` is about to be destroyed.
    void forget(EngineSession& s);
    // Writes as much of s's queue to `wsi` as the connection takes without
    // buffering in libwebsockets; asks for a writable callback for the rest.
    // False: the connection failed.
    bool write_queued(EngineSession& s, lws* wsi);
    void close();

private:
    static void on_check(uv_check_t* check);
    void flush();

    uv_check_t* check_;
    uv_idle_t* wake_;  // active only while sessions wait: makes the next poll return at once
    std::function<void(EngineSession&)> on_error_;
    std::vector<EngineSession*> pending_;  // slot i is session write_slot == i + 1; null once forgotten
    std::vector<unsigned char> buffer_;   // LWS_PRE headroom, then frames back to back
};

}  // namespace sb
