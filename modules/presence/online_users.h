// Which users are connected anywhere presence runs, and when the others were
// last seen: the answer to presence:query.
//
// A user is online while at least one of their sockets is connected to a
// namespace whose chain holds presence, and for the grace period after the
// last one left (as in rooms, a reconnect must not read as offline). When the
// last socket leaves, the time is remembered in a list bounded by
// max_last_seen: the user seen least recently is forgotten first.
//
// In a cluster the list also holds the times other nodes reported (their
// users' last disconnections, and the moment a node was found dead); whether
// a user is connected on another node is kept in RemoteNodes.
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

    // One more socket of `user` is connected; true when it is the first.
    bool connected(const std::string& user);
    // One fewer; when it was the last (returns true), `user` was last seen at `wall_ms`.
    bool disconnected(const std::string& user, uint64_t wall_ms);
    bool has_sockets(const std::string& user) const { return sockets_.count(user) != 0; }
    template <typename F>
    void each_connected(F&& f) const {
        for (const auto& [user, n] : sockets_) f(user);
    }

    struct Status {
        bool online = false;
        std::optional<uint64_t> last_seen_ms;  // set when offline and remembered
    };
    Status status(const std::string& user, uint64_t wall_ms, uint64_t grace_ms) const;

    struct Seen {
        std::string user;
        uint64_t wall_ms;
        // Whether the user still reads online for the grace period after
        // wall_ms: yes when their last socket disconnected, no when the node
        // holding it was found dead (its lease, longer than nothing, ran out).
        bool graced;
    };
    // Last-seen times, least recent first (for the reload handover and cluster snapshots).
    const std::list<Seen>& last_seen() const { return seen_; }
    // Adds a last-seen time as the most recent one (for the reload handover).
    void remember(const std::string& user, uint64_t wall_ms, bool graced = true);
    // Takes a time another node reported unless a later one is known.
    void merge(const std::string& user, uint64_t wall_ms, bool graced);

    // Users forgotten to stay within max_last_seen since the last call.
    uint64_t take_evictions() { return std::exchange(evictions_, 0); }

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using SeenList = std::list<Seen>;

    void forget(const std::string& user);

    size_t capacity_;
    std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> sockets_;  // connected users only
    SeenList seen_;                                                              // least recent first
    std::unordered_map<std::string_view, SeenList::iterator, Hash, std::equal_to<>> seen_index_;
    uint64_t evictions_ = 0;
};

}  // namespace presence

#endif
