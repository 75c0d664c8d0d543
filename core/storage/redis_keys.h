// Where module data lives in Redis: the key names of a stream and of a
// module's key-value map, and the translation of read and scan ranges into
// Redis range arguments. Kept apart from the backend so the layout is in
// one place (docs/operations.md describes it) and testable without Redis.
//
//   <prefix>:storage:stream:{<module>:<stream>}:seq   last id handed out (INCR)
//   <prefix>:storage:stream:{<module>:<stream>}:log   the entries (a Redis stream, ids 0-<id>)
//   <prefix>:storage:stream:{<module>:<stream>}:idem  idempotency key -> id (a hash)
//   <prefix>:storage:kv:{<module>}:values             key -> value (a hash)
//   <prefix>:storage:kv:{<module>}:index              every key, score 0 (ordered scans)
//   <prefix>:storage:kv:{<module>}:expiry             keys with a TTL, scored by expiry (ms)
//
// The braces are Redis Cluster hash tags: one stream's keys, and one
// module's key-value keys, share a slot, which a script touching them needs.
// Module names hold no ':' or braces, and every suffix ends differently, so
// no two (module, name) pairs map to the same key.
#pragma once

#include "storage_op.h"

#include <string>

namespace sb::storage {

struct RedisStreamKeys {
    std::string seq, log, idem;
};

struct RedisKvKeys {
    std::string values, index, expiry;
};

RedisStreamKeys stream_keys(const std::string& prefix, const std::string& scope, const std::string& stream);
RedisKvKeys kv_keys(const std::string& prefix, const std::string& scope);

// XRANGE/XREVRANGE bounds for a Read: {first id, last id}, both inclusive.
struct RedisIdRange {
    std::string start, end;
    bool empty = false;  // nothing can match: skip the round trip
};
RedisIdRange read_range(uint64_t after_id, uint64_t before_id);

// ZRANGEBYLEX bounds for a KvScan: keys starting with `prefix` and greater
// than `after_key`.
struct RedisLexRange {
    std::string min, max;
};
RedisLexRange scan_range(const std::string& prefix, const std::string& after_key);

}  // namespace sb::storage
