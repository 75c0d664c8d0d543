// The decisions of throttle (see limiter.h).
#include "limiter.h"

#include <algorithm>
#include <string>
#include <utility>

namespace throttle {

Limiter::Limiter(Settings settings)
    : settings_(std::move(settings)), keys_(settings_.max_tracked_keys, settings_.idle_ns) {}

uint64_t Limiter::take_event(SocketState& s, uint32_t r, int64_t now) {
    const Rule& rule = settings_.rules[r];
    Bucket* take[kScopes] = {nullptr, nullptr, nullptr};
    uint64_t wait = 0;
    auto check = [&](Scope scope, std::vector<Bucket>& buckets) {
        const Limit& l = rule.limits[scope];
        if (!l.enabled()) return;
        if (buckets.size() <= r) buckets.resize(settings_.rules.size());
        Bucket& b = buckets[r];
        const double tokens = refill(b, l, now);
        if (holds_token(tokens)) take[scope] = &b;
        else wait = std::max(wait, retry_ms(tokens, l));
    };
    check(kSocket, s.buckets);
    if (s.user) check(kUser, s.user->buckets);
    if (s.ip) check(kIp, s.ip->buckets);
    if (wait != 0) return wait;
    for (Bucket* b : take)
        if (b) take_token(*b);
    return 0;
}

bool Limiter::count_violation(SocketState& s, int64_t now) {
    if (s.window_start_ns == 0 || now - s.window_start_ns > settings_.violation_window_ns) {
        s.window_start_ns = now;
        s.violations = 0;
    }
    ++s.violations;
    return settings_.disconnect_after_violations && s.violations >= settings_.disconnect_after_violations;
}

uint64_t Limiter::admit_handshake(std::string_view ip, int64_t now) {
    if (!settings_.handshake.enabled()) return 0;
    TrackedKey& k = keys_.lookup(false, ip, now);
    keys_.touch(k, now);
    const double tokens = refill(k.handshake, settings_.handshake, now);
    if (!holds_token(tokens)) return retry_ms(tokens, settings_.handshake);
    take_token(k.handshake);
    return 0;
}

bool Limiter::connect(sb_socket_id socket, std::string_view ip_key, std::string_view user, int64_t now) {
    forget(socket, now);  // not expected: a socket id connects once
    TrackedKey& ip = keys_.lookup(false, ip_key, now);
    if (settings_.max_connections_per_ip && ip.connections >= settings_.max_connections_per_ip) {
        keys_.touch(ip, now);
        return false;
    }
    keys_.pin(ip);  // before the user's lookup, which may evict unpinned keys
    TrackedKey* u = nullptr;
    if (!user.empty()) {
        u = &keys_.lookup(true, user, now);
        if (settings_.max_connections_per_user && u->connections >= settings_.max_connections_per_user) {
            keys_.touch(*u, now);
            keys_.unpin(ip, now);
            return false;
        }
        keys_.pin(*u);
    }
    SocketState& s = sockets_[socket];
    s.ip = &ip;
    s.user = u;
    s.buckets.assign(settings_.rules.size(), Bucket{});
    return true;
}

SocketState& Limiter::adopt(sb_socket_id socket, std::string_view ip, std::string_view user, int64_t now) {
    SocketState& s = sockets_[socket];
    s.ip = &keys_.attach(false, ip, now);
    s.user = user.empty() ? nullptr : &keys_.attach(true, user, now);
    s.buckets.assign(settings_.rules.size(), Bucket{});
    return s;
}

void Limiter::forget(sb_socket_id socket, int64_t now) {
    auto it = sockets_.find(socket);
    if (it == sockets_.end()) return;
    if (it->second.ip) keys_.unpin(*it->second.ip, now);
    if (it->second.user) keys_.unpin(*it->second.user, now);
    sockets_.erase(it);
}

bool Limiter::restore_socket(sb_socket_id socket, const std::string* ip, const std::string* user, SocketState state,
                             int64_t now) {
    if (sockets_.count(socket)) return false;
    SocketState& s = sockets_[socket];
    s = std::move(state);
    s.ip = ip ? &keys_.attach(false, *ip, now) : nullptr;
    s.user = user ? &keys_.attach(true, *user, now) : nullptr;
    return true;
}

}  // namespace throttle
