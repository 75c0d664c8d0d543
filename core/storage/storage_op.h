// One storage request and, once executed, its result: the unit that travels
// from the loop thread to a storage backend and back.
//
// It is plain data (strings and numbers, no module pointers) so a backend can
// execute it on another thread or ship it over a network; the loop-side
// completion is a closure the backend runs on the loop thread when done.
#pragma once

#include <switchboard/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sb::storage {

enum class OpKind { Append, Read, Trim, KvGet, KvSet, KvDelete, KvScan };

struct StoredEntry {
    uint64_t id = 0;
    uint64_t ts_ms = 0;
    std::string data;
};

struct StoredKeyValue {
    std::string key;
    std::string value;
};

// Reads and scans return at most this many rows (module.h: "0 or more than 1000 means 1000").
constexpr size_t kMaxRows = 1000;

struct StorageOp {
    OpKind kind = OpKind::Read;
    std::string scope;  // the calling module's name: every name lives inside it
    std::string name;   // stream name, key, or (KvScan) key prefix

    // Append: the idempotency key (when has_idempotency_key) and the payload.
    // KvSet: the value. KvScan: the key to continue after ("" from the first).
    bool has_idempotency_key = false;
    std::string idempotency_key;
    std::string data;
    std::string after_key;

    uint64_t after_id = 0;       // Read
    uint64_t before_id = 0;      // Read (0: no upper bound)
    size_t limit = kMaxRows;     // Read, KvScan
    bool newest_first = false;   // Read
    uint64_t max_count = 0;      // Trim (0: no count limit)
    uint64_t max_age_ms = 0;     // Trim (0: no age limit)
    uint64_t ttl_ms = 0;         // KvSet (0: never expires)

    // Result, filled by the backend.
    sb_status status = SB_OK;
    bool duplicate = false;              // Append: an entry with the key existed
    std::vector<StoredEntry> entries;    // Append (one), Read
    std::vector<StoredKeyValue> pairs;   // KvGet (one), KvScan
    std::string error;                   // why status is SB_ERR_INTERNAL, for the log

    // Runs on the loop thread after the result is final.
    std::function<void(StorageOp&)> done;

    bool is_write() const { return kind == OpKind::Append || kind == OpKind::Trim || kind == OpKind::KvSet || kind == OpKind::KvDelete; }
    void clear_result() {
        status = SB_OK;
        duplicate = false;
        entries.clear();
        pairs.clear();
        error.clear();
    }
};

using StorageOpPtr = std::unique_ptr<StorageOp>;

}  // namespace sb::storage
