// The JSON this module writes: the `socket` object every request carries,
// the RPC and connect request bodies (binary arguments as base64), webhook
// events and the acks clients get. One place, so that the shapes match
// docs/backend.md and docs/events.md.
#ifndef SWITCHBOARD_BACKEND_PAYLOADS_H
#define SWITCHBOARD_BACKEND_PAYLOADS_H

#include <switchboard/module.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backend {

// What the module remembers of a connected socket: what the host tells only
// at connect time, the socket-data keys backends set (true: the value is
// JSON text, false: a plain string), and its RPCs in flight.
struct SocketRecord {
    std::string sid;
    std::string ns;
    std::string remote;
    std::vector<std::pair<std::string, bool>> data_keys;
    size_t rpcs = 0;
};

// {"id","namespace","userId","claims","remoteAddress","data"} of a socket.
std::string socket_json(const sb::Host& host, sb_socket_id socket, const SocketRecord& record);

// The event's arguments as plain JSON: each binary placeholder becomes
// {"$binary":"<base64>"}. The args text as is when there is no attachment.
std::string args_with_binary(const sb_event& event);

std::string rpc_body(std::string_view event, std::string_view args_json, std::string_view socket_json);

// {"type":"connect","auth","headers","query","socket"} for a connect
// proxied to the backend: the CONNECT payload, the handshake's Cookie and
// Authorization headers (only those sent), its query parameters as an
// object (the last of repeated names wins).
std::string connect_body(const sb_connect_info& info, std::string_view socket_json);

// One webhook event: {"id","name","ts","socket", ...extra members}.
std::string webhook_event(std::string_view id, std::string_view name, uint64_t ts_ms, std::string_view socket_json,
                          std::string_view extra_members = {});

std::string ok_ack(std::string_view result_json);
std::string error_ack(std::string_view code, std::string_view message);
// The `error` event args for a failure of an event sent without an ack.
std::string error_event(std::string_view code, std::string_view message, std::string_view event);

}  // namespace backend

#endif
