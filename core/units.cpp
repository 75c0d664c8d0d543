// Human units in configuration (see units.h).
#include "units.h"

#include <charconv>
#include <string>

namespace sb {
namespace {

struct Unit {
    std::string_view suffix;
    uint64_t factor;
};

std::optional<uint64_t> parse_with_units(std::string_view text, std::initializer_list<Unit> units) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return std::nullopt;
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
    std::string_view suffix = text.substr(digits);
    while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
    if (suffix.empty()) return value;
    for (const Unit& u : units) {
        if (suffix == u.suffix) {
            if (value > UINT64_MAX / u.factor) return std::nullopt;
            return value * u.factor;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_duration_ms(std::string_view text) {
    return parse_with_units(text, {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}});
}

std::optional<uint64_t> parse_size_bytes(std::string_view text) {
    return parse_with_units(text, {{"B", 1},
                                   {"KB", 1000},
                                   {"MB", 1000'000},
                                   {"GB", 1000'000'000},
                                   {"KiB", 1024},
                                   {"MiB", 1024 * 1024},
                                   {"GiB", 1024ull * 1024 * 1024}});
}

}  // namespace sb
