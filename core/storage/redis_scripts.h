// The Lua scripts the Redis storage backend runs, one per kind of write or
// multi-key request. A script runs atomically in Redis, so ids, idempotency
// keys, trims and expiry stay consistent when several nodes write the same
// stream at once; its clock is Redis's own (TIME), so every node stamps
// entries and expiries with the same clock.
//
// The key layout the scripts expect is in redis_keys.h.
#pragma once

#include <string>

namespace sb::storage {

struct RedisScript {
    std::string source;
    std::string sha1;  // lower-case hex, what EVALSHA takes
};

// KEYS: seq, log, idem. ARGV: data, "1" when an idempotency key is given, the key.
// Returns {duplicate (0|1), id, ts_ms, data (duplicates only)}.
const RedisScript& append_script();
// KEYS: log, idem. ARGV: max_count, max_age_ms (0: no limit of that kind). Returns 0.
const RedisScript& trim_script();
// KEYS of every key-value script: values, index, expiry. Each returns, first,
// how many expired pairs it deleted on the way.
// ARGV: key. Returns {purged, value or nil}.
const RedisScript& kv_get_script();
// ARGV: key, value, ttl_ms. Returns {purged}.
const RedisScript& kv_set_script();
// ARGV: key. Returns {purged}.
const RedisScript& kv_delete_script();
// ARGV: ZRANGEBYLEX min, max, limit. Returns {purged, {key, value, key, value, ...}}.
const RedisScript& kv_scan_script();

}  // namespace sb::storage
