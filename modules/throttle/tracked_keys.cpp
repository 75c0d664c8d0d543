// The tracked keys' maps and LRU list (see tracked_keys.h). The list is
// intrusive: a key's links live in the key itself, which the map never
// moves, so listing, unlisting and reordering allocate nothing.
#include "tracked_keys.h"

namespace throttle {

TrackedKey& TrackedKeys::lookup(bool is_user, std::string_view key, int64_t now) {
    auto& map = is_user ? users_ : ips_;
    if (auto it = map.find(key); it != map.end()) return it->second;
    while (size() >= max_keys_ && oldest_) {
        ++(now - oldest_->last_ns >= idle_ns_ ? changes_.expired : changes_.evicted);
        erase(*oldest_);
    }
    auto pos = map.try_emplace(std::string(key)).first;
    TrackedKey& k = pos->second;
    k.key = &pos->first;
    k.is_user = is_user;
    k.last_ns = now;
    push_newest(k);
    ++changes_.added;
    return k;
}

TrackedKey& TrackedKeys::attach(bool is_user, std::string_view key, int64_t now) {
    TrackedKey& k = lookup(is_user, key, now);
    pin(k);
    return k;
}

void TrackedKeys::pin(TrackedKey& k) {
    if (k.connections++ == 0) unlink(k);
}

void TrackedKeys::unpin(TrackedKey& k, int64_t now) {
    if (k.connections == 0 || --k.connections > 0) return;
    k.last_ns = now;
    push_newest(k);
}

void TrackedKeys::touch(TrackedKey& k, int64_t now) {
    if (!k.listed) return;
    k.last_ns = now;
    if (newest_ == &k) return;
    unlink(k);
    push_newest(k);
}

void TrackedKeys::expire_idle(int64_t now, size_t budget) {
    while (oldest_ && budget > 0 && now - oldest_->last_ns >= idle_ns_) {
        erase(*oldest_);
        ++changes_.expired;
        --budget;
    }
}

KeyChanges TrackedKeys::take_changes() {
    const KeyChanges taken = changes_;
    changes_ = {};
    return taken;
}

std::vector<const TrackedKey*> TrackedKeys::in_handover_order() const {
    std::vector<const TrackedKey*> keys;
    keys.reserve(size());
    for (const auto* map : {&ips_, &users_})
        for (const auto& [key, k] : *map)
            if (!k.listed) keys.push_back(&k);
    for (const TrackedKey* k = oldest_; k; k = k->newer) keys.push_back(k);
    return keys;
}

void TrackedKeys::restore(bool is_user, const std::string& key, int64_t last_ns, const Bucket& handshake,
                          std::vector<Bucket> buckets) {
    auto& map = is_user ? users_ : ips_;
    auto [pos, fresh] = map.try_emplace(key);
    if (!fresh) return;
    TrackedKey& k = pos->second;
    k.key = &pos->first;
    k.is_user = is_user;
    k.last_ns = last_ns;
    k.handshake = handshake;
    k.buckets = std::move(buckets);
    push_newest(k);
}

void TrackedKeys::evict_over_limit() {
    while (size() > max_keys_ && oldest_) {
        erase(*oldest_);
        ++changes_.evicted;
    }
}

void TrackedKeys::push_newest(TrackedKey& k) {
    k.older = newest_;
    k.newer = nullptr;
    if (newest_) newest_->newer = &k;
    else oldest_ = &k;
    newest_ = &k;
    k.listed = true;
}

void TrackedKeys::unlink(TrackedKey& k) {
    if (!k.listed) return;
    (k.newer ? k.newer->older : newest_) = k.older;
    (k.older ? k.older->newer : oldest_) = k.newer;
    k.newer = k.older = nullptr;
    k.listed = false;
}

void TrackedKeys::erase(TrackedKey& k) {
    unlink(k);
    auto& map = k.is_user ? users_ : ips_;
    auto it = map.find(*k.key);
    if (it != map.end()) map.erase(it);
}

}  // namespace throttle
