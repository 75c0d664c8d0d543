// Validation of presence requests (see requests.h).
#include "requests.h"

#include "settings.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>

#include <string_view>
#include <unordered_set>

namespace presence {
namespace {

[[noreturn]] void invalid(const sb_event& event, const std::string& why) {
    throw sb::Refusal(std::string(event.name) + ": " + why, "INVALID");
}

// The event's single argument, an object with `field` and nothing else.
const rapidjson::Value& only_field(const sb_event& event, rapidjson::Document& args, const char* field,
                                   const char* shape) {
    args.Parse(event.args_json, event.args_json_len);
    if (args.HasParseError() || !args.IsArray() || args.Size() != 1 || !args[0].IsObject())
        invalid(event, std::string("expected one argument ") + shape);
    const rapidjson::Value& request = args[0];
    for (const auto& m : request.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name != field) invalid(event, "unknown field '" + std::string(name.substr(0, 64)) + "' (expected " + shape + ")");
    }
    auto it = request.FindMember(field);
    if (it == request.MemberEnd()) invalid(event, std::string("missing '") + field + "' (expected " + shape + ")");
    return it->value;
}

std::string name_of(const sb_event& event, const rapidjson::Value& v, const std::string& what) {
    if (!v.IsString()) invalid(event, what + " must be a string");
    if (v.GetStringLength() == 0) invalid(event, what + " must not be empty");
    if (v.GetStringLength() > kMaxNameBytes)
        invalid(event, what + " is longer than " + std::to_string(kMaxNameBytes) + " bytes");
    return std::string(v.GetString(), v.GetStringLength());
}

}  // namespace

std::string parse_list_request(const sb_event& event) {
    rapidjson::Document args;
    return name_of(event, only_field(event, args, "room", "{room}"), "room");
}

std::vector<std::string> parse_query_request(const sb_event& event, size_t max_ids) {
    rapidjson::Document args;
    const rapidjson::Value& ids = only_field(event, args, "userIds", "{userIds: [...]}");
    if (!ids.IsArray()) invalid(event, "userIds must be an array of user ids");
    if (ids.Size() > max_ids)
        invalid(event, "at most " + std::to_string(max_ids) + " userIds per query (got " + std::to_string(ids.Size()) + ")");
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    out.reserve(ids.Size());
    for (rapidjson::SizeType i = 0; i < ids.Size(); ++i) {
        std::string id = name_of(event, ids[i], "userIds[" + std::to_string(i) + "]");
        if (seen.insert(id).second) out.push_back(std::move(id));
    }
    return out;
}

}  // namespace presence
