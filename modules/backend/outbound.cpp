// Requests to a backend and how their failures read (see outbound.h).
#include "outbound.h"

#include "signature.h"

namespace backend {

sb::FetchRequest post_request(const BackendSettings& b, std::string_view path, std::string body, uint64_t now_ms) {
    sb::FetchRequest r;
    r.method = "POST";
    r.url = b.url + std::string(path);
    r.headers = b.headers;
    r.headers.emplace_back("Content-Type", "application/json");
    if (!b.secret.empty()) r.headers.emplace_back(kSignatureHeader, signature_value(b.secret, now_ms / 1000, body));
    r.body = std::move(body);
    r.connect_timeout_ms = b.connect_timeout_ms;
    r.timeout_ms = b.timeout_ms;
    r.max_response_bytes = b.max_response_bytes;
    r.ca_file = b.ca_file;
    r.insecure_skip_verify = b.insecure_skip_verify;
    return r;
}

std::string failure_of(const BackendSettings& b, const sb::FetchResponse& r) {
    const std::string who = "backend '" + b.name + "'";
    switch (r.outcome) {
        case SB_FETCH_OK:
            if (r.status >= 200 && r.status < 300) return "";
            return who + " answered HTTP " + std::to_string(r.status);
        case SB_FETCH_REFUSED: return who + " is not reachable (connection refused)";
        case SB_FETCH_DNS: return who + " is not reachable (host name does not resolve)";
        case SB_FETCH_TIMEOUT: return who + " did not answer in time";
        case SB_FETCH_TLS: return who + " failed the TLS handshake or certificate verification";
        case SB_FETCH_TOO_LARGE: return who + " answered more than " + std::to_string(b.max_response_bytes) + " bytes";
        default: return who + " failed: " + std::string(r.error);
    }
}

}  // namespace backend
