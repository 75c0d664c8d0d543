// Human units in configuration: durations ("25s", "300ms", "2m") and sizes
// ("1MB", "64KiB"). Operators write them this way in every server they run;
// parsing them in one place keeps the config loader free of arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sb {

// ms, s, m, h; a bare integer is milliseconds. nullopt if malformed.
std::optional<uint64_t> parse_duration_ms(std::string_view text);

// B, KB/MB/GB (powers of 1000), KiB/MiB/GiB (powers of 1024); a bare integer
// is bytes. nullopt if malformed or overflowing.
std::optional<uint64_t> parse_size_bytes(std::string_view text);

}  // namespace sb
