// The JSON argument lists of every event and answer presence sends, in one
// place so that their shapes match README.md. Each function returns the
// args_json array for emit/broadcast/ack.
#ifndef SWITCHBOARD_PRESENCE_PAYLOADS_H
#define SWITCHBOARD_PRESENCE_PAYLOADS_H

#include "online_users.h"
#include "roster.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace presence {

// The configured claims found in `claims_json` (a socket's claims object) as
// JSON members ("role":"admin",...); claims it lacks are left out.
std::string claim_fields(const char* claims_json, const std::vector<std::string>& names);

// [{room, userId, ...claims}]
std::string online_args(const std::string& room, const std::string& user, const std::string& claims);
// [{room, userId, lastSeen}]
std::string offline_args(const std::string& room, const std::string& user, uint64_t last_seen_ms);
// A user present in a room, wherever: borrowed from the roster or from
// what other nodes reported. Lists of them are sorted by user id.
struct PresentUser {
    const std::string* user;
    const std::string* claims;  // JSON members ("role":"admin",...)
};

// [{room, users: [{userId, ...claims}]}]
std::string state_args(const std::string& name, const std::vector<PresentUser>& users);
// [{ok: true, room, users: [...]}]
std::string list_answer(const std::string& name, const std::vector<PresentUser>& users);
// [{ok: true, users: [{userId, online: true} | {userId, online: false, lastSeen: ms | null}]}]
std::string query_answer(const std::vector<std::pair<std::string, OnlineUsers::Status>>& users);

}  // namespace presence

#endif
