// What nodes send each other through Redis pub/sub, and its byte layout.
//
// A delivery carries the finished Engine.IO frames of one emit (encoded once
// on the node where it was made; a receiving node queues the same bytes to
// its sockets without parsing or re-encoding them) and the audience it was
// addressed to, so every node selects its own sockets by the same rules.
// The layout is a flat length-prefixed binary record rather than JSON:
// payloads are opaque bytes (binary attachments included) and a node
// receives one of these per broadcast, so decoding must cost next to
// nothing. Anything that does not decode (another program publishing on our
// channels, a newer format) is dropped and counted, never trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::cluster {

struct WireFrame {
    bool binary = false;
    std::string bytes;
};

// An emit addressed to sockets on every node.
struct Delivery {
    std::string origin;  // the sending node's id: it has already delivered to its own sockets
    uint64_t seq = 0;    // per origin, increasing: a node takes each seq once
    std::string ns;
    std::vector<std::string> rooms, users, except_rooms, except_users;
    std::vector<WireFrame> frames;
};

// A module's message to the same module on other nodes.
struct ModuleMessage {
    std::string origin;
    std::string module;
    std::string payload;
};

// "Disconnect these sockets wherever they are" (HTTP API): a user's
// sockets, or one socket by its Socket.IO id; `ns` empty = every namespace.
struct DisconnectRequest {
    std::string origin;
    std::string ns;
    std::string user;
    std::string sid;
};

std::string encode(const Delivery& d);
std::string encode(const ModuleMessage& m);
std::string encode(const DisconnectRequest& r);

// Which kind a received message is ('D', 'M', 'X'); 0 when none.
char message_kind(std::string_view bytes);
std::optional<Delivery> decode_delivery(std::string_view bytes);
std::optional<ModuleMessage> decode_module_message(std::string_view bytes);
std::optional<DisconnectRequest> decode_disconnect(std::string_view bytes);

}  // namespace sb::cluster
