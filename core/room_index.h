// Rooms of one namespace: room -> members and socket -> rooms.
//
// Both directions are needed: a broadcast walks a room's members, and a
// disconnect must leave every room of the socket without scanning all rooms.
// An empty room is deleted at once so that millions of short-lived rooms
// (one per user, per document) never accumulate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sb {

struct TransparentStringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class RoomIndex {
public:
    using SocketId = uint64_t;
    using Members = std::unordered_set<SocketId>;

    // True if the socket was not in the room before.
    bool join(SocketId socket, std::string_view room);
    // True if the socket was in the room.
    bool leave(SocketId socket, std::string_view room);
    void leave_all(SocketId socket);

    const Members* members(std::string_view room) const;
    const std::vector<std::string>* rooms_of(SocketId socket) const;
    bool contains(SocketId socket, std::string_view room) const;
    size_t room_count() const { return rooms_.size(); }
    template <class Fn> void for_each_room(Fn&& fn) const {
        for (const auto& [name, _] : rooms_) fn(std::string_view(name));
    }

    // Told when a room gets its first member and when its last one leaves:
    // a cluster node listens to a room's channel only while it has members.
    std::function<void(std::string_view room, bool opened)> on_room_change;

private:
    using Rooms = std::unordered_map<std::string, Members, TransparentStringHash, std::equal_to<>>;
    Rooms rooms_;
    void close(Rooms::iterator it);
    std::unordered_map<SocketId, std::vector<std::string>> socket_rooms_;
};

}  // namespace sb
