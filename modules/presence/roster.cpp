// Room membership by user, with grace periods (see roster.h).
#include "roster.h"

#include <algorithm>
#include <utility>

namespace presence {

bool TrackedSocket::in(const Room* room) const { return std::find(rooms.begin(), rooms.end(), room) != rooms.end(); }

TrackedSocket* Roster::find(sb_socket_id socket) {
    auto it = sockets_.find(socket);
    return it == sockets_.end() ? nullptr : &it->second;
}

TrackedSocket& Roster::add(sb_socket_id socket, std::string ns, std::string user) {
    TrackedSocket& s = sockets_[socket];
    s.ns = std::move(ns);
    s.user = std::move(user);
    return s;
}

void Roster::remove(sb_socket_id socket) { sockets_.erase(socket); }

Room& Roster::room_for(const std::string& ns, const std::string& name) {
    auto [it, fresh] = rooms_.try_emplace(key(ns, name));
    if (fresh) {
        it->second.ns = ns;
        it->second.name = name;
    }
    return it->second;
}

Roster::Entered Roster::enter(TrackedSocket& socket, const std::string& name) {
    Room& room = room_for(socket.ns, name);
    if (socket.in(&room)) return {Entry::Already, nullptr};
    socket.rooms.push_back(&room);
    ++room.sockets;
    if (socket.user.empty()) return {Entry::Again, nullptr};
    Member& m = room.members[socket.user];
    if (++m.sockets > 1) return {Entry::Again, &m};
    if (!m.leaving) return {Entry::Online, &m};
    departures_.erase(m.departure);
    m.leaving = false;
    return {Entry::Resumed, &m};
}

bool Roster::leave(TrackedSocket& socket, const std::string& name, uint64_t steady_ms, uint64_t wall_ms) {
    auto it = std::find_if(socket.rooms.begin(), socket.rooms.end(), [&](const Room* r) { return r->name == name; });
    if (it == socket.rooms.end()) return false;
    Room* room = *it;
    socket.rooms.erase(it);
    --room->sockets;
    if (!socket.user.empty()) {
        auto m = room->members.find(socket.user);
        if (m != room->members.end() && m->second.sockets > 0 && --m->second.sockets == 0) {
            m->second.leaving = true;
            m->second.left_at_ms = wall_ms;
            m->second.departure = departures_.emplace(steady_ms + grace_ms_, Departure{room, socket.user});
        }
    }
    drop_if_empty(room);
    return true;
}

std::vector<Offline> Roster::expire(uint64_t steady_ms) {
    std::vector<Offline> out;
    while (!departures_.empty() && departures_.begin()->first <= steady_ms) {
        Departure d = std::move(departures_.begin()->second);
        departures_.erase(departures_.begin());
        auto m = d.room->members.find(d.user);
        if (m == d.room->members.end()) continue;
        out.push_back({d.room->ns, d.room->name, d.user, m->second.left_at_ms});
        d.room->members.erase(m);
        drop_if_empty(d.room);
    }
    return out;
}

std::optional<uint64_t> Roster::next_expiry() const {
    if (departures_.empty()) return std::nullopt;
    return departures_.begin()->first;
}

const Room* Roster::room(const std::string& ns, const std::string& name) const {
    auto it = rooms_.find(key(ns, name));
    return it == rooms_.end() ? nullptr : &it->second;
}

Member* Roster::member(const std::string& ns, const std::string& room, const std::string& user) {
    auto r = rooms_.find(key(ns, room));
    if (r == rooms_.end()) return nullptr;
    auto m = r->second.members.find(user);
    return m == r->second.members.end() ? nullptr : &m->second;
}

void Roster::restore_leaving(const std::string& ns, const std::string& name, const std::string& user,
                             std::string claims, uint64_t left_at_ms, uint64_t due_steady_ms) {
    Room& room = room_for(ns, name);
    Member& m = room.members[user];
    if (m.sockets > 0 || m.leaving) return;  // listed twice, or present after all: keep what is known
    m.claims = std::move(claims);
    m.leaving = true;
    m.left_at_ms = left_at_ms;
    m.departure = departures_.emplace(due_steady_ms, Departure{&room, user});
}

void Roster::drop_if_empty(Room* room) {
    if (room->sockets == 0 && room->members.empty()) rooms_.erase(key(room->ns, room->name));
}

}  // namespace presence
