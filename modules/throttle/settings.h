// The throttle configuration: every key of its `config:` mapping (the one
// table the host checks configurations against before the module is
// created), and the parsed, checked form the rest of the module reads. It
// also answers which rule applies to an event name, since that follows
// directly from the configured patterns. See README.md for every key.
#ifndef SWITCHBOARD_THROTTLE_SETTINGS_H
#define SWITCHBOARD_THROTTLE_SETTINGS_H

#include "buckets.h"

#include <switchboard/module.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace throttle {

inline constexpr sb_config_key kConfigKeys[] = {
    {"default", SB_CONFIG_OBJECT, 0,
     "limits of events no pattern matches: {socket, user, ip: {rate, burst}}; "
     "default {socket: {rate: 20, burst: 40}, user: {rate: 50, burst: 100}}"},
    {"events", SB_CONFIG_OBJECT, 0,
     "limits by event name: {\"<name>\" or \"<prefix>*\": {socket, user, ip: {rate, burst}}}"},
    {"disconnect_after_violations", SB_CONFIG_INTEGER, 0,
     "refused events within violation_window_ms that disconnect the socket; 0 = never (default 50)"},
    {"violation_window_ms", SB_CONFIG_INTEGER, 0, "window of disconnect_after_violations (default 10000)"},
    {"new_connections_per_ip", SB_CONFIG_OBJECT, 0,
     "{rate, burst} of new Engine.IO sessions per client IP; over it the handshake gets HTTP 429 (default: none)"},
    {"max_connections_per_ip", SB_CONFIG_INTEGER, 0,
     "concurrent Socket.IO connections per client IP to namespaces using throttle; 0 = no limit (default)"},
    {"max_connections_per_user", SB_CONFIG_INTEGER, 0,
     "concurrent Socket.IO connections per user to namespaces using throttle; 0 = no limit (default)"},
    {"max_tracked_keys", SB_CONFIG_INTEGER, 0,
     "client IPs and users remembered without an open connection; least recently used evicted (default 100000)"},
    {"sweep_interval_ms", SB_CONFIG_INTEGER, 0, "how often idle keys are dropped (default 10000)"},
};

// Who a limit counts: one socket, every socket of a user, every socket of
// a client IP.
enum Scope : size_t { kSocket = 0, kUser = 1, kIp = 2, kScopes = 3 };
inline constexpr const char* kScopeNames[kScopes] = {"socket", "user", "ip"};

struct Rule {
    std::string pattern;  // "*" (the default), "name" or "prefix*"
    Limit limits[kScopes];
    bool any() const { return limits[kSocket].enabled() || limits[kUser].enabled() || limits[kIp].enabled(); }
};

struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
// A map by string that string_views look up without a copy.
template <typename V>
using StringMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

struct Settings {
    std::vector<Rule> rules;  // [0] is the default; rules are referred to by index
    StringMap<uint32_t> exact;
    std::vector<std::pair<std::string, uint32_t>> prefixes;  // longest first
    Limit handshake;                                         // new sessions per IP
    uint64_t max_connections_per_ip = 0;
    uint64_t max_connections_per_user = 0;
    uint64_t disconnect_after_violations = 50;
    int64_t violation_window_ns = 10'000'000'000LL;
    size_t max_tracked_keys = 100000;
    uint64_t sweep_interval_ms = 10000;
    int64_t idle_ns = kMinIdleNs;  // a key idle this long has refilled completely

    // The index of the rule for event `name`: an exact name, else the
    // longest matching prefix, else the default (0).
    uint32_t match(std::string_view name) const {
        if (auto it = exact.find(name); it != exact.end()) return it->second;
        for (const auto& [prefix, index] : prefixes)
            if (name.starts_with(prefix)) return index;
        return 0;
    }
};

// Throws std::runtime_error naming the offending key by its path
// ("events.chat:*.socket.rate: expected a number above 0 (per second)").
Settings parse_settings(std::string_view config_json);

}  // namespace throttle

#endif
