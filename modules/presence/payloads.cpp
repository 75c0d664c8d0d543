// Event and answer payloads (see payloads.h and README.md).
#include "payloads.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace presence {
namespace {

// The members of a user object: "userId":"alice","role":"admin",...
std::string user_fields(const std::string& user, const std::string& claims) {
    std::string out = "\"userId\":" + sb::json_string(user);
    if (!claims.empty()) out += "," + claims;
    return out;
}

std::string users_array(const std::vector<PresentUser>& users) {
    std::string out = "[";
    for (const PresentUser& u : users) {
        if (out.size() > 1) out += ",";
        out += "{" + user_fields(*u.user, *u.claims) + "}";
    }
    return out + "]";
}

}  // namespace

std::string claim_fields(const char* claims_json, const std::vector<std::string>& names) {
    if (names.empty() || !claims_json) return {};
    rapidjson::Document claims;
    claims.Parse(claims_json);
    if (claims.HasParseError() || !claims.IsObject()) return {};
    std::string out;
    for (const auto& name : names) {
        const rapidjson::Value key(rapidjson::StringRef(name.data(), name.size()));
        auto it = claims.FindMember(key);
        if (it == claims.MemberEnd()) continue;
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        it->value.Accept(w);
        if (!out.empty()) out += ",";
        out += sb::json_string(name) + ":" + std::string(buf.GetString(), buf.GetSize());
    }
    return out;
}

std::string online_args(const std::string& room, const std::string& user, const std::string& claims) {
    return "[{\"room\":" + sb::json_string(room) + "," + user_fields(user, claims) + "}]";
}

std::string offline_args(const std::string& room, const std::string& user, uint64_t last_seen_ms) {
    return "[{\"room\":" + sb::json_string(room) + ",\"userId\":" + sb::json_string(user) +
           ",\"lastSeen\":" + std::to_string(last_seen_ms) + "}]";
}

std::string state_args(const std::string& name, const std::vector<PresentUser>& users) {
    return "[{\"room\":" + sb::json_string(name) + ",\"users\":" + users_array(users) + "}]";
}

std::string list_answer(const std::string& name, const std::vector<PresentUser>& users) {
    return "[{\"ok\":true,\"room\":" + sb::json_string(name) + ",\"users\":" + users_array(users) + "}]";
}

std::string query_answer(const std::vector<std::pair<std::string, OnlineUsers::Status>>& users) {
    std::string out = "[{\"ok\":true,\"users\":[";
    bool first = true;
    for (const auto& [user, status] : users) {
        if (!first) out += ",";
        first = false;
        out += "{\"userId\":" + sb::json_string(user);
        if (status.online) out += ",\"online\":true}";
        else if (status.last_seen_ms) out += ",\"online\":false,\"lastSeen\":" + std::to_string(*status.last_seen_ms) + "}";
        else out += ",\"online\":false,\"lastSeen\":null}";
    }
    return out + "]}]";
}

}  // namespace presence
