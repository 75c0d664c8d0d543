// Thin RAII wrappers over the SQLite C API: a connection and prepared
// statements that reset themselves after use. Errors become SqliteFailure
// carrying SQLite's own message, so callers decide what a failure means
// (a startup error, or one request answered with SB_ERR_INTERNAL).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sb::storage {

class SqliteFailure : public std::runtime_error {
public:
    SqliteFailure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

class SqliteStatement {
public:
    SqliteStatement() = default;
    SqliteStatement(sqlite3* db, const char* sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    SqliteStatement(SqliteStatement&& other) noexcept;
    SqliteStatement& operator=(SqliteStatement&& other) noexcept;

    // Binding positions are 1-based, as in SQL (?1, ?2, ...).
    SqliteStatement& bind(int index, std::string_view text);
    SqliteStatement& bind_blob(int index, std::string_view bytes);
    SqliteStatement& bind(int index, uint64_t value);  // stored as int64; clamped to INT64_MAX
    SqliteStatement& bind_null(int index);

    // True while a row is available; false when done. Throws on error.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    // Resets for the next use (also done by run() and at the end of rows).
    void reset();

    uint64_t column_u64(int index) const;
    std::string column_bytes(int index) const;
    std::string column_text(int index) const { return column_bytes(index); }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

class SqliteConnection {
public:
    // Opens (creating if absent) the database file for reading and writing;
    // with `inspect_only`, opens an existing file read-only without touching
    // it or creating its WAL files (the file is assumed not to change).
    explicit SqliteConnection(const std::string& path, bool inspect_only = false);
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    sqlite3* handle() const { return db_; }
    // Runs one or more statements that return nothing.
    void exec(const char* sql);
    // The first column of the first row of `sql`, as text ("" when none).
    std::string query_text(const char* sql);
    SqliteStatement prepare(const char* sql) { return SqliteStatement(db_, sql); }

private:
    sqlite3* db_ = nullptr;
};

}  // namespace sb::storage
