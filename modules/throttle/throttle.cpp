// Module "throttle": rate limits for events and connections.
//
// Events: token buckets (a rate per second and a burst) per socket, per user
// and per client IP, chosen by event name (an exact name or a prefix ending
// in '*', else the default). An event over any of its limits is refused
// before the modules after this one see it (RATE_LIMITED, with the time to
// wait); a socket refused too often within a window is disconnected.
// Connections: new Engine.IO sessions per client IP (a token bucket; over it
// the handshake gets HTTP 429, on both transports), and concurrent Socket.IO
// connections per client IP and per user to the namespaces whose chain holds
// this module (CONNECT_ERROR "too many connections").
//
// Memory. Per-socket state lives exactly as long as the socket. Per-IP and
// per-user state ("tracked keys") sits in two hash maps. A key with an open
// connection is pinned (bounded by the number of connections); every other
// key is on an LRU list, from which one repeating sweep timer drops the keys
// idle long enough to have refilled completely (dropping them loses
// nothing), and from which the least recently used key is evicted when
// max_tracked_keys is reached.
//
// Hot path. An event costs one lookup of the socket by id, the rule of its
// name (cached per name; skipped when only the default exists) and
// arithmetic on at most three buckets the socket points at directly.
#include <switchboard/module.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

enum Scope : size_t { kSocket = 0, kUser = 1, kIp = 2, kScopes = 3 };
constexpr const char* kScopeNames[kScopes] = {"socket", "user", "ip"};

constexpr size_t kMaxCachedNames = 4096;    // distinct event names whose rule is remembered
constexpr size_t kMaxCachedNameLength = 128;
constexpr size_t kMaxSweepPerTick = 200000;  // keys one sweep drops at most; the rest wait for the next
constexpr double kEpsilon = 1e-9;
constexpr int64_t kMinIdleNs = 1'000'000'000LL;              // 1 s
constexpr int64_t kMaxIdleNs = 24LL * 3600 * 1'000'000'000;  // 1 day
constexpr char kStateTag[] = "throttle/1\n";

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Limit {
    double rate = 0;   // tokens per second; 0: no limit
    double burst = 0;  // capacity
    bool enabled() const { return rate > 0; }
    // How long an empty bucket takes to fill up.
    int64_t fill_ns() const {
        if (!enabled()) return 0;
        const double ns = std::ceil(burst / rate * 1e9);
        return ns >= static_cast<double>(kMaxIdleNs) ? kMaxIdleNs : static_cast<int64_t>(ns);
    }
};

struct Bucket {
    double tokens = 0;
    int64_t last_ns = 0;  // 0: never used, that is full
};

// The tokens in `b` now, refilled at the limit's rate up to its burst.
double refill(Bucket& b, const Limit& l, int64_t now) {
    if (b.last_ns == 0) {
        b.tokens = l.burst;
        b.last_ns = now;
    } else if (now > b.last_ns) {
        b.tokens += static_cast<double>(now - b.last_ns) * 1e-9 * l.rate;
        b.last_ns = now;
    }
    if (b.tokens > l.burst) b.tokens = l.burst;  // also when a reload lowered the burst
    return b.tokens;
}

// Milliseconds until a bucket holding `tokens` holds one.
uint64_t retry_ms(double tokens, const Limit& l) {
    const double ms = std::ceil((1.0 - tokens) / l.rate * 1000.0);
    if (ms < 1) return 1;
    if (ms > 1e12) return 1'000'000'000'000ULL;
    return static_cast<uint64_t>(ms);
}

// Adds {"retryAfterMs":N} to the error object the client receives, when the
// host's sb_error has room for details (hosts older than the field do not).
void set_details(sb_error* error, const std::string& json) {
    if (!error || error->struct_size < offsetof(sb_error, details_capacity) + sizeof error->details_capacity) return;
    if (!error->details_json || error->details_capacity <= json.size()) return;
    std::memcpy(error->details_json, json.c_str(), json.size() + 1);
}

struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

// ---- configuration ------------------------------------------------------------

struct Rule {
    std::string pattern;  // "*" (the default), "name" or "prefix*"
    Limit limits[kScopes];
    bool any() const { return limits[kSocket].enabled() || limits[kUser].enabled() || limits[kIp].enabled(); }
};

struct Config {
    std::vector<Rule> rules;  // [0] is the default
    StringMap<uint32_t> exact;
    std::vector<std::pair<std::string, uint32_t>> prefixes;  // longest first
    Limit handshake;                                         // new sessions per IP
    uint64_t max_connections_per_ip = 0;
    uint64_t max_connections_per_user = 0;
    uint64_t disconnect_after_violations = 50;
    int64_t violation_window_ns = 10'000'000'000LL;
    size_t max_tracked_keys = 100000;
    uint64_t sweep_interval_ms = 10000;
    int64_t idle_ns = kMinIdleNs;  // a key idle this long has refilled completely

    uint32_t match(std::string_view name) const {
        if (auto it = exact.find(name); it != exact.end()) return it->second;
        for (const auto& [prefix, index] : prefixes)
            if (name.starts_with(prefix)) return index;
        return 0;
    }
};

const sb_config_key kConfigKeys[] = {
    {"default", SB_CONFIG_OBJECT, 0,
     "limits of events no pattern matches: {socket, user, ip: {rate, burst}}; "
     "default {socket: {rate: 20, burst: 40}, user: {rate: 50, burst: 100}}"},
    {"events", SB_CONFIG_OBJECT, 0,
     "limits by event name: {\"<name>\" or \"<prefix>*\": {socket, user, ip: {rate, burst}}}"},
    {"disconnect_after_violations", SB_CONFIG_INTEGER, 0,
     "refused events within violation_window_ms that disconnect the socket; 0 = never (default 50)"},
    {"violation_window_ms", SB_CONFIG_INTEGER, 0, "window of disconnect_after_violations (default 10000)"},
    {"new_connections_per_ip", SB_CONFIG_OBJECT, 0,
     "{rate, burst} of new Engine.IO sessions per client IP; over it the handshake gets HTTP 429 (default: none)"},
    {"max_connections_per_ip", SB_CONFIG_INTEGER, 0,
     "concurrent Socket.IO connections per client IP to namespaces using throttle; 0 = no limit (default)"},
    {"max_connections_per_user", SB_CONFIG_INTEGER, 0,
     "concurrent Socket.IO connections per user to namespaces using throttle; 0 = no limit (default)"},
    {"max_tracked_keys", SB_CONFIG_INTEGER, 0,
     "client IPs and users remembered without an open connection; least recently used evicted (default 100000)"},
    {"sweep_interval_ms", SB_CONFIG_INTEGER, 0, "how often idle keys are dropped (default 10000)"},
};

bool parse_limit(const rapidjson::Value& v, const std::string& where, Limit& out, std::string& err) {
    out = Limit{};
    if (v.IsNull()) return true;  // explicitly unlimited
    if (!v.IsObject()) {
        err = where + ": expected {rate, burst} or null";
        return false;
    }
    for (const auto& m : v.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        if (key != "rate" && key != "burst") {
            err = where + "." + key + ": unknown key (known keys: rate, burst)";
            return false;
        }
    }
    auto rate = v.FindMember("rate");
    if (rate == v.MemberEnd() || !rate->value.IsNumber() || !(rate->value.GetDouble() > 0) ||
        !std::isfinite(rate->value.GetDouble())) {
        err = where + ".rate: expected a number above 0 (per second)";
        return false;
    }
    out.rate = rate->value.GetDouble();
    auto burst = v.FindMember("burst");
    if (burst == v.MemberEnd()) {
        out.burst = std::max(1.0, std::ceil(out.rate));
    } else if (!burst->value.IsNumber() || !(burst->value.GetDouble() >= 1) ||
               !std::isfinite(burst->value.GetDouble())) {
        err = where + ".burst: expected a number of at least 1";
        return false;
    } else {
        out.burst = burst->value.GetDouble();
    }
    return true;
}

bool parse_rule(const rapidjson::Value& v, const std::string& where, Rule& out, std::string& err) {
    if (!v.IsObject()) {
        err = where + ": expected {socket, user, ip}";
        return false;
    }
    for (const auto& m : v.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        size_t scope = kScopes;
        for (size_t i = 0; i < kScopes; ++i)
            if (key == kScopeNames[i]) scope = i;
        if (scope == kScopes) {
            err = where + "." + key + ": unknown key (known keys: socket, user, ip)";
            return false;
        }
        if (!parse_limit(m.value, where + "." + key, out.limits[scope], err)) return false;
    }
    return true;
}

bool parse_count(const rapidjson::Document& doc, const char* key, uint64_t min, uint64_t& out, std::string& err) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd()) return true;
    if (!it->value.IsUint64() || it->value.GetUint64() < min) {
        err = std::string(key) + ": expected an integer of at least " + std::to_string(min);
        return false;
    }
    out = it->value.GetUint64();
    return true;
}

bool parse_config(const char* json, Config& cfg, std::string& err) {
    rapidjson::Document doc;
    doc.Parse(json ? json : "{}");
    if (doc.HasParseError() || !doc.IsObject()) {
        err = "the configuration is not a JSON object";
        return false;
    }
    Rule fallback;
    fallback.pattern = "*";
    fallback.limits[kSocket] = {20, 40};
    fallback.limits[kUser] = {50, 100};
    if (auto it = doc.FindMember("default"); it != doc.MemberEnd()) {
        fallback = Rule{};
        fallback.pattern = "*";
        if (!parse_rule(it->value, "default", fallback, err)) return false;
    }
    cfg.rules.push_back(fallback);
    if (auto it = doc.FindMember("events"); it != doc.MemberEnd()) {
        if (!it->value.IsObject()) {
            err = "events: expected an object of patterns";
            return false;
        }
        for (const auto& m : it->value.GetObject()) {
            std::string pattern(m.name.GetString(), m.name.GetStringLength());
            const std::string where = "events." + pattern;
            const size_t star = pattern.find('*');
            if (pattern.empty() || pattern == "*") {
                err = where + ": a pattern needs a name or a prefix (the limits of all other events are `default`)";
                return false;
            }
            if (star != std::string::npos && star != pattern.size() - 1) {
                err = where + ": '*' may only end a pattern";
                return false;
            }
            Rule rule;
            rule.pattern = pattern;
            if (!parse_rule(m.value, where, rule, err)) return false;
            const auto index = static_cast<uint32_t>(cfg.rules.size());
            cfg.rules.push_back(rule);
            if (star == std::string::npos) cfg.exact.emplace(pattern, index);
            else cfg.prefixes.emplace_back(pattern.substr(0, star), index);
        }
        std::stable_sort(cfg.prefixes.begin(), cfg.prefixes.end(),
                         [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }
    if (auto it = doc.FindMember("new_connections_per_ip"); it != doc.MemberEnd())
        if (!parse_limit(it->value, "new_connections_per_ip", cfg.handshake, err)) return false;
    uint64_t window_ms = 10000, max_keys = cfg.max_tracked_keys;
    if (!parse_count(doc, "max_connections_per_ip", 0, cfg.max_connections_per_ip, err) ||
        !parse_count(doc, "max_connections_per_user", 0, cfg.max_connections_per_user, err) ||
        !parse_count(doc, "disconnect_after_violations", 0, cfg.disconnect_after_violations, err) ||
        !parse_count(doc, "violation_window_ms", 1, window_ms, err) ||
        !parse_count(doc, "max_tracked_keys", 1, max_keys, err) ||
        !parse_count(doc, "sweep_interval_ms", 1, cfg.sweep_interval_ms, err))
        return false;
    if (window_ms > 86'400'000 || cfg.sweep_interval_ms > 86'400'000) {
        err = "violation_window_ms and sweep_interval_ms are at most one day (86400000)";
        return false;
    }
    cfg.violation_window_ns = static_cast<int64_t>(window_ms) * 1'000'000;
    cfg.max_tracked_keys = static_cast<size_t>(max_keys);
    int64_t idle = std::max(kMinIdleNs, cfg.handshake.fill_ns());
    for (const auto& r : cfg.rules)
        for (const auto& l : r.limits) idle = std::max(idle, l.fill_ns());
    cfg.idle_ns = idle;
    return true;
}

// ---- state ----------------------------------------------------------------------

// One client IP or one user.
struct Entry {
    const std::string* key = nullptr;  // the map's own key
    bool is_user = false;
    uint32_t connections = 0;  // open sockets; while non-zero the entry is pinned
    int64_t last_ns = 0;       // last use while unpinned: orders the LRU list
    Entry* newer = nullptr;    // LRU links, set while listed
    Entry* older = nullptr;
    bool listed = false;
    Bucket handshake;
    std::vector<Bucket> buckets;  // by rule, sized on first use
};

struct SocketState {
    Entry* ip = nullptr;  // pinned while the socket exists
    Entry* user = nullptr;
    std::vector<Bucket> buckets;  // by rule
    uint64_t violations = 0;
    int64_t window_start_ns = 0;
};

// The handover format: native byte order, since it never leaves the process.
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
    std::string& bytes() { return out_; }

private:
    std::string out_;
};

class Reader {
public:
    Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
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

class Throttle {
public:
    Throttle(sb_module_ctx* ctx, const sb_host_api* host, Config cfg) : ctx_(ctx), host_(host), cfg_(std::move(cfg)) {
        only_default_ = cfg_.rules.size() == 1;
        if (!host_->timer_start(ctx_, cfg_.sweep_interval_ms, cfg_.sweep_interval_ms, nullptr))
            host_->log(ctx_, SB_LOG_WARN, "could not start the sweep timer: idle keys are only evicted at the limit");
    }

    // ---- events ----

    sb_event_result on_event(sb_socket_id socket, const sb_event& ev, sb_error* error) {
        const uint32_t r = rule_for(ev.name);
        const Rule& rule = cfg_.rules[r];
        if (!rule.any()) return SB_EVENT_CONTINUE;
        SocketState& s = state_of(socket);
        const int64_t now = now_ns();
        Bucket* take[kScopes] = {nullptr, nullptr, nullptr};
        uint64_t wait = 0;
        auto check = [&](Scope scope, std::vector<Bucket>& buckets) {
            const Limit& l = rule.limits[scope];
            if (!l.enabled()) return;
            if (buckets.size() <= r) buckets.resize(cfg_.rules.size());
            Bucket& b = buckets[r];
            const double tokens = refill(b, l, now);
            if (tokens >= 1.0 - kEpsilon) take[scope] = &b;
            else wait = std::max(wait, retry_ms(tokens, l));
        };
        check(kSocket, s.buckets);
        if (s.user) check(kUser, s.user->buckets);
        if (s.ip) check(kIp, s.ip->buckets);
        if (wait == 0) {
            for (Bucket* b : take)
                if (b) b->tokens = std::max(0.0, b->tokens - 1.0);
            return SB_EVENT_CONTINUE;
        }
        return refuse_event(socket, s, wait, now, error);
    }

    // ---- connections ----

    int on_handshake(const sb_handshake_info& info, sb_error* error) {
        if (!cfg_.handshake.enabled()) return 0;
        const int64_t now = now_ns();
        Entry& e = lookup(false, info.remote_address ? info.remote_address : "", now);
        touch(e, now);
        const double tokens = refill(e.handshake, cfg_.handshake, now);
        if (tokens >= 1.0 - kEpsilon) {
            e.handshake.tokens = std::max(0.0, tokens - 1.0);
            return 0;
        }
        const uint64_t wait = retry_ms(tokens, cfg_.handshake);
        host_->counter_add(ctx_, "throttle_rejections", "kind=\"handshake\"", 1);
        char message[96];
        std::snprintf(message, sizeof message, "too many new connections, retry after %llu ms",
                      static_cast<unsigned long long>(wait));
        sb_error_set(error, "RATE_LIMITED", message);
        set_details(error, "{\"retryAfterMs\":" + std::to_string(wait) + "}");
        return 429;
    }

    sb_connect_result on_connect(sb_socket_id socket, const sb_connect_info& info, sb_error* error) {
        const int64_t now = now_ns();
        std::string user;
        if (const char* u = host_->user_of(ctx_, socket)) user = u;
        forget(socket, now);  // not expected: a socket id connects once
        Entry& ip = lookup(false, info.remote_address ? info.remote_address : "", now);
        if (cfg_.max_connections_per_ip && ip.connections >= cfg_.max_connections_per_ip) {
            touch(ip, now);
            return refuse_connection(error);
        }
        pin(ip);  // before the user's lookup, which may evict unpinned keys
        Entry* ue = nullptr;
        if (!user.empty()) {
            ue = &lookup(true, user, now);
            if (cfg_.max_connections_per_user && ue->connections >= cfg_.max_connections_per_user) {
                touch(*ue, now);
                unpin(ip, now);
                return refuse_connection(error);
            }
            pin(*ue);
        }
        SocketState& s = sockets_[socket];
        s.ip = &ip;
        s.user = ue;
        s.buckets.assign(cfg_.rules.size(), Bucket{});
        return SB_CONNECT_ACCEPT;
    }

    void on_disconnect(sb_socket_id socket) { forget(socket, now_ns()); }

    // ---- upkeep ----

    void sweep() {
        const int64_t now = now_ns();
        size_t budget = kMaxSweepPerTick;
        while (oldest_ && budget > 0 && now - oldest_->last_ns >= cfg_.idle_ns) {
            erase(*oldest_);
            ++expired_;
            --budget;
        }
        if (evicted_ > 0) {
            const std::string line = "max_tracked_keys (" + std::to_string(cfg_.max_tracked_keys) + ") reached: " +
                                     std::to_string(evicted_) + " keys evicted since the last sweep";
            host_->log(ctx_, SB_LOG_WARN, line.c_str());
        }
        flush_counters();
    }

    // ---- reload handover ----

    std::string export_state() {
        flush_counters();
        Writer w;
        w.raw(kStateTag, sizeof kStateTag - 1);
        w.put<uint32_t>(static_cast<uint32_t>(cfg_.rules.size()));
        for (const auto& r : cfg_.rules) w.str(r.pattern);
        // Keys: pinned ones first, then the LRU list from oldest to newest.
        std::vector<const Entry*> entries;
        entries.reserve(ips_.size() + users_.size());
        for (const auto* map : {&ips_, &users_})
            for (const auto& [key, e] : *map)
                if (!e.listed) entries.push_back(&e);
        for (const Entry* e = oldest_; e; e = e->newer) entries.push_back(e);
        w.put<uint32_t>(static_cast<uint32_t>(entries.size()));
        for (const Entry* e : entries) {
            w.put<uint8_t>(e->is_user ? 1 : 0);
            w.str(*e->key);
            w.put<int64_t>(e->last_ns);
            w.bucket(e->handshake);
            w.put<uint32_t>(static_cast<uint32_t>(e->buckets.size()));
            for (const auto& b : e->buckets) w.bucket(b);
        }
        w.put<uint32_t>(static_cast<uint32_t>(sockets_.size()));
        for (const auto& [id, s] : sockets_) {
            w.put<uint64_t>(id);
            w.put<uint8_t>(s.ip ? 1 : 0);
            if (s.ip) w.str(*s.ip->key);
            w.put<uint8_t>(s.user ? 1 : 0);
            if (s.user) w.str(*s.user->key);
            w.put<uint64_t>(s.violations);
            w.put<int64_t>(s.window_start_ns);
            w.put<uint32_t>(static_cast<uint32_t>(s.buckets.size()));
            for (const auto& b : s.buckets) w.bucket(b);
        }
        return std::move(w.bytes());
    }

    bool import_state(const uint8_t* data, size_t len, std::string& err) {
        constexpr size_t kTagLen = sizeof kStateTag - 1;
        if (len < kTagLen || std::memcmp(data, kStateTag, kTagLen) != 0) {
            err = "unrecognised throttle state (expected format throttle/1)";
            return false;
        }
        Reader in(data + kTagLen, len - kTagLen);
        constexpr size_t kBucketSize = sizeof(double) + sizeof(int64_t);
        // Rules of the exporter -> rules of this configuration, by pattern.
        std::vector<int64_t> remap(in.count(sizeof(uint32_t)), -1);
        for (auto& target : remap) {
            const std::string pattern = in.str();
            for (size_t i = 0; i < cfg_.rules.size(); ++i)
                if (cfg_.rules[i].pattern == pattern) target = static_cast<int64_t>(i);
        }
        auto read_buckets = [&](std::vector<Bucket>& out) {
            const uint32_t n = in.count(kBucketSize);
            out.clear();
            for (uint32_t i = 0; i < n && in.ok(); ++i) {
                const Bucket b = in.bucket();
                if (i < remap.size() && remap[i] >= 0) {
                    if (out.empty()) out.resize(cfg_.rules.size());
                    out[static_cast<size_t>(remap[i])] = b;
                }
            }
        };
        struct Imported {
            bool is_user;
            std::string key;
            int64_t last_ns;
            Bucket handshake;
            std::vector<Bucket> buckets;
        };
        std::vector<Imported> entries(in.count(1 + 4 + 8 + kBucketSize + 4));
        for (auto& e : entries) {
            e.is_user = in.get<uint8_t>() != 0;
            e.key = in.str();
            e.last_ns = in.get<int64_t>();
            e.handshake = in.bucket();
            read_buckets(e.buckets);
        }
        struct ImportedSocket {
            sb_socket_id id;
            bool has_ip, has_user;
            std::string ip, user;
            SocketState state;
        };
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
            if (s.state.buckets.size() != cfg_.rules.size()) s.state.buckets.resize(cfg_.rules.size());
        }
        if (!in.done()) {
            err = "truncated or corrupt throttle state";
            return false;
        }
        // Commit. Keys go on the LRU list oldest first; sockets pin theirs.
        std::stable_sort(entries.begin(), entries.end(),
                         [](const Imported& a, const Imported& b) { return a.last_ns < b.last_ns; });
        for (auto& imported : entries) {
            auto& map = imported.is_user ? users_ : ips_;
            auto [pos, fresh] = map.try_emplace(imported.key);
            Entry& e = pos->second;
            if (!fresh) continue;
            e.key = &pos->first;
            e.is_user = imported.is_user;
            e.last_ns = imported.last_ns;
            e.handshake = imported.handshake;
            e.buckets = std::move(imported.buckets);
            push_newest(e);
        }
        const int64_t now = now_ns();
        for (auto& imported : sockets) {
            if (sockets_.count(imported.id)) continue;  // listed twice: keep the first
            SocketState& s = sockets_[imported.id];
            s = std::move(imported.state);
            s.ip = imported.has_ip ? &attach(false, imported.ip, now) : nullptr;
            s.user = imported.has_user ? &attach(true, imported.user, now) : nullptr;
        }
        while (ips_.size() + users_.size() > cfg_.max_tracked_keys && oldest_) {
            erase(*oldest_);
            ++evicted_;
        }
        return true;
    }

private:
    // ---- rules ----

    uint32_t rule_for(const char* name) {
        if (only_default_) return 0;
        const std::string_view n(name);
        if (auto it = names_.find(n); it != names_.end()) return it->second;
        const uint32_t r = cfg_.match(n);
        if (names_.size() < kMaxCachedNames && n.size() <= kMaxCachedNameLength) names_.emplace(std::string(n), r);
        return r;
    }

    sb_event_result refuse_event(sb_socket_id socket, SocketState& s, uint64_t wait, int64_t now, sb_error* error) {
        host_->counter_add(ctx_, "throttle_rejections", "kind=\"event\"", 1);
        if (s.window_start_ns == 0 || now - s.window_start_ns > cfg_.violation_window_ns) {
            s.window_start_ns = now;
            s.violations = 0;
        }
        ++s.violations;
        if (cfg_.disconnect_after_violations && s.violations >= cfg_.disconnect_after_violations) {
            host_->counter_add(ctx_, "throttle_disconnects", "", 1);
            const std::string line = "disconnecting socket " + std::to_string(socket) + " (" +
                                     (s.ip ? *s.ip->key : std::string("?")) + "): " + std::to_string(s.violations) +
                                     " rate-limited events within " +
                                     std::to_string(cfg_.violation_window_ns / 1'000'000) + " ms";
            host_->log(ctx_, SB_LOG_INFO, line.c_str());
            sb_error_set(error, "RATE_LIMITED", "rate limited: disconnected");
            host_->disconnect(ctx_, socket);  // runs on_disconnect: `s` is gone from here on
            return SB_EVENT_REJECT;
        }
        char message[96];
        std::snprintf(message, sizeof message, "rate limited, retry after %llu ms",
                      static_cast<unsigned long long>(wait));
        sb_error_set(error, "RATE_LIMITED", message);
        set_details(error, "{\"retryAfterMs\":" + std::to_string(wait) + "}");
        return SB_EVENT_REJECT;
    }

    sb_connect_result refuse_connection(sb_error* error) {
        host_->counter_add(ctx_, "throttle_rejections", "kind=\"connection\"", 1);
        sb_error_set(error, "RATE_LIMITED", "too many connections");
        return SB_CONNECT_REJECT;
    }

    // ---- sockets ----

    SocketState& state_of(sb_socket_id socket) {
        if (auto it = sockets_.find(socket); it != sockets_.end()) return it->second;
        // A socket that joined before this module was in its namespace's
        // chain (added by a reload): adopted on its first event.
        const int64_t now = now_ns();
        std::string ip, user;
        if (const char* a = host_->remote_address_of(ctx_, socket)) ip = a;
        if (const char* u = host_->user_of(ctx_, socket)) user = u;
        SocketState& s = sockets_[socket];
        s.ip = &attach(false, ip, now);
        s.user = user.empty() ? nullptr : &attach(true, user, now);
        s.buckets.assign(cfg_.rules.size(), Bucket{});
        return s;
    }

    void forget(sb_socket_id socket, int64_t now) {
        auto it = sockets_.find(socket);
        if (it == sockets_.end()) return;
        if (it->second.ip) unpin(*it->second.ip, now);
        if (it->second.user) unpin(*it->second.user, now);
        sockets_.erase(it);
    }

    // ---- tracked keys ----

    Entry& lookup(bool is_user, std::string_view key, int64_t now) {
        auto& map = is_user ? users_ : ips_;
        if (auto it = map.find(key); it != map.end()) return it->second;
        while (ips_.size() + users_.size() >= cfg_.max_tracked_keys && oldest_) {
            ++(now - oldest_->last_ns >= cfg_.idle_ns ? expired_ : evicted_);
            erase(*oldest_);
        }
        auto pos = map.try_emplace(std::string(key)).first;
        Entry& e = pos->second;
        e.key = &pos->first;
        e.is_user = is_user;
        e.last_ns = now;
        push_newest(e);
        ++added_;
        return e;
    }

    Entry& attach(bool is_user, std::string_view key, int64_t now) {
        Entry& e = lookup(is_user, key, now);
        pin(e);
        return e;
    }

    void pin(Entry& e) {
        if (e.connections++ == 0) unlink(e);
    }

    void unpin(Entry& e, int64_t now) {
        if (e.connections == 0 || --e.connections > 0) return;
        e.last_ns = now;
        push_newest(e);
    }

    void touch(Entry& e, int64_t now) {
        if (!e.listed) return;
        e.last_ns = now;
        if (newest_ == &e) return;
        unlink(e);
        push_newest(e);
    }

    void push_newest(Entry& e) {
        e.older = newest_;
        e.newer = nullptr;
        if (newest_) newest_->newer = &e;
        else oldest_ = &e;
        newest_ = &e;
        e.listed = true;
    }

    void unlink(Entry& e) {
        if (!e.listed) return;
        (e.newer ? e.newer->older : newest_) = e.older;
        (e.older ? e.older->newer : oldest_) = e.newer;
        e.newer = e.older = nullptr;
        e.listed = false;
    }

    void erase(Entry& e) {
        unlink(e);
        auto& map = e.is_user ? users_ : ips_;
        auto it = map.find(*e.key);
        if (it != map.end()) map.erase(it);
    }

    void flush_counters() {
        auto flush = [&](uint64_t& n, const char* labels) {
            if (n) host_->counter_add(ctx_, "throttle_keys", labels, n);
            n = 0;
        };
        flush(added_, "change=\"added\"");
        flush(expired_, "change=\"expired\"");
        flush(evicted_, "change=\"evicted\"");
    }

    sb_module_ctx* ctx_;
    const sb_host_api* host_;
    Config cfg_;
    bool only_default_ = true;
    StringMap<uint32_t> names_;  // event name -> rule
    std::unordered_map<sb_socket_id, SocketState> sockets_;
    StringMap<Entry> ips_;
    StringMap<Entry> users_;
    Entry* newest_ = nullptr;  // LRU list of unpinned keys
    Entry* oldest_ = nullptr;
    uint64_t added_ = 0, expired_ = 0, evicted_ = 0;  // flushed to counters by the sweep
};

// ---- the C ABI -------------------------------------------------------------------

Throttle& self(void* state) { return *static_cast<Throttle*>(state); }

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char* config_json, sb_error* error) {
    if (!host || host->struct_size < offsetof(sb_host_api, counter_add) + sizeof host->counter_add) {
        sb_error_set(error, "INVALID", "throttle needs a host with identity, peer address and counter functions");
        return nullptr;
    }
    try {
        Config cfg;
        std::string err;
        if (!parse_config(config_json, cfg, err)) {
            sb_error_set(error, "INVALID", err.c_str());
            return nullptr;
        }
        return new Throttle(ctx, host, std::move(cfg));
    } catch (const std::exception& e) {
        sb_error_set(error, "INVALID", e.what());
    } catch (...) {
        sb_error_set(error, "INVALID", "unknown error");
    }
    return nullptr;
}

void destroy(void* state) { delete static_cast<Throttle*>(state); }

sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error* error) {
    try {
        return self(state).on_event(socket, *ev, error);
    } catch (...) {
        sb_error_set(error, "INTERNAL", "throttle failed");
        return SB_EVENT_FAILED;
    }
}

int on_handshake(void* state, const sb_handshake_info* info, sb_error* error) {
    try {
        return self(state).on_handshake(*info, error);
    } catch (...) {
        return 0;  // admit rather than refuse everybody when out of memory
    }
}

sb_connect_result on_connect(void* state, sb_socket_id socket, const sb_connect_info* info, sb_error* error) {
    try {
        return self(state).on_connect(socket, *info, error);
    } catch (...) {
        sb_error_set(error, "INTERNAL", "throttle failed");
        return SB_CONNECT_REJECT;
    }
}

void on_disconnect(void* state, sb_socket_id socket, const char*) {
    try {
        self(state).on_disconnect(socket);
    } catch (...) {
    }
}

void on_timer(void* state, sb_timer_id, void*) {
    try {
        self(state).sweep();
    } catch (...) {
    }
}

sb_status export_state(void* state, sb_state_writer* writer) {
    try {
        const std::string bytes = self(state).export_state();
        writer->write(writer, bytes.data(), bytes.size());
        return SB_OK;
    } catch (...) {
        return SB_ERR_INTERNAL;
    }
}

sb_status import_state(void* state, const uint8_t* data, size_t len, sb_error* error) {
    try {
        std::string err;
        if (self(state).import_state(data, len, err)) return SB_OK;
        sb_error_set(error, "INVALID", err.c_str());
        return SB_ERR_INVALID;
    } catch (...) {
        sb_error_set(error, "INTERNAL", "throttle could not import its state");
        return SB_ERR_INTERNAL;
    }
}

const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "throttle",
    .version = "1.0.0",
    .flags = 0,
    .create = create,
    .destroy = destroy,
    .on_connect = on_connect,
    .on_event = on_event,
    .on_disconnect = on_disconnect,
    .on_timer = on_timer,
    .export_state = export_state,
    .import_state = import_state,
    .config_keys = kConfigKeys,
    .config_key_count = sizeof kConfigKeys / sizeof kConfigKeys[0],
    .on_handshake = on_handshake,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
