// The byte layout nodes exchange: what one node encodes another decodes to
// the same thing, and bytes that are not ours are refused, never trusted.
#include "cluster/cluster_message.h"

#include <gtest/gtest.h>

namespace {

using namespace sb::cluster;

Delivery sample() {
    Delivery d;
    d.origin = "Ab3dEf.2";
    d.seq = 1234567890123ull;
    d.ns = "/chat";
    d.rooms = {"room:1", "room \xE2\x9C\x93"};
    d.users = {"u42"};
    d.except_rooms = {"muted"};
    d.except_users = {};
    d.frames = {{false, "451-/chat,[\"file\",{\"_placeholder\":true,\"num\":0}]"}, {true, std::string("\x00\x01\xff", 3)}};
    return d;
}

TEST(ClusterMessage, DeliveryRoundTrips) {
    const Delivery d = sample();
    const std::string bytes = encode(d);
    EXPECT_EQ(message_kind(bytes), 'D');
    auto back = decode_delivery(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->origin, d.origin);
    EXPECT_EQ(back->seq, d.seq);
    EXPECT_EQ(back->ns, d.ns);
    EXPECT_EQ(back->rooms, d.rooms);
    EXPECT_EQ(back->users, d.users);
    EXPECT_EQ(back->except_rooms, d.except_rooms);
    EXPECT_TRUE(back->except_users.empty());
    ASSERT_EQ(back->frames.size(), 2u);
    EXPECT_FALSE(back->frames[0].binary);
    EXPECT_EQ(back->frames[0].bytes, d.frames[0].bytes);
    EXPECT_TRUE(back->frames[1].binary);
    EXPECT_EQ(back->frames[1].bytes, d.frames[1].bytes);
}

TEST(ClusterMessage, ModuleMessageAndDisconnectRoundTrip) {
    auto m = decode_module_message(encode(ModuleMessage{"n.1", "presence", std::string("{\"v\":1}\0x", 9)}));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->module, "presence");
    EXPECT_EQ(m->payload.size(), 9u);
    auto x = decode_disconnect(encode(DisconnectRequest{"n.1", "/", "u7", ""}));
    ASSERT_TRUE(x);
    EXPECT_EQ(x->user, "u7");
    EXPECT_EQ(x->ns, "/");
}

TEST(ClusterMessage, EveryTruncationIsRefused) {
    const std::string bytes = encode(sample());
    for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_delivery(bytes.substr(0, n))) << "length " << n;
    EXPECT_FALSE(decode_delivery(bytes + "x")) << "trailing bytes";
}

TEST(ClusterMessage, ForeignBytesAreRefused) {
    EXPECT_EQ(message_kind("hello world"), 0);
    EXPECT_EQ(message_kind(""), 0);
    EXPECT_FALSE(decode_delivery("D\x02rest"));  // another version
    EXPECT_FALSE(decode_module_message(encode(sample())));
    // A count claiming four billion rooms must not make the decoder reserve them.
    std::string bogus = encode(sample()).substr(0, 2 + 4 + 8 + 8 + 4 + 5);
    bogus += std::string("\xff\xff\xff\xff", 4);
    EXPECT_FALSE(decode_delivery(bogus));
}

TEST(ClusterMessage, DeliveryWithoutFramesIsRefused) {
    Delivery d = sample();
    d.frames.clear();
    EXPECT_FALSE(decode_delivery(encode(d)));
}

}  // namespace
