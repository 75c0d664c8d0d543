// The request signature a backend checks to know a request comes from this
// server: X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>"> with the backend's shared secret. The timestamp inside the
// signed text lets a backend refuse replays of old requests.
#ifndef SWITCHBOARD_BACKEND_SIGNATURE_H
#define SWITCHBOARD_BACKEND_SIGNATURE_H

#include <cstdint>
#include <string>
#include <string_view>

namespace backend {

constexpr const char* kSignatureHeader = "X-Switchboard-Signature";

// The header's value for `body` sent at `unix_seconds`.
std::string signature_value(std::string_view secret, uint64_t unix_seconds, std::string_view body);

}  // namespace backend

#endif
