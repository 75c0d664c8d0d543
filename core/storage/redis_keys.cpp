// Key names and range bounds of the Redis storage backend (see redis_keys.h).
#include "redis_keys.h"

#include "sqlite_store.h"

#include <limits>

namespace sb::storage {

RedisStreamKeys stream_keys(const std::string& prefix, const std::string& scope, const std::string& stream) {
    const std::string base = prefix + ":storage:stream:{" + scope + ":" + stream + "}:";
    return {base + "seq", base + "log", base + "idem"};
}

RedisKvKeys kv_keys(const std::string& prefix, const std::string& scope) {
    const std::string base = prefix + ":storage:kv:{" + scope + "}:";
    return {base + "values", base + "index", base + "expiry"};
}

RedisIdRange read_range(uint64_t after_id, uint64_t before_id) {
    RedisIdRange r;
    if (after_id == std::numeric_limits<uint64_t>::max() || before_id == 1 ||
        (before_id != 0 && after_id + 1 > before_id - 1)) {
        r.empty = true;
        return r;
    }
    r.start = "0-" + std::to_string(after_id + 1);
    r.end = before_id ? "0-" + std::to_string(before_id - 1) : "+";
    return r;
}

RedisLexRange scan_range(const std::string& prefix, const std::string& after_key) {
    RedisLexRange r;
    if (!after_key.empty() && after_key >= prefix) r.min = "(" + after_key;
    else if (!prefix.empty()) r.min = "[" + prefix;
    else r.min = "-";
    const std::string upper = prefix_upper_bound(prefix);
    r.max = upper.empty() ? "+" : "(" + upper;
    return r;
}

}  // namespace sb::storage
