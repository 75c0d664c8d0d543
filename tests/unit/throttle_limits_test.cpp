// The throttle module's arithmetic and configuration, tested apart from any
// server: token buckets refill at their rate up to their burst and name the
// wait until the next token; the configuration's key table and its parser
// agree, errors name the offending path, and an event name finds its rule
// (exact name, longest prefix, default) through a bounded cache.
#include "throttle/buckets.h"
#include "throttle/rule_cache.h"
#include "throttle/settings.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace throttle {
namespace {

constexpr int64_t kSecond = 1'000'000'000LL;

TEST(ThrottleBuckets, AnUnusedBucketIsFullThenRefillsAtItsRateUpToItsBurst) {
    const Limit l{5, 3};  // 5 per second, burst 3
    Bucket b;
    EXPECT_DOUBLE_EQ(refill(b, l, 10 * kSecond), 3.0);
    for (int i = 0; i < 3; ++i) take_token(b);
    EXPECT_DOUBLE_EQ(refill(b, l, 10 * kSecond), 0.0);
    EXPECT_FALSE(holds_token(b.tokens));
    // 1/rate later exactly one token is back, whatever the rounding.
    EXPECT_TRUE(holds_token(refill(b, l, 10 * kSecond + kSecond / 5)));
    EXPECT_NEAR(b.tokens, 1.0, 1e-6);
    // A long pause fills it up to the burst, not beyond.
    EXPECT_DOUBLE_EQ(refill(b, l, 100 * kSecond), 3.0);
    // A clock that does not advance adds nothing.
    take_token(b);
    EXPECT_DOUBLE_EQ(refill(b, l, 100 * kSecond), 2.0);
}

TEST(ThrottleBuckets, ALowerBurstCutsAFullerBucketDown) {
    Bucket b{10, 5 * kSecond};
    EXPECT_DOUBLE_EQ(refill(b, Limit{1, 4}, 5 * kSecond), 4.0);
}

TEST(ThrottleBuckets, TakingFromAnEmptyBucketLeavesItEmpty) {
    Bucket b{0.5, kSecond};
    take_token(b);
    EXPECT_DOUBLE_EQ(b.tokens, 0.0);
}

TEST(ThrottleBuckets, RetryIsTheTimeUntilOneTokenRoundedUpToAMillisecond) {
    EXPECT_EQ(retry_ms(0.0, Limit{5, 3}), 200u);
    EXPECT_EQ(retry_ms(0.5, Limit{5, 3}), 100u);
    EXPECT_EQ(retry_ms(0.0, Limit{0.5, 1}), 2000u);
    EXPECT_EQ(retry_ms(0.9999999, Limit{1000, 1}), 1u) << "never 0: the client must wait for something";
    EXPECT_EQ(retry_ms(0.0, Limit{1e-15, 1}), 1'000'000'000'000ULL) << "capped";
}

TEST(ThrottleBuckets, FillTimeIsBurstOverRateCappedAtADay) {
    EXPECT_EQ((Limit{20, 40}).fill_ns(), 2 * kSecond);
    EXPECT_EQ((Limit{0.001, 1000}).fill_ns(), kMaxIdleNs);
    EXPECT_EQ((Limit{}).fill_ns(), 0);
}

TEST(ThrottleSettings, DefaultsLimitSocketsAndUsersButNotIps) {
    const Settings s = parse_settings("{}");
    ASSERT_EQ(s.rules.size(), 1u);
    EXPECT_EQ(s.rules[0].pattern, "*");
    EXPECT_DOUBLE_EQ(s.rules[0].limits[kSocket].rate, 20);
    EXPECT_DOUBLE_EQ(s.rules[0].limits[kSocket].burst, 40);
    EXPECT_DOUBLE_EQ(s.rules[0].limits[kUser].rate, 50);
    EXPECT_DOUBLE_EQ(s.rules[0].limits[kUser].burst, 100);
    EXPECT_FALSE(s.rules[0].limits[kIp].enabled());
    EXPECT_FALSE(s.handshake.enabled());
    EXPECT_EQ(s.disconnect_after_violations, 50u);
    EXPECT_EQ(s.violation_window_ns, 10 * kSecond);
    EXPECT_EQ(s.max_tracked_keys, 100000u);
    EXPECT_EQ(s.sweep_interval_ms, 10000u);
    EXPECT_EQ(s.idle_ns, 2 * kSecond) << "the slowest default bucket fills in 2 s";
}

// Every key of the table the host checks configurations against is read by
// the parser: a key declared but ignored would be accepted and do nothing.
TEST(ThrottleSettings, EveryDeclaredKeyIsRead) {
    const std::string json = R"({
        "default": {"socket": {"rate": 1, "burst": 2}},
        "events": {"chat:*": {"user": {"rate": 3}}},
        "disconnect_after_violations": 7,
        "violation_window_ms": 1500,
        "new_connections_per_ip": {"rate": 2, "burst": 10},
        "max_connections_per_ip": 11,
        "max_connections_per_user": 12,
        "max_tracked_keys": 13,
        "sweep_interval_ms": 14})";
    for (const sb_config_key& key : kConfigKeys)
        EXPECT_NE(json.find("\"" + std::string(key.name) + "\""), std::string::npos) << key.name;
    const Settings s = parse_settings(json);
    EXPECT_DOUBLE_EQ(s.rules[0].limits[kSocket].burst, 2);
    EXPECT_FALSE(s.rules[0].limits[kUser].enabled()) << "a default that is set replaces the whole default";
    ASSERT_EQ(s.rules.size(), 2u);
    EXPECT_EQ(s.rules[1].pattern, "chat:*");
    EXPECT_DOUBLE_EQ(s.rules[1].limits[kUser].burst, 3) << "burst defaults to the rate rounded up";
    EXPECT_EQ(s.disconnect_after_violations, 7u);
    EXPECT_EQ(s.violation_window_ns, 1500'000'000LL);
    EXPECT_DOUBLE_EQ(s.handshake.burst, 10);
    EXPECT_EQ(s.max_connections_per_ip, 11u);
    EXPECT_EQ(s.max_connections_per_user, 12u);
    EXPECT_EQ(s.max_tracked_keys, 13u);
    EXPECT_EQ(s.sweep_interval_ms, 14u);
    EXPECT_EQ(s.idle_ns, 5 * kSecond) << "the handshake bucket takes longest to fill";
}

std::string refusal_of(const std::string& json) {
    try {
        parse_settings(json);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "accepted";
}

TEST(ThrottleSettings, ErrorsNameTheirPath) {
    EXPECT_EQ(refusal_of(R"({"events": {"chat:*": {"socket": {"rate": 0}}}})"),
              "events.chat:*.socket.rate: expected a number above 0 (per second)");
    EXPECT_EQ(refusal_of(R"({"events": {"a*b": {}}})"), "events.a*b: '*' may only end a pattern");
    EXPECT_EQ(refusal_of(R"({"events": {"*": {}}})"),
              "events.*: a pattern needs a name or a prefix (the limits of all other events are `default`)");
    EXPECT_EQ(refusal_of(R"({"default": {"sockets": {"rate": 1}}})"),
              "default.sockets: unknown key (known keys: socket, user, ip)");
    EXPECT_EQ(refusal_of(R"({"default": {"ip": {"rate": 1, "size": 2}}})"),
              "default.ip.size: unknown key (known keys: rate, burst)");
    EXPECT_EQ(refusal_of(R"({"new_connections_per_ip": {"rate": 1, "burst": 0.5}})"),
              "new_connections_per_ip.burst: expected a number of at least 1");
    EXPECT_EQ(refusal_of(R"({"max_tracked_keys": 0})"), "max_tracked_keys: expected an integer of at least 1");
    EXPECT_EQ(refusal_of(R"({"sweep_interval_ms": 86400001})"),
              "violation_window_ms and sweep_interval_ms are at most one day (86400000)");
    EXPECT_EQ(refusal_of("[]"), "the configuration is not a JSON object");
    EXPECT_EQ(refusal_of(R"({"default": {"user": null}})"), "accepted") << "null: explicitly unlimited";
}

TEST(ThrottleSettings, AnExactNameWinsThenTheLongestPrefixThenTheDefault) {
    const Settings s = parse_settings(R"({"events": {"chat:*": {}, "chat:typing": {}, "chat:room:*": {}, "c*": {}}})");
    auto pattern_of = [&](const char* name) { return s.rules[s.match(name)].pattern; };
    EXPECT_EQ(pattern_of("chat:typing"), "chat:typing");
    EXPECT_EQ(pattern_of("chat:room:join"), "chat:room:*");
    EXPECT_EQ(pattern_of("chat:send"), "chat:*");
    EXPECT_EQ(pattern_of("cat"), "c*");
    EXPECT_EQ(pattern_of("message"), "*");
    EXPECT_EQ(pattern_of("chat:"), "chat:*") << "an empty rest matches a prefix";
}

TEST(ThrottleRuleCache, RemembersABoundedNumberOfShortNames) {
    const Settings s = parse_settings(R"({"events": {"a*": {}}})");
    RuleCache cache(s);
    EXPECT_EQ(cache.rule_for("abc"), 1u);
    EXPECT_EQ(cache.rule_for("xyz"), 0u);
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.rule_for(std::string(kMaxCachedNameLength + 1, 'a')), 1u) << "matched, not remembered";
    EXPECT_EQ(cache.size(), 2u);
    for (size_t i = 0; i < kMaxCachedNames + 10; ++i) cache.rule_for("n" + std::to_string(i));
    EXPECT_EQ(cache.size(), kMaxCachedNames);
    EXPECT_EQ(cache.rule_for("a-late-name"), 1u) << "names beyond the cache still find their rule";
}

TEST(ThrottleRuleCache, OnlyTheDefaultCachesNothing) {
    const Settings s = parse_settings("{}");
    RuleCache cache(s);
    EXPECT_EQ(cache.rule_for("anything"), 0u);
    EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace throttle
