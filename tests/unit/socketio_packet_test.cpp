// Socket.IO v5 packet codec.
#include "socketio_packet.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace sb::sio {
// Readable failure output for packets.
void PrintTo(const Packet& p, std::ostream* os) {
    *os << "{type=" << static_cast<int>(p.type) << " nsp=" << p.nsp << " id=" << p.id
        << " attachments=" << p.attachments << " data=" << p.data << "}";
}
}  // namespace sb::sio

namespace {

using sb::sio::Packet;
using sb::sio::PacketType;

using namespace std::string_literals;

bool same(const Packet& a, const Packet& b) {
    return a.type == b.type && a.nsp == b.nsp && a.id == b.id && a.attachments == b.attachments && a.data == b.data;
}

Packet make(PacketType type, std::string nsp, int64_t id, uint32_t attachments, std::string data) {
    Packet p;
    p.type = type;
    p.nsp = std::move(nsp);
    p.id = id;
    p.attachments = attachments;
    p.data = std::move(data);
    return p;
}

Packet decode_ok(std::string_view text) {
    std::string error;
    auto p = sb::sio::decode(text, error);
    EXPECT_TRUE(p.has_value()) << "decode(" << text << ") failed: " << error;
    return p.value_or(Packet{});
}

// Decoding must fail, and the reason must mention `reason_part`.
void expect_rejected(std::string_view text, std::string_view reason_part) {
    SCOPED_TRACE(std::string(text));
    std::string error;
    auto p = sb::sio::decode(text, error);
    EXPECT_FALSE(p.has_value());
    EXPECT_FALSE(error.empty());
    EXPECT_NE(error.find(reason_part), std::string::npos) << "error was: " << error;
}

// --- decode: accepted packets ----------------------------------------------

TEST(SocketIoDecode, ConnectDefaultNamespace) {
    EXPECT_TRUE(same(decode_ok("0"), make(PacketType::Connect, "/", -1, 0, "")));
}

TEST(SocketIoDecode, ConnectWithAuth) {
    EXPECT_TRUE(same(decode_ok("0{\"token\":\"123\"}"), make(PacketType::Connect, "/", -1, 0, "{\"token\":\"123\"}")));
}

TEST(SocketIoDecode, ConnectCustomNamespaceWithAuth) {
    EXPECT_TRUE(same(decode_ok("0/admin,{\"a\":1}"), make(PacketType::Connect, "/admin", -1, 0, "{\"a\":1}")));
}

TEST(SocketIoDecode, ConnectCustomNamespaceNoPayload) {
    EXPECT_TRUE(same(decode_ok("0/admin,"), make(PacketType::Connect, "/admin", -1, 0, "")));
}

TEST(SocketIoDecode, Disconnect) {
    EXPECT_TRUE(same(decode_ok("1"), make(PacketType::Disconnect, "/", -1, 0, "")));
    EXPECT_TRUE(same(decode_ok("1/admin,"), make(PacketType::Disconnect, "/admin", -1, 0, "")));
}

TEST(SocketIoDecode, Event) {
    EXPECT_TRUE(same(decode_ok("2[\"foo\",1]"), make(PacketType::Event, "/", -1, 0, "[\"foo\",1]")));
}

TEST(SocketIoDecode, EventWithAckId) {
    EXPECT_TRUE(same(decode_ok("212[\"foo\"]"), make(PacketType::Event, "/", 12, 0, "[\"foo\"]")));
}

TEST(SocketIoDecode, EventInNamespaceWithAckId) {
    EXPECT_TRUE(same(decode_ok("2/admin,13[\"bar\"]"), make(PacketType::Event, "/admin", 13, 0, "[\"bar\"]")));
}

TEST(SocketIoDecode, EventAckIdZero) {
    EXPECT_TRUE(same(decode_ok("20[\"x\"]"), make(PacketType::Event, "/", 0, 0, "[\"x\"]")));
}

TEST(SocketIoDecode, Ack) {
    EXPECT_TRUE(same(decode_ok("312[\"bar\"]"), make(PacketType::Ack, "/", 12, 0, "[\"bar\"]")));
    EXPECT_TRUE(same(decode_ok("3/admin,0[]"), make(PacketType::Ack, "/admin", 0, 0, "[]")));
}

TEST(SocketIoDecode, ConnectError) {
    EXPECT_TRUE(same(decode_ok("4{\"message\":\"Not authorized\"}"),
                     make(PacketType::ConnectError, "/", -1, 0, "{\"message\":\"Not authorized\"}")));
    EXPECT_TRUE(same(decode_ok("4/random,{\"message\":\"Invalid namespace\"}"),
                     make(PacketType::ConnectError, "/random", -1, 0, "{\"message\":\"Invalid namespace\"}")));
}

TEST(SocketIoDecode, BinaryEvent) {
    EXPECT_TRUE(same(decode_ok("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]"),
                     make(PacketType::BinaryEvent, "/", -1, 1, "[\"baz\",{\"_placeholder\":true,\"num\":0}]")));
}

TEST(SocketIoDecode, BinaryEventNestedPlaceholders) {
    const char* text =
        "52-/admin,7[\"up\",{\"a\":[{\"_placeholder\":true,\"num\":1}],\"b\":{\"_placeholder\":true,\"num\":0}}]";
    EXPECT_TRUE(same(decode_ok(text),
                     make(PacketType::BinaryEvent, "/admin", 7, 2,
                          "[\"up\",{\"a\":[{\"_placeholder\":true,\"num\":1}],\"b\":{\"_placeholder\":true,\"num\":0}}]")));
}

TEST(SocketIoDecode, BinaryAck) {
    EXPECT_TRUE(same(decode_ok("61-/admin,5[{\"_placeholder\":true,\"num\":0}]"),
                     make(PacketType::BinaryAck, "/admin", 5, 1, "[{\"_placeholder\":true,\"num\":0}]")));
}

TEST(SocketIoDecode, LargestAcceptedAckId) {
    EXPECT_TRUE(same(decode_ok("2999999999999999[\"x\"]"), make(PacketType::Event, "/", 999999999999999, 0, "[\"x\"]")));
}

// --- decode: rejections ----------------------------------------------------

TEST(SocketIoDecodeReject, UnknownType) {
    expect_rejected("7", "type");
    expect_rejected("9", "type");
    expect_rejected("8[\"a\"]", "type");
    expect_rejected("", "type");
    expect_rejected("x", "type");
}

TEST(SocketIoDecodeReject, InvalidJson) {
    expect_rejected("2[\"a\",", "JSON");
    expect_rejected("0{token}", "JSON");
    expect_rejected("2[\"a\"]x", "JSON");
    expect_rejected("2[\"a\"][\"b\"]", "JSON");
}

TEST(SocketIoDecodeReject, InvalidUtf8) { expect_rejected("2[\"a\xff\"]", "JSON"); }

TEST(SocketIoDecodeReject, TrailingBytesAfterNul) {
    // A NUL byte must not end the JSON text early: what follows it is junk.
    expect_rejected("2[\"a\"]\0junk"s, "JSON");
    expect_rejected("0{}\0{\"x\":1}"s, "JSON");
}

TEST(SocketIoDecodeReject, EventPayloadNotArray) { expect_rejected("2{\"a\":1}", "EVENT"); }

TEST(SocketIoDecodeReject, EventEmptyArray) { expect_rejected("2[]", "EVENT"); }

TEST(SocketIoDecodeReject, EventFirstElementNotString) {
    expect_rejected("2[1]", "EVENT");
    expect_rejected("2[null,\"a\"]", "EVENT");
}

TEST(SocketIoDecodeReject, EventWithoutPayload) {
    expect_rejected("2", "EVENT");
    expect_rejected("2/admin,", "EVENT");
    expect_rejected("213", "EVENT");
}

TEST(SocketIoDecodeReject, ReservedEventNames) {
    for (std::string name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}) {
        expect_rejected("2[\"" + name + "\"]", "reserved");
        expect_rejected("51-[\"" + name + "\",{\"_placeholder\":true,\"num\":0}]", "reserved");
    }
    // Only exact names are reserved.
    EXPECT_TRUE(same(decode_ok("2[\"connected\"]"), make(PacketType::Event, "/", -1, 0, "[\"connected\"]")));
}

TEST(SocketIoDecodeReject, AckWithoutId) {
    expect_rejected("3[\"x\"]", "ACK");
    expect_rejected("61-[{\"_placeholder\":true,\"num\":0}]", "ACK");
}

TEST(SocketIoDecodeReject, AckPayloadNotArray) {
    expect_rejected("312{\"a\":1}", "ACK");
    expect_rejected("312", "ACK");
}

TEST(SocketIoDecodeReject, DisconnectWithPayload) {
    expect_rejected("1{\"a\":1}", "DISCONNECT");
    expect_rejected("1/admin,[]", "DISCONNECT");
}

TEST(SocketIoDecodeReject, ConnectWithArrayPayload) {
    expect_rejected("0[\"a\"]", "CONNECT");
    expect_rejected("0/admin,\"s\"", "CONNECT");
}

TEST(SocketIoDecodeReject, ConnectErrorPayload) {
    expect_rejected("4", "CONNECT_ERROR");
    expect_rejected("4[1]", "CONNECT_ERROR");
}

TEST(SocketIoDecodeReject, BinaryMissingDash) {
    expect_rejected("51[\"x\"]", "attachment");
    expect_rejected("5[\"x\"]", "attachment");
    expect_rejected("5-[\"x\"]", "attachment");
    expect_rejected("51", "attachment");
    expect_rejected("6", "attachment");
}

TEST(SocketIoDecodeReject, BinaryAttachmentCountTooLong) {
    expect_rejected("51234567-[\"x\"]", "attachment");
}

TEST(SocketIoDecodeReject, PlaceholderNumOutOfRange) {
    expect_rejected("51-[\"baz\",{\"_placeholder\":true,\"num\":1}]", "placeholder");
    expect_rejected("51-[\"baz\",{\"_placeholder\":true,\"num\":-1}]", "placeholder");
    expect_rejected("51-[\"baz\",{\"_placeholder\":true,\"num\":0.5}]", "placeholder");
    expect_rejected("51-[\"baz\",{\"_placeholder\":true}]", "placeholder");
}

TEST(SocketIoDecodeReject, PlaceholderDuplicated) {
    expect_rejected("52-[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]", "placeholder");
}

TEST(SocketIoDecodeReject, PlaceholderMissing) {
    expect_rejected("52-[\"baz\",{\"_placeholder\":true,\"num\":0}]", "placeholder");
    expect_rejected("51-[\"baz\"]", "placeholder");
    expect_rejected("61-3[]", "placeholder");
}

TEST(SocketIoDecodeReject, AckIdAbsurdlyLong) {
    expect_rejected("21234567890123456[\"x\"]", "ack id");
    expect_rejected("3123456789012345678901234567890[\"x\"]", "ack id");
}

// --- encode ----------------------------------------------------------------

TEST(SocketIoEncode, ExactBytes) {
    EXPECT_EQ(sb::sio::encode(make(PacketType::Connect, "/", -1, 0, "")), "0");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Connect, "/", -1, 0, "{\"sid\":\"abc\"}")), "0{\"sid\":\"abc\"}");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Connect, "/admin", -1, 0, "{\"sid\":\"abc\"}")),
              "0/admin,{\"sid\":\"abc\"}");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Disconnect, "/admin", -1, 0, "")), "1/admin,");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Event, "/", 12, 0, "[\"foo\"]")), "212[\"foo\"]");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Event, "/admin", 13, 0, "[\"bar\"]")), "2/admin,13[\"bar\"]");
    EXPECT_EQ(sb::sio::encode(make(PacketType::Ack, "/", 12, 0, "[\"bar\"]")), "312[\"bar\"]");
    EXPECT_EQ(sb::sio::encode(make(PacketType::ConnectError, "/random", -1, 0, "{\"message\":\"Invalid namespace\"}")),
              "4/random,{\"message\":\"Invalid namespace\"}");
    EXPECT_EQ(sb::sio::encode(make(PacketType::BinaryEvent, "/", -1, 1, "[\"baz\",{\"_placeholder\":true,\"num\":0}]")),
              "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    EXPECT_EQ(sb::sio::encode(make(PacketType::BinaryAck, "/admin", 5, 1, "[{\"_placeholder\":true,\"num\":0}]")),
              "61-/admin,5[{\"_placeholder\":true,\"num\":0}]");
    EXPECT_EQ(sb::sio::encode(make(PacketType::BinaryEvent, "/", -1, 0, "[\"e\"]")), "50-[\"e\"]");
}

TEST(SocketIoEncode, MessagePrefixesFour) {
    EXPECT_EQ(sb::sio::encode_message(make(PacketType::Connect, "/", -1, 0, "{\"sid\":\"s\"}")), "40{\"sid\":\"s\"}");
    EXPECT_EQ(sb::sio::encode_message(make(PacketType::Event, "/admin", 13, 0, "[\"bar\"]")), "42/admin,13[\"bar\"]");
    EXPECT_EQ(sb::sio::encode_message(make(PacketType::Disconnect, "/", -1, 0, "")), "41");
    EXPECT_EQ(sb::sio::encode_message(make(PacketType::BinaryAck, "/", 3, 2,
                                           "[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")),
              "462-3[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
}

TEST(SocketIoEncode, RoundTripsThroughDecode) {
    const std::vector<Packet> packets = {
        make(PacketType::Connect, "/", -1, 0, ""),
        make(PacketType::Connect, "/", -1, 0, "{\"token\":\"123\"}"),
        make(PacketType::Connect, "/admin", -1, 0, ""),
        make(PacketType::Connect, "/admin", -1, 0, "{\"a\":1}"),
        make(PacketType::Disconnect, "/", -1, 0, ""),
        make(PacketType::Disconnect, "/admin", -1, 0, ""),
        make(PacketType::Event, "/", -1, 0, "[\"foo\",1]"),
        make(PacketType::Event, "/", 0, 0, "[\"foo\"]"),
        make(PacketType::Event, "/", 12, 0, "[\"foo\"]"),
        make(PacketType::Event, "/admin", 13, 0, "[\"bar\",{\"x\":[1,2,null]},\"s\"]"),
        make(PacketType::Event, "/a/b", 999999999999999, 0, "[\"deep\"]"),
        make(PacketType::Ack, "/", 12, 0, "[\"bar\"]"),
        make(PacketType::Ack, "/admin", 0, 0, "[]"),
        make(PacketType::ConnectError, "/", -1, 0, "{\"message\":\"Not authorized\"}"),
        make(PacketType::ConnectError, "/random", -1, 0, "\"plain string\""),
        make(PacketType::BinaryEvent, "/", -1, 1, "[\"baz\",{\"_placeholder\":true,\"num\":0}]"),
        make(PacketType::BinaryEvent, "/admin", 42, 2,
             "[\"baz\",{\"_placeholder\":true,\"num\":1},[{\"_placeholder\":true,\"num\":0}]]"),
        make(PacketType::BinaryAck, "/admin", 5, 1, "[{\"_placeholder\":true,\"num\":0}]"),
        make(PacketType::BinaryAck, "/", 7, 0, "[]"),
    };
    for (const auto& p : packets) {
        std::string enc = sb::sio::encode(p);
        SCOPED_TRACE(enc);
        std::string error;
        auto back = sb::sio::decode(enc, error);
        ASSERT_TRUE(back.has_value()) << error;
        EXPECT_TRUE(same(*back, p)) << ::testing::PrintToString(*back) << " vs " << ::testing::PrintToString(p);
        // And the message form is exactly "4" + the packet.
        EXPECT_EQ(sb::sio::encode_message(p), "4" + enc);
    }
}

// --- split_event -----------------------------------------------------------

TEST(SocketIoSplitEvent, NameWithEscapesAndArgs) {
    auto e = sb::sio::split_event("[\"a\\\"b\",1,{\"x\":[1,2]}]");
    EXPECT_EQ(e.name, "a\"b");
    EXPECT_EQ(e.args_json, "[1,{\"x\":[1,2]}]");
}

TEST(SocketIoSplitEvent, NoArgs) {
    auto e = sb::sio::split_event("[\"foo\"]");
    EXPECT_EQ(e.name, "foo");
    EXPECT_EQ(e.args_json, "[]");
}

TEST(SocketIoSplitEvent, WhitespaceInside) {
    auto e = sb::sio::split_event(" [ \"foo\" , 1 , \"two\" ] ");
    EXPECT_EQ(e.name, "foo");
    EXPECT_TRUE(sb::sio::is_json_array(e.args_json)) << e.args_json;
    EXPECT_EQ(e.args_json, "[ 1 , \"two\" ] ");

    auto n = sb::sio::split_event("[\n\t\"foo\"\r\n]");
    EXPECT_EQ(n.name, "foo");
    EXPECT_EQ(n.args_json, "[]");
}

TEST(SocketIoSplitEvent, BackslashAtEndOfName) {
    auto e = sb::sio::split_event("[\"a\\\\\",\"b\"]");
    EXPECT_EQ(e.name, "a\\");
    EXPECT_EQ(e.args_json, "[\"b\"]");
}

TEST(SocketIoSplitEvent, UnicodeEscapesAndUtf8InName) {
    auto e = sb::sio::split_event("[\"\\u0041\xc3\xa9\\n\",true]");
    EXPECT_EQ(e.name, "A\xc3\xa9\n");
    EXPECT_EQ(e.args_json, "[true]");
}

TEST(SocketIoSplitEvent, FromDecodedPacket) {
    Packet p = decode_ok("2/admin,13[\"bar\",\"x\",[1,2]]");
    auto e = sb::sio::split_event(p.data);
    EXPECT_EQ(e.name, "bar");
    EXPECT_EQ(e.args_json, "[\"x\",[1,2]]");
}

// --- join_event ------------------------------------------------------------

TEST(SocketIoJoinEvent, BuildsArray) {
    EXPECT_EQ(sb::sio::join_event("foo", "[1,{\"x\":[1,2]}]"), std::optional<std::string>("[\"foo\",1,{\"x\":[1,2]}]"));
    EXPECT_EQ(sb::sio::join_event("foo", "[]"), std::optional<std::string>("[\"foo\"]"));
    EXPECT_EQ(sb::sio::join_event("foo", " [ ] "), std::optional<std::string>("[\"foo\"]"));
    EXPECT_EQ(sb::sio::join_event("foo", " [ 1 , 2 ] "), std::optional<std::string>("[\"foo\",1 , 2]"));
    EXPECT_EQ(sb::sio::join_event("a\"b", "[null]"), std::optional<std::string>("[\"a\\\"b\",null]"));
}

TEST(SocketIoJoinEvent, InverseOfSplit) {
    const std::string data = "[\"a\\\"b\",1,{\"x\":[1,2]}]";
    auto e = sb::sio::split_event(data);
    EXPECT_EQ(sb::sio::join_event(e.name, e.args_json), std::optional<std::string>(data));
}

TEST(SocketIoJoinEvent, RefusesNonArrays) {
    for (std::string bad : {"", "  ", "1", "\"x\"", "{}", "{\"a\":[]}", "null", "[", "]", "[1,", "1]"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(sb::sio::join_event("foo", bad).has_value());
    }
}

TEST(SocketIoJoinEvent, RefusesInvalidJsonBetweenBrackets) {
    // The contract: nullopt unless args_json is a valid JSON array.
    for (std::string bad : {"[1,]", "[1] [2]", "[}{]", "[\"unterminated]", "[1]x]"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(sb::sio::join_event("foo", bad).has_value());
    }
}

// --- json_quote ------------------------------------------------------------

TEST(SocketIoJsonQuote, Escapes) {
    EXPECT_EQ(sb::sio::json_quote(""), "\"\"");
    EXPECT_EQ(sb::sio::json_quote("plain"), "\"plain\"");
    EXPECT_EQ(sb::sio::json_quote("a\"b"), "\"a\\\"b\"");
    EXPECT_EQ(sb::sio::json_quote("a\\b"), "\"a\\\\b\"");
    EXPECT_EQ(sb::sio::json_quote("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(sb::sio::json_quote("\x01\x1f"), "\"\\u0001\\u001F\"");
    EXPECT_EQ(sb::sio::json_quote("a\0b"s), "\"a\\u0000b\"");
    EXPECT_EQ(sb::sio::json_quote("\xc3\xa9"), "\"\xc3\xa9\"");
}

TEST(SocketIoJsonQuote, ResultIsValidJson) {
    const std::string nasty = "q\"\\\x01\x7f\n/</script>";
    std::string wrapped = "[" + sb::sio::json_quote(nasty) + "]";
    EXPECT_TRUE(sb::sio::is_json_array(wrapped)) << wrapped;
    auto e = sb::sio::split_event(wrapped);
    EXPECT_EQ(e.name, nasty);
}

// --- is_json_array ---------------------------------------------------------

TEST(SocketIoIsJsonArray, True) {
    for (std::string ok : {"[]", "[1]", " [1, \"a\", {\"b\": [null, true]}] ", "\n[\n]\n", "[\"\xc3\xa9\"]", "[[[]]]"}) {
        SCOPED_TRACE(ok);
        EXPECT_TRUE(sb::sio::is_json_array(ok));
    }
}

TEST(SocketIoIsJsonArray, False) {
    for (std::string bad : {"", " ", "{}", "1", "\"[]\"", "null", "[", "[1,]", "[1] [2]", "[1]x", "[\"a]", "[01]",
                            "[1,2", "[}"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(sb::sio::is_json_array(bad));
    }
}

TEST(SocketIoIsJsonArray, InvalidUtf8IsFalse) {
    EXPECT_FALSE(sb::sio::is_json_array("[\"\xff\"]"));
    EXPECT_FALSE(sb::sio::is_json_array("[\"\xc3\"]"));
    EXPECT_FALSE(sb::sio::is_json_array("[\"\xed\xa0\x80\"]"));  // encoded surrogate
}

TEST(SocketIoIsJsonArray, NulByteIsNotEndOfInput) {
    EXPECT_FALSE(sb::sio::is_json_array("[1]\0x"s));
    EXPECT_FALSE(sb::sio::is_json_array("[1]\0"s));
}

// --- placeholders_match ----------------------------------------------------

TEST(SocketIoPlaceholders, Match) {
    EXPECT_TRUE(sb::sio::placeholders_match("[\"e\"]", 0));
    EXPECT_TRUE(sb::sio::placeholders_match("[\"e\",{\"_placeholder\":true,\"num\":0}]", 1));
    EXPECT_TRUE(sb::sio::placeholders_match(
        "[{\"x\":{\"_placeholder\":true,\"num\":1}},[{\"_placeholder\":true,\"num\":0}],{\"_placeholder\":true,\"num\":2}]",
        3));
    // A _placeholder that is not `true` is ordinary data.
    EXPECT_TRUE(sb::sio::placeholders_match("[{\"_placeholder\":false,\"num\":9}]", 0));
}

TEST(SocketIoPlaceholders, Mismatch) {
    EXPECT_FALSE(sb::sio::placeholders_match("[\"e\"]", 1));
    EXPECT_FALSE(sb::sio::placeholders_match("[{\"_placeholder\":true,\"num\":0}]", 0));
    EXPECT_FALSE(sb::sio::placeholders_match("[{\"_placeholder\":true,\"num\":1}]", 1));
    EXPECT_FALSE(sb::sio::placeholders_match(
        "[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]", 2));
    EXPECT_FALSE(sb::sio::placeholders_match("[{\"_placeholder\":true,\"num\":\"0\"}]", 1));
    EXPECT_FALSE(sb::sio::placeholders_match("[{\"_placeholder\":true}]", 1));
    EXPECT_FALSE(sb::sio::placeholders_match("[", 0));
}

}  // namespace
