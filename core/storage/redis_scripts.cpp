// The Lua scripts of the Redis storage backend (see redis_scripts.h).
//
// Numbers: Lua holds them as doubles, exact up to 2^53; ids and millisecond
// timestamps stay far below that. They are formatted with %d before they
// become part of a stream id or a score, never with Lua's default %.14g.
#include "redis_scripts.h"

#include "encoding.h"


namespace sb::storage {
namespace {

// Shared by every script. TIME before a write needs effect replication,
// the default since Redis 5 and the only mode since 7.
constexpr const char* kPrelude = R"lua(
if redis.replicate_commands then pcall(redis.replicate_commands) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
)lua";

// Stream entries carry t (ts_ms), d (data) and, when given, k (idempotency key).
constexpr const char* kAppend = R"lua(
local seq, log, idem = KEYS[1], KEYS[2], KEYS[3]
local keyed = ARGV[2] == '1'
if keyed then
  local known = redis.call('HGET', idem, ARGV[3])
  if known then
    local found = redis.call('XRANGE', log, '0-' .. known, '0-' .. known)
    if #found == 1 then
      local f = found[1][2]
      return {1, tonumber(known), tonumber(field(f, 't')), field(f, 'd')}
    end
  end
end
local id = redis.call('INCR', seq)
local ts = now_ms()
local sid = string.format('%d', id)
if keyed then
  redis.call('XADD', log, '0-' .. sid, 't', string.format('%d', ts), 'd', ARGV[1], 'k', ARGV[3])
  redis.call('HSET', idem, ARGV[3], sid)
else
  redis.call('XADD', log, '0-' .. sid, 't', string.format('%d', ts), 'd', ARGV[1])
end
return {0, id, ts}
)lua";

// A trimmed entry's idempotency key is forgotten with it, as in SQLite where
// the key is a column of the entry. Entries are in id order and their
// timestamps come from one clock, so the age trim stops at the first entry
// young enough.
constexpr const char* kTrim = R"lua(
local log, idem = KEYS[1], KEYS[2]
local max_count, max_age = tonumber(ARGV[1]), tonumber(ARGV[2])
local keyed = redis.call('EXISTS', idem) == 1
local function drop(entry)
  if keyed then
    local key = field(entry[2], 'k')
    if key then redis.call('HDEL', idem, key) end
  end
  redis.call('XDEL', log, entry[1])
end
if max_count > 0 then
  local excess = redis.call('XLEN', log) - max_count
  if excess > 0 and not keyed then
    redis.call('XTRIM', log, 'MAXLEN', string.format('%d', max_count))
  end
  while keyed and excess > 0 do
    local batch = redis.call('XRANGE', log, '-', '+', 'COUNT', math.min(excess, 1000))
    if #batch == 0 then break end
    for _, e in ipairs(batch) do drop(e) end
    excess = excess - #batch
  end
end
if max_age > 0 then
  local now = now_ms()
  if now > max_age then
    local cutoff = now - max_age
    local young = false
    while not young do
      local batch = redis.call('XRANGE', log, '-', '+', 'COUNT', 100)
      if #batch == 0 then break end
      for _, e in ipairs(batch) do
        if tonumber(field(e[2], 't')) < cutoff then
          drop(e)
        else
          young = true
          break
        end
      end
    end
  end
end
return 0
)lua";

// Key-value pairs: values in a hash, every key in a lexicographic index (a
// sorted set, all scores 0) for prefix scans, keys with a TTL in a sorted
// set by expiry time. An expired pair is invisible at once; each request
// also deletes up to 100 expired pairs of the module, so they do not pile up.
constexpr const char* kKvPrelude = R"lua(
local values, index, expiry = KEYS[1], KEYS[2], KEYS[3]
local function forget(key)
  redis.call('HDEL', values, key)
  redis.call('ZREM', index, key)
  redis.call('ZREM', expiry, key)
end
local function expired(key, now)
  local at = redis.call('ZSCORE', expiry, key)
  return at and tonumber(at) <= now
end
local now = now_ms()
local purged = 0
for _, key in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', string.format('%d', now), 'LIMIT', 0, 100)) do
  forget(key)
  purged = purged + 1
end
)lua";

constexpr const char* kKvGet = R"lua(
local key = ARGV[1]
if expired(key, now) then
  forget(key)
  return {purged + 1, false}
end
return {purged, redis.call('HGET', values, key)}
)lua";

constexpr const char* kKvSet = R"lua(
local key, ttl = ARGV[1], tonumber(ARGV[3])
redis.call('HSET', values, key, ARGV[2])
redis.call('ZADD', index, 0, key)
if ttl > 0 then
  redis.call('ZADD', expiry, string.format('%d', now + ttl), key)
else
  redis.call('ZREM', expiry, key)
end
return {purged}
)lua";

constexpr const char* kKvDelete = R"lua(
forget(ARGV[1])
return {purged}
)lua";

// Expired keys met on the way are deleted and skipped, and the scan goes on
// until `limit` live pairs are found or the range ends.
constexpr const char* kKvScan = R"lua(
local min, max, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out, found = {}, 0
while found < limit do
  local want = limit - found
  local keys = redis.call('ZRANGEBYLEX', index, min, max, 'LIMIT', 0, want)
  if #keys == 0 then break end
  local vals = redis.call('HMGET', values, unpack(keys))
  for i, key in ipairs(keys) do
    if expired(key, now) then
      forget(key)
      purged = purged + 1
    elseif vals[i] then
      out[#out + 1] = key
      out[#out + 1] = vals[i]
      found = found + 1
    end
  end
  if #keys < want then break end
  min = '(' .. keys[#keys]
end
return {purged, out}
)lua";


RedisScript make(std::string source) {
    RedisScript s{std::move(source), {}};
    s.sha1 = sha1_hex(s.source);
    return s;
}

}  // namespace

const RedisScript& append_script() {
    static const RedisScript s = make(std::string(kPrelude) + kAppend);
    return s;
}

const RedisScript& trim_script() {
    static const RedisScript s = make(std::string(kPrelude) + kTrim);
    return s;
}

const RedisScript& kv_get_script() {
    static const RedisScript s = make(std::string(kPrelude) + kKvPrelude + kKvGet);
    return s;
}

const RedisScript& kv_set_script() {
    static const RedisScript s = make(std::string(kPrelude) + kKvPrelude + kKvSet);
    return s;
}

const RedisScript& kv_delete_script() {
    static const RedisScript s = make(std::string(kPrelude) + kKvPrelude + kKvDelete);
    return s;
}

const RedisScript& kv_scan_script() {
    static const RedisScript s = make(std::string(kPrelude) + kKvPrelude + kKvScan);
    return s;
}

}  // namespace sb::storage
