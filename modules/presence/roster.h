// Who is present in which tracked room: the sockets presence knows, the
// tracked rooms each is in, and per room the users present with how many of
// their sockets are there. A user stays present for the grace period after
// their last socket left the room; the departures waiting for it sit in one
// ordered queue, so a single module timer (armed for the earliest) drives
// every expiry. A user who comes back in time is simply taken off the queue.
//
// Pure bookkeeping, no host calls: the caller announces what changed. Rooms
// belong to a namespace, so each is keyed by namespace and name.
#ifndef SWITCHBOARD_PRESENCE_ROSTER_H
#define SWITCHBOARD_PRESENCE_ROSTER_H

#include <switchboard/module.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace presence {

struct Room;

// A user whose last socket left `room`, waiting for the grace period to end.
struct Departure {
    Room* room;
    std::string user;
};
using DepartureQueue = std::multimap<uint64_t, Departure>;  // by steady-clock due time (ms)

struct Member {
    uint32_t sockets = 0;
    std::string claims;       // JSON members ("role":"admin",...) of the user's object, captured when they came online
    bool leaving = false;     // no socket left; offline when the grace period ends
    uint64_t left_at_ms = 0;  // wall clock, when the last socket left (while leaving)
    DepartureQueue::iterator departure;  // while leaving
};

struct Room {
    std::string ns;
    std::string name;
    uint32_t sockets = 0;                   // every socket in it, anonymous ones included
    std::map<std::string, Member> members;  // by user id, so lists come out sorted
};

struct TrackedSocket {
    std::string ns;
    std::string user;          // "" for an anonymous socket: never counted as present
    std::vector<Room*> rooms;  // the tracked rooms it is in

    bool in(const Room* room) const;
};

// What a socket entering a room changed.
enum class Entry {
    Online,    // the user's first socket: announce them
    Resumed,   // the user came back within the grace period: nothing to announce
    Again,     // another socket of a present user, or an anonymous socket
    Already,   // the socket was in the room already
};

// A user whose grace period ended.
struct Offline {
    std::string ns, room, user;
    uint64_t last_seen_ms;  // wall clock, when their last socket left the room
};

class Roster {
public:
    explicit Roster(uint64_t grace_ms) : grace_ms_(grace_ms) {}
    Roster(const Roster&) = delete;
    Roster& operator=(const Roster&) = delete;

    TrackedSocket* find(sb_socket_id socket);
    TrackedSocket& add(sb_socket_id socket, std::string ns, std::string user);
    // Forgets the socket; it must have left its rooms first.
    void remove(sb_socket_id socket);

    struct Entered {
        Entry entry;
        Member* member;  // null for an anonymous socket
    };
    Entered enter(TrackedSocket& socket, const std::string& room);
    // Returns false when the socket was not in the room. The user's last
    // socket leaving starts their grace period (steady_ms and wall_ms are now).
    bool leave(TrackedSocket& socket, const std::string& room, uint64_t steady_ms, uint64_t wall_ms);

    // Takes the users whose grace period ended by `steady_ms` out of their rooms.
    std::vector<Offline> expire(uint64_t steady_ms);
    // When the earliest grace period ends (steady clock), if any is running.
    std::optional<uint64_t> next_expiry() const;

    const Room* room(const std::string& ns, const std::string& name) const;
    const std::unordered_map<sb_socket_id, TrackedSocket>& sockets() const { return sockets_; }
    template <typename F>
    void each_room(F&& f) const {
        for (const auto& [key, room] : rooms_) f(room);
    }

    // Reload handover: a member whose last socket had left before the reload.
    void restore_leaving(const std::string& ns, const std::string& room, const std::string& user, std::string claims,
                         uint64_t left_at_ms, uint64_t due_steady_ms);
    Member* member(const std::string& ns, const std::string& room, const std::string& user);

private:
    static std::string key(const std::string& ns, const std::string& name) { return ns + '\0' + name; }
    Room& room_for(const std::string& ns, const std::string& name);
    void drop_if_empty(Room* room);

    uint64_t grace_ms_;
    std::unordered_map<sb_socket_id, TrackedSocket> sockets_;
    std::unordered_map<std::string, Room> rooms_;  // by key(ns, name); nodes never move
    DepartureQueue departures_;
};

}  // namespace presence

#endif
