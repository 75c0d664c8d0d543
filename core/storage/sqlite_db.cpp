// RAII wrappers over the SQLite C API (see sqlite_db.h).
#include "sqlite_db.h"

#include "encoding.h"

#include <cctype>
#include <cstdio>
#include <limits>
#include <utility>

namespace sb::storage {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc) {
    throw SqliteFailure(rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

// file:<path>?immutable=1 — SQLite then takes no locks and creates no -wal
// or -shm file. Every byte that could end or alter the path is escaped.
std::string immutable_uri(const std::string& path) {
    std::string uri = "file:";
    for (unsigned char ch : path) {
        if (std::isalnum(ch) || ch == '/' || ch == '.' || ch == '_' || ch == '-') {
            uri += static_cast<char>(ch);
        } else {
            uri += '%';
            append_hex(uri, ch);
        }
    }
    return uri + "?immutable=1";
}

}  // namespace

SqliteStatement::SqliteStatement(sqlite3* db, const char* sql) : db_(db) {
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc);
}

SqliteStatement::~SqliteStatement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
    if (this != &other) {
        if (stmt_) sqlite3_finalize(stmt_);
        db_ = std::exchange(other.db_, nullptr);
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view text) {
    int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind_blob(int index, std::string_view bytes) {
    // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
    static const char kEmpty = 0;
    int rc = sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, uint64_t value) {
    const uint64_t max = static_cast<uint64_t>(std::numeric_limits<sqlite3_int64>::max());
    int rc = sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value > max ? max : value));
    if (rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
    int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

bool SqliteStatement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
        reset();
        return false;
    }
    reset();
    fail(db_, rc);
}

void SqliteStatement::run() {
    while (step()) {
    }
}

void SqliteStatement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

uint64_t SqliteStatement::column_u64(int index) const {
    return static_cast<uint64_t>(sqlite3_column_int64(stmt_, index));
}

std::string SqliteStatement::column_bytes(int index) const {
    const void* p = sqlite3_column_blob(stmt_, index);
    const int n = sqlite3_column_bytes(stmt_, index);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

SqliteConnection::SqliteConnection(const std::string& path, bool inspect_only) {
    int rc = inspect_only ? sqlite3_open_v2(immutable_uri(path).c_str(), &db_,
                                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr)
                          : sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw SqliteFailure(rc, message);
    }
    sqlite3_extended_result_codes(db_, 1);
}

SqliteConnection::~SqliteConnection() {
    if (db_) sqlite3_close_v2(db_);
}

void SqliteConnection::exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string text = message ? message : sqlite3_errmsg(db_);
        sqlite3_free(message);
        throw SqliteFailure(rc, text);
    }
}

std::string SqliteConnection::query_text(const char* sql) {
    SqliteStatement s(db_, sql);
    std::string out;
    if (s.step()) {
        out = s.column_text(0);
        s.reset();
    }
    return out;
}

}  // namespace sb::storage
