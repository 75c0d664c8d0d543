// Engine.IO v4 packet and payload codec.
//
// Engine.IO is the transport layer under Socket.IO: one ASCII digit for the
// packet type, then the data. WebSocket carries one packet per frame (binary
// frames raw, without a type digit); HTTP long-polling joins several packets
// with the record separator 0x1e and carries binary as "b" + base64. This
// file is the pure, allocation-light codec for both, kept free of I/O so it
// can be tested byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::eio {

enum class PacketType : uint8_t { Open = 0, Close = 1, Ping = 2, Pong = 3, Message = 4, Upgrade = 5, Noop = 6 };

struct Packet {
    PacketType type = PacketType::Message;
    bool binary = false;  // binary message: `data` holds raw bytes
    std::string data;
};

inline constexpr char kRecordSeparator = '\x1e';

// Decodes one text packet ("4hello", "2probe"). nullopt on an empty string or
// an unknown type digit.
std::optional<Packet> decode_text_packet(std::string_view text);

// Splits a polling request body into packets. Returns false (and leaves
// `out` partially filled) if any packet is malformed or a base64 binary
// packet does not decode.
bool decode_polling_payload(std::string_view body, std::vector<Packet>& out);

// "4" + data etc. for a text packet.
std::string encode_text_packet(PacketType type, std::string_view data = {});

// Appends one packet to a polling response body (adding the separator when
// the body is not empty). Binary data is written as "b" + base64.
void append_polling_packet(std::string& body, bool binary, std::string_view packet_bytes);

std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sb::eio
