// Hex and percent-encoding (core/encoding.h): the bytes a forwarded query,
// an API module's query and a printed digest are made of.
#include "encoding.h"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

TEST(Encoding, PercentEncodesAllButUnreservedBytes) {
    EXPECT_EQ(sb::percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    EXPECT_EQ(sb::percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    EXPECT_EQ(sb::percent_encode("\x00\xff"s), "%00%FF");
    std::string out = "sid=";
    sb::percent_encode(out, "x+y");
    EXPECT_EQ(out, "sid=x%2By");
}

TEST(Encoding, HexDigits) {
    std::string out;
    sb::append_hex(out, 0xab);
    sb::append_hex(out, 0x0f, false);
    EXPECT_EQ(out, "AB0f");
    const unsigned char digest[] = {0x00, 0x1f, 0xa0, 0xff};
    EXPECT_EQ(sb::to_hex(digest, sizeof digest), "001fa0ff");
    EXPECT_EQ(sb::to_hex(nullptr, 0), "");
}
