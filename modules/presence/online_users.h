// Which users are connected anywhere presence runs, and when the others were
// last seen: the answer to presence:query.
//
// A user is online while at least one of their sockets is connected to a
// namespace whose chain holds presence, and for the grace period after the
// last one left (as in rooms, a reconnect must not read as offline). When the
// last socket leaves, the time is remembered in a list bounded by
// max_last_seen: the user seen least recently is forgotten first.
#ifndef SWITCHBOARD_PRESENCE_ONLINE_USERS_H
#define SWITCHBOARD_PRESENCE_ONLINE_USERS_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace presence {

class OnlineUsers {
public:
    explicit OnlineUsers(size_t last_seen_capacity) : capacity_(last_seen_capacity) {}
    OnlineUsers(const OnlineUsers&) = delete;
    OnlineUsers& operator=(const OnlineUsers&) = delete;

    // One more socket of `user` is connected.
    void connected(const std::string& user);
    // One fewer; when it was the last, `user` was last seen at `wall_ms`.
    void disconnected(const std::string& user, uint64_t wall_ms);

    struct Status {
        bool online = false;
        std::optional<uint64_t> last_seen_ms;  // set when offline and remembered
    };
    Status status(const std::string& user, uint64_t wall_ms, uint64_t grace_ms) const;

    // Last-seen times, least recent first (for the reload handover).
    const std::list<std::pair<std::string, uint64_t>>& last_seen() const { return seen_; }
    // Adds a last-seen time as the most recent one (for the reload handover).
    void remember(const std::string& user, uint64_t wall_ms);

    // Users forgotten to stay within max_last_seen since the last call.
    uint64_t take_evictions() { return std::exchange(evictions_, 0); }

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using SeenList = std::list<std::pair<std::string, uint64_t>>;

    void forget(const std::string& user);

    size_t capacity_;
    std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> sockets_;  // connected users only
    SeenList seen_;                                                              // least recent first
    std::unordered_map<std::string_view, SeenList::iterator, Hash, std::equal_to<>> seen_index_;
    uint64_t evictions_ = 0;
};

}  // namespace presence

#endif
