// Engine.IO v4 packet and payload codec (see engineio_packet.h).
#include "engineio/engineio_packet.h"


namespace sb::eio {

std::optional<Packet> decode_text_packet(std::string_view text) {
    if (text.empty() || text[0] < '0' || text[0] > '6') return std::nullopt;
    Packet p;
    p.type = static_cast<PacketType>(text[0] - '0');
    p.data.assign(text.substr(1));
    return p;
}

bool decode_polling_payload(std::string_view body, std::vector<Packet>& out) {
    if (body.empty()) return false;
    size_t start = 0;
    while (start <= body.size()) {
        size_t end = body.find(kRecordSeparator, start);
        if (end == std::string_view::npos) end = body.size();
        std::string_view item = body.substr(start, end - start);
        if (!item.empty() && item[0] == 'b') {
            auto raw = base64_decode(item.substr(1));
            if (!raw) return false;
            out.push_back(Packet{PacketType::Message, true, std::move(*raw)});
        } else {
            auto p = decode_text_packet(item);
            if (!p) return false;
            out.push_back(std::move(*p));
        }
        start = end + 1;
    }
    return true;
}

std::string encode_text_packet(PacketType type, std::string_view data) {
    std::string s;
    s.reserve(1 + data.size());
    s.push_back(static_cast<char>('0' + static_cast<int>(type)));
    s.append(data);
    return s;
}

void append_polling_packet(std::string& body, bool binary, std::string_view packet_bytes) {
    if (!body.empty()) body.push_back(kRecordSeparator);
    if (binary) {
        body.push_back('b');
        body.append(base64_encode(packet_bytes));
    } else {
        body.append(packet_bytes);
    }
}

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::string base64_encode(std::string_view raw) {
    std::string out;
    out.reserve(4 * ((raw.size() + 2) / 3));
    size_t i = 0;
    for (; i + 3 <= raw.size(); i += 3) {
        const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(raw[i])) << 16 |
                           static_cast<uint32_t>(static_cast<unsigned char>(raw[i + 1])) << 8 |
                           static_cast<unsigned char>(raw[i + 2]);
        out.push_back(kBase64[v >> 18]);
        out.push_back(kBase64[(v >> 12) & 63]);
        out.push_back(kBase64[(v >> 6) & 63]);
        out.push_back(kBase64[v & 63]);
    }
    if (const size_t left = raw.size() - i) {
        uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(raw[i])) << 16;
        if (left == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(raw[i + 1])) << 8;
        out.push_back(kBase64[v >> 18]);
        out.push_back(kBase64[(v >> 12) & 63]);
        out.push_back(left == 2 ? kBase64[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // Strict about the alphabet and the padding: a malformed body must be
    // refused, not guessed. Padding may be left out.
    if (text.size() % 4 == 1) return std::nullopt;
    size_t pad = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (base64_value(c) >= 0) {
            if (pad) return std::nullopt;
        } else if (c == '=' && i + 2 >= text.size()) {
            ++pad;
        } else {
            return std::nullopt;
        }
    }
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t bits = 0;
    int have = 0;
    for (char c : text.substr(0, text.size() - pad)) {
        bits = (bits << 6) | static_cast<uint32_t>(base64_value(c));
        have += 6;
        if (have >= 8) {
            have -= 8;
            out.push_back(static_cast<char>((bits >> have) & 0xff));
        }
    }
    return out;
}

}  // namespace sb::eio
