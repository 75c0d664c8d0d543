// What a backend's answer does to sockets besides the ack: emits to rooms,
// users or one socket, and socket data. Apart from the module's request
// bookkeeping so that "what does {emit: …} reach" reads in one place.
#pragma once

#include "reply.h"

#include <switchboard/module.hpp>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace backend {

// Sends `e` in namespace `ns`: to its rooms, its users and its socket (a
// Socket.IO id found in `by_sid`, on this node); to `caller` when it names
// no target.
void emit_action(sb::Host host, const std::string& ns, sb_socket_id caller, const EmitAction& e,
                 const std::unordered_map<std::string, sb_socket_id>& by_sid);

// Sets (or unsets) socket data, and keeps `keys` — the keys a backend set on
// this socket, and whether each holds JSON — in step, so that later requests
// can carry them back as socket.data. `keys` may be null.
void set_socket_data(sb::Host host, sb_socket_id socket, const std::vector<DataEntry>& data,
                     std::vector<std::pair<std::string, bool>>* keys);

}  // namespace backend
