// The relay module's configuration: which client events it relays, and for
// each its payload limit, whether it is volatile and whether the sender gets
// its own copy. Parsed and checked once when the module is created, so that
// a wrong pattern or size stops the server (or refuses the reload) with the
// key that is wrong. See README.md for every key.
#ifndef SWITCHBOARD_RELAY_SETTINGS_H
#define SWITCHBOARD_RELAY_SETTINGS_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <switchboard/glob.hpp>

#include <string_view>
#include <unordered_map>
#include <vector>

namespace relay {

// What one entry of `events` says about the events it matches.
struct EventRule {
    std::string name;                    // an exact event name or a pattern with '*'
    uint64_t max_payload = 16 * 1024;    // bytes: the arguments' JSON text plus binary attachments
    bool is_volatile = false;            // dropped for a recipient whose connection is backed up
    bool include_sender = false;         // the sending socket gets its own copy too
};

class Settings {
public:
    // Throws std::runtime_error naming the offending key, e.g.
    // "events[1].max_payload: expected a size such as 1KB, 64KiB or 1000".
    static Settings parse(std::string_view config_json);

    // The rule relaying `event`, or null: an exact name wins, then the first
    // pattern in the order listed. Names a Socket.IO client reserves, and
    // "error" (the host's failure report), are never relayed.
    const EventRule* rule_for(std::string_view event) const;

    const std::vector<EventRule>& rules() const { return rules_; }

private:
    std::vector<EventRule> rules_;
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> exact_;  // name -> index in rules_
    std::vector<size_t> patterns_;                   // indexes in rules_, in the order listed
};

// Bytes for "<digits>[ ]<unit>" with unit B, KB, MB, GB (powers of 1000) or
// KiB, MiB, GiB (powers of 1024), or none (bytes): the syntax of the core's
// sizes (engineio.max_payload, limits.max_send_queue), which the module API
// offers no parser for. nullopt when malformed or overflowing.
std::optional<uint64_t> parse_size_bytes(std::string_view text);

using sb::glob_match;  // <switchboard/glob.hpp>

}  // namespace relay

#endif
