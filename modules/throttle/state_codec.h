// The state throttle hands to its next instance on a reload, so that a
// client can neither empty its buckets nor exceed its connection limits by
// waiting for one: every socket (its IP and user, violation count, window
// and buckets) and every tracked key (its buckets, handshake bucket and
// recency). Buckets are listed by rule index and the rules' patterns come
// first, so the importer maps them onto its own rules by pattern: a rule
// no longer configured loses its buckets, a new one starts full.
//
// Format "throttle/1\n" then binary in native byte order (the bytes never
// leave the process). Every instance since the first writes and reads this
// exact layout; a change to it needs a new tag, and the importer refuses a
// tag it does not know, which cancels the reload.
#ifndef SWITCHBOARD_THROTTLE_STATE_CODEC_H
#define SWITCHBOARD_THROTTLE_STATE_CODEC_H

#include "limiter.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace throttle {

std::string export_state(const Limiter& limiter);

// Fills a limiter that has no sockets yet; sockets pin their keys from
// `now` on, and keys beyond max_tracked_keys are evicted least recently
// used first. Throws std::runtime_error, leaving the limiter unchanged,
// when the bytes are not a whole throttle/1 state.
void import_state(std::string_view bytes, Limiter& limiter, int64_t now);

}  // namespace throttle

#endif
