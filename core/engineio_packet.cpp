// Engine.IO v4 packet and payload codec (see engineio_packet.h).
#include "engineio_packet.h"

#include <libwebsockets.h>

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

std::string base64_encode(std::string_view raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 4, '\0');
    int n = lws_b64_encode_string(raw.data(), static_cast<int>(raw.size()), out.data(),
                                  static_cast<int>(out.size()));
    if (n < 0) return {};
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // lws_b64_decode_string is lenient about junk, so validate the alphabet
    // and the padding ourselves: a malformed body must be refused, not guessed.
    if (text.size() % 4 == 1) return std::nullopt;
    size_t pad = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum || c == '+' || c == '/') {
            if (pad) return std::nullopt;
        } else if (c == '=' && i + 2 >= text.size()) {
            ++pad;
        } else {
            return std::nullopt;
        }
    }
    std::string in(text);
    std::string out(text.size() * 3 / 4 + 3, '\0');
    int n = lws_b64_decode_string_len(in.data(), static_cast<int>(in.size()), out.data(),
                                      static_cast<int>(out.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<size_t>(n));
    return out;
}

}  // namespace sb::eio
