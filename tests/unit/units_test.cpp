// Durations and sizes written the human way in the configuration.
#include "units.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using sb::parse_duration_ms;
using sb::parse_size_bytes;

std::optional<uint64_t> some(uint64_t v) { return v; }

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration_ms("25s"), some(25000));
    EXPECT_EQ(parse_duration_ms("300ms"), some(300));
    EXPECT_EQ(parse_duration_ms("2m"), some(120000));
    EXPECT_EQ(parse_duration_ms("1h"), some(3600000));
    EXPECT_EQ(parse_duration_ms("0s"), some(0));
    EXPECT_EQ(parse_duration_ms("0ms"), some(0));
    EXPECT_EQ(parse_duration_ms("90m"), some(5400000));
    EXPECT_EQ(parse_duration_ms("48h"), some(172800000));
}

TEST(Duration, BareIntegerIsMilliseconds) {
    EXPECT_EQ(parse_duration_ms("500"), some(500));
    EXPECT_EQ(parse_duration_ms("0"), some(0));
    EXPECT_EQ(parse_duration_ms("18446744073709551615"), some(UINT64_MAX));
}

TEST(Duration, SurroundingSpacesIgnored) {
    EXPECT_EQ(parse_duration_ms(" 25s "), some(25000));
    EXPECT_EQ(parse_duration_ms("10 ms"), some(10));
}

TEST(Duration, Rejections) {
    for (std::string bad : {"", " ", "ms", "s", "1.5s", "-1s", "-1", "+1s", "10 parsecs", "10x", "10sec", "10S",
                            "10MS", "1h30m", "s10", "1e3", "0x10", "25s5"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(parse_duration_ms(bad), std::nullopt);
    }
}

TEST(Duration, Overflow) {
    EXPECT_EQ(parse_duration_ms("18446744073709551616"), std::nullopt);
    EXPECT_EQ(parse_duration_ms("99999999999999999999999ms"), std::nullopt);
    EXPECT_EQ(parse_duration_ms("18446744073709552s"), std::nullopt);
    EXPECT_EQ(parse_duration_ms("18446744073709551s"), some(18446744073709551000ull));
    EXPECT_EQ(parse_duration_ms("5124095576031h"), std::nullopt);
    EXPECT_EQ(parse_duration_ms("5124095576030h"), some(5124095576030ull * 3600000ull));
}

TEST(Size, Units) {
    EXPECT_EQ(parse_size_bytes("1MB"), some(1000000));
    EXPECT_EQ(parse_size_bytes("64KiB"), some(65536));
    EXPECT_EQ(parse_size_bytes("1GiB"), some(1073741824));
    EXPECT_EQ(parse_size_bytes("1KB"), some(1000));
    EXPECT_EQ(parse_size_bytes("3GB"), some(3000000000ull));
    EXPECT_EQ(parse_size_bytes("4MiB"), some(4194304));
    EXPECT_EQ(parse_size_bytes("512B"), some(512));
    EXPECT_EQ(parse_size_bytes("0KiB"), some(0));
}

TEST(Size, BareIntegerIsBytes) {
    EXPECT_EQ(parse_size_bytes("1000000"), some(1000000));
    EXPECT_EQ(parse_size_bytes("0"), some(0));
    EXPECT_EQ(parse_size_bytes("4096"), some(4096));
}

TEST(Size, Rejections) {
    for (std::string bad : {"", "MB", "KiB", "1.5MB", "-1MB", "-1", "10 parsecs", "1mb", "1kb", "1Kib", "1K", "1M",
                            "1TB", "1 MB B", "MB1"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(parse_size_bytes(bad), std::nullopt);
    }
}

TEST(Size, Overflow) {
    EXPECT_EQ(parse_size_bytes("18446744073709551616"), std::nullopt);
    EXPECT_EQ(parse_size_bytes("17179869184GiB"), std::nullopt);  // exactly 2^64
    EXPECT_EQ(parse_size_bytes("17179869183GiB"), some(17179869183ull * 1073741824ull));
    EXPECT_EQ(parse_size_bytes("18446744073709552KB"), std::nullopt);
    EXPECT_EQ(parse_size_bytes("18446744073709551615B"), some(UINT64_MAX));
}

}  // namespace
