// Parsing and checking of the throttle configuration (see settings.h and
// README.md for every key). Limits are checked where they are written, so
// that an error names its full path.
#include "settings.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace throttle {
namespace {

[[noreturn]] void refuse(const std::string& why) { throw std::runtime_error(why); }

// A limit {rate, burst}; null is explicitly unlimited.
Limit parse_limit(const rapidjson::Value& v, const std::string& where) {
    Limit out;
    if (v.IsNull()) return out;
    if (!v.IsObject()) refuse(where + ": expected {rate, burst} or null");
    for (const auto& m : v.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        if (key != "rate" && key != "burst") refuse(where + "." + key + ": unknown key (known keys: rate, burst)");
    }
    auto rate = v.FindMember("rate");
    if (rate == v.MemberEnd() || !rate->value.IsNumber() || !(rate->value.GetDouble() > 0) ||
        !std::isfinite(rate->value.GetDouble()))
        refuse(where + ".rate: expected a number above 0 (per second)");
    out.rate = rate->value.GetDouble();
    auto burst = v.FindMember("burst");
    if (burst == v.MemberEnd()) {
        out.burst = std::max(1.0, std::ceil(out.rate));
    } else if (!burst->value.IsNumber() || !(burst->value.GetDouble() >= 1) ||
               !std::isfinite(burst->value.GetDouble())) {
        refuse(where + ".burst: expected a number of at least 1");
    } else {
        out.burst = burst->value.GetDouble();
    }
    return out;
}

// A rule {socket, user, ip}; scopes it leaves out are unlimited.
void parse_rule(const rapidjson::Value& v, const std::string& where, Rule& out) {
    if (!v.IsObject()) refuse(where + ": expected {socket, user, ip}");
    for (const auto& m : v.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        size_t scope = kScopes;
        for (size_t i = 0; i < kScopes; ++i)
            if (key == kScopeNames[i]) scope = i;
        if (scope == kScopes) refuse(where + "." + key + ": unknown key (known keys: socket, user, ip)");
        out.limits[scope] = parse_limit(m.value, where + "." + key);
    }
}

// An integer of at least `min`, left as it is when the key is absent.
void parse_count(const rapidjson::Document& doc, const char* key, uint64_t min, uint64_t& out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd()) return;
    if (!it->value.IsUint64() || it->value.GetUint64() < min)
        refuse(std::string(key) + ": expected an integer of at least " + std::to_string(min));
    out = it->value.GetUint64();
}

void parse_events(const rapidjson::Value& v, Settings& s) {
    if (!v.IsObject()) refuse("events: expected an object of patterns");
    for (const auto& m : v.GetObject()) {
        std::string pattern(m.name.GetString(), m.name.GetStringLength());
        const std::string where = "events." + pattern;
        const size_t star = pattern.find('*');
        if (pattern.empty() || pattern == "*")
            refuse(where + ": a pattern needs a name or a prefix (the limits of all other events are `default`)");
        if (star != std::string::npos && star != pattern.size() - 1) refuse(where + ": '*' may only end a pattern");
        Rule rule;
        rule.pattern = pattern;
        parse_rule(m.value, where, rule);
        const auto index = static_cast<uint32_t>(s.rules.size());
        s.rules.push_back(rule);
        if (star == std::string::npos) s.exact.emplace(pattern, index);
        else s.prefixes.emplace_back(pattern.substr(0, star), index);
    }
    std::stable_sort(s.prefixes.begin(), s.prefixes.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

}  // namespace

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document doc;
    doc.Parse(config_json.data(), config_json.size());
    if (doc.HasParseError() || !doc.IsObject()) refuse("the configuration is not a JSON object");
    Settings s;
    Rule fallback;
    fallback.pattern = "*";
    fallback.limits[kSocket] = {20, 40};
    fallback.limits[kUser] = {50, 100};
    if (auto it = doc.FindMember("default"); it != doc.MemberEnd()) {
        fallback = Rule{};
        fallback.pattern = "*";
        parse_rule(it->value, "default", fallback);
    }
    s.rules.push_back(fallback);
    if (auto it = doc.FindMember("events"); it != doc.MemberEnd()) parse_events(it->value, s);
    if (auto it = doc.FindMember("new_connections_per_ip"); it != doc.MemberEnd())
        s.handshake = parse_limit(it->value, "new_connections_per_ip");
    uint64_t window_ms = 10000, max_keys = s.max_tracked_keys;
    parse_count(doc, "max_connections_per_ip", 0, s.max_connections_per_ip);
    parse_count(doc, "max_connections_per_user", 0, s.max_connections_per_user);
    parse_count(doc, "disconnect_after_violations", 0, s.disconnect_after_violations);
    parse_count(doc, "violation_window_ms", 1, window_ms);
    parse_count(doc, "max_tracked_keys", 1, max_keys);
    parse_count(doc, "sweep_interval_ms", 1, s.sweep_interval_ms);
    if (window_ms > 86'400'000 || s.sweep_interval_ms > 86'400'000)
        refuse("violation_window_ms and sweep_interval_ms are at most one day (86400000)");
    s.violation_window_ns = static_cast<int64_t>(window_ms) * 1'000'000;
    s.max_tracked_keys = static_cast<size_t>(max_keys);
    // Keys idle for as long as the slowest bucket takes to fill up hold
    // nothing a fresh key would not: that is when they may be dropped.
    int64_t idle = std::max(kMinIdleNs, s.handshake.fill_ns());
    for (const auto& r : s.rules)
        for (const auto& l : r.limits) idle = std::max(idle, l.fill_ns());
    s.idle_ns = idle;
    return s;
}

}  // namespace throttle
