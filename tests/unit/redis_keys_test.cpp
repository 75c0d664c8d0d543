// The Redis storage layout: key names (one hash tag per stream and per
// module's key-value map, no collisions between modules and names) and the
// translation of read and scan bounds into Redis range arguments, which must
// select exactly what the SQLite queries select.
#include "storage/redis_keys.h"
#include "storage/redis_scripts.h"

#include <gtest/gtest.h>

#include <limits>

namespace {

using namespace sb::storage;

TEST(RedisKeys, StreamKeysShareOneHashTag) {
    const auto k = stream_keys("switchboard", "chat", "/\nchat:general");
    EXPECT_EQ(k.seq, "switchboard:storage:stream:{chat:/\nchat:general}:seq");
    EXPECT_EQ(k.log, "switchboard:storage:stream:{chat:/\nchat:general}:log");
    EXPECT_EQ(k.idem, "switchboard:storage:stream:{chat:/\nchat:general}:idem");
}

TEST(RedisKeys, ModuleAndNameNeverCollide) {
    // Module names hold no ':', so the first ':' inside the braces ends it.
    EXPECT_NE(stream_keys("p", "a", "b:c").log, stream_keys("p", "a-b", "c").log);
    // A name ending like a suffix does not make another stream's key.
    EXPECT_NE(stream_keys("p", "m", "x}:log").seq, stream_keys("p", "m", "x").log);
    const auto kv = kv_keys("p", "notifications");
    EXPECT_EQ(kv.values, "p:storage:kv:{notifications}:values");
    EXPECT_EQ(kv.index, "p:storage:kv:{notifications}:index");
    EXPECT_EQ(kv.expiry, "p:storage:kv:{notifications}:expiry");
}

TEST(RedisKeys, ReadRangeIsExclusiveOfBothIds) {
    auto r = read_range(0, 0);
    EXPECT_FALSE(r.empty);
    EXPECT_EQ(r.start, "0-1");
    EXPECT_EQ(r.end, "+");
    r = read_range(1, 4);
    EXPECT_EQ(r.start, "0-2");
    EXPECT_EQ(r.end, "0-3");
    EXPECT_TRUE(read_range(0, 1).empty);
    EXPECT_TRUE(read_range(3, 4).empty);
    EXPECT_TRUE(read_range(5, 2).empty);
    EXPECT_FALSE(read_range(3, 5).empty);
    EXPECT_TRUE(read_range(std::numeric_limits<uint64_t>::max(), 0).empty);
}

TEST(RedisKeys, ScanRangeStartsAtThePrefixOrAfterTheLastKey) {
    auto r = scan_range("", "");
    EXPECT_EQ(r.min, "-");
    EXPECT_EQ(r.max, "+");
    r = scan_range("user:", "");
    EXPECT_EQ(r.min, "[user:");
    EXPECT_EQ(r.max, "(user;");
    r = scan_range("user:", "user:2");
    EXPECT_EQ(r.min, "(user:2");
    // A continuation key before the prefix does not widen the range.
    r = scan_range("user:", "a");
    EXPECT_EQ(r.min, "[user:");
    r = scan_range("", "k");
    EXPECT_EQ(r.min, "(k");
    EXPECT_EQ(scan_range("\xff", "").max, "+");
}

TEST(RedisScripts, EachScriptHasItsOwnLowerCaseSha1) {
    // Whether Redis computes the same digest is checked end to end: the
    // e2e tests count EVALSHA calls that did not need the EVAL fallback.
    const RedisScript* all[] = {&append_script(), &trim_script(), &kv_get_script(),
                                &kv_set_script(), &kv_delete_script(), &kv_scan_script()};
    for (const RedisScript* a : all) {
        EXPECT_EQ(a->sha1.size(), 40u);
        EXPECT_EQ(a->sha1.find_first_not_of("0123456789abcdef"), std::string::npos);
        for (const RedisScript* b : all) {
            if (a != b) {
                EXPECT_NE(a->sha1, b->sha1);
            }
        }
    }
}

}  // namespace
