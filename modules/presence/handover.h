// The state presence hands to its next instance on a reload, so that nobody
// appears to go offline or come online because the module was replaced:
// the sockets it knows (namespace, user, tracked rooms), every member's
// claims and, for users in their grace period, when their last socket left,
// and the last-seen times; in a cluster, also what the other nodes reported
// (the new instance cannot ask them again without every node resending
// everything). The format is tagged and versioned ("presence/2\n" then
// JSON; "presence/1", without the other nodes, is still read); an unknown
// tag or a malformed body is refused, which cancels the reload.
#ifndef SWITCHBOARD_PRESENCE_HANDOVER_H
#define SWITCHBOARD_PRESENCE_HANDOVER_H

#include "online_users.h"
#include "remote_nodes.h"
#include "roster.h"
#include "settings.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace presence {

struct Clocks {
    uint64_t steady_ms;  // for deadlines
    uint64_t wall_ms;    // for lastSeen
};

std::string export_handover(const Roster& roster, const OnlineUsers& users, const RemoteNodes& remote);

// Fills an empty roster and user list. Rooms the new settings no longer
// track are left out; grace periods under way end at the time the last
// socket left plus the new grace period. Throws std::runtime_error.
void import_handover(std::string_view bytes, const Settings& settings, Clocks now, Roster& roster, OnlineUsers& users,
                     RemoteNodes& remote);

}  // namespace presence

#endif
