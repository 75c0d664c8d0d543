// The chat module's configuration, parsed and checked once at create (see
// README.md for every key).
#ifndef SWITCHBOARD_CHAT_SETTINGS_H
#define SWITCHBOARD_CHAT_SETTINGS_H

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chat {

struct Settings {
    size_t max_length = 4000;           // characters (Unicode code points) of a message
    size_t default_page = 50;           // chat:history without limit
    size_t max_page = 200;              // largest chat:history limit
    uint64_t retention_count = 10000;   // messages kept per room (0: no limit)
    uint64_t retention_age_ms = 0;      // messages older than this are dropped (0: no limit)
    uint64_t trim_interval_ms = 60000;  // how often rooms written since the last trim are trimmed
};

// Throws std::runtime_error naming the key for a bad value.
Settings parse_settings(std::string_view config_json);

}  // namespace chat

#endif
