// Emits and socket data from a backend's answer (see actions.h).
#include "actions.h"

#include <algorithm>

namespace backend {

void emit_action(sb::Host host, const std::string& ns, sb_socket_id caller, const EmitAction& e,
                 const std::unordered_map<std::string, sb_socket_id>& by_sid) {
    const bool targeted = !e.rooms.empty() || !e.users.empty() || e.socket;
    if (!e.rooms.empty()) host.broadcast(ns, e.rooms, e.event, e.args_json);
    for (const auto& user : e.users)
        host.api()->emit_to_user(host.ctx(), ns.c_str(), user.c_str(), 0, e.event.c_str(), e.args_json.data(),
                                 e.args_json.size());
    if (e.socket) {
        if (auto to = by_sid.find(*e.socket); to != by_sid.end()) host.emit(to->second, e.event, e.args_json);
    }
    if (!targeted) host.emit(caller, e.event, e.args_json);
}

void set_socket_data(sb::Host host, sb_socket_id socket, const std::vector<DataEntry>& data,
                     std::vector<std::pair<std::string, bool>>* keys) {
    for (const DataEntry& d : data) {
        host.api()->socket_set(host.ctx(), socket, d.key.c_str(), d.value ? d.value->c_str() : nullptr);
        if (!keys) continue;
        auto k = std::find_if(keys->begin(), keys->end(), [&](const auto& kv) { return kv.first == d.key; });
        if (!d.value) {
            if (k != keys->end()) keys->erase(k);
        } else if (k != keys->end()) {
            k->second = d.is_json;
        } else {
            keys->emplace_back(d.key, d.is_json);
        }
    }
}

}  // namespace backend
