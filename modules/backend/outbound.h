// One POST to a backend, built the same way for RPCs and webhooks: the
// backend's URL and static headers, JSON content type, the signature when a
// secret is configured, its timeouts, response cap and TLS settings; and the
// one-line reason a failed answer gives clients and logs.
#ifndef SWITCHBOARD_BACKEND_OUTBOUND_H
#define SWITCHBOARD_BACKEND_OUTBOUND_H

#include "settings.h"

#include <switchboard/fetch.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace backend {

sb::FetchRequest post_request(const BackendSettings& b, std::string_view path, std::string body, uint64_t now_ms);

// Why `r` is not a usable answer ("" when it is a 2xx response).
std::string failure_of(const BackendSettings& b, const sb::FetchResponse& r);

}  // namespace backend

#endif
