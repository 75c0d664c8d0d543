// The JSON shapes of docs/backend.md (see payloads.h).
#include "payloads.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace backend {
namespace {

std::string base64(const uint8_t* data, size_t len) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        const uint32_t n = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        out += alphabet[n >> 18];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    if (i < len) {
        uint32_t n = uint32_t(data[i]) << 16;
        if (i + 1 < len) n |= uint32_t(data[i + 1]) << 8;
        out += alphabet[n >> 18];
        out += alphabet[(n >> 12) & 63];
        out += i + 1 < len ? alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The host hands the query over already decoded (libwebsockets decodes
// each argument), pairs joined by '&': split, do not decode again.
std::string query_json(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> params;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) continue;
        const size_t eq = part.find('=');
        std::string name(part.substr(0, eq));
        std::string value = eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1));
        auto it = std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
        if (it != params.end()) it->second = std::move(value);
        else params.emplace_back(std::move(name), std::move(value));
    }
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    for (const auto& [name, value] : params) {
        w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

// Writes `v`, replacing binary placeholders by their bytes in base64.
void write_with_binary(const rapidjson::Value& v, const sb_event& ev, Writer& w) {
    if (v.IsObject()) {
        auto ph = v.FindMember("_placeholder");
        auto num = v.FindMember("num");
        if (ph != v.MemberEnd() && ph->value.IsBool() && ph->value.GetBool() && num != v.MemberEnd() &&
            num->value.IsUint64() && num->value.GetUint64() < ev.attachment_count) {
            const sb_bytes& b = ev.attachments[num->value.GetUint64()];
            const std::string encoded = base64(b.data, b.len);
            w.StartObject();
            w.Key("$binary");
            w.String(encoded.data(), static_cast<rapidjson::SizeType>(encoded.size()));
            w.EndObject();
            return;
        }
        w.StartObject();
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
            w.Key(it->name.GetString(), it->name.GetStringLength());
            write_with_binary(it->value, ev, w);
        }
        w.EndObject();
        return;
    }
    if (v.IsArray()) {
        w.StartArray();
        for (const auto& item : v.GetArray()) write_with_binary(item, ev, w);
        w.EndArray();
        return;
    }
    v.Accept(w);
}

}  // namespace

std::string socket_json(const sb::Host& host, sb_socket_id socket, const SocketRecord& record) {
    const char* user = host.user_of(socket);
    std::string out = "{\"id\":" + sb::json_string(record.sid) + ",\"namespace\":" + sb::json_string(record.ns) +
                      ",\"userId\":" + (user ? sb::json_string(user) : std::string("null")) +
                      ",\"claims\":" + host.claims_of(socket) + ",\"remoteAddress\":" + sb::json_string(record.remote) +
                      ",\"data\":{";
    bool first = true;
    for (const auto& [key, is_json] : record.data_keys) {
        const std::string value = host.get(socket, key);
        out += first ? "" : ",";
        first = false;
        out += sb::json_string(key) + ":" + (is_json ? value : sb::json_string(value));
    }
    return out + "}}";
}

std::string args_with_binary(const sb_event& ev) {
    const std::string_view args(ev.args_json, ev.args_json_len);
    if (ev.attachment_count == 0) return std::string(args);
    rapidjson::Document d;
    d.Parse(args.data(), args.size());
    if (d.HasParseError()) throw std::runtime_error("the event's arguments are not JSON");
    rapidjson::StringBuffer buf;
    Writer w(buf);
    write_with_binary(d, ev, w);
    return std::string(buf.GetString(), buf.GetSize());
}

std::string rpc_body(std::string_view event, std::string_view args_json, std::string_view socket_json) {
    std::string out = "{\"type\":\"rpc\",\"event\":" + sb::json_string(event) + ",\"args\":";
    out.append(args_json);
    out += ",\"socket\":";
    out.append(socket_json);
    return out + "}";
}

std::string connect_body(const sb_connect_info& info, std::string_view socket_json) {
    // The CONNECT payload is a JSON object in Socket.IO v5; anything else
    // reads as none.
    std::string auth = "{}";
    if (info.auth_json) {
        rapidjson::Document d;
        d.Parse(info.auth_json);
        if (!d.HasParseError() && d.IsObject()) auth = info.auth_json;
    }
    const bool has_cookie = info.struct_size >= offsetof(sb_connect_info, cookie) + sizeof info.cookie && info.cookie &&
                            *info.cookie;
    const bool has_authorization = info.authorization && *info.authorization;
    std::string headers = "{";
    if (has_cookie) headers += "\"cookie\":" + sb::json_string(info.cookie);
    if (has_authorization) headers += std::string(has_cookie ? "," : "") + "\"authorization\":" + sb::json_string(info.authorization);
    headers += "}";
    std::string out = "{\"type\":\"connect\",\"auth\":" + auth + ",\"headers\":" + headers +
                      ",\"query\":" + query_json(info.query ? info.query : "") + ",\"socket\":";
    out.append(socket_json);
    return out + "}";
}

std::string webhook_event(std::string_view id, std::string_view name, uint64_t ts_ms, std::string_view socket_json,
                          std::string_view extra_members) {
    std::string out = "{\"id\":" + sb::json_string(id) + ",\"name\":" + sb::json_string(name) +
                      ",\"ts\":" + std::to_string(ts_ms) + ",\"socket\":";
    out.append(socket_json);
    if (!extra_members.empty()) out.append(",").append(extra_members);
    return out + "}";
}

std::string ok_ack(std::string_view result_json) {
    std::string out = "[{\"ok\":true,\"result\":";
    out.append(result_json);
    return out + "}]";
}

std::string error_ack(std::string_view code, std::string_view message) {
    return "[{\"ok\":false,\"error\":{\"code\":" + sb::json_string(code) + ",\"message\":" + sb::json_string(message) + "}}]";
}

std::string error_event(std::string_view code, std::string_view message, std::string_view event) {
    return "[{\"code\":" + sb::json_string(code) + ",\"message\":" + sb::json_string(message) +
           ",\"event\":" + sb::json_string(event) + "}]";
}

}  // namespace backend
