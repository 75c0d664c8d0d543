// The throttle module's state, tested apart from any server: the tracked
// IPs and users stay within max_tracked_keys by evicting the least recently
// used unpinned key, never one with an open connection, and the sweep drops
// only keys idle long enough to have refilled; the limiter refuses an event
// without taking any token and enforces the connection limits; and the
// throttle/1 handover reads the exact bytes earlier versions wrote, maps
// buckets onto rules by pattern, and refuses (changing nothing) what it
// cannot read. A reload between two builds depends on the last point.
#include "throttle/limiter.h"
#include "throttle/state_codec.h"
#include "throttle/tracked_keys.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace throttle {
namespace {

constexpr int64_t kSecond = 1'000'000'000LL;

TEST(ThrottleTrackedKeys, AtTheLimitTheLeastRecentlyUsedKeyIsEvicted) {
    TrackedKeys keys(3, 60 * kSecond);
    TrackedKey& a = keys.lookup(false, "10.0.0.1", 1 * kSecond);
    keys.lookup(false, "10.0.0.2", 2 * kSecond);
    keys.lookup(true, "alice", 3 * kSecond);
    keys.touch(a, 4 * kSecond);  // now 10.0.0.2 is the least recently used
    keys.lookup(false, "10.0.0.4", 5 * kSecond);
    EXPECT_EQ(keys.size(), 3u);
    const auto order = keys.in_handover_order();
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(*order[0]->key, "alice");
    EXPECT_EQ(*order[1]->key, "10.0.0.1");
    EXPECT_EQ(*order[2]->key, "10.0.0.4");
    const KeyChanges c = keys.take_changes();
    EXPECT_EQ(c.added, 4u);
    EXPECT_EQ(c.evicted, 1u);
    EXPECT_EQ(c.expired, 0u);
    EXPECT_EQ(keys.take_changes().added, 0u) << "taken once";
}

TEST(ThrottleTrackedKeys, AKeyWithAConnectionIsNeverEvicted) {
    TrackedKeys keys(2, 60 * kSecond);
    TrackedKey& pinned = keys.attach(false, "10.0.0.1", 1 * kSecond);
    for (int i = 2; i < 10; ++i) keys.lookup(false, "10.0.0." + std::to_string(i), i * kSecond);
    EXPECT_EQ(keys.size(), 2u);
    EXPECT_EQ(pinned.connections, 1u);
    EXPECT_EQ(*keys.in_handover_order().front()->key, "10.0.0.1") << "pinned keys come first";
    // Its last connection closing puts it back on the list as the newest.
    keys.unpin(pinned, 20 * kSecond);
    EXPECT_EQ(pinned.last_ns, 20 * kSecond);
    keys.lookup(false, "10.0.0.99", 21 * kSecond);
    EXPECT_EQ(*keys.in_handover_order().front()->key, "10.0.0.1");
    EXPECT_EQ(keys.size(), 2u);
}

TEST(ThrottleTrackedKeys, PinningCountsConnections) {
    TrackedKeys keys(10, 60 * kSecond);
    TrackedKey& k = keys.attach(true, "alice", kSecond);
    keys.pin(k);
    keys.unpin(k, 2 * kSecond);
    EXPECT_FALSE(k.listed) << "one connection is still open";
    keys.unpin(k, 3 * kSecond);
    EXPECT_TRUE(k.listed);
    keys.unpin(k, 4 * kSecond);
    EXPECT_EQ(k.connections, 0u);
    EXPECT_EQ(k.last_ns, 3 * kSecond) << "an unbalanced unpin changes nothing";
}

TEST(ThrottleTrackedKeys, TheSweepDropsOnlyKeysIdleLongEnoughWithinItsBudget) {
    TrackedKeys keys(100, 10 * kSecond);
    for (int i = 0; i < 5; ++i) keys.lookup(false, "old" + std::to_string(i), kSecond);
    keys.attach(false, "pinned", kSecond);
    keys.lookup(false, "recent", 8 * kSecond);
    keys.take_changes();
    keys.expire_idle(11 * kSecond, 3);
    EXPECT_EQ(keys.size(), 4u) << "three dropped: the budget";
    keys.expire_idle(11 * kSecond, 100);
    EXPECT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys.take_changes().expired, 5u);
    keys.expire_idle(100 * kSecond, 100);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(*keys.in_handover_order().front()->key, "pinned");
}

TEST(ThrottleTrackedKeys, ReplacingAnIdleKeyAtTheLimitCountsAsExpired) {
    TrackedKeys keys(1, 10 * kSecond);
    keys.lookup(false, "a", kSecond);
    keys.lookup(false, "b", 20 * kSecond);
    const KeyChanges c = keys.take_changes();
    EXPECT_EQ(c.expired, 1u);
    EXPECT_EQ(c.evicted, 0u);
}

Settings settings_of(const char* json) { return parse_settings(json); }

TEST(ThrottleLimiter, ARefusedEventTakesNoTokenFromAnyBucket) {
    Limiter limiter(settings_of(R"({"default": {"socket": {"rate": 1, "burst": 5}, "user": {"rate": 1, "burst": 1}}})"));
    ASSERT_TRUE(limiter.connect(1, "10.0.0.1", "alice", kSecond));
    SocketState& s = *limiter.find(1);
    EXPECT_EQ(limiter.take_event(s, 0, kSecond), 0u);
    EXPECT_DOUBLE_EQ(s.buckets[0].tokens, 4.0);
    EXPECT_EQ(limiter.take_event(s, 0, kSecond), 1000u) << "the user's bucket is empty for 1 s";
    EXPECT_DOUBLE_EQ(s.buckets[0].tokens, 4.0) << "the socket's token was not taken";
}

TEST(ThrottleLimiter, ViolationsWithinTheWindowReachTheThreshold) {
    Limiter limiter(settings_of(R"({"disconnect_after_violations": 3, "violation_window_ms": 1000})"));
    ASSERT_TRUE(limiter.connect(1, "10.0.0.1", "", kSecond));
    SocketState& s = *limiter.find(1);
    EXPECT_FALSE(limiter.count_violation(s, kSecond));
    EXPECT_FALSE(limiter.count_violation(s, kSecond + kSecond / 2));
    EXPECT_FALSE(limiter.count_violation(s, 3 * kSecond)) << "the window closed: counting starts again";
    EXPECT_FALSE(limiter.count_violation(s, 3 * kSecond));
    EXPECT_TRUE(limiter.count_violation(s, 3 * kSecond));
}

TEST(ThrottleLimiter, ConnectionLimitsPerIpAndPerUser) {
    Limiter limiter(settings_of(R"({"max_connections_per_ip": 2, "max_connections_per_user": 1})"));
    EXPECT_TRUE(limiter.connect(1, "10.0.0.1", "alice", kSecond));
    EXPECT_FALSE(limiter.connect(2, "10.0.0.1", "alice", kSecond)) << "alice is at her limit";
    EXPECT_EQ(limiter.find(1)->ip->connections, 1u) << "the refused socket's IP slot was given back";
    EXPECT_TRUE(limiter.connect(3, "10.0.0.1", "", kSecond));
    EXPECT_FALSE(limiter.connect(4, "10.0.0.1", "bob", kSecond)) << "the IP is at its limit";
    EXPECT_EQ(limiter.find(4), nullptr);
    limiter.forget(1, 2 * kSecond);
    EXPECT_TRUE(limiter.connect(5, "10.0.0.1", "alice", 2 * kSecond)) << "a disconnect frees both slots";
}

TEST(ThrottleLimiter, HandshakesDrawFromTheIpsBucket) {
    Limiter limiter(settings_of(R"({"new_connections_per_ip": {"rate": 2, "burst": 2}})"));
    EXPECT_EQ(limiter.admit_handshake("10.0.0.1", kSecond), 0u);
    EXPECT_EQ(limiter.admit_handshake("10.0.0.1", kSecond), 0u);
    EXPECT_EQ(limiter.admit_handshake("10.0.0.1", kSecond), 500u);
    EXPECT_EQ(limiter.admit_handshake("10.0.0.2", kSecond), 0u) << "another IP has its own bucket";
    EXPECT_EQ(limiter.admit_handshake("10.0.0.1", kSecond + kSecond / 2), 0u);
}

// The throttle/1 layout, written field by field the way every version has.
class StateBytes {
public:
    StateBytes() { out_ = "throttle/1\n"; }
    template <typename T>
    StateBytes& put(T v) {
        out_.append(reinterpret_cast<const char*>(&v), sizeof v);
        return *this;
    }
    StateBytes& str(const std::string& s) {
        put<uint32_t>(static_cast<uint32_t>(s.size()));
        out_ += s;
        return *this;
    }
    StateBytes& bucket(double tokens, int64_t last_ns) { return put<double>(tokens).put<int64_t>(last_ns); }
    const std::string& bytes() const { return out_; }

private:
    std::string out_;
};

// Rules "*" and "chat:*"; the IP 10.0.0.1 pinned by socket 7 (user-less),
// and the user alice idle on the list.
StateBytes two_rule_state() {
    StateBytes b;
    b.put<uint32_t>(2).str("*").str("chat:*");
    b.put<uint32_t>(2);
    b.put<uint8_t>(0).str("10.0.0.1").put<int64_t>(5 * kSecond).bucket(3.5, 6 * kSecond);
    b.put<uint32_t>(2).bucket(1.25, 6 * kSecond).bucket(0.5, 7 * kSecond);
    b.put<uint8_t>(1).str("alice").put<int64_t>(8 * kSecond).bucket(0, 0);
    b.put<uint32_t>(0);
    b.put<uint32_t>(1);
    b.put<uint64_t>(7).put<uint8_t>(1).str("10.0.0.1").put<uint8_t>(0).put<uint64_t>(4).put<int64_t>(9 * kSecond);
    b.put<uint32_t>(2).bucket(2, 9 * kSecond).bucket(0.75, 9 * kSecond);
    return b;
}

constexpr const char* kTwoRules =
    R"({"events": {"chat:*": {"ip": {"rate": 1}}}, "new_connections_per_ip": {"rate": 1, "burst": 1}})";

TEST(ThrottleStateCodec, ReadsTheFirstVersionsBytesAndWritesThemBackUnchanged) {
    const std::string bytes = two_rule_state().bytes();
    Limiter limiter(settings_of(kTwoRules));
    import_state(bytes, limiter, 10 * kSecond);
    ASSERT_EQ(limiter.sockets().size(), 1u);
    const SocketState& s = *limiter.find(7);
    EXPECT_EQ(s.violations, 4u);
    EXPECT_EQ(s.window_start_ns, 9 * kSecond);
    ASSERT_EQ(s.buckets.size(), 2u);
    EXPECT_DOUBLE_EQ(s.buckets[1].tokens, 0.75);
    ASSERT_NE(s.ip, nullptr);
    EXPECT_EQ(*s.ip->key, "10.0.0.1");
    EXPECT_EQ(s.ip->connections, 1u) << "the socket pins its IP again";
    EXPECT_DOUBLE_EQ(s.ip->handshake.tokens, 3.5);
    EXPECT_DOUBLE_EQ(s.ip->buckets[1].tokens, 0.5);
    EXPECT_EQ(s.user, nullptr);
    EXPECT_EQ(limiter.keys().size(), 2u);
    EXPECT_EQ(limiter.keys().take_changes().added, 0u) << "handed-over keys are not new";
    EXPECT_EQ(export_state(limiter), bytes);
}

TEST(ThrottleStateCodec, BucketsFollowTheirRuleByPattern) {
    StateBytes b;
    b.put<uint32_t>(3).str("*").str("gone*").str("chat:*");
    b.put<uint32_t>(0);
    b.put<uint32_t>(1);
    b.put<uint64_t>(7).put<uint8_t>(0).put<uint8_t>(0).put<uint64_t>(0).put<int64_t>(0);
    b.put<uint32_t>(3).bucket(1, kSecond).bucket(2, kSecond).bucket(3, kSecond);
    Limiter limiter(settings_of(R"({"events": {"chat:*": {}, "new": {}}})"));
    import_state(b.bytes(), limiter, 10 * kSecond);
    const SocketState& s = *limiter.find(7);
    ASSERT_EQ(s.buckets.size(), 3u);
    EXPECT_DOUBLE_EQ(s.buckets[0].tokens, 1) << "*";
    EXPECT_DOUBLE_EQ(s.buckets[1].tokens, 3) << "chat:* moved from index 2 to 1";
    EXPECT_EQ(s.buckets[2].last_ns, 0) << "the new rule starts full";
}

TEST(ThrottleStateCodec, ARoundTripKeepsSocketsKeysAndBuckets) {
    Limiter before(settings_of(kTwoRules));
    ASSERT_TRUE(before.connect(1, "10.0.0.1", "alice", kSecond));
    ASSERT_TRUE(before.connect(2, "10.0.0.2", "", kSecond));
    before.admit_handshake("10.0.0.3", 2 * kSecond);
    EXPECT_EQ(before.take_event(*before.find(1), 1, 3 * kSecond), 0u);
    before.count_violation(*before.find(2), 3 * kSecond);
    Limiter after(settings_of(kTwoRules));
    import_state(export_state(before), after, 4 * kSecond);
    EXPECT_EQ(after.sockets().size(), 2u);
    EXPECT_EQ(after.keys().size(), 4u);
    EXPECT_EQ(*after.find(1)->user->key, "alice");
    EXPECT_DOUBLE_EQ(after.find(1)->ip->buckets[1].tokens, 0) << "the chat:* IP bucket of burst 1 stays empty";
    EXPECT_EQ(after.take_event(*after.find(1), 1, 4 * kSecond), 0u) << "refilled at 1/s by then";
    EXPECT_EQ(after.find(2)->violations, 1u);
    EXPECT_EQ(after.find(2)->user, nullptr);
    EXPECT_EQ(after.admit_handshake("10.0.0.3", 2 * kSecond + kSecond / 2), 500u) << "its token was taken before";
}

TEST(ThrottleStateCodec, KeysBeyondTheLimitAreEvictedOldestFirst) {
    StateBytes b;
    b.put<uint32_t>(1).str("*");
    b.put<uint32_t>(3);
    for (const auto& [key, at] : {std::pair{"b", 2}, std::pair{"c", 3}, std::pair{"a", 1}})
        b.put<uint8_t>(0).str(key).put<int64_t>(at * kSecond).bucket(0, 0).put<uint32_t>(0);
    b.put<uint32_t>(0);
    Limiter limiter(settings_of(R"({"max_tracked_keys": 2})"));
    import_state(b.bytes(), limiter, 10 * kSecond);
    const auto order = limiter.keys().in_handover_order();
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(*order[0]->key, "b");
    EXPECT_EQ(*order[1]->key, "c");
}

std::string import_error(const std::string& bytes, Limiter& limiter) {
    try {
        import_state(bytes, limiter, kSecond);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "imported";
}

TEST(ThrottleStateCodec, RefusesOtherFormatsAndTruncatedBytesChangingNothing) {
    Limiter limiter(settings_of(kTwoRules));
    EXPECT_EQ(import_error("throttle/2\n", limiter), "unrecognised throttle state (expected format throttle/1)");
    EXPECT_EQ(import_error("rooms/1\n{}", limiter), "unrecognised throttle state (expected format throttle/1)");
    const std::string whole = two_rule_state().bytes();
    for (size_t cut : {size_t{11}, size_t{20}, whole.size() / 2, whole.size() - 1})
        EXPECT_EQ(import_error(whole.substr(0, cut), limiter), "truncated or corrupt throttle state") << cut;
    EXPECT_EQ(import_error(whole + "x", limiter), "truncated or corrupt throttle state") << "trailing bytes";
    StateBytes huge;
    huge.put<uint32_t>(0xFFFFFFFF);
    EXPECT_EQ(import_error(huge.bytes(), limiter), "truncated or corrupt throttle state") << "a count the bytes cannot hold";
    EXPECT_EQ(limiter.sockets().size(), 0u);
    EXPECT_EQ(limiter.keys().size(), 0u);
}

}  // namespace
}  // namespace throttle
