// The presence module's cluster bookkeeping, tested apart from any server:
// the union over other nodes changes exactly when the first node gains a
// user or the last one loses them, repeated or late facts change nothing,
// a snapshot replaces a node's facts without flicker, and peer messages
// survive a round trip while malformed ones are refused whole. These are the
// properties the exactly-once events of a cluster rest on.
#include "peer_messages.h"
#include "remote_nodes.h"

#include <gtest/gtest.h>

namespace presence {
namespace {

TEST(PresenceRemoteNodes, UnionChangesOnFirstAndLastNodeOnly) {
    RemoteNodes r;
    auto c = r.present("a", "/", "chat:1", "u", "\"name\":\"U\"");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_TRUE(c[0].present);
    EXPECT_TRUE(r.present("b", "/", "chat:1", "u", "").empty()) << "already present through node a";
    EXPECT_TRUE(r.present("a", "/", "chat:1", "u", "").empty()) << "a repeated fact changes nothing";
    EXPECT_TRUE(r.absent("a", "/", "chat:1", "u").empty()) << "still on node b";
    EXPECT_TRUE(r.absent("a", "/", "chat:1", "u").empty()) << "a repeated absence changes nothing";
    c = r.absent("b", "/", "chat:1", "u");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_FALSE(c[0].present);
    EXPECT_EQ(c[0].room, "chat:1");
    EXPECT_EQ(r.room("/", "chat:1"), nullptr);
    EXPECT_TRUE(r.absent("b", "/", "chat:1", "u").empty()) << "a late absence cannot change anything";
}

TEST(PresenceRemoteNodes, RoomsBelongToTheirNamespace) {
    RemoteNodes r;
    r.present("a", "/", "chat:1", "u", "");
    EXPECT_TRUE(r.has("/", "chat:1", "u"));
    EXPECT_FALSE(r.has("/other", "chat:1", "u"));
}

TEST(PresenceRemoteNodes, SnapshotReplacesWithoutFlicker) {
    RemoteNodes r;
    r.present("a", "/", "chat:1", "kept", "");
    r.present("a", "/", "chat:1", "dropped", "");
    r.online("a", "kept");
    r.online("a", "dropped");
    NodeFacts f;
    f.present.push_back({"/", "chat:1", "kept", ""});
    f.present.push_back({"/", "chat:2", "new", ""});
    f.online = {"kept", "new"};
    const auto c = r.replace("a", f);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].user, "dropped");
    EXPECT_FALSE(c[0].present);
    EXPECT_EQ(c[1].user, "new");
    EXPECT_TRUE(c[1].present);
    EXPECT_TRUE(r.online("kept"));
    EXPECT_TRUE(r.online("new"));
    EXPECT_FALSE(r.online("dropped"));
}

TEST(PresenceRemoteNodes, DropReportsWhatOnlyThatNodeHad) {
    RemoteNodes r;
    r.present("a", "/", "chat:1", "only-a", "");
    r.present("a", "/", "chat:1", "both", "");
    r.present("b", "/", "chat:1", "both", "");
    r.online("a", "only-a");
    r.online("a", "both");
    r.online("b", "both");
    std::vector<std::string> offline;
    const auto c = r.drop("a", offline);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].user, "only-a");
    EXPECT_EQ(offline, std::vector<std::string>{"only-a"});
    EXPECT_TRUE(r.has("/", "chat:1", "both"));
    offline.clear();
    EXPECT_TRUE(r.drop("a", offline).empty()) << "dropping twice changes nothing";
}

TEST(PresenceRemoteNodes, StaleUntilConfirmed) {
    RemoteNodes r;
    r.present("a", "/", "chat:1", "u", "");
    r.present("b", "/", "chat:1", "v", "");
    r.mark_all_stale();
    r.confirm("a");
    EXPECT_EQ(r.stale_nodes(), std::vector<std::string>{"b"});
}

TEST(PresencePeerMessages, RoundTrip) {
    auto m = parse_peer_message(present_message("/", "chat:1", "u\"1", "\"name\":\"Ü\""));
    EXPECT_EQ(m.type, PeerMessage::Type::Present);
    EXPECT_EQ(m.user, "u\"1");
    EXPECT_EQ(m.claims, "\"name\":\"Ü\"");
    m = parse_peer_message(absent_message("/", "chat:1", "u", 1767225600123));
    EXPECT_EQ(m.type, PeerMessage::Type::Absent);
    EXPECT_EQ(m.last_seen_ms, 1767225600123u);

    NodeFacts f;
    f.present.push_back({"/", "chat:1", "u", ""});
    f.online = {"u"};
    std::list<OnlineUsers::Seen> seen{{"v", 5, true}, {"w", 6, false}};
    m = parse_peer_message(snapshot_message(f, seen));
    ASSERT_EQ(m.type, PeerMessage::Type::Snapshot);
    ASSERT_EQ(m.facts.present.size(), 1u);
    EXPECT_EQ(m.facts.online, std::vector<std::string>{"u"});
    ASSERT_EQ(m.seen.size(), 2u);
    EXPECT_TRUE(m.seen[0].graced);
    EXPECT_FALSE(m.seen[1].graced);
}

TEST(PresencePeerMessages, MalformedIsRefusedWhole) {
    for (const char* bad : {
             "", "[]", "{\"v\":2,\"type\":\"resync\"}", "{\"type\":\"resync\"}", "{\"v\":1,\"type\":\"teleport\"}",
             "{\"v\":1,\"type\":\"present\",\"ns\":\"/\",\"room\":\"r\",\"user\":\"u\"}",
             "{\"v\":1,\"type\":\"present\",\"ns\":\"/\",\"room\":\"r\",\"user\":\"u\",\"claims\":\"\\\"a\\\":1},{\"}",
             "{\"v\":1,\"type\":\"absent\",\"ns\":\"/\",\"room\":\"r\",\"user\":\"u\",\"lastSeen\":-1}",
             "{\"v\":1,\"type\":\"snapshot\",\"present\":[[\"/\",\"r\",\"u\"]],\"online\":[],\"lastSeen\":[]}",
             "{\"v\":1,\"type\":\"snapshot\",\"present\":[],\"online\":[1],\"lastSeen\":[]}",
             "{\"v\":1,\"type\":\"snapshot\",\"present\":[],\"online\":[],\"lastSeen\":[[\"u\",1,true,4]]}",
         }) {
        EXPECT_THROW(parse_peer_message(bad), PeerMessageError) << bad;
    }
}

}  // namespace
}  // namespace presence
