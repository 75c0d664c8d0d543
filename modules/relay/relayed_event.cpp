// Reading the room from a client's event and writing the relayed event
// (see relayed_event.h).
#include "relayed_event.h"

#include <rapidjson/document.h>

#include <switchboard/module.hpp>

namespace relay {
namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size() && space(s[i])) ++i;
    return i;
}

}  // namespace

std::optional<ClientArgs> split_room(std::string_view args_json) {
    size_t i = skip_space(args_json, 0);
    if (i == args_json.size() || args_json[i] != '[') return std::nullopt;
    i = skip_space(args_json, i + 1);
    if (i == args_json.size() || args_json[i] != '"') return std::nullopt;
    // The string literal's end, found textually; rapidjson then checks and
    // unescapes just that literal.
    const size_t open = i;
    for (++i; i < args_json.size() && args_json[i] != '"'; ++i)
        if (args_json[i] == '\\') ++i;
    if (i >= args_json.size()) return std::nullopt;
    const std::string_view literal = args_json.substr(open, i + 1 - open);
    rapidjson::Document room;
    room.Parse(literal.data(), literal.size());
    if (room.HasParseError() || !room.IsString() || room.GetStringLength() == 0) return std::nullopt;

    size_t after = skip_space(args_json, i + 1);
    size_t close = args_json.size();
    while (close > after && space(args_json[close - 1])) --close;
    if (close <= after || args_json[close - 1] != ']') return std::nullopt;
    --close;  // the array's ']'
    std::string_view rest;
    if (args_json[after] == ',') {
        rest = args_json.substr(after + 1, close - after - 1);
        if (skip_space(rest, 0) == rest.size()) return std::nullopt;  // "[\"room\",]"
    } else if (after != close) {
        return std::nullopt;
    }
    return ClientArgs{std::string(room.GetString(), room.GetStringLength()), rest};
}

std::string relayed_args(std::string_view room, const char* user_id, std::string_view socket_id,
                         std::string_view rest) {
    std::string out;
    out.reserve(room.size() + socket_id.size() + rest.size() + 64);
    out += "[{\"room\":";
    out += sb::json_string(room);
    out += ",\"from\":{\"userId\":";
    out += user_id ? sb::json_string(user_id) : "null";
    out += ",\"socketId\":";
    out += socket_id.empty() ? "null" : sb::json_string(socket_id);
    out += "},\"args\":[";
    out += rest;
    out += "]}]";
    return out;
}

}  // namespace relay
