// The server's configuration: YAML on disk, typed structs in memory.
//
// Everything is validated before anything starts, so a mistake is reported
// once, precisely (file, line, key, what was expected), instead of surfacing
// later as odd behaviour. A module's own subtree is passed through as JSON:
// the module validates it against the keys it declares.
#pragma once

#include "log.h"
#include "redis/redis_endpoint.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sb {

struct ListenConfig {
    std::string address = "0.0.0.0";
    int port = 3000;
    std::string tls_certificate;  // both set → TLS (wss/https)
    std::string tls_key;
};

struct ModuleConfig {
    std::string name;         // the module's name in the config
    std::string file;         // absolute, or relative to modules_path; default <name>.so
    std::string config_json;  // the module's `config:` subtree as JSON ("{}" when absent)
    int line = 0;             // 1-based line of the module's entry, for error messages
    std::map<std::string, int> config_key_lines;  // line of each key directly under config:
};

// One API key of the HTTP API for backends (see docs/http-api.md).
struct ApiKeyConfig {
    std::string name;                 // shown in logs and to modules; never the secret
    std::string key;                  // the secret itself (from key or key_file)
    std::vector<std::string> scopes;  // empty: every scope
};

// The HTTP API listener. Off unless at least one key is configured.
struct ApiConfig {
    std::vector<ListenConfig> listen;  // default: 127.0.0.1:3001
    std::vector<ApiKeyConfig> keys;
    uint64_t max_body = 1000000;
    uint64_t max_concurrent = 64;      // requests in flight at once; more are answered 503
    uint64_t request_timeout_ms = 10000;
    uint64_t rate_per_second = 0;      // per key; 0: no rate limit
    uint64_t rate_burst = 0;
    bool enabled() const { return !keys.empty(); }
};

// The scopes an API key may hold.
inline const std::vector<std::string>& api_scopes() {
    static const std::vector<std::string> scopes = {"emit", "disconnect", "read", "modules"};
    return scopes;
}

// Durable storage for modules (host API stream_* / kv_*). Off unless the
// config has a `storage:` section: a server whose modules keep nothing
// touches no disk.
struct StorageConfig {
    bool enabled = false;
    std::string backend = "sqlite";
    // The database file, absolute once loaded: a relative `path` is taken
    // inside the state directory ($STATE_DIRECTORY, as systemd's
    // StateDirectory= sets it, else /var/lib/switchboard).
    std::string path;
    bool synchronous_full = true;  // synchronous: full | normal
    bool integrity_check = true;   // PRAGMA quick_check at startup
    uint64_t max_value_size = 1024 * 1024;  // largest stream entry or value
    uint64_t max_queued = 100000;           // requests waiting before new ones are refused
    // backend redis: where (storage.redis, else cluster.redis).
    bool redis_set = false;
    redis::RedisEndpoint redis;
};

// Several nodes sharing rooms, users and presence through Redis. Off unless
// the config has a `cluster:` section: one node needs no Redis at all.
struct ClusterConfig {
    bool enabled = false;
    redis::RedisEndpoint redis;
    std::string prefix = "switchboard";  // of every key and channel: clusters can share one Redis
    uint64_t node_lease_ms = 10000;      // a node silent this long is gone, its users offline
    // host:port where other nodes reach this node's Socket.IO listener to
    // forward polling requests; default: the first listen address
    // (127.0.0.1 when it listens on every address).
    std::string advertise;
};

// The state directory relative storage paths are resolved in.
std::string default_state_directory();

// Outbound HTTP requests modules make (host API fetch): the settings
// every request shares. A request may name its own CA file.
struct HttpClientConfig {
    uint64_t max_in_flight = 1024;          // requests started and not ended, all modules together
    uint64_t max_connections_per_host = 64;  // open connections per origin (keep-alive reuse)
    std::string ca_file;                     // empty: the system's CA store
    std::string ca_dir;
    std::string proxy;                       // empty: none (the environment's http_proxy is ignored)
};

struct NamespaceConfig {
    std::string name;                  // "/" or "/admin"
    std::vector<std::string> modules;  // module chain, in order
};

struct Config {
    std::string source_path;

    std::vector<ListenConfig> listen;

    std::string engineio_path = "/socket.io/";
    uint64_t ping_interval_ms = 25000;
    uint64_t ping_timeout_ms = 20000;
    uint64_t upgrade_timeout_ms = 10000;
    uint64_t max_payload = 1000000;
    bool allow_polling = true;
    bool allow_websocket = true;

    uint64_t connect_timeout_ms = 45000;

    std::vector<std::string> cors_origins;  // empty: no CORS headers; "*": any origin
    bool cors_credentials = false;

    uint64_t max_connections = 10000;
    uint64_t max_http_header_size = 4096;
    uint64_t concurrent_handshakes = 256;  // HTTP requests parsed at once (one header buffer each)
    uint64_t max_send_queue = 4 * 1024 * 1024;  // bytes queued per session before it is dropped
    uint64_t drain_timeout_ms = 5000;

    log::Level log_level = log::Level::Info;

    std::string healthz_path = "/healthz";
    std::string metrics_path = "/metrics";

    std::string pid_file;      // written at start, removed at exit; used by -s
    std::string admin_token;   // bearer token for POST /admin/reload; empty: endpoint off
    std::string admin_reload_path = "/admin/reload";

    ApiConfig api;

    std::string modules_path;
    std::vector<ModuleConfig> modules;
    std::vector<NamespaceConfig> namespaces;

    StorageConfig storage;
    ClusterConfig cluster;
    HttpClientConfig http_client;
};

// A configuration problem, already formatted as "file:line: key: reason".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads and validates a config file. Throws ConfigError.
Config load_config(const std::string& path);
// Same, from text (for tests); `path` only names the source in errors.
Config parse_config(const std::string& yaml_text, const std::string& path);

}  // namespace sb
