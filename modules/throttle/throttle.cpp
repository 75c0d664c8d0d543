// Module "throttle": rate limits for events and connections.
//
//   an event                    -> the rule of its name (an exact name, else
//                                  the longest prefix ending in '*', else the
//                                  default; rule_cache.h) and the token
//                                  buckets of its socket, user and client IP
//                                  (limiter.h): within all of them it goes on
//                                  to the next module; over any, RATE_LIMITED
//                                  with retryAfterMs, before a later module
//                                  sees it
//   too many refusals           -> the socket is disconnected
//   a new Engine.IO session     -> a token bucket per client IP; over it the
//                                  handshake gets HTTP 429, on both transports
//   a Socket.IO connection      -> concurrent connections per client IP and
//                                  per user to the namespaces whose chain
//                                  holds this module; over either,
//                                  CONNECT_ERROR "too many connections"
//   the sweep timer             -> idle IPs and users are forgotten
//                                  (tracked_keys.h) and the key counters
//                                  flushed
//   reload                      -> the state is handed to the new instance
//                                  (state_codec.h)
//
// This file turns the limiter's answers into what the host sees: refusals,
// counters, log lines, a disconnection. Hot path: an event costs one lookup
// of the socket by id, the rule of its name (cached; skipped when only the
// default exists) and arithmetic on at most three buckets the socket points
// at directly. See README.md for the configuration and the metrics.
#include "limiter.h"
#include "rule_cache.h"
#include "settings.h"
#include "state_codec.h"

#include <switchboard/module.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace throttle {
namespace {

constexpr size_t kMaxSweepPerTick = 200000;  // keys one sweep drops at most; the rest wait for the next

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string retry_details(uint64_t wait_ms) { return "{\"retryAfterMs\":" + std::to_string(wait_ms) + "}"; }

// The host, once it is known to offer every function throttle calls (all
// of ABI 1.0, counter_add the last of them).
sb::Host checked(sb::Host host) {
    const sb_host_api* api = host.api();
    if (!api || api->struct_size < offsetof(sb_host_api, counter_add) + sizeof api->counter_add)
        throw std::runtime_error("throttle needs a host with identity, peer address and counter functions");
    return host;
}

class Throttle {
public:
    static constexpr const auto& config_keys = kConfigKeys;

    Throttle(sb::Host host, std::string_view config_json)
        : host_(checked(host)), limiter_(parse_settings(config_json)), rules_(limiter_.settings()) {
        const uint64_t interval = limiter_.settings().sweep_interval_ms;
        if (!host_.start_timer(interval, interval))
            host_.log(SB_LOG_WARN, "could not start the sweep timer: idle keys are only evicted at the limit");
    }

    // Refusals are returned, not thrown: under a flood most events are
    // refused, and unwinding would cost ten times what refusing does.
    sb::Verdict on_event(sb_socket_id socket, const sb_event& ev) {
        const uint32_t rule = rules_.rule_for(ev.name);
        if (!limiter_.settings().rules[rule].any()) return sb::Verdict::pass();
        SocketState& s = state_of(socket);
        const int64_t now = now_ns();
        const uint64_t wait = limiter_.take_event(s, rule, now);
        if (wait == 0) return sb::Verdict::pass();
        return refuse_event(socket, s, wait, now);
    }

    sb::Verdict on_handshake(const sb_handshake_info& info) {
        uint64_t wait = 0;
        try {
            wait = limiter_.admit_handshake(info.remote_address ? info.remote_address : "", now_ns());
        } catch (...) {
            return sb::Verdict::pass();  // admit rather than refuse everybody when out of memory
        }
        if (wait == 0) return sb::Verdict::pass();
        host_.counter_add("throttle_rejections", "kind=\"handshake\"");
        return sb::Refusal("too many new connections, retry after " + std::to_string(wait) + " ms", "RATE_LIMITED",
                           retry_details(wait))
            .with_status(429);
    }

    sb::Verdict on_connect(sb_socket_id socket, const sb_connect_info& info) {
        std::string user;
        if (const char* u = host_.user_of(socket)) user = u;
        if (limiter_.connect(socket, info.remote_address ? info.remote_address : "", user, now_ns()))
            return sb::Verdict::pass();
        host_.counter_add("throttle_rejections", "kind=\"connection\"");
        return sb::Refusal("too many connections", "RATE_LIMITED");
    }

    void on_disconnect(sb_socket_id socket, std::string_view) { limiter_.forget(socket, now_ns()); }

    void on_timer(sb_timer_id, void*) {
        TrackedKeys& keys = limiter_.keys();
        keys.expire_idle(now_ns(), kMaxSweepPerTick);
        if (const uint64_t evicted = keys.evicted_pending())
            host_.log(SB_LOG_WARN, "max_tracked_keys (" + std::to_string(keys.max_keys()) + ") reached: " +
                                       std::to_string(evicted) + " keys evicted since the last sweep");
        flush_key_counters();
    }

    std::string export_state() {
        flush_key_counters();
        return throttle::export_state(limiter_);
    }

    void import_state(std::string_view bytes) { throttle::import_state(bytes, limiter_, now_ns()); }

private:
    SocketState& state_of(sb_socket_id socket) {
        if (SocketState* s = limiter_.find(socket)) return *s;
        // A socket that joined before this module was in its namespace's
        // chain (added by a reload): adopted on its first event. Both
        // strings are copied: each is borrowed until the next host call.
        std::string ip, user;
        if (const char* a = host_.remote_address_of(socket)) ip = a;
        if (const char* u = host_.user_of(socket)) user = u;
        return limiter_.adopt(socket, ip, user, now_ns());
    }

    sb::Refusal refuse_event(sb_socket_id socket, SocketState& s, uint64_t wait, int64_t now) {
        host_.counter_add("throttle_rejections", "kind=\"event\"");
        if (!limiter_.count_violation(s, now))
            return sb::Refusal("rate limited, retry after " + std::to_string(wait) + " ms", "RATE_LIMITED",
                               retry_details(wait));
        host_.counter_add("throttle_disconnects");
        host_.log(SB_LOG_INFO, "disconnecting socket " + std::to_string(socket) + " (" +
                                   (s.ip ? *s.ip->key : std::string("?")) + "): " + std::to_string(s.violations) +
                                   " rate-limited events within " +
                                   std::to_string(limiter_.settings().violation_window_ns / 1'000'000) + " ms");
        host_.disconnect(socket);  // runs on_disconnect: `s` is gone from here on
        return sb::Refusal("rate limited: disconnected", "RATE_LIMITED");
    }

    void flush_key_counters() {
        const KeyChanges changes = limiter_.keys().take_changes();
        auto flush = [&](uint64_t n, const char* labels) {
            if (n) host_.counter_add("throttle_keys", labels, n);
        };
        flush(changes.added, "change=\"added\"");
        flush(changes.expired, "change=\"expired\"");
        flush(changes.evicted, "change=\"evicted\"");
    }

    sb::Host host_;
    Limiter limiter_;
    RuleCache rules_;  // refers to limiter_'s settings
};

}  // namespace
}  // namespace throttle

SWITCHBOARD_MODULE(throttle::Throttle, "throttle", "1.0.0")
