// What throttle decides, apart from the host that asks: whether an event
// may pass and how long to wait otherwise, whether a socket has been
// refused often enough to be disconnected, whether a new session or a new
// connection is over its IP's or its user's limits. It owns the per-socket
// state (which lives exactly as long as the socket) and the tracked keys
// the sockets point at. The hooks (throttle.cpp) turn its answers into
// refusals, counters and log lines; the unit tests drive it with explicit
// times.
#ifndef SWITCHBOARD_THROTTLE_LIMITER_H
#define SWITCHBOARD_THROTTLE_LIMITER_H

#include "buckets.h"
#include "settings.h"
#include "tracked_keys.h"

#include <switchboard/module.h>

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace throttle {

struct SocketState {
    TrackedKey* ip = nullptr;  // pinned while the socket exists
    TrackedKey* user = nullptr;
    std::vector<Bucket> buckets;  // by rule
    uint64_t violations = 0;
    int64_t window_start_ns = 0;
};

class Limiter {
public:
    explicit Limiter(Settings settings);

    const Settings& settings() const { return settings_; }
    TrackedKeys& keys() { return keys_; }
    const TrackedKeys& keys() const { return keys_; }
    const std::unordered_map<sb_socket_id, SocketState>& sockets() const { return sockets_; }

    // ---- events ----

    // Whether an event of rule `rule` may pass at `now`: 0 when every bucket
    // of the rule's scopes (socket, user, IP) held a token, one of which is
    // then taken from each; otherwise the milliseconds until all of them
    // hold one again, and nothing is taken.
    uint64_t take_event(SocketState& s, uint32_t rule, int64_t now);
    // Counts a refused event in the socket's violation window (which opens
    // at its first refusal); true when the socket has now reached
    // disconnect_after_violations.
    bool count_violation(SocketState& s, int64_t now);

    // ---- sessions and connections ----

    // Whether a new session from `ip` may open: 0, or the milliseconds until
    // the IP's handshake bucket holds a token.
    uint64_t admit_handshake(std::string_view ip, int64_t now);
    // A socket connects from `ip` as `user` ("": anonymous). False, and
    // nothing kept, when the IP or the user is at its connection limit.
    bool connect(sb_socket_id socket, std::string_view ip, std::string_view user, int64_t now);
    // The socket's state; NULL for a socket that connected before this
    // instance was in its namespace's chain.
    SocketState* find(sb_socket_id socket) {
        auto it = sockets_.find(socket);
        return it == sockets_.end() ? nullptr : &it->second;
    }
    // Starts tracking a socket found without state (see find), with full buckets.
    SocketState& adopt(sb_socket_id socket, std::string_view ip, std::string_view user, int64_t now);
    // The socket has gone: its keys are unpinned.
    void forget(sb_socket_id socket, int64_t now);

    // ---- reload handover ----

    // Takes over a socket of the previous instance, pinning its keys
    // (added when unknown); false for an id already taken over.
    bool restore_socket(sb_socket_id socket, const std::string* ip, const std::string* user, SocketState state,
                        int64_t now);

private:
    Settings settings_;
    TrackedKeys keys_;
    std::unordered_map<sb_socket_id, SocketState> sockets_;
};

}  // namespace throttle

#endif
