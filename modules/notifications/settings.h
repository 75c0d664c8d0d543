// The notifications module's configuration, parsed and checked once at
// create (see README.md for every key).
#ifndef SWITCHBOARD_NOTIFICATIONS_SETTINGS_H
#define SWITCHBOARD_NOTIFICATIONS_SETTINGS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace notifications {

struct Settings {
    uint64_t retention_count = 200;     // notifications kept per user (1..1000)
    uint64_t retention_age_ms = 0;      // older ones are dropped (0: no limit)
    uint64_t trim_interval_ms = 60000;  // how often users who got notifications are trimmed
    size_t max_recipients = 1000;       // userIds per create call
    size_t max_type_length = 128;       // bytes of `type`
    size_t max_data_bytes = 65536;      // bytes of `data` as JSON
    size_t default_page = 20;
    size_t max_page = 100;
    std::string route = "/api/v1/notifications";
};

// Throws std::runtime_error naming the key for a bad value.
Settings parse_settings(std::string_view config_json);

}  // namespace notifications

#endif
