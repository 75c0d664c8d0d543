// Token buckets: the arithmetic every throttle limit rests on, kept apart
// from who owns the buckets (sockets, users, IPs) so that it can be checked
// on its own. A limit is a rate per second and a burst; a bucket is the
// tokens it held at the time it was last looked at, refilled lazily when
// looked at again, so that no timer runs per bucket. Times are steady-clock
// nanoseconds, which a reload hands over as they are (same process, same
// clock). Everything here is on the event hot path, hence inline.
#ifndef SWITCHBOARD_THROTTLE_BUCKETS_H
#define SWITCHBOARD_THROTTLE_BUCKETS_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace throttle {

constexpr int64_t kMinIdleNs = 1'000'000'000LL;              // 1 s
constexpr int64_t kMaxIdleNs = 24LL * 3600 * 1'000'000'000;  // 1 day
// Refills are sums of fractions: a bucket a hair below one token after
// exactly 1/rate seconds still holds one.
constexpr double kEpsilon = 1e-9;

struct Limit {
    double rate = 0;   // tokens per second; 0: no limit
    double burst = 0;  // capacity
    bool enabled() const { return rate > 0; }
    // How long an empty bucket takes to fill up (at most a day).
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

// The tokens in `b` at `now`, refilled at the limit's rate up to its burst.
inline double refill(Bucket& b, const Limit& l, int64_t now) {
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

inline bool holds_token(double tokens) { return tokens >= 1.0 - kEpsilon; }

// Takes the token a refill just found (see holds_token).
inline void take_token(Bucket& b) { b.tokens = std::max(0.0, b.tokens - 1.0); }

// Milliseconds until a bucket holding `tokens` holds one (1 ms at least).
inline uint64_t retry_ms(double tokens, const Limit& l) {
    const double ms = std::ceil((1.0 - tokens) / l.rate * 1000.0);
    if (ms < 1) return 1;
    if (ms > 1e12) return 1'000'000'000'000ULL;
    return static_cast<uint64_t>(ms);
}

}  // namespace throttle

#endif
