// The backend module's configuration, parsed and checked once when the
// module is created: the backends (where, how to sign, how long to wait, how
// much to send at once), which client events go to which backend path, the
// per-socket and per-request limits, the webhook stream and the connect
// proxy. See README.md.
#ifndef SWITCHBOARD_BACKEND_SETTINGS_H
#define SWITCHBOARD_BACKEND_SETTINGS_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backend {

struct BackendSettings {
    std::string name;
    std::string url;  // without a trailing '/'
    std::vector<std::pair<std::string, std::string>> headers;
    std::string secret;  // empty: requests are not signed
    uint64_t connect_timeout_ms = 1000;
    uint64_t timeout_ms = 5000;
    size_t max_in_flight = 64;   // RPCs sent and not answered
    size_t max_queue = 1024;     // RPCs waiting for a slot; beyond it UNAVAILABLE
    size_t max_response_bytes = 1 << 20;
    std::string ca_file;
    bool insecure_skip_verify = false;
};

struct RpcRule {
    std::string pattern;  // event name; '*' matches any run of characters
    size_t backend = 0;   // index into Settings::backends
    std::string path;     // starts with '/'
};

struct WebhookSettings {
    bool enabled = false;
    size_t backend = 0;
    std::string path;
    bool connect = true, disconnect = true, join = true, leave = true;
    size_t batch_size = 100;       // events per POST at most
    uint64_t batch_delay_ms = 50;  // how long a partial batch waits for more
    size_t max_queue = 10000;      // events held while the backend fails
    uint64_t retry_initial_ms = 200;
    uint64_t retry_max_ms = 30000;
};

// The connect proxy: a Socket.IO CONNECT is decided by the backend.
struct ConnectSettings {
    bool enabled = false;
    size_t backend = 0;
    std::string path;
};

struct Settings {
    std::vector<BackendSettings> backends;
    std::vector<RpcRule> rpc;  // first match wins
    size_t max_rpcs_per_socket = 16;
    size_t max_request_bytes = 65536;
    bool binary_as_base64 = true;  // false: events with binary arguments are refused (INVALID)
    WebhookSettings webhooks;
    ConnectSettings connect;

    const RpcRule* match(std::string_view event) const;
    std::optional<size_t> backend_named(std::string_view name) const;
};

// Throws std::runtime_error naming the offending key.
Settings parse_settings(std::string_view config_json);

}  // namespace backend

#endif
