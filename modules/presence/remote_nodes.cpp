// Facts from the other nodes of a cluster and their union (see remote_nodes.h).
#include "remote_nodes.h"

#include <utility>

namespace presence {
namespace {

std::pair<std::string, std::string> split_key(const std::string& key) {
    const size_t zero = key.find('\0');
    return {key.substr(0, zero), key.substr(zero + 1)};
}

}  // namespace

void RemoteNodes::add_fact(Table& t, const std::string& ns, const std::string& room, const std::string& user,
                           const std::string& claims, std::vector<RemoteChange>& out) {
    const std::string k = key(ns, room);
    auto [it, fresh] = t.rooms[k].insert_or_assign(user, claims);
    (void)it;
    if (!fresh) return;  // known already: the claims may have been refreshed, nothing else changes
    RemoteMember& m = rooms_[k][user];
    if (m.nodes++ == 0) {
        m.claims = claims;
        out.push_back({ns, room, user, true});
    }
}

void RemoteNodes::remove_fact(Table& t, const std::string& room_key, const std::string& user,
                              std::vector<RemoteChange>& out) {
    auto r = t.rooms.find(room_key);
    if (r == t.rooms.end() || r->second.erase(user) == 0) return;
    if (r->second.empty()) t.rooms.erase(r);
    auto members = rooms_.find(room_key);
    if (members == rooms_.end()) return;
    auto m = members->second.find(user);
    if (m == members->second.end() || --m->second.nodes > 0) return;
    members->second.erase(m);
    if (members->second.empty()) rooms_.erase(members);
    auto [ns, room] = split_key(room_key);
    out.push_back({std::move(ns), std::move(room), user, false});
}

bool RemoteNodes::remove_online(Table& t, const std::string& user) {
    if (t.online.erase(user) == 0) return false;
    auto it = online_.find(user);
    if (it == online_.end() || --it->second > 0) return false;
    online_.erase(it);
    return true;
}

std::vector<RemoteChange> RemoteNodes::present(const std::string& node, const std::string& ns, const std::string& room,
                                               const std::string& user, const std::string& claims) {
    std::vector<RemoteChange> out;
    add_fact(tables_[node], ns, room, user, claims, out);
    return out;
}

std::vector<RemoteChange> RemoteNodes::absent(const std::string& node, const std::string& ns, const std::string& room,
                                              const std::string& user) {
    std::vector<RemoteChange> out;
    auto t = tables_.find(node);
    if (t != tables_.end()) remove_fact(t->second, key(ns, room), user, out);
    return out;
}

void RemoteNodes::online(const std::string& node, const std::string& user) {
    if (tables_[node].online.insert(user).second) ++online_[user];
}

bool RemoteNodes::offline(const std::string& node, const std::string& user) {
    auto t = tables_.find(node);
    return t != tables_.end() && remove_online(t->second, user);
}

std::vector<RemoteChange> RemoteNodes::replace(const std::string& node, const NodeFacts& facts) {
    std::vector<RemoteChange> out;
    Table& t = tables_[node];
    // What the node no longer has goes first, then what it has is added
    // (a no-op for what was known): a user it kept never flickers.
    std::set<std::pair<std::string, std::string>> keep;  // (room key, user)
    for (const auto& p : facts.present) keep.emplace(key(p.ns, p.room), p.user);
    std::vector<std::pair<std::string, std::string>> gone;
    for (const auto& [k, users] : t.rooms)
        for (const auto& [user, claims] : users)
            if (!keep.count({k, user})) gone.emplace_back(k, user);
    for (const auto& [k, user] : gone) remove_fact(t, k, user, out);
    for (const auto& p : facts.present) add_fact(t, p.ns, p.room, p.user, p.claims, out);

    const std::set<std::string> now_online(facts.online.begin(), facts.online.end());
    std::vector<std::string> went;
    for (const auto& user : t.online)
        if (!now_online.count(user)) went.push_back(user);
    for (const auto& user : went) remove_online(t, user);
    for (const auto& user : now_online) online(node, user);
    return out;
}

std::vector<RemoteChange> RemoteNodes::drop(const std::string& node, std::vector<std::string>& now_offline) {
    std::vector<RemoteChange> out;
    auto t = tables_.find(node);
    if (t == tables_.end()) return out;
    Table& table = t->second;
    while (!table.rooms.empty()) {
        const std::string k = table.rooms.begin()->first;
        while (table.rooms.count(k)) {
            const std::string user = table.rooms.find(k)->second.begin()->first;  // a copy: remove_fact erases it
            remove_fact(table, k, user, out);
        }
    }
    while (!table.online.empty()) {
        const std::string user = *table.online.begin();
        if (remove_online(table, user)) now_offline.push_back(user);
    }
    tables_.erase(t);
    return out;
}

const RemoteNodes::Members* RemoteNodes::room(const std::string& ns, const std::string& room) const {
    auto it = rooms_.find(key(ns, room));
    return it == rooms_.end() ? nullptr : &it->second;
}

bool RemoteNodes::has(const std::string& ns, const std::string& room, const std::string& user) const {
    const Members* members = this->room(ns, room);
    return members && members->count(user) != 0;
}

void RemoteNodes::mark_all_stale() {
    for (auto& [node, t] : tables_) t.stale = true;
}

void RemoteNodes::mark_stale(const std::string& node) {
    auto t = tables_.find(node);
    if (t != tables_.end()) t->second.stale = true;
}

void RemoteNodes::confirm(const std::string& node) {
    auto t = tables_.find(node);
    if (t != tables_.end()) t->second.stale = false;
}

std::vector<std::string> RemoteNodes::stale_nodes() const {
    std::vector<std::string> out;
    for (const auto& [node, t] : tables_)
        if (t.stale) out.push_back(node);
    return out;
}

bool RemoteNodes::stale(const std::string& node) const {
    auto t = tables_.find(node);
    return t != tables_.end() && t->second.stale;
}

std::vector<std::string> RemoteNodes::nodes() const {
    std::vector<std::string> out;
    for (const auto& [node, t] : tables_) out.push_back(node);
    return out;
}

NodeFacts RemoteNodes::facts(const std::string& node) const {
    NodeFacts f;
    auto t = tables_.find(node);
    if (t == tables_.end()) return f;
    for (const auto& [k, users] : t->second.rooms) {
        const auto [ns, room] = split_key(k);
        for (const auto& [user, claims] : users) f.present.push_back({ns, room, user, claims});
    }
    f.online.assign(t->second.online.begin(), t->second.online.end());
    return f;
}

}  // namespace presence
