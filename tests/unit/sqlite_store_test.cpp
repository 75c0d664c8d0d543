// The SQLite storage: stream ids and ordering, idempotency, trimming, TTL,
// prefix scans with paging, scoping by module, reopening a file, refusing
// damaged files; and the threaded backend delivering results on the loop.
#include "storage/sqlite_backend.h"
#include "storage/sqlite_store.h"
#include "storage/storage_backend.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace sb::storage;

class TempDir {
public:
    TempDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "sb-storage-XXXXXX").string();
        path_ = mkdtemp(templ.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

StorageOpPtr op(OpKind kind, const std::string& name, const std::string& scope = "mod") {
    auto o = std::make_unique<StorageOp>();
    o->kind = kind;
    o->name = name;
    o->scope = scope;
    return o;
}

StorageOpPtr append(const std::string& stream, const std::string& data, const char* key = nullptr,
                    const std::string& scope = "mod") {
    auto o = op(OpKind::Append, stream, scope);
    o->data = data;
    if (key) {
        o->has_idempotency_key = true;
        o->idempotency_key = key;
    }
    return o;
}

class SqliteStoreTest : public ::testing::Test {
protected:
    TempDir dir;
    std::unique_ptr<SqliteStore> store = std::make_unique<SqliteStore>(SqliteOptions{dir.file("s.db")});
    uint64_t now = 1'000'000;

    // Executes `o` alone and returns it with its result.
    StorageOpPtr exec(StorageOpPtr o) {
        std::vector<StorageOpPtr> batch;
        batch.push_back(std::move(o));
        store->execute(batch, now);
        return std::move(batch.front());
    }

    std::vector<uint64_t> ids(const std::string& stream, uint64_t after = 0, uint64_t before = 0, size_t limit = 0,
                              bool newest_first = false) {
        auto r = op(OpKind::Read, stream);
        r->after_id = after;
        r->before_id = before;
        r->limit = limit;
        r->newest_first = newest_first;
        r = exec(std::move(r));
        EXPECT_EQ(r->status, SB_OK);
        std::vector<uint64_t> out;
        for (const auto& e : r->entries) out.push_back(e.id);
        return out;
    }
};

TEST_F(SqliteStoreTest, AppendAssignsIncreasingIdsPerStream) {
    EXPECT_EQ(exec(append("a", "x"))->entries.at(0).id, 1u);
    EXPECT_EQ(exec(append("a", "y"))->entries.at(0).id, 2u);
    EXPECT_EQ(exec(append("b", "z"))->entries.at(0).id, 1u);
    auto r = op(OpKind::Read, "a");
    r = exec(std::move(r));
    ASSERT_EQ(r->entries.size(), 2u);
    EXPECT_EQ(r->entries[0].data, "x");
    EXPECT_EQ(r->entries[1].data, "y");
    EXPECT_EQ(r->entries[0].ts_ms, now);
}

TEST_F(SqliteStoreTest, ReadsRangesInBothDirections) {
    for (int i = 0; i < 10; ++i) exec(append("s", std::to_string(i)));
    EXPECT_EQ(ids("s", 3, 7), (std::vector<uint64_t>{4, 5, 6}));
    EXPECT_EQ(ids("s", 0, 0, 3), (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_EQ(ids("s", 0, 0, 3, true), (std::vector<uint64_t>{10, 9, 8}));
    EXPECT_EQ(ids("s", 0, 8, 2, true), (std::vector<uint64_t>{7, 6}));
    EXPECT_EQ(ids("s", 10), std::vector<uint64_t>{});
    EXPECT_EQ(ids("never-written"), std::vector<uint64_t>{});
}

TEST_F(SqliteStoreTest, ReadLimitIsCappedAtAThousand) {
    std::vector<StorageOpPtr> batch;
    for (int i = 0; i < 1100; ++i) batch.push_back(append("big", "x"));
    store->execute(batch, now);
    EXPECT_EQ(ids("big", 0, 0, 0).size(), 1000u);
    EXPECT_EQ(ids("big", 0, 0, 5000).size(), 1000u);
    EXPECT_EQ(ids("big", 0, 0, 7).size(), 7u);
}

TEST_F(SqliteStoreTest, IdsAreNeverReusedAfterTrim) {
    for (int i = 0; i < 5; ++i) exec(append("s", "x"));
    auto t = op(OpKind::Trim, "s");
    t->max_count = 1;
    EXPECT_EQ(exec(std::move(t))->status, SB_OK);
    EXPECT_EQ(ids("s"), (std::vector<uint64_t>{5}));
    t = op(OpKind::Trim, "s");
    t->max_count = 0;
    t->max_age_ms = 1;
    now += 10;
    exec(std::move(t));
    EXPECT_EQ(ids("s"), std::vector<uint64_t>{});
    EXPECT_EQ(exec(append("s", "y"))->entries.at(0).id, 6u);
}

TEST_F(SqliteStoreTest, TrimByAgeKeepsRecentEntries) {
    exec(append("s", "old"));
    now += 5000;
    exec(append("s", "new"));
    auto t = op(OpKind::Trim, "s");
    t->max_age_ms = 1000;
    exec(std::move(t));
    EXPECT_EQ(ids("s"), (std::vector<uint64_t>{2}));
}

TEST_F(SqliteStoreTest, IdempotencyKeyReportsTheEarlierEntry) {
    auto first = exec(append("s", "hello", "k1"));
    EXPECT_FALSE(first->duplicate);
    exec(append("s", "other"));
    auto again = exec(append("s", "changed", "k1"));
    EXPECT_TRUE(again->duplicate);
    ASSERT_EQ(again->entries.size(), 1u);
    EXPECT_EQ(again->entries[0].id, first->entries[0].id);
    EXPECT_EQ(again->entries[0].data, "hello");
    EXPECT_EQ(ids("s").size(), 2u);
    // The same key in another stream is another entry.
    EXPECT_FALSE(exec(append("t", "hello", "k1"))->duplicate);
}

TEST_F(SqliteStoreTest, IdempotencyKeyWithinOneBatchStoresOnce) {
    std::vector<StorageOpPtr> batch;
    batch.push_back(append("s", "a", "same"));
    batch.push_back(append("s", "b", "same"));
    store->execute(batch, now);
    EXPECT_FALSE(batch[0]->duplicate);
    EXPECT_TRUE(batch[1]->duplicate);
    EXPECT_EQ(batch[1]->entries.at(0).id, batch[0]->entries.at(0).id);
    EXPECT_EQ(ids("s").size(), 1u);
}

TEST_F(SqliteStoreTest, TrimmedKeyCanBeUsedAgain) {
    exec(append("s", "a", "k"));
    exec(append("s", "b"));
    auto t = op(OpKind::Trim, "s");
    t->max_count = 1;
    exec(std::move(t));
    auto again = exec(append("s", "c", "k"));
    EXPECT_FALSE(again->duplicate);
    EXPECT_EQ(again->entries.at(0).id, 3u);
}

TEST_F(SqliteStoreTest, KeyValueSetGetDeleteAndTtl) {
    auto get = [&](const std::string& key) { return exec(op(OpKind::KvGet, key)); };
    auto set = op(OpKind::KvSet, "k");
    set->data = std::string("v\0w", 3);
    EXPECT_EQ(exec(std::move(set))->status, SB_OK);
    auto g = get("k");
    ASSERT_EQ(g->status, SB_OK);
    EXPECT_EQ(g->pairs.at(0).value, std::string("v\0w", 3));
    EXPECT_EQ(get("absent")->status, SB_ERR_NOT_FOUND);

    auto ttl = op(OpKind::KvSet, "short");
    ttl->data = "x";
    ttl->ttl_ms = 100;
    exec(std::move(ttl));
    EXPECT_EQ(get("short")->status, SB_OK);
    now += 100;
    EXPECT_EQ(get("short")->status, SB_ERR_NOT_FOUND);
    EXPECT_EQ(store->purge_expired(now), 1u);

    EXPECT_EQ(exec(op(OpKind::KvDelete, "k"))->status, SB_OK);
    EXPECT_EQ(get("k")->status, SB_ERR_NOT_FOUND);
    EXPECT_EQ(exec(op(OpKind::KvDelete, "k"))->status, SB_OK);
}

TEST_F(SqliteStoreTest, ScanByPrefixInKeyOrderWithPaging) {
    for (const char* k : {"user:3", "user:1", "user:2", "users", "usez", "other", "user:4"}) {
        auto s = op(OpKind::KvSet, k);
        s->data = k;
        if (std::string(k) == "user:4") s->ttl_ms = 1;
        exec(std::move(s));
    }
    now += 5;  // user:4 has expired
    auto scan = [&](const std::string& prefix, const std::string& after, size_t limit) {
        auto s = op(OpKind::KvScan, prefix);
        s->after_key = after;
        s->limit = limit;
        s = exec(std::move(s));
        std::vector<std::string> keys;
        for (const auto& p : s->pairs) keys.push_back(p.key);
        return keys;
    };
    EXPECT_EQ(scan("user:", "", 2), (std::vector<std::string>{"user:1", "user:2"}));
    EXPECT_EQ(scan("user:", "user:2", 2), (std::vector<std::string>{"user:3"}));
    EXPECT_EQ(scan("user", "", 0), (std::vector<std::string>{"user:1", "user:2", "user:3", "users"}));
    EXPECT_EQ(scan("", "users", 0), (std::vector<std::string>{"usez"}));
    EXPECT_EQ(scan("zzz", "", 0), std::vector<std::string>{});
}

TEST_F(SqliteStoreTest, ScopesKeepModulesApart) {
    exec(append("shared", "from a", nullptr, "a"));
    exec(append("shared", "from b", nullptr, "b"));
    auto r = op(OpKind::Read, "shared", "a");
    r = exec(std::move(r));
    ASSERT_EQ(r->entries.size(), 1u);
    EXPECT_EQ(r->entries[0].data, "from a");
    EXPECT_EQ(r->entries[0].id, 1u);
    auto set = op(OpKind::KvSet, "key", "a");
    set->data = "secret";
    exec(std::move(set));
    EXPECT_EQ(exec(op(OpKind::KvGet, "key", "b"))->status, SB_ERR_NOT_FOUND);
    EXPECT_TRUE(exec(op(OpKind::KvScan, "", "b"))->pairs.empty());
}

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
    exec(append("s", "kept", "key"));
    store.reset();
    store = std::make_unique<SqliteStore>(SqliteOptions{dir.file("s.db")});
    EXPECT_EQ(ids("s"), (std::vector<uint64_t>{1}));
    EXPECT_TRUE(exec(append("s", "again", "key"))->duplicate);
    EXPECT_EQ(exec(append("s", "next"))->entries.at(0).id, 2u);
}

TEST(SqliteStoreOpen, GarbageFileIsAClearError) {
    TempDir dir;
    const std::string path = dir.file("bad.db");
    std::ofstream(path) << std::string(8192, 'g');
    try {
        SqliteStore store(SqliteOptions{path});
        ADD_FAILURE() << "opened a garbage file";
    } catch (const StorageError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;
    }
    std::ifstream in(path);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, std::string(8192, 'g'));  // left untouched
}

TEST(SqliteStoreOpen, ParentThatIsAFileIsAClearError) {
    TempDir dir;
    std::ofstream(dir.file("plain")) << "x";
    const std::string path = dir.file("plain") + "/s.db";
    try {
        SqliteStore store(SqliteOptions{path});
        ADD_FAILURE() << "opened " << path;
    } catch (const StorageError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

TEST(SqliteStoreOpen, ForeignSqliteDatabaseIsRefused) {
    TempDir dir;
    const std::string path = dir.file("other.db");
    {
        SqliteConnection other(path);
        other.exec("CREATE TABLE accounts (id INTEGER)");
    }
    try {
        SqliteStore store(SqliteOptions{path});
        ADD_FAILURE() << "opened another application's database";
    } catch (const StorageError& e) {
        EXPECT_NE(std::string(e.what()).find("not a Switchboard database"), std::string::npos) << e.what();
    }
}

TEST(SqliteStoreOpen, CreatesMissingDirectory) {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("sub/dir/s.db")});
    EXPECT_TRUE(std::filesystem::exists(dir.file("sub/dir/s.db")));
}

TEST(SqliteStoreOpen, InspectionCreatesNothingAndFindsGarbage) {
    TempDir dir;
    inspect_database(dir.file("absent/s.db"));
    EXPECT_FALSE(std::filesystem::exists(dir.file("absent")));
    { SqliteStore store(SqliteOptions{dir.file("good.db")}); }
    inspect_database(dir.file("good.db"));
    std::ofstream(dir.file("bad.db")) << std::string(4096, 'x');
    EXPECT_THROW(inspect_database(dir.file("bad.db")), StorageError);
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.db-wal")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.db-shm")));
}

TEST(PrefixUpperBound, IncrementsTheLastByteThatCan) {
    EXPECT_EQ(prefix_upper_bound("abc"), "abd");
    EXPECT_EQ(prefix_upper_bound(""), "");
    EXPECT_EQ(prefix_upper_bound("a\xff"), "b");
    EXPECT_EQ(prefix_upper_bound("\xff\xff"), "");
}

TEST(SqliteBackend, CompletesOnTheLoopInOrderAndGroupsCommits) {
    TempDir dir;
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<uint64_t> completed;
    {
        SqliteBackend backend(&loop, SqliteOptions{dir.file("b.db")}, 100000);
        const int n = 500;
        for (int i = 0; i < n; ++i) {
            auto o = append("s", std::to_string(i));
            o->done = [&](StorageOp& r) {
                EXPECT_EQ(r.status, SB_OK);
                completed.push_back(r.entries.at(0).id);
            };
            ASSERT_TRUE(backend.submit(std::move(o)));
        }
        // The backend's handles do not keep a loop alive (the server's
        // listeners do); a timer stands in for them while waiting.
        uv_timer_t keepalive;
        uv_timer_init(&loop, &keepalive);
        uv_timer_start(&keepalive, [](uv_timer_t*) {}, 10, 10);
        while (completed.size() < static_cast<size_t>(n)) uv_run(&loop, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t*>(&keepalive), nullptr);
        for (int i = 0; i < n; ++i) EXPECT_EQ(completed[static_cast<size_t>(i)], static_cast<uint64_t>(i + 1));
        EXPECT_EQ(backend.stats().batch_ops_total, static_cast<uint64_t>(n));
        EXPECT_LT(backend.stats().batches_total, static_cast<uint64_t>(n));  // group commit
        EXPECT_EQ(backend.stats().queued, 0u);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(SqliteBackend, RefusesBeyondMaxQueued) {
    TempDir dir;
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        SqliteBackend backend(&loop, SqliteOptions{dir.file("q.db")}, 0);
        EXPECT_FALSE(backend.submit(append("s", "x")));
        EXPECT_EQ(backend.stats().rejected_total, 1u);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
