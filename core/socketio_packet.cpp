// Socket.IO v5 packet codec (see socketio_packet.h).
#include "socketio_packet.h"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <charconv>
#include <vector>

namespace sb::sio {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool parse_json(std::string_view text, rapidjson::Document& doc) {
    // RapidJSON stops at a NUL; a raw NUL is never valid JSON, so refuse it
    // rather than let bytes after it through unchecked.
    if (text.find('\0') != std::string_view::npos) return false;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    return !doc.HasParseError();
}

// What decode needs of a payload, read without building a document (a
// document costs allocations on every packet): the top-level kind and, for an
// array, its first element when that is a string (the event name).
struct PayloadShape : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PayloadShape> {
    enum class Kind { None, Object, Array, String, Other };
    Kind top = Kind::None;
    int depth = 0;
    size_t top_elements = 0;
    bool first_is_string = false;
    std::string first_string;  // copied: the reader's buffer only lives through the callback

    void value(Kind kind, std::string_view text = {}) {
        if (depth == 0) {
            top = kind;
        } else if (depth == 1 && top == Kind::Array && top_elements++ == 0 && kind == Kind::String) {
            first_is_string = true;
            first_string.assign(text);
        }
    }
    bool Default() {
        value(Kind::Other);
        return true;
    }
    bool String(const char* str, rapidjson::SizeType len, bool) {
        value(Kind::String, {str, len});
        return true;
    }
    bool Key(const char*, rapidjson::SizeType, bool) { return true; }
    bool StartObject() {
        value(Kind::Object);
        ++depth;
        return true;
    }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool StartArray() {
        value(Kind::Array);
        ++depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
};

bool read_shape(std::string_view text, PayloadShape& shape) {
    if (text.find('\0') != std::string_view::npos) return false;  // see parse_json
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    return !reader.Parse<rapidjson::kParseValidateEncodingFlag>(ms, shape).IsError();
}

// Event names the Socket.IO client reserves for itself; an incoming event
// with one of these names is a protocol error, as in the reference server.
bool is_reserved_event(std::string_view name) {
    static constexpr std::array<std::string_view, 6> reserved = {
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};
    for (auto r : reserved)
        if (r == name) return true;
    return false;
}

bool check_placeholders(const rapidjson::Value& v, uint32_t attachments, std::vector<bool>& seen) {
    if (v.IsArray()) {
        for (auto& e : v.GetArray())
            if (!check_placeholders(e, attachments, seen)) return false;
    } else if (v.IsObject()) {
        auto ph = v.FindMember("_placeholder");
        if (ph != v.MemberEnd() && ph->value.IsBool() && ph->value.GetBool()) {
            auto num = v.FindMember("num");
            if (num == v.MemberEnd() || !num->value.IsUint()) return false;
            uint32_t n = num->value.GetUint();
            if (n >= attachments || seen[n]) return false;
            seen[n] = true;
            return true;
        }
        for (auto& m : v.GetObject())
            if (!check_placeholders(m.value, attachments, seen)) return false;
    }
    return true;
}

bool placeholders_ok(const rapidjson::Value& v, uint32_t attachments) {
    std::vector<bool> seen(attachments, false);
    if (!check_placeholders(v, attachments, seen)) return false;
    for (bool s : seen)
        if (!s) return false;
    return true;
}

}  // namespace

std::optional<Packet> decode(std::string_view text, std::string& error) {
    if (text.empty() || !is_digit(text[0]) || text[0] > '6') {
        error = "unknown packet type";
        return std::nullopt;
    }
    Packet p;
    p.type = static_cast<PacketType>(text[0] - '0');
    size_t i = 1;
    const bool binary = p.type == PacketType::BinaryEvent || p.type == PacketType::BinaryAck;
    if (binary) {
        size_t start = i;
        while (i < text.size() && is_digit(text[i])) ++i;
        if (i == start || i >= text.size() || text[i] != '-' || i - start > 6) {
            error = "invalid attachment count";
            return std::nullopt;
        }
        std::from_chars(text.data() + start, text.data() + i, p.attachments);
        ++i;  // '-'
    }
    if (i < text.size() && text[i] == '/') {
        size_t comma = text.find(',', i);
        size_t end = comma == std::string_view::npos ? text.size() : comma;
        p.nsp.assign(text.substr(i, end - i));
        i = comma == std::string_view::npos ? text.size() : comma + 1;
    }
    if (i < text.size() && is_digit(text[i])) {
        size_t start = i;
        while (i < text.size() && is_digit(text[i])) ++i;
        if (i - start > 15) {
            error = "invalid ack id";
            return std::nullopt;
        }
        std::from_chars(text.data() + start, text.data() + i, p.id);
    }
    p.data.assign(text.substr(i));

    const bool has_data = !trim(p.data).empty();
    PayloadShape shape;
    if (has_data && !read_shape(p.data, shape)) {
        error = "invalid JSON payload";
        return std::nullopt;
    }
    switch (p.type) {
        case PacketType::Connect:
            if (has_data && shape.top != PayloadShape::Kind::Object) {
                error = "CONNECT payload must be an object";
                return std::nullopt;
            }
            break;
        case PacketType::Disconnect:
            if (has_data) {
                error = "DISCONNECT takes no payload";
                return std::nullopt;
            }
            break;
        case PacketType::Event:
        case PacketType::BinaryEvent:
            if (!has_data || shape.top != PayloadShape::Kind::Array || !shape.first_is_string) {
                error = "EVENT payload must be an array starting with the event name";
                return std::nullopt;
            }
            if (is_reserved_event(shape.first_string)) {
                error = "reserved event name";
                return std::nullopt;
            }
            break;
        case PacketType::Ack:
        case PacketType::BinaryAck:
            if (p.id < 0) {
                error = "ACK without an id";
                return std::nullopt;
            }
            if (!has_data || shape.top != PayloadShape::Kind::Array) {
                error = "ACK payload must be an array";
                return std::nullopt;
            }
            break;
        case PacketType::ConnectError:
            if (!has_data || !(shape.top == PayloadShape::Kind::Object || shape.top == PayloadShape::Kind::String)) {
                error = "CONNECT_ERROR payload must be an object or a string";
                return std::nullopt;
            }
            break;
    }
    if (binary) {
        rapidjson::Document doc;
        if (!parse_json(p.data, doc) || !placeholders_ok(doc, p.attachments)) {
            error = "binary placeholders do not match the attachment count";
            return std::nullopt;
        }
    }
    return p;
}

namespace {

// The packet's text after `prefix` (the Engine.IO message type, or nothing),
// built in one buffer: no second string for the prefix.
std::string encode_with(std::string_view prefix, const Packet& p) {
    std::string s;
    s.reserve(prefix.size() + p.data.size() + p.nsp.size() + 24);
    s.append(prefix);
    s.push_back(static_cast<char>('0' + static_cast<int>(p.type)));
    if (p.type == PacketType::BinaryEvent || p.type == PacketType::BinaryAck) {
        s.append(std::to_string(p.attachments));
        s.push_back('-');
    }
    if (p.nsp != "/") {
        s.append(p.nsp);
        s.push_back(',');
    }
    if (p.id >= 0) s.append(std::to_string(p.id));
    s.append(p.data);
    return s;
}

}  // namespace

std::string encode(const Packet& p) { return encode_with({}, p); }

std::string encode_message(const Packet& p) { return encode_with("4", p); }

EventPayload split_event(std::string_view data) {
    // data is a validated array whose first element is a string literal:
    // find that literal's end textually, which is cheaper than re-serializing.
    EventPayload out;
    size_t i = data.find('"');
    size_t start = i;
    for (++i; i < data.size(); ++i) {
        if (data[i] == '\\') {
            ++i;
        } else if (data[i] == '"') {
            break;
        }
    }
    std::string_view literal = data.substr(start, i - start + 1);
    rapidjson::Document name;
    name.Parse(literal.data(), literal.size());
    if (name.IsString()) out.name.assign(name.GetString(), name.GetStringLength());
    size_t rest = i + 1;
    while (rest < data.size() && is_space(data[rest])) ++rest;
    if (rest < data.size() && data[rest] == ',') {
        out.args_json.reserve(data.size() - rest);
        out.args_json.push_back('[');
        out.args_json.append(data.substr(rest + 1));
        // The closing bracket of the original array closes the new one.
    } else {
        out.args_json = "[]";
    }
    return out;
}

bool is_json_array(std::string_view json) {
    std::string_view t = trim(json);
    if (t.empty() || t.front() != '[' || t.find('\0') != std::string_view::npos) return false;
    rapidjson::Reader reader;
    rapidjson::BaseReaderHandler<> handler;
    rapidjson::MemoryStream ms(t.data(), t.size());
    return !reader.Parse<rapidjson::kParseValidateEncodingFlag>(ms, handler).IsError();
}

std::optional<std::string> join_event(std::string_view name, std::string_view args_json, bool args_known_valid) {
    std::string_view args = trim(args_json);
    if (args.size() < 2 || args.back() != ']' || (!args_known_valid && !is_json_array(args))) return std::nullopt;
    std::string_view inner = trim(args.substr(1, args.size() - 2));
    std::string out;
    out.reserve(name.size() + args.size() + 8);
    out.push_back('[');
    out.append(json_quote(name));
    if (!inner.empty()) {
        out.push_back(',');
        out.append(inner);
    }
    out.push_back(']');
    return out;
}

bool placeholders_match(std::string_view json, uint32_t attachments) {
    rapidjson::Document doc;
    if (!parse_json(json, doc)) return false;
    return placeholders_ok(doc, attachments);
}

}  // namespace sb::sio
