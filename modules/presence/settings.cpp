// Parsing and checking of the presence configuration (see settings.h and
// README.md for every key).
#include "settings.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace presence {
namespace {

constexpr uint64_t kMaxGraceMs = 3'600'000;
constexpr uint64_t kMaxQueryIds = 10'000;
constexpr uint64_t kMaxLastSeen = 100'000'000;
// Names of the fields every user object and event payload already has.
constexpr std::string_view kReservedFields[] = {"room", "userId", "users", "lastSeen", "online", "ok"};

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw std::runtime_error(key + ": " + why); }

// A list of distinct, non-empty strings of at most kMaxNameBytes.
std::vector<std::string> names_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsArray()) refuse(key, "expected a list of strings");
    std::vector<std::string> out;
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const std::string where = key + "[" + std::to_string(i) + "]";
        if (!v[i].IsString()) refuse(where, "expected a string");
        std::string s(v[i].GetString(), v[i].GetStringLength());
        if (s.empty()) refuse(where, "must not be empty");
        if (s.size() > kMaxNameBytes) refuse(where, "longer than " + std::to_string(kMaxNameBytes) + " bytes");
        if (std::find(out.begin(), out.end(), s) != out.end()) refuse(where, "'" + s + "' is listed twice");
        out.push_back(std::move(s));
    }
    return out;
}

// Core convention: a bare integer is milliseconds; a string has a unit.
uint64_t duration_ms(const rapidjson::Value& v, const std::string& key) {
    const char* expected = "expected a duration: integer milliseconds, or \"800ms\", \"5s\", \"2m\", \"1h\"";
    uint64_t ms = 0;
    if (v.IsUint64()) {
        ms = v.GetUint64();
    } else if (v.IsString()) {
        const std::string s(v.GetString(), v.GetStringLength());
        size_t digits = 0;
        while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
        const std::string unit = s.substr(digits);
        if (digits == 0 || digits > 9 || !(unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h"))
            refuse(key, expected);
        const uint64_t n = std::stoull(s.substr(0, digits));
        ms = unit == "s" ? n * 1000 : unit == "m" ? n * 60'000 : unit == "h" ? n * 3'600'000 : n;
    } else {
        refuse(key, expected);
    }
    if (ms > kMaxGraceMs) refuse(key, "at most 1h");
    return ms;
}

size_t count_of(const rapidjson::Value& v, const std::string& key, uint64_t min, uint64_t max) {
    if (!v.IsUint64() || v.GetUint64() < min || v.GetUint64() > max)
        refuse(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return static_cast<size_t>(v.GetUint64());
}

}  // namespace


bool Settings::tracks(std::string_view room) const {
    return std::any_of(room_patterns.begin(), room_patterns.end(),
                       [&](const std::string& pattern) { return glob_match(pattern, room); });
}

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document doc;
    doc.Parse(config_json.data(), config_json.size());
    if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("the configuration is not a JSON object");
    Settings s;
    for (const auto& m : doc.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        if (key == "rooms") {
            s.room_patterns = names_of(m.value, key);
        } else if (key == "claims") {
            s.claims = names_of(m.value, key);
            for (const auto& name : s.claims)
                if (std::find(std::begin(kReservedFields), std::end(kReservedFields), name) != std::end(kReservedFields))
                    refuse(key, "'" + name + "' is a field of the presence payloads and cannot be a claim");
        } else if (key == "grace_period") {
            s.grace_ms = duration_ms(m.value, key);
        } else if (key == "cluster_resync") {
            s.resync_ms = duration_ms(m.value, key);
        } else if (key == "max_query_ids") {
            s.max_query_ids = count_of(m.value, key, 1, kMaxQueryIds);
        } else if (key == "max_last_seen") {
            s.max_last_seen = count_of(m.value, key, 0, kMaxLastSeen);
        } else {
            // The host checks keys against the table first; this guards a
            // host that passes the configuration through unchecked.
            refuse(key, "unknown key (known keys: rooms, claims, grace_period, max_query_ids, max_last_seen, cluster_resync)");
        }
    }
    if (!doc.HasMember("rooms")) refuse("rooms", "required: the room patterns presence is tracked in");
    return s;
}

}  // namespace presence
