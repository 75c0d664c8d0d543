// The server's configuration (see config.h). The loader walks the YAML tree
// with a list of known keys per mapping, so an unknown or misspelled key is an
// error pointing at its line rather than a silently ignored setting; reading
// single values is config_yaml.h's.
#include "config.h"

#include "config_yaml.h"
#include "units.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace sb {
namespace {

// Reads the whole file, section by section, into a Config.
class Loader : YamlReader {
public:
    using YamlReader::YamlReader;

    Config load(const YAML::Node& root) {
        Config c;
        c.source_path = path_;
        if (!root.IsDefined() || root.IsNull()) fail(root, "(top level)", "the file is empty");
        bool listen_seen = false;
        YAML::Node namespaces_node;
        for_each_key(root, "", {
            {"listen", [&](const YAML::Node& n, const std::string& k) { listen_seen = true; load_listen(n, k, c.listen); }},
            {"engineio", [&](const YAML::Node& n, const std::string& k) { load_engineio(n, k, c); }},
            {"socketio", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {{"connect_timeout", [&](const YAML::Node& v, const std::string& kk) {
                                          c.connect_timeout_ms = duration_value(v, kk, 10, 3'600'000);
                                      }}});
             }},
            {"cors", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {
                     {"origins", [&](const YAML::Node& v, const std::string& kk) { c.cors_origins = string_list(v, kk); }},
                     {"credentials", [&](const YAML::Node& v, const std::string& kk) { c.cors_credentials = bool_value(v, kk); }},
                 });
             }},
            {"limits", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {
                     {"max_connections", [&](const YAML::Node& v, const std::string& kk) {
                          c.max_connections = uint_value(v, kk, 1, 10'000'000);
                      }},
                     {"max_send_queue", [&](const YAML::Node& v, const std::string& kk) {
                          c.max_send_queue = size_value(v, kk, 1024, 1ull << 31);  // a session counts it in 32 bits
                      }},
                     {"concurrent_handshakes", [&](const YAML::Node& v, const std::string& kk) {
                          c.concurrent_handshakes = uint_value(v, kk, 8, 65535);
                      }},
                     {"max_http_header_size", [&](const YAML::Node& v, const std::string& kk) {
                          c.max_http_header_size = size_value(v, kk, 512, 65535);
                      }},
                 });
             }},
            {"shutdown", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {{"drain_timeout", [&](const YAML::Node& v, const std::string& kk) {
                                          c.drain_timeout_ms = duration_value(v, kk, 0, 3'600'000);
                                      }}});
             }},
            {"log", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {{"level", [&](const YAML::Node& v, const std::string& kk) {
                                          std::string l = scalar(v, kk);
                                          if (l == "debug") c.log_level = log::Level::Debug;
                                          else if (l == "info") c.log_level = log::Level::Info;
                                          else if (l == "warn") c.log_level = log::Level::Warn;
                                          else if (l == "error") c.log_level = log::Level::Error;
                                          else fail(v, kk, "expected one of debug, info, warn, error; got '" + l + "'");
                                      }}});
             }},
            {"http", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {
                     {"healthz_path", [&](const YAML::Node& v, const std::string& kk) { c.healthz_path = path_value(v, kk); }},
                     {"metrics_path", [&](const YAML::Node& v, const std::string& kk) { c.metrics_path = path_value(v, kk); }},
                 });
             }},
            {"modules_path", [&](const YAML::Node& n, const std::string& k) { c.modules_path = string_value(n, k); }},
            {"pid_file", [&](const YAML::Node& n, const std::string& k) { c.pid_file = string_value(n, k); }},
            {"admin", [&](const YAML::Node& n, const std::string& k) {
                 for_each_key(n, k, {
                     {"token", [&](const YAML::Node& v, const std::string& kk) {
                          c.admin_token = string_value(v, kk);
                          if (c.admin_token.size() < 16) fail(v, kk, "must be at least 16 characters");
                      }},
                     {"token_file", [&](const YAML::Node& v, const std::string& kk) {
                          std::string file = readable_file(v, kk);
                          std::ifstream in(file);
                          std::getline(in, c.admin_token);
                          if (c.admin_token.size() < 16) fail(v, kk, "the token in '" + file + "' must be at least 16 characters");
                      }},
                     {"reload_path", [&](const YAML::Node& v, const std::string& kk) { c.admin_reload_path = path_value(v, kk); }},
                 });
             }},
            {"api", [&](const YAML::Node& n, const std::string& k) { load_api(n, k, c.api); }},
            {"modules", [&](const YAML::Node& n, const std::string& k) { load_modules(n, k, c); }},
            {"namespaces", [&](const YAML::Node& n, const std::string& k) { namespaces_node = n; load_namespaces(n, k, c); }},
            {"storage", [&](const YAML::Node& n, const std::string& k) { load_storage(n, k, c.storage); }},
            {"cluster", [&](const YAML::Node& n, const std::string& k) { load_cluster(n, k, c.cluster); }},
            {"http_client", [&](const YAML::Node& n, const std::string& k) { load_http_client(n, k, c.http_client); }},
        });
        if (c.storage.backend == "redis" && !c.storage.redis_set) {
            if (!c.cluster.enabled)
                fail(root["storage"]["backend"], "storage.backend",
                     "redis needs storage.redis or a cluster.redis section saying where Redis is");
            c.storage.redis = c.cluster.redis;
        }
        if (!listen_seen) c.listen.push_back(ListenConfig{});
        if (c.cluster.enabled && c.cluster.advertise.empty()) {
            const ListenConfig& l = c.listen.front();
            const std::string host = l.address == "0.0.0.0" || l.address.empty() ? "127.0.0.1"
                                     : l.address == "::" ? "::1" : l.address;
            c.cluster.advertise = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(l.port);
        }
        if (c.api.listen.empty()) c.api.listen.push_back(ListenConfig{"127.0.0.1", 3001, "", ""});
        if (c.ping_timeout_ms == 0) fail(root, "engineio.ping_timeout", "must be greater than 0");
        if (c.namespaces.empty()) fail(root, "namespaces", "at least one namespace must be configured");
        for (const auto& ns : c.namespaces) {
            for (size_t i = 0; i < ns.modules.size(); ++i) {
                const std::string& m = ns.modules[i];
                bool known = std::any_of(c.modules.begin(), c.modules.end(), [&](const ModuleConfig& mc) { return mc.name == m; });
                if (known) continue;
                YAML::Node list = namespaces_node[ns.name]["modules"];
                fail(list.IsSequence() ? list[i] : list, "namespaces." + ns.name + ".modules",
                     "module '" + m + "' is not declared under modules:");
            }
        }
        return c;
    }

    std::string path_value(const YAML::Node& n, const std::string& key) const {
        std::string v = scalar(n, key);
        if (v.empty() || v[0] != '/') fail(n, key, "must be an absolute path starting with '/'");
        return v;
    }

    void load_listen(const YAML::Node& n, const std::string& key, std::vector<ListenConfig>& out,
                     const std::string& default_address = "0.0.0.0") {
        if (!n.IsSequence() || n.size() == 0) fail(n, key, "expected a non-empty list of {address, port}");
        for (size_t i = 0; i < n.size(); ++i) {
            ListenConfig l;
            l.address = default_address;
            const std::string k = key + "[" + std::to_string(i) + "]";
            for_each_key(n[i], k, {
                {"address", [&](const YAML::Node& v, const std::string& kk) { l.address = string_value(v, kk); }},
                {"port", [&](const YAML::Node& v, const std::string& kk) { l.port = static_cast<int>(uint_value(v, kk, 0, 65535)); }},
                {"tls", [&](const YAML::Node& v, const std::string& kk) {
                     for_each_key(v, kk, {
                         {"certificate", [&](const YAML::Node& x, const std::string& kx) { l.tls_certificate = readable_file(x, kx); }},
                         {"key", [&](const YAML::Node& x, const std::string& kx) { l.tls_key = readable_file(x, kx); }},
                     });
                     if (l.tls_certificate.empty() != l.tls_key.empty())
                         fail(v, kk, "both certificate and key are required for TLS");
                 }},
            });
            out.push_back(l);
        }
    }

    void load_api(const YAML::Node& n, const std::string& key, ApiConfig& api) {
        if (n.IsNull()) return;
        for_each_key(n, key, {
            {"listen", [&](const YAML::Node& v, const std::string& k) { load_listen(v, k, api.listen, "127.0.0.1"); }},
            {"keys", [&](const YAML::Node& v, const std::string& k) { load_api_keys(v, k, api); }},
            {"max_body", [&](const YAML::Node& v, const std::string& k) { api.max_body = size_value(v, k, 64, 64ull << 20); }},
            {"max_concurrent", [&](const YAML::Node& v, const std::string& k) { api.max_concurrent = uint_value(v, k, 1, 10000); }},
            {"request_timeout", [&](const YAML::Node& v, const std::string& k) {
                 api.request_timeout_ms = duration_value(v, k, 100, 600'000);
             }},
            {"rate_limit", [&](const YAML::Node& v, const std::string& k) {
                 for_each_key(v, k, {
                     {"per_second", [&](const YAML::Node& x, const std::string& kx) { api.rate_per_second = uint_value(x, kx, 1, 1'000'000); }},
                     {"burst", [&](const YAML::Node& x, const std::string& kx) { api.rate_burst = uint_value(x, kx, 1, 1'000'000); }},
                 });
                 if (api.rate_per_second == 0) fail(v, k + ".per_second", "is required when rate_limit is set");
                 if (api.rate_burst == 0) api.rate_burst = api.rate_per_second;
             }},
        });
    }

    void load_api_keys(const YAML::Node& n, const std::string& key, ApiConfig& api) {
        if (!n.IsSequence()) fail(n, key, "expected a list of {name, key | key_file, scopes}");
        for (size_t i = 0; i < n.size(); ++i) {
            ApiKeyConfig k;
            const std::string kk = key + "[" + std::to_string(i) + "]";
            bool has_secret = false;
            auto set_secret = [&](const YAML::Node& v, const std::string& kx, std::string secret, const std::string& where) {
                if (has_secret) fail(v, kx, "give either key or key_file, not both");
                has_secret = true;
                if (secret.size() < 16) fail(v, kx, where + "must be at least 16 characters");
                k.key = std::move(secret);
            };
            for_each_key(n[i], kk, {
                {"name", [&](const YAML::Node& v, const std::string& kx) {
                     k.name = scalar(v, kx);
                     if (k.name.empty() || k.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos)
                         fail(v, kx, "use letters, digits, '_', '.' and '-'");
                     for (const auto& earlier : api.keys)
                         if (earlier.name == k.name) fail(v, kx, "duplicate key name '" + k.name + "'");
                 }},
                {"key", [&](const YAML::Node& v, const std::string& kx) { set_secret(v, kx, scalar(v, kx), ""); }},
                {"key_file", [&](const YAML::Node& v, const std::string& kx) {
                     std::string file = readable_file(v, kx);
                     std::ifstream in(file);
                     std::string secret;
                     std::getline(in, secret);
                     while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
                     set_secret(v, kx, secret, "the key in '" + file + "' ");
                 }},
                {"scopes", [&](const YAML::Node& v, const std::string& kx) {
                     k.scopes = string_list(v, kx);
                     for (const auto& s : k.scopes)
                         if (std::find(api_scopes().begin(), api_scopes().end(), s) == api_scopes().end())
                             fail(v, kx, "unknown scope '" + s + "' (known scopes: emit, disconnect, read, modules)");
                     if (k.scopes.empty()) fail(v, kx, "list at least one scope, or leave scopes out for all of them");
                 }},
            });
            if (k.name.empty()) fail(n[i], kk + ".name", "is required");
            if (!has_secret) fail(n[i], kk + ".key", "is required (or key_file)");
            api.keys.push_back(std::move(k));
        }
    }

    std::string readable_file(const YAML::Node& n, const std::string& key) const {
        std::string p = scalar(n, key);
        std::ifstream f(p);
        if (!f) fail(n, key, "cannot read file '" + p + "'");
        return p;
    }

    void load_engineio(const YAML::Node& n, const std::string& key, Config& c) {
        for_each_key(n, key, {
            {"path", [&](const YAML::Node& v, const std::string& k) {
                 c.engineio_path = path_value(v, k);
                 if (c.engineio_path.back() != '/') c.engineio_path.push_back('/');
             }},
            {"ping_interval", [&](const YAML::Node& v, const std::string& k) { c.ping_interval_ms = duration_value(v, k, 10, 3'600'000); }},
            {"ping_timeout", [&](const YAML::Node& v, const std::string& k) { c.ping_timeout_ms = duration_value(v, k, 10, 3'600'000); }},
            {"upgrade_timeout", [&](const YAML::Node& v, const std::string& k) { c.upgrade_timeout_ms = duration_value(v, k, 10, 3'600'000); }},
            {"max_payload", [&](const YAML::Node& v, const std::string& k) { c.max_payload = size_value(v, k, 64, 1ull << 30); }},
            {"transports", [&](const YAML::Node& v, const std::string& k) {
                 c.allow_polling = c.allow_websocket = false;
                 for (const auto& t : string_list(v, k)) {
                     if (t == "polling") c.allow_polling = true;
                     else if (t == "websocket") c.allow_websocket = true;
                     else fail(v, k, "unknown transport '" + t + "' (expected polling, websocket)");
                 }
                 if (!c.allow_polling && !c.allow_websocket) fail(v, k, "at least one transport is required");
             }},
        });
    }

    void load_http_client(const YAML::Node& n, const std::string& key, HttpClientConfig& h) {
        for_each_key(n, key, {
            {"max_in_flight", [&](const YAML::Node& v, const std::string& k) { h.max_in_flight = uint_value(v, k, 1, 1'000'000); }},
            {"max_connections_per_host", [&](const YAML::Node& v, const std::string& k) {
                 h.max_connections_per_host = uint_value(v, k, 1, 10'000);
             }},
            {"ca_file", [&](const YAML::Node& v, const std::string& k) { h.ca_file = readable_file(v, k); }},
            {"ca_dir", [&](const YAML::Node& v, const std::string& k) {
                 h.ca_dir = scalar(v, k);
                 if (!std::filesystem::is_directory(h.ca_dir)) fail(v, k, "'" + h.ca_dir + "' is not a directory");
             }},
            {"proxy", [&](const YAML::Node& v, const std::string& k) {
                 h.proxy = scalar(v, k);
                 if (h.proxy.rfind("http://", 0) != 0 && h.proxy.rfind("https://", 0) != 0 &&
                     h.proxy.rfind("socks5://", 0) != 0)
                     fail(v, k, "expected a proxy URL (http://, https:// or socks5://), got '" + h.proxy + "'");
             }},
        });
    }

    void load_storage(const YAML::Node& n, const std::string& key, StorageConfig& st) {
        st.enabled = true;
        st.path = "switchboard.db";
        if (!n.IsNull()) {
            for_each_key(n, key, {
                {"backend", [&](const YAML::Node& v, const std::string& k) {
                     st.backend = scalar(v, k);
                     if (st.backend != "sqlite" && st.backend != "redis")
                         fail(v, k, "unknown backend '" + st.backend + "' (expected sqlite or redis)");
                 }},
                {"redis", [&](const YAML::Node& v, const std::string& k) {
                     st.redis_set = true;
                     load_redis(v, k, st.redis);
                 }},
                {"path", [&](const YAML::Node& v, const std::string& k) {
                     st.path = scalar(v, k);
                     if (st.path.empty() || st.path.back() == '/') fail(v, k, "expected a file name or path, got '" + st.path + "'");
                 }},
                {"synchronous", [&](const YAML::Node& v, const std::string& k) {
                     const std::string mode = scalar(v, k);
                     if (mode != "full" && mode != "normal") fail(v, k, "expected full or normal, got '" + mode + "'");
                     st.synchronous_full = mode == "full";
                 }},
                {"integrity_check", [&](const YAML::Node& v, const std::string& k) { st.integrity_check = bool_value(v, k); }},
                {"max_value_size", [&](const YAML::Node& v, const std::string& k) {
                     st.max_value_size = size_value(v, k, 1, 64ull * 1024 * 1024);
                 }},
                {"max_queued", [&](const YAML::Node& v, const std::string& k) { st.max_queued = uint_value(v, k, 1, 10'000'000); }},
            });
        }
        if (st.path[0] != '/') st.path = default_state_directory() + "/" + st.path;
    }

    // "host:port", "[v6]:port", "unix:/path" or "/path".
    void load_redis_address(const YAML::Node& v, const std::string& k, redis::RedisEndpoint& r) const {
        const std::string a = scalar(v, k);
        if (a.rfind("unix:", 0) == 0 || a.rfind('/', 0) == 0) {
            r.unix_path = a[0] == '/' ? a : a.substr(5);
            if (r.unix_path.empty() || r.unix_path[0] != '/') fail(v, k, "a unix socket path must be absolute, got '" + a + "'");
            return;
        }
        const size_t colon = a.rfind(':');
        std::string host = colon == std::string::npos ? a : a.substr(0, colon);
        if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host.empty()) fail(v, k, "expected host:port or unix:/path, got '" + a + "'");
        r.host = host;
        if (colon == std::string::npos) return;
        const std::string port = a.substr(colon + 1);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(port) < 1 || std::stoi(port) > 65535)
            fail(v, k, "expected a port between 1 and 65535 after ':', got '" + a + "'");
        r.port = std::stoi(port);
    }

    void load_redis(const YAML::Node& n, const std::string& key, redis::RedisEndpoint& r) {
        if (n.IsScalar()) return load_redis_address(n, key, r);
        for_each_key(n, key, {
            {"address", [&](const YAML::Node& v, const std::string& k) { load_redis_address(v, k, r); }},
            {"username", [&](const YAML::Node& v, const std::string& k) { r.username = string_value(v, k); }},
            {"password", [&](const YAML::Node& v, const std::string& k) { r.password = string_value(v, k); }},
            {"password_file", [&](const YAML::Node& v, const std::string& k) {
                 const std::string file = readable_file(v, k);
                 std::ifstream in(file);
                 std::getline(in, r.password);
                 if (r.password.empty()) fail(v, k, "'" + file + "' holds no password on its first line");
             }},
            {"db", [&](const YAML::Node& v, const std::string& k) { r.db = static_cast<int>(uint_value(v, k, 0, 65535)); }},
            {"command_timeout", [&](const YAML::Node& v, const std::string& k) {
                 r.command_timeout_ms = duration_value(v, k, 100, 600'000);
             }},
        });
    }

    void load_cluster(const YAML::Node& n, const std::string& key, ClusterConfig& cl) {
        cl.enabled = true;
        if (n.IsNull()) return;
        for_each_key(n, key, {
            {"redis", [&](const YAML::Node& v, const std::string& k) { load_redis(v, k, cl.redis); }},
            {"prefix", [&](const YAML::Node& v, const std::string& k) {
                 cl.prefix = scalar(v, k);
                 if (cl.prefix.empty() || cl.prefix.find_first_of(" \t\r\n{}") != std::string::npos)
                     fail(v, k, "expected a non-empty name without spaces or braces, got '" + cl.prefix + "'");
             }},
            {"node_lease", [&](const YAML::Node& v, const std::string& k) { cl.node_lease_ms = duration_value(v, k, 1000, 3'600'000); }},
            {"advertise", [&](const YAML::Node& v, const std::string& k) {
                 cl.advertise = scalar(v, k);
                 const size_t colon = cl.advertise.rfind(':');
                 if (colon == std::string::npos || colon == 0 || colon + 1 == cl.advertise.size() ||
                     cl.advertise.find_first_not_of("0123456789", colon + 1) != std::string::npos)
                     fail(v, k, "expected host:port where other nodes reach this one, got '" + cl.advertise + "'");
             }},
        });
    }

    void load_modules(const YAML::Node& n, const std::string& key, Config& c) {
        if (n.IsNull()) return;
        if (!n.IsMap()) fail(n, key, "expected a mapping of module name to its settings");
        for (auto it = n.begin(); it != n.end(); ++it) {
            ModuleConfig m;
            m.name = scalar(it->first, key);
            const std::string k = key + "." + m.name;
            for (const auto& earlier : c.modules)
                if (earlier.name == m.name) fail(it->first, k, "duplicate module");
            if (m.name.empty() || m.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
                fail(it->first, k, "module names use lower-case letters, digits, '_' and '-'");
            m.config_json = "{}";
            m.line = it->first.Mark().line + 1;
            if (!it->second.IsNull()) {
                for_each_key(it->second, k, {
                    {"file", [&](const YAML::Node& v, const std::string& kk) { m.file = string_value(v, kk); }},
                    {"config", [&](const YAML::Node& v, const std::string& kk) {
                         if (!v.IsMap() && !v.IsNull()) fail(v, kk, "expected a mapping");
                         if (v.IsMap()) {
                             m.config_json = json_of(v, kk);
                             for (auto key = v.begin(); key != v.end(); ++key)
                                 m.config_key_lines[key->first.Scalar()] = key->first.Mark().line + 1;
                         }
                     }},
                });
            }
            if (m.file.empty()) m.file = m.name + ".so";
            c.modules.push_back(std::move(m));
        }
    }

    void load_namespaces(const YAML::Node& n, const std::string& key, Config& c) {
        if (!n.IsMap()) fail(n, key, "expected a mapping of namespace name to its settings");
        for (auto it = n.begin(); it != n.end(); ++it) {
            NamespaceConfig ns;
            ns.name = scalar(it->first, key);
            const std::string k = key + "." + ns.name;
            for (const auto& earlier : c.namespaces)
                if (earlier.name == ns.name) fail(it->first, k, "duplicate namespace");
            if (ns.name.empty() || ns.name[0] != '/' || ns.name.find(',') != std::string::npos)
                fail(it->first, k, "a namespace name starts with '/' and has no ','");
            if (!it->second.IsNull()) {
                for_each_key(it->second, k, {
                    {"modules", [&](const YAML::Node& v, const std::string& kk) { ns.modules = string_list(v, kk); }},
                });
            }
            c.namespaces.push_back(std::move(ns));
        }
    }

private:
};

}  // namespace

std::string default_state_directory() {
    // systemd passes StateDirectory= as a colon-separated list; the first is ours.
    const char* env = std::getenv("STATE_DIRECTORY");
    std::string dir = env && *env ? std::string(env).substr(0, std::string(env).find(':')) : "/var/lib/switchboard";
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir;
}

Config parse_config(const std::string& yaml_text, const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        std::ostringstream s;
        s << path << ":" << e.mark.line + 1 << ": YAML syntax error: " << e.msg;
        throw ConfigError(s.str());
    }
    Loader loader(path);
    try {
        return loader.load(root);
    } catch (const YAML::Exception& e) {
        std::ostringstream s;
        s << path << ":" << e.mark.line + 1 << ": " << e.msg;
        throw ConfigError(s.str());
    }
}

Config load_config(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ConfigError(path + ": cannot open the configuration file");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_config(ss.str(), path);
}

}  // namespace sb
