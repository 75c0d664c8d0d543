// The client IPs and users throttle remembers ("tracked keys"): each holds
// the buckets of its IP or user, its connection count and its handshake
// bucket. A key with an open connection is pinned (bounded by the number of
// connections); every other key is on a least-recently-used list, from
// which the sweep drops keys idle long enough to have refilled completely
// (dropping them loses nothing), and from which the least recently used key
// is evicted when max_tracked_keys is reached. So memory stays bounded
// under a flood of distinct IPs, with no timer per key.
#ifndef SWITCHBOARD_THROTTLE_TRACKED_KEYS_H
#define SWITCHBOARD_THROTTLE_TRACKED_KEYS_H

#include "buckets.h"
#include "settings.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace throttle {

// One client IP or one user.
struct TrackedKey {
    const std::string* key = nullptr;  // the map's own key
    bool is_user = false;
    uint32_t connections = 0;  // open sockets; while non-zero the key is pinned
    int64_t last_ns = 0;       // last use while unpinned: orders the LRU list
    TrackedKey* newer = nullptr;  // LRU links, set while listed
    TrackedKey* older = nullptr;
    bool listed = false;
    Bucket handshake;
    std::vector<Bucket> buckets;  // by rule, sized on first use
};

// Keys added, dropped when idle, evicted at the limit, since last taken.
struct KeyChanges {
    uint64_t added = 0;
    uint64_t expired = 0;
    uint64_t evicted = 0;
};

class TrackedKeys {
public:
    TrackedKeys(size_t max_keys, int64_t idle_ns) : max_keys_(max_keys), idle_ns_(idle_ns) {}
    TrackedKeys(const TrackedKeys&) = delete;
    TrackedKeys& operator=(const TrackedKeys&) = delete;

    // The key, added (as most recently used) when unknown; adding one at the
    // limit first evicts the least recently used unpinned keys.
    TrackedKey& lookup(bool is_user, std::string_view key, int64_t now);
    // lookup, then pin.
    TrackedKey& attach(bool is_user, std::string_view key, int64_t now);
    // A connection opens: the key leaves the LRU list while it has any.
    void pin(TrackedKey& k);
    // A connection closes: the key's last goes back on the list as newest.
    void unpin(TrackedKey& k, int64_t now);
    // An unpinned key was used: it becomes the most recently used.
    void touch(TrackedKey& k, int64_t now);

    // Drops up to `budget` keys idle for idle_ns or longer, oldest first.
    void expire_idle(int64_t now, size_t budget);
    // The changes since the last call, zeroed.
    KeyChanges take_changes();
    uint64_t evicted_pending() const { return changes_.evicted; }
    size_t size() const { return ips_.size() + users_.size(); }
    size_t max_keys() const { return max_keys_; }

    // ---- reload handover ----

    // Pinned keys (in no particular order), then the LRU list from the
    // oldest to the newest: the order the state codec writes them in.
    std::vector<const TrackedKey*> in_handover_order() const;
    // Adds a key handed over by the previous instance as the newest of the
    // list; a key already known is kept as it is. Not counted as added.
    void restore(bool is_user, const std::string& key, int64_t last_ns, const Bucket& handshake,
                 std::vector<Bucket> buckets);
    // Evicts the least recently used keys while more than max_keys are kept.
    void evict_over_limit();

private:
    void push_newest(TrackedKey& k);
    void unlink(TrackedKey& k);
    void erase(TrackedKey& k);

    size_t max_keys_;
    int64_t idle_ns_;
    StringMap<TrackedKey> ips_;
    StringMap<TrackedKey> users_;
    TrackedKey* newest_ = nullptr;  // LRU list of unpinned keys
    TrackedKey* oldest_ = nullptr;
    KeyChanges changes_;
};

}  // namespace throttle

#endif
