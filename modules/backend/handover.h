// The state backend hands to its next instance on a reload, so that no
// client waits forever for an ack and no webhook event is lost: the sockets
// it knows (their Socket.IO ids, namespaces, addresses and the data keys
// backends set), every RPC still waiting (the request id of one in flight,
// which the new instance adopts, or the request itself while queued), the
// connects waiting for the backend (their requests adopted the same way),
// and the webhook sender's batch and queue. Tagged and versioned
// ("backend/1\n" then JSON); anything else is refused, which cancels the
// reload.
#ifndef SWITCHBOARD_BACKEND_HANDOVER_H
#define SWITCHBOARD_BACKEND_HANDOVER_H

#include "payloads.h"
#include "webhooks.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backend {

struct HandedRpc {
    sb_fetch_id fetch = 0;  // in flight; 0: queued, not sent yet
    sb_socket_id socket = 0;
    int64_t ack_id = -1;
    std::string event;
    std::string backend;  // by name: the new configuration may order them differently
    std::string path;     // queued only
    std::string body;     // queued only
};

struct Handover {
    std::vector<std::pair<sb_socket_id, SocketRecord>> sockets;
    std::vector<HandedRpc> rpcs;
    WebhookHandover webhooks;
    // Connects waiting for the backend: the socket and the request in
    // flight. Absent from the state of a version without the connect proxy.
    std::vector<std::pair<sb_socket_id, sb_fetch_id>> connects;
};

std::string export_handover(const Handover& h);
// Throws std::runtime_error for anything but this module's format.
Handover import_handover(std::string_view bytes);

}  // namespace backend

#endif
