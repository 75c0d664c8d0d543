// Rooms of one namespace (see room_index.h).
#include "room_index.h"

#include <algorithm>

namespace sb {

bool RoomIndex::join(SocketId socket, std::string_view room) {
    auto it = rooms_.find(room);
    const bool opened = it == rooms_.end();
    if (opened) it = rooms_.emplace(std::string(room), Members{}).first;
    if (!it->second.insert(socket).second) return false;
    socket_rooms_[socket].emplace_back(room);
    if (opened && on_room_change) on_room_change(room, true);
    return true;
}

bool RoomIndex::leave(SocketId socket, std::string_view room) {
    auto it = rooms_.find(room);
    if (it == rooms_.end() || it->second.erase(socket) == 0) return false;
    if (it->second.empty()) close(it);
    auto sr = socket_rooms_.find(socket);
    if (sr != socket_rooms_.end()) {
        auto& v = sr->second;
        v.erase(std::find(v.begin(), v.end(), room));
        if (v.empty()) socket_rooms_.erase(sr);
    }
    return true;
}

void RoomIndex::leave_all(SocketId socket) {
    auto sr = socket_rooms_.find(socket);
    if (sr == socket_rooms_.end()) return;
    for (const auto& room : sr->second) {
        auto it = rooms_.find(room);
        if (it == rooms_.end()) continue;
        it->second.erase(socket);
        if (it->second.empty()) close(it);
    }
    socket_rooms_.erase(sr);
}

void RoomIndex::close(Rooms::iterator it) {
    if (!on_room_change) {
        rooms_.erase(it);
        return;
    }
    const std::string name = it->first;
    rooms_.erase(it);
    on_room_change(name, false);
}

const RoomIndex::Members* RoomIndex::members(std::string_view room) const {
    auto it = rooms_.find(room);
    return it == rooms_.end() ? nullptr : &it->second;
}

const std::vector<std::string>* RoomIndex::rooms_of(SocketId socket) const {
    auto it = socket_rooms_.find(socket);
    return it == socket_rooms_.end() ? nullptr : &it->second;
}

bool RoomIndex::contains(SocketId socket, std::string_view room) const {
    const Members* m = members(room);
    return m && m->count(socket);
}

}  // namespace sb
