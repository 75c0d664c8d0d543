// Module data in one SQLite file (see sqlite_store.h).
//
// Streams: `streams` holds one row per (module, stream) with the last id
// handed out, so ids keep increasing after a trim empties the stream.
// Entries sit in `stream_entries` with their idempotency key, written in the
// same statement as the entry, so "stored" and "key remembered" can never
// disagree. Key-value pairs carry an absolute expiry (0: never); expired
// pairs are filtered out of every read and deleted by purge_expired().
#include "sqlite_store.h"

#include "storage_backend.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

namespace sb::storage {
namespace {

// "SWBD": marks the file as ours, so pointing `storage.path` at another
// application's SQLite database is refused instead of written into.
constexpr int kApplicationId = 0x53574244;
constexpr int kSchemaVersion = 1;
constexpr uint64_t kNoUpperId = std::numeric_limits<int64_t>::max();

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS streams (
    sid INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    UNIQUE (scope, name));
CREATE TABLE IF NOT EXISTS stream_entries (
    sid INTEGER NOT NULL,
    id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    idempotency_key TEXT,
    data BLOB NOT NULL,
    PRIMARY KEY (sid, id));
CREATE UNIQUE INDEX IF NOT EXISTS stream_entries_by_key
    ON stream_entries (sid, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS stream_entries_by_time ON stream_entries (sid, ts_ms);
CREATE TABLE IF NOT EXISTS kv (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, key));
CREATE INDEX IF NOT EXISTS kv_by_expiry ON kv (expires_ms) WHERE expires_ms <> 0;
)sql";

size_t effective_limit(size_t limit) { return limit == 0 || limit > kMaxRows ? kMaxRows : limit; }

// Checks the directory and file with the operating system first: its
// reasons ("Permission denied", "Not a directory") are clearer than
// SQLite's "unable to open database file". A missing directory is created
// unless `inspect_only`.
void check_location(const std::string& path, bool inspect_only) {
    namespace fs = std::filesystem;
    const fs::path file(path);
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (inspect_only) return;
        fs::create_directories(dir, ec);
        if (ec) throw StorageError(path + ": cannot create the directory " + dir.string() + ": " + ec.message());
    }
    if (!fs::is_directory(dir, ec)) throw StorageError(path + ": " + dir.string() + " is not a directory");
    // The WAL and its index are files next to the database: the directory must be writable.
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        throw StorageError(path + ": the directory " + dir.string() + " is not writable: " + std::strerror(errno));
    if (fs::exists(file, ec)) {
        if (!fs::is_regular_file(file, ec)) throw StorageError(path + ": not a regular file");
        if (access(path.c_str(), R_OK | W_OK) != 0)
            throw StorageError(path + ": cannot open for reading and writing: " + std::strerror(errno));
    }
}

// Refuses files that are not ours or are newer than this code.
void check_identity(SqliteConnection& db, const std::string& path) {
    const std::string tables = db.query_text("SELECT count(*) FROM sqlite_master");
    const int app_id = std::stoi(db.query_text("PRAGMA application_id"));
    const int version = std::stoi(db.query_text("PRAGMA user_version"));
    if (app_id != 0 && app_id != kApplicationId)
        throw StorageError(path + ": not a Switchboard database (an SQLite file of another application)");
    if (app_id == 0 && tables != "0")
        throw StorageError(path + ": not a Switchboard database (an SQLite file with other tables)");
    if (version > kSchemaVersion)
        throw StorageError(path + ": written by a newer Switchboard (schema " + std::to_string(version) +
                           ", this one knows " + std::to_string(kSchemaVersion) + ")");
}

// SQLite's message plus what the operator can do about it.
StorageError open_failure(const std::string& path, const char* step, const SqliteFailure& e) {
    std::string hint;
    const int primary = e.code() & 0xff;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        hint = " (the file is damaged or not a database: restore a backup, or move it aside to start empty)";
    else if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM)
        hint = " (check the permissions of the file, its -wal and -shm files and their directory)";
    return StorageError(path + ": " + step + ": " + e.what() + hint);
}

}  // namespace

void inspect_database(const std::string& path) {
    check_location(path, true);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    try {
        SqliteConnection db(path, true);
        check_identity(db, path);
    } catch (const SqliteFailure& e) {
        throw open_failure(path, "reading the header", e);
    }
}

struct SqliteStore::Statements {
    explicit Statements(SqliteConnection& db)
        : stream_find(db.prepare("SELECT sid, last_id FROM streams WHERE scope = ?1 AND name = ?2")),
          stream_create(db.prepare("INSERT INTO streams (scope, name, last_id) VALUES (?1, ?2, 0)")),
          stream_bump(db.prepare("UPDATE streams SET last_id = ?2 WHERE sid = ?1")),
          entry_by_key(db.prepare("SELECT id, ts_ms, data FROM stream_entries WHERE sid = ?1 AND idempotency_key = ?2")),
          entry_insert(db.prepare(
              "INSERT INTO stream_entries (sid, id, ts_ms, idempotency_key, data) VALUES (?1, ?2, ?3, ?4, ?5)")),
          read_oldest(db.prepare("SELECT id, ts_ms, data FROM stream_entries WHERE sid = ?1 AND id > ?2 AND id < ?3 "
                                 "ORDER BY id ASC LIMIT ?4")),
          read_newest(db.prepare("SELECT id, ts_ms, data FROM stream_entries WHERE sid = ?1 AND id > ?2 AND id < ?3 "
                                 "ORDER BY id DESC LIMIT ?4")),
          trim_count(db.prepare("DELETE FROM stream_entries WHERE sid = ?1 AND id < "
                                "(SELECT id FROM stream_entries WHERE sid = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)")),
          trim_age(db.prepare("DELETE FROM stream_entries WHERE sid = ?1 AND ts_ms < ?2")),
          kv_get(db.prepare("SELECT value FROM kv WHERE scope = ?1 AND key = ?2 AND (expires_ms = 0 OR expires_ms > ?3)")),
          kv_set(db.prepare("INSERT INTO kv (scope, key, value, expires_ms) VALUES (?1, ?2, ?3, ?4) "
                            "ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms")),
          kv_delete(db.prepare("DELETE FROM kv WHERE scope = ?1 AND key = ?2")),
          // ?4 is the prefix's upper bound; a BLOB when there is none (any TEXT sorts before any BLOB).
          kv_scan(db.prepare("SELECT key, value FROM kv WHERE scope = ?1 AND key >= ?2 AND key > ?3 AND key < ?4 "
                             "AND (expires_ms = 0 OR expires_ms > ?5) ORDER BY key LIMIT ?6")),
          kv_purge(db.prepare("DELETE FROM kv WHERE expires_ms <> 0 AND expires_ms <= ?1")) {}

    SqliteStatement stream_find, stream_create, stream_bump, entry_by_key, entry_insert, read_oldest, read_newest,
        trim_count, trim_age, kv_get, kv_set, kv_delete, kv_scan, kv_purge;
};

SqliteStore::SqliteStore(const SqliteOptions& options) : path_(options.path) {
    check_location(path_, false);
    const char* step = "opening";
    try {
        db_ = std::make_unique<SqliteConnection>(path_);
        sqlite3_busy_timeout(db_->handle(), 5000);
        step = "reading the header";
        check_identity(*db_, path_);
        if (options.integrity_check) {
            step = "checking integrity";
            const std::string check = db_->query_text("PRAGMA quick_check");
            if (check != "ok") throw StorageError(path_ + ": the database is corrupt (quick_check: " + check + ")");
        }
        step = "switching to WAL";
        const std::string mode = db_->query_text("PRAGMA journal_mode = WAL");
        if (mode != "wal") throw StorageError(path_ + ": cannot use WAL journaling (journal mode stays '" + mode + "')");
        db_->exec(options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        step = "creating the schema";
        db_->exec("BEGIN IMMEDIATE");
        db_->exec(kSchema);
        db_->exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
        db_->exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
        db_->exec("COMMIT");
        sql_ = std::make_unique<Statements>(*db_);
    } catch (const SqliteFailure& e) {
        throw open_failure(path_, step, e);
    }
}

SqliteStore::~SqliteStore() = default;

size_t SqliteStore::execute(std::vector<StorageOpPtr>& batch, uint64_t now_ms) {
    if (batch.empty()) return 0;
    if (run_in_transaction(batch, 0, batch.size(), now_ms)) return 1;
    if (batch.size() == 1) return 0;
    size_t commits = 0;
    for (size_t i = 0; i < batch.size(); ++i) commits += run_in_transaction(batch, i, 1, now_ms) ? 1 : 0;
    return commits;
}

bool SqliteStore::run_in_transaction(std::vector<StorageOpPtr>& ops, size_t first, size_t count, uint64_t now_ms) {
    for (size_t i = first; i < first + count; ++i) ops[i]->clear_result();
    try {
        db_->exec("BEGIN IMMEDIATE");
        for (size_t i = first; i < first + count; ++i) run(*ops[i], now_ms);
        db_->exec("COMMIT");
        return true;
    } catch (const SqliteFailure& e) {
        if (!sqlite3_get_autocommit(db_->handle())) {
            try {
                db_->exec("ROLLBACK");
            } catch (const SqliteFailure&) {
                // Already rolled back by SQLite itself (e.g. after SQLITE_FULL).
            }
        }
        for (size_t i = first; i < first + count; ++i) {
            ops[i]->clear_result();
            ops[i]->status = SB_ERR_INTERNAL;
            ops[i]->error = path_ + ": " + e.what();
        }
        return false;
    }
}

size_t SqliteStore::purge_expired(uint64_t now_ms) {
    sql_->kv_purge.bind(1, now_ms).run();
    return static_cast<size_t>(sqlite3_changes(db_->handle()));
}

void SqliteStore::run(StorageOp& op, uint64_t now_ms) {
    switch (op.kind) {
        case OpKind::Append: append(op, now_ms); break;
        case OpKind::Read: read(op); break;
        case OpKind::Trim: trim(op, now_ms); break;
        case OpKind::KvGet: kv_get(op, now_ms); break;
        case OpKind::KvSet:
            sql_->kv_set.bind(1, op.scope).bind(2, op.name).bind_blob(3, op.data)
                .bind(4, op.ttl_ms ? now_ms + op.ttl_ms : 0).run();
            break;
        case OpKind::KvDelete: sql_->kv_delete.bind(1, op.scope).bind(2, op.name).run(); break;
        case OpKind::KvScan: kv_scan(op, now_ms); break;
    }
}

uint64_t SqliteStore::find_stream(const StorageOp& op) {
    auto& s = sql_->stream_find;
    s.bind(1, op.scope).bind(2, op.name);
    if (!s.step()) return 0;
    const uint64_t sid = s.column_u64(0);
    s.reset();
    return sid;
}

void SqliteStore::append(StorageOp& op, uint64_t now_ms) {
    auto& find = sql_->stream_find;
    find.bind(1, op.scope).bind(2, op.name);
    if (!find.step()) {
        sql_->stream_create.bind(1, op.scope).bind(2, op.name).run();
        find.bind(1, op.scope).bind(2, op.name);
        if (!find.step()) throw SqliteFailure(SQLITE_INTERNAL, "stream row missing after insert");
    }
    const uint64_t sid = find.column_u64(0);
    const uint64_t last_id = find.column_u64(1);
    find.reset();
    if (op.has_idempotency_key) {
        auto& by_key = sql_->entry_by_key;
        by_key.bind(1, sid).bind(2, op.idempotency_key);
        if (by_key.step()) {
            op.duplicate = true;
            op.entries.push_back({by_key.column_u64(0), by_key.column_u64(1), by_key.column_bytes(2)});
            by_key.reset();
            return;
        }
    }
    const uint64_t id = last_id + 1;
    sql_->stream_bump.bind(1, sid).bind(2, id).run();
    auto& insert = sql_->entry_insert;
    insert.bind(1, sid).bind(2, id).bind(3, now_ms);
    if (op.has_idempotency_key) insert.bind(4, op.idempotency_key);
    else insert.bind_null(4);
    insert.bind_blob(5, op.data).run();
    op.entries.push_back({id, now_ms, op.data});
}

void SqliteStore::read(StorageOp& op) {
    const uint64_t sid = find_stream(op);
    if (sid == 0) return;
    auto& s = op.newest_first ? sql_->read_newest : sql_->read_oldest;
    s.bind(1, sid).bind(2, op.after_id).bind(3, op.before_id ? op.before_id : kNoUpperId)
        .bind(4, static_cast<uint64_t>(effective_limit(op.limit)));
    while (s.step()) op.entries.push_back({s.column_u64(0), s.column_u64(1), s.column_bytes(2)});
}

void SqliteStore::trim(StorageOp& op, uint64_t now_ms) {
    const uint64_t sid = find_stream(op);
    if (sid == 0) return;
    if (op.max_count > 0) sql_->trim_count.bind(1, sid).bind(2, op.max_count - 1).run();
    if (op.max_age_ms > 0 && now_ms > op.max_age_ms) sql_->trim_age.bind(1, sid).bind(2, now_ms - op.max_age_ms).run();
}

void SqliteStore::kv_get(StorageOp& op, uint64_t now_ms) {
    auto& s = sql_->kv_get;
    s.bind(1, op.scope).bind(2, op.name).bind(3, now_ms);
    if (!s.step()) {
        op.status = SB_ERR_NOT_FOUND;
        return;
    }
    op.pairs.push_back({op.name, s.column_bytes(0)});
    s.reset();
}

void SqliteStore::kv_scan(StorageOp& op, uint64_t now_ms) {
    auto& s = sql_->kv_scan;
    const std::string upper = prefix_upper_bound(op.name);
    s.bind(1, op.scope).bind(2, op.name).bind(3, op.after_key);
    if (upper.empty()) s.bind_blob(4, "");
    else s.bind(4, upper);
    s.bind(5, now_ms).bind(6, static_cast<uint64_t>(effective_limit(op.limit)));
    while (s.step()) op.pairs.push_back({s.column_text(0), s.column_bytes(1)});
}

std::string prefix_upper_bound(const std::string& prefix) {
    std::string upper = prefix;
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xFF) upper.pop_back();
    if (!upper.empty()) upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    return upper;
}

}  // namespace sb::storage
