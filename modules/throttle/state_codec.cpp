// The throttle/1 handover (see state_codec.h). Layout after the tag, every
// integer and double in native byte order, a string as a uint32 length and
// its bytes, a bucket as double tokens then int64 last_ns:
//   uint32 rule count, then each rule's pattern
//   uint32 key count, then each key:
//     uint8 is_user, string key, int64 last_ns, bucket handshake,
//     uint32 bucket count, buckets by rule
//   uint32 socket count, then each socket:
//     uint64 id, uint8 has_ip, [string ip], uint8 has_user, [string user],
//     uint64 violations, int64 window_start_ns,
//     uint32 bucket count, buckets by rule
#include "state_codec.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace throttle {
namespace {

constexpr std::string_view kTag = "throttle/1\n";
constexpr size_t kBucketSize = sizeof(double) + sizeof(int64_t);

class Writer {
public:
    void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
    template <typename T>
    void put(T v) {
        raw(&v, sizeof v);
    }
    void str(const std::string& s) {
        put<uint32_t>(static_cast<uint32_t>(s.size()));
        raw(s.data(), s.size());
    }
    void bucket(const Bucket& b) {
        put<double>(b.tokens);
        put<int64_t>(b.last_ns);
    }
    void buckets(const std::vector<Bucket>& bs) {
        put<uint32_t>(static_cast<uint32_t>(bs.size()));
        for (const auto& b : bs) bucket(b);
    }
    std::string& bytes() { return out_; }

private:
    std::string out_;
};

// Reads until the first short read, after which every read yields zero and
// ok() stays false: the caller checks once, at the end.
class Reader {
public:
    explicit Reader(std::string_view in) : p_(reinterpret_cast<const uint8_t*>(in.data())), n_(in.size()) {}
    bool ok() const { return ok_; }
    bool done() const { return ok_ && n_ == 0; }
    bool raw(void* out, size_t n) {
        if (!ok_ || n > n_) return ok_ = false;
        std::memcpy(out, p_, n);
        p_ += n;
        n_ -= n;
        return true;
    }
    template <typename T>
    T get() {
        T v{};
        raw(&v, sizeof v);
        return v;
    }
    std::string str() {
        const auto len = get<uint32_t>();
        if (!ok_ || len > n_) {
            ok_ = false;
            return {};
        }
        std::string s(reinterpret_cast<const char*>(p_), len);
        p_ += len;
        n_ -= len;
        return s;
    }
    Bucket bucket() {
        Bucket b;
        b.tokens = get<double>();
        b.last_ns = get<int64_t>();
        return b;
    }
    // A count of records of at least `min_size` bytes each: refuses counts the
    // remaining bytes cannot hold.
    uint32_t count(size_t min_size) {
        const auto n = get<uint32_t>();
        if (ok_ && static_cast<uint64_t>(n) * min_size > n_) ok_ = false;
        return ok_ ? n : 0;
    }

private:
    const uint8_t* p_;
    size_t n_;
    bool ok_ = true;
};

struct ImportedKey {
    bool is_user;
    std::string key;
    int64_t last_ns;
    Bucket handshake;
    std::vector<Bucket> buckets;
};

struct ImportedSocket {
    sb_socket_id id;
    bool has_ip, has_user;
    std::string ip, user;
    SocketState state;
};

}  // namespace

std::string export_state(const Limiter& limiter) {
    Writer w;
    w.raw(kTag.data(), kTag.size());
    const auto& rules = limiter.settings().rules;
    w.put<uint32_t>(static_cast<uint32_t>(rules.size()));
    for (const auto& r : rules) w.str(r.pattern);
    const std::vector<const TrackedKey*> keys = limiter.keys().in_handover_order();
    w.put<uint32_t>(static_cast<uint32_t>(keys.size()));
    for (const TrackedKey* k : keys) {
        w.put<uint8_t>(k->is_user ? 1 : 0);
        w.str(*k->key);
        w.put<int64_t>(k->last_ns);
        w.bucket(k->handshake);
        w.buckets(k->buckets);
    }
    w.put<uint32_t>(static_cast<uint32_t>(limiter.sockets().size()));
    for (const auto& [id, s] : limiter.sockets()) {
        w.put<uint64_t>(id);
        w.put<uint8_t>(s.ip ? 1 : 0);
        if (s.ip) w.str(*s.ip->key);
        w.put<uint8_t>(s.user ? 1 : 0);
        if (s.user) w.str(*s.user->key);
        w.put<uint64_t>(s.violations);
        w.put<int64_t>(s.window_start_ns);
        w.buckets(s.buckets);
    }
    return std::move(w.bytes());
}

void import_state(std::string_view bytes, Limiter& limiter, int64_t now) {
    if (!bytes.starts_with(kTag)) throw std::runtime_error("unrecognised throttle state (expected format throttle/1)");
    Reader in(bytes.substr(kTag.size()));
    const auto& rules = limiter.settings().rules;
    // Rules of the exporter -> rules of this configuration, by pattern.
    std::vector<int64_t> remap(in.count(sizeof(uint32_t)), -1);
    for (auto& target : remap) {
        const std::string pattern = in.str();
        for (size_t i = 0; i < rules.size(); ++i)
            if (rules[i].pattern == pattern) target = static_cast<int64_t>(i);
    }
    auto read_buckets = [&](std::vector<Bucket>& out) {
        const uint32_t n = in.count(kBucketSize);
        out.clear();
        for (uint32_t i = 0; i < n && in.ok(); ++i) {
            const Bucket b = in.bucket();
            if (i < remap.size() && remap[i] >= 0) {
                if (out.empty()) out.resize(rules.size());
                out[static_cast<size_t>(remap[i])] = b;
            }
        }
    };
    std::vector<ImportedKey> keys(in.count(1 + 4 + 8 + kBucketSize + 4));
    for (auto& k : keys) {
        k.is_user = in.get<uint8_t>() != 0;
        k.key = in.str();
        k.last_ns = in.get<int64_t>();
        k.handshake = in.bucket();
        read_buckets(k.buckets);
    }
    std::vector<ImportedSocket> sockets(in.count(8 + 1 + 1 + 8 + 8 + 4));
    for (auto& s : sockets) {
        s.id = in.get<uint64_t>();
        s.has_ip = in.get<uint8_t>() != 0;
        if (s.has_ip) s.ip = in.str();
        s.has_user = in.get<uint8_t>() != 0;
        if (s.has_user) s.user = in.str();
        s.state.violations = in.get<uint64_t>();
        s.state.window_start_ns = in.get<int64_t>();
        read_buckets(s.state.buckets);
        if (s.state.buckets.size() != rules.size()) s.state.buckets.resize(rules.size());
    }
    if (!in.done()) throw std::runtime_error("truncated or corrupt throttle state");
    // Commit. Keys go on the LRU list oldest first; sockets pin theirs.
    std::stable_sort(keys.begin(), keys.end(),
                     [](const ImportedKey& a, const ImportedKey& b) { return a.last_ns < b.last_ns; });
    TrackedKeys& tracked = limiter.keys();
    for (auto& k : keys) tracked.restore(k.is_user, k.key, k.last_ns, k.handshake, std::move(k.buckets));
    for (auto& s : sockets)  // an id listed twice: the first is kept
        limiter.restore_socket(s.id, s.has_ip ? &s.ip : nullptr, s.has_user ? &s.user : nullptr, std::move(s.state),
                               now);
    tracked.evict_over_limit();
}

}  // namespace throttle
