// The two halves of relaying an event, apart from the module's plumbing so
// that the wire shapes read in one place: reading the room from what the
// client sent (`socket.emit("cursor:move", "doc:1", ...args)`), and writing
// what the other members receive
// (`("cursor:move", {room, from: {userId, socketId}, args: [...]})`).
//
// The client's arguments after the room are copied as text, never parsed
// and re-serialized: numbers, key order and binary placeholders arrive
// exactly as sent, and `from` is written by the server around them, so
// nothing the client sends can stand in for it.
#ifndef SWITCHBOARD_RELAY_RELAYED_EVENT_H
#define SWITCHBOARD_RELAY_RELAYED_EVENT_H

#include <optional>
#include <string>
#include <string_view>

namespace relay {

struct ClientArgs {
    std::string room;       // the first argument, unescaped
    std::string_view rest;  // the JSON text of the arguments after it, without brackets; "" when none
};

// Splits a JSON array whose first element is a non-empty string; nullopt
// otherwise. `args_json` must outlive the result's `rest`.
std::optional<ClientArgs> split_room(std::string_view args_json);

// The args_json of the relayed event: [{"room":..,"from":{"userId":..,"socketId":..},"args":[rest]}].
// A null `user_id` or an empty `socket_id` is written as null.
std::string relayed_args(std::string_view room, const char* user_id, std::string_view socket_id,
                         std::string_view rest);

}  // namespace relay

#endif
