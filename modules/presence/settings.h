// The presence module's configuration, parsed and checked once when the
// module is created: which rooms presence is tracked in, which claims go into
// the payloads, the grace period and the memory bounds. See README.md.
#ifndef SWITCHBOARD_PRESENCE_SETTINGS_H
#define SWITCHBOARD_PRESENCE_SETTINGS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <switchboard/glob.hpp>

#include <string_view>
#include <vector>

namespace presence {

// Longest room name or user id a client may send in a request.
constexpr size_t kMaxNameBytes = 256;

struct Settings {
    std::vector<std::string> room_patterns;  // '*' matches any run of characters
    std::vector<std::string> claims;         // claim names copied into user objects
    uint64_t grace_ms = 5000;
    size_t max_query_ids = 100;
    size_t max_last_seen = 100000;
    // Cluster: after this node rejoined (it lost Redis), how long what the
    // other nodes told it before is kept while they rejoin in turn.
    uint64_t resync_ms = 10000;

    // Whether presence is tracked in `room` (some pattern matches it).
    bool tracks(std::string_view room) const;
};

// Throws std::runtime_error naming the offending key.
Settings parse_settings(std::string_view config_json);

using sb::glob_match;  // <switchboard/glob.hpp>

}  // namespace presence

#endif
