// switchboard/config.hpp — an optional, header-only helper for module
// authors: configuration values written the way the core's own settings are.
//
// Why it exists: operators write durations and counts the same way in every
// part of the configuration ("800ms", "5s", "2m", "1h", "30d", or a bare
// integer of milliseconds); modules that take durations should read them
// identically instead of each inventing a syntax.
#ifndef SWITCHBOARD_CONFIG_HPP
#define SWITCHBOARD_CONFIG_HPP

#include <cstdint>
#include <optional>
#include <string_view>

namespace sb {

// Milliseconds for "<digits><unit>" with unit ms, s, m, h or d (none: ms);
// nullopt when malformed or above about 300 years.
inline std::optional<uint64_t> parse_duration_ms(std::string_view text) {
    uint64_t n = 0;
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        if (digits == 12) return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(text[digits] - '0');
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    const std::string_view unit = text.substr(digits);
    if (unit.empty() || unit == "ms") return n;
    if (unit == "s") return n * 1000;
    if (unit == "m") return n * 60'000;
    if (unit == "h") return n * 3'600'000;
    if (unit == "d") return n * 86'400'000;
    return std::nullopt;
}

}  // namespace sb

#endif  // SWITCHBOARD_CONFIG_HPP
