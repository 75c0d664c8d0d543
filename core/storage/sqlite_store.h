// Module data in one SQLite file: the schema, the checks made when the file
// is opened, and the execution of a batch of requests in one transaction.
//
// Synchronous and single-threaded by design: the SQLite backend runs it on
// its storage thread, and unit tests drive it directly.
//
// Durability: WAL journal. With synchronous=FULL (the default) every commit
// fsyncs the WAL, so a committed batch survives a process kill and a power
// loss; synchronous=NORMAL survives a process kill (the WAL is in the page
// cache) but may lose the last commits on a power loss or kernel crash.
#pragma once

#include "sqlite_db.h"
#include "storage_op.h"

#include <memory>
#include <string>
#include <vector>

namespace sb::storage {

struct SqliteOptions {
    std::string path;            // the database file
    bool synchronous_full = true;
    bool integrity_check = true; // PRAGMA quick_check when opening
};

class SqliteStore {
public:
    // Opens or creates the database and its schema. Throws StorageError
    // naming the file and the reason (missing or unwritable directory, not a
    // database, corrupt, written by a newer version, ...).
    explicit SqliteStore(const SqliteOptions& options);
    ~SqliteStore();

    // Executes every request of `batch` in order, in one transaction, and
    // fills in their results. If the batch fails as a whole (I/O error, disk
    // full), it is rolled back and each request retried in a transaction of
    // its own, so one bad request does not fail its neighbours. Returns the
    // number of transactions committed.
    size_t execute(std::vector<StorageOpPtr>& batch, uint64_t now_ms);

    // Deletes key-value pairs expired at `now_ms`; returns how many.
    size_t purge_expired(uint64_t now_ms);

private:
    struct Statements;
    void run(StorageOp& op, uint64_t now_ms);
    void append(StorageOp& op, uint64_t now_ms);
    void read(StorageOp& op);
    void trim(StorageOp& op, uint64_t now_ms);
    void kv_get(StorageOp& op, uint64_t now_ms);
    void kv_scan(StorageOp& op, uint64_t now_ms);
    // The stream's internal id, or 0 when it has never been appended to.
    uint64_t find_stream(const StorageOp& op);
    bool run_in_transaction(std::vector<StorageOpPtr>& ops, size_t first, size_t count, uint64_t now_ms);

    std::string path_;
    std::unique_ptr<SqliteConnection> db_;
    std::unique_ptr<Statements> sql_;
};

// What `switchboard -t` checks, without creating or changing anything (it
// may run as another user than the server): the location, and for an
// existing file its header and identity. Throws StorageError.
void inspect_database(const std::string& path);

// The smallest string greater than every string starting with `prefix`
// (bytewise), or "" when there is none (prefix empty or all 0xFF bytes).
std::string prefix_upper_bound(const std::string& prefix);

}  // namespace sb::storage
