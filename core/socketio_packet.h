// Socket.IO v5 packet codec.
//
// Socket.IO packets ride inside Engine.IO message packets:
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
// The decoder here is strict, because a malformed packet must close only the
// offending connection with a clear reason, and it validates the JSON once
// so that no module ever sees a payload that is not what the protocol says.
#pragma once

#include "json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::sio {

enum class PacketType : uint8_t {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6
};

struct Packet {
    PacketType type = PacketType::Event;
    std::string nsp = "/";
    int64_t id = -1;         // ack id; -1 when absent
    uint32_t attachments = 0;  // binary packets only
    std::string data;        // JSON text, empty when the packet has none
};

// The parts of an EVENT payload the hub needs: the event name and the
// remaining arguments re-wrapped as a JSON array.
struct EventPayload {
    std::string name;
    std::string args_json;  // "[...]" without the name
};

// Decodes and validates a packet. On failure returns nullopt and sets
// `error` to a short reason naming what was wrong.
std::optional<Packet> decode(std::string_view text, std::string& error);

// Encodes header + data, without the Engine.IO "4" prefix.
std::string encode(const Packet& p);
// Same, with the Engine.IO message prefix "4" so the result can be sent as a
// frame as is.
std::string encode_message(const Packet& p);

// Splits a validated EVENT/BINARY_EVENT payload into name and arguments.
EventPayload split_event(std::string_view data);

// Builds ["name",...args] from an event name and a JSON array of arguments.
// Returns nullopt if args_json is not a valid JSON array; `args_known_valid`
// skips that check for arguments validated before.
std::optional<std::string> join_event(std::string_view name, std::string_view args_json, bool args_known_valid = false);

// True if `json` is syntactically valid JSON whose top level is an array.
bool is_json_array(std::string_view json);

// Counts {"_placeholder":true,"num":N} objects and checks every num is in
// [0, attachments) exactly once.
bool placeholders_match(std::string_view json, uint32_t attachments);

// JSON string literal (with quotes) for `s` (see json.h).
using sb::json_quote;

}  // namespace sb::sio
