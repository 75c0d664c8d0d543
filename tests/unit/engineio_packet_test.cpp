// Engine.IO v4 packet and payload codec.
#include "engineio/engineio_packet.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using sb::eio::Packet;
using sb::eio::PacketType;

using namespace std::string_literals;

// --- decode_text_packet ----------------------------------------------------

struct TypeCase {
    std::string text;
    PacketType type;
    std::string data;
};

TEST(EngineIoDecodeText, EveryPacketType) {
    const std::vector<TypeCase> cases = {
        {"0{\"sid\":\"abc\"}", PacketType::Open, "{\"sid\":\"abc\"}"},
        {"1", PacketType::Close, ""},
        {"2", PacketType::Ping, ""},
        {"2probe", PacketType::Ping, "probe"},
        {"3", PacketType::Pong, ""},
        {"3probe", PacketType::Pong, "probe"},
        {"4hello", PacketType::Message, "hello"},
        {"4", PacketType::Message, ""},
        {"5", PacketType::Upgrade, ""},
        {"6", PacketType::Noop, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto p = sb::eio::decode_text_packet(c.text);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->type, c.type);
        EXPECT_FALSE(p->binary);
        EXPECT_EQ(p->data, c.data);
    }
}

TEST(EngineIoDecodeText, DataKeptVerbatim) {
    auto p = sb::eio::decode_text_packet("42[\"ev\",\"\xc3\xa9\\u0000\"]\x1f");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->type, PacketType::Message);
    EXPECT_EQ(p->data, "2[\"ev\",\"\xc3\xa9\\u0000\"]\x1f");
}

TEST(EngineIoDecodeText, RejectsEmpty) { EXPECT_FALSE(sb::eio::decode_text_packet("").has_value()); }

TEST(EngineIoDecodeText, RejectsUnknownTypeDigit) {
    for (std::string t : {"7", "8", "9", "7hello", "a", "b", "/", ":", " 4", "\x1e"}) {
        SCOPED_TRACE(t);
        EXPECT_FALSE(sb::eio::decode_text_packet(t).has_value());
    }
    EXPECT_FALSE(sb::eio::decode_text_packet("\0"s "4").has_value());
}

// --- encode_text_packet ----------------------------------------------------

TEST(EngineIoEncodeText, TypeDigitThenData) {
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Open, "{}"), "0{}");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Close), "1");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Ping), "2");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Pong, "probe"), "3probe");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Message, "2[\"a\"]"), "42[\"a\"]");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Upgrade), "5");
    EXPECT_EQ(sb::eio::encode_text_packet(PacketType::Noop), "6");
}

TEST(EngineIoEncodeText, RoundTripsThroughDecode) {
    for (int t = 0; t <= 6; ++t) {
        auto type = static_cast<PacketType>(t);
        std::string enc = sb::eio::encode_text_packet(type, "payload\x01");
        auto p = sb::eio::decode_text_packet(enc);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->type, type);
        EXPECT_EQ(p->data, "payload\x01");
    }
}

// --- decode_polling_payload ------------------------------------------------

TEST(EngineIoPollingPayload, SinglePacket) {
    std::vector<Packet> out;
    ASSERT_TRUE(sb::eio::decode_polling_payload("4hello", out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, PacketType::Message);
    EXPECT_FALSE(out[0].binary);
    EXPECT_EQ(out[0].data, "hello");
}

TEST(EngineIoPollingPayload, SeveralPacketsSplitOnRecordSeparator) {
    std::vector<Packet> out;
    ASSERT_TRUE(sb::eio::decode_polling_payload("4hello\x1e" "2\x1e" "3probe\x1e" "6\x1e" "40/admin,", out));
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0].type, PacketType::Message);
    EXPECT_EQ(out[0].data, "hello");
    EXPECT_EQ(out[1].type, PacketType::Ping);
    EXPECT_EQ(out[1].data, "");
    EXPECT_EQ(out[2].type, PacketType::Pong);
    EXPECT_EQ(out[2].data, "probe");
    EXPECT_EQ(out[3].type, PacketType::Noop);
    EXPECT_EQ(out[3].data, "");
    EXPECT_EQ(out[4].type, PacketType::Message);
    EXPECT_EQ(out[4].data, "0/admin,");
    for (const auto& p : out) EXPECT_FALSE(p.binary);
}

TEST(EngineIoPollingPayload, BinaryEntriesDecodeToExactBytes) {
    std::vector<Packet> out;
    // "AQID" = 01 02 03; "AP8AgA==" = 00 ff 00 80; "aGk=" = "hi"
    ASSERT_TRUE(sb::eio::decode_polling_payload("451-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1e" "bAQID\x1e"
                                                "bAP8AgA==\x1e" "baGk=",
                                                out));
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].type, PacketType::Message);
    EXPECT_FALSE(out[0].binary);
    EXPECT_EQ(out[0].data, "51-[\"e\",{\"_placeholder\":true,\"num\":0}]");

    EXPECT_EQ(out[1].type, PacketType::Message);
    EXPECT_TRUE(out[1].binary);
    EXPECT_EQ(out[1].data, "\x01\x02\x03"s);

    EXPECT_EQ(out[2].type, PacketType::Message);
    EXPECT_TRUE(out[2].binary);
    EXPECT_EQ(out[2].data, "\x00\xff\x00\x80"s);

    EXPECT_TRUE(out[3].binary);
    EXPECT_EQ(out[3].data, "hi");
}

TEST(EngineIoPollingPayload, EmptyBinaryEntry) {
    std::vector<Packet> out;
    ASSERT_TRUE(sb::eio::decode_polling_payload("b", out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].binary);
    EXPECT_EQ(out[0].type, PacketType::Message);
    EXPECT_EQ(out[0].data, "");
}

TEST(EngineIoPollingPayload, RejectsInvalidBase64) {
    for (std::string body : {"b!!!!", "bAQI*", "bA", "bAQ=D", "bA===", "b====", "bAQID\x1e" "b@@@@",
                             "4ok\x1e" "bAQ\xff="}) {
        SCOPED_TRACE(body);
        std::vector<Packet> out;
        EXPECT_FALSE(sb::eio::decode_polling_payload(body, out));
    }
}

TEST(EngineIoPollingPayload, RejectsEmptyBody) {
    std::vector<Packet> out;
    EXPECT_FALSE(sb::eio::decode_polling_payload("", out));
    EXPECT_TRUE(out.empty());
}

TEST(EngineIoPollingPayload, RejectsTrailingSeparator) {
    std::vector<Packet> out;
    EXPECT_FALSE(sb::eio::decode_polling_payload("4hello\x1e", out));
}

TEST(EngineIoPollingPayload, RejectsLeadingAndDoubleSeparators) {
    std::vector<Packet> out;
    EXPECT_FALSE(sb::eio::decode_polling_payload("\x1e" "4hello", out));
    out.clear();
    EXPECT_FALSE(sb::eio::decode_polling_payload("4a\x1e\x1e" "4b", out));
    out.clear();
    EXPECT_FALSE(sb::eio::decode_polling_payload("\x1e", out));
}

TEST(EngineIoPollingPayload, RejectsUnknownTypeInAnyEntry) {
    std::vector<Packet> out;
    EXPECT_FALSE(sb::eio::decode_polling_payload("4hello\x1e" "9x", out));
    out.clear();
    EXPECT_FALSE(sb::eio::decode_polling_payload("x", out));
}

// --- append_polling_packet -------------------------------------------------

TEST(EngineIoAppendPolling, FirstPacketHasNoSeparator) {
    std::string body;
    sb::eio::append_polling_packet(body, false, "0{\"sid\":\"x\"}");
    EXPECT_EQ(body, "0{\"sid\":\"x\"}");
}

TEST(EngineIoAppendPolling, JoinsWithRecordSeparator) {
    std::string body;
    sb::eio::append_polling_packet(body, false, "4hello");
    sb::eio::append_polling_packet(body, false, "2");
    sb::eio::append_polling_packet(body, false, "42[\"a\"]");
    EXPECT_EQ(body, "4hello\x1e" "2\x1e" "42[\"a\"]");
}

TEST(EngineIoAppendPolling, BinaryIsBase64WithPrefix) {
    std::string body;
    sb::eio::append_polling_packet(body, false, "451-[\"e\",{\"_placeholder\":true,\"num\":0}]");
    sb::eio::append_polling_packet(body, true, "\x01\x02\x03"s);
    sb::eio::append_polling_packet(body, true, "\x00\xff\x00\x80"s);
    EXPECT_EQ(body, "451-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1e" "bAQID\x1e" "bAP8AgA==");

    std::string only;
    sb::eio::append_polling_packet(only, true, "hi");
    EXPECT_EQ(only, "baGk=");
}

TEST(EngineIoAppendPolling, RoundTripsThroughDecode) {
    std::string body;
    const std::string bin = "\x00\x01\x1e\xfe\xff"s;
    sb::eio::append_polling_packet(body, false, "4text");
    sb::eio::append_polling_packet(body, true, bin);
    sb::eio::append_polling_packet(body, false, "3");
    std::vector<Packet> out;
    ASSERT_TRUE(sb::eio::decode_polling_payload(body, out));
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].type, PacketType::Message);
    EXPECT_EQ(out[0].data, "text");
    EXPECT_FALSE(out[0].binary);
    EXPECT_TRUE(out[1].binary);
    EXPECT_EQ(out[1].data, bin);
    EXPECT_EQ(out[2].type, PacketType::Pong);
}

// --- base64 ----------------------------------------------------------------

TEST(Base64, KnownVectors) {
    // RFC 4648 test vectors.
    EXPECT_EQ(sb::eio::base64_encode(""), "");
    EXPECT_EQ(sb::eio::base64_encode("f"), "Zg==");
    EXPECT_EQ(sb::eio::base64_encode("fo"), "Zm8=");
    EXPECT_EQ(sb::eio::base64_encode("foo"), "Zm9v");
    EXPECT_EQ(sb::eio::base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(sb::eio::base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(sb::eio::base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(sb::eio::base64_encode("\xfb\xff\xbf"s), "+/+/");

    EXPECT_EQ(sb::eio::base64_decode(""), std::optional<std::string>(""));
    EXPECT_EQ(sb::eio::base64_decode("Zg=="), std::optional<std::string>("f"));
    EXPECT_EQ(sb::eio::base64_decode("Zm8="), std::optional<std::string>("fo"));
    EXPECT_EQ(sb::eio::base64_decode("Zm9v"), std::optional<std::string>("foo"));
    EXPECT_EQ(sb::eio::base64_decode("Zm9vYg=="), std::optional<std::string>("foob"));
    EXPECT_EQ(sb::eio::base64_decode("Zm9vYmE="), std::optional<std::string>("fooba"));
    EXPECT_EQ(sb::eio::base64_decode("Zm9vYmFy"), std::optional<std::string>("foobar"));
    EXPECT_EQ(sb::eio::base64_decode("+/+/"), std::optional<std::string>("\xfb\xff\xbf"s));
}

TEST(Base64, RoundTripLengths0To20) {
    for (size_t len = 0; len <= 20; ++len) {
        SCOPED_TRACE(len);
        std::string raw;
        for (size_t i = 0; i < len; ++i) raw.push_back(static_cast<char>((i * 73 + 0xF0 + len) & 0xff));
        std::string enc = sb::eio::base64_encode(raw);
        EXPECT_EQ(enc.size(), 4 * ((len + 2) / 3));
        EXPECT_EQ(enc.find('\0'), std::string::npos);
        auto dec = sb::eio::base64_decode(enc);
        ASSERT_TRUE(dec.has_value());
        EXPECT_EQ(*dec, raw);
    }
}

TEST(Base64, RoundTripAllByteValues) {
    std::string raw;
    for (int i = 0; i < 256; ++i) raw.push_back(static_cast<char>(i));
    auto dec = sb::eio::base64_decode(sb::eio::base64_encode(raw));
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, raw);
}

TEST(Base64, DecodeTakesMissingPadding) {
    EXPECT_EQ(sb::eio::base64_decode("Zg"), std::optional<std::string>("f"));
    EXPECT_EQ(sb::eio::base64_decode("Zm8"), std::optional<std::string>("fo"));
    EXPECT_EQ(sb::eio::base64_decode("Zm9vYg="), std::optional<std::string>("foob"));
}

TEST(Base64, DecodeRejectsMalformed) {
    for (std::string bad : {"A", "Zm9vY", "Zg=a", "Z===", "====", "Zm9v!A==", "Zm 9v", "Zm9v\n", "Zm-_",
                            "=Zm9", "Zg==Zg=="}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(sb::eio::base64_decode(bad).has_value());
    }
}

}  // namespace
