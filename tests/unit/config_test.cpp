// YAML configuration loader.
#include "config.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

using sb::Config;
using sb::ConfigError;

const std::string kPath = "/etc/switchboard/test.yaml";

Config parse(const std::string& yaml) { return sb::parse_config(yaml, kPath); }

// Parsing must throw a ConfigError naming the file, the 1-based line (0 = do
// not check), the dotted key and a part of the reason.
void expect_error(const std::string& yaml, int line, const std::string& key, const std::string& reason_part) {
    try {
        parse(yaml);
        ADD_FAILURE() << "no ConfigError for:\n" << yaml;
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        if (line > 0) {
            EXPECT_EQ(msg.rfind(kPath + ":" + std::to_string(line) + ": ", 0), 0u) << "message: " << msg;
        } else {
            EXPECT_EQ(msg.rfind(kPath + ":", 0), 0u) << "message: " << msg;
        }
        if (!key.empty()) {
            EXPECT_NE(msg.find(": " + key + ": "), std::string::npos) << "message: " << msg;
        }
        EXPECT_NE(msg.find(reason_part), std::string::npos) << "message: " << msg;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected ConfigError, got another exception: " << e.what();
    }
}

// A file that exists and is readable, removed at the end of the test.
class TempFile {
public:
    TempFile() {
        char tmpl[] = "/tmp/switchboard-unit-XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        if (fd >= 0) close(fd);
        path_ = tmpl;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// --- a complete, valid file --------------------------------------------------

TEST(Config, FullValidConfig) {
    TempFile cert, key;
    const std::string yaml =
        "listen:\n"
        "  - address: 127.0.0.1\n"
        "    port: 8080\n"
        "  - address: \"::\"\n"
        "    port: 8443\n"
        "    tls:\n"
        "      certificate: " + cert.path() + "\n"
        "      key: " + key.path() + "\n"
        "engineio:\n"
        "  path: /realtime\n"
        "  ping_interval: 10s\n"
        "  ping_timeout: 5000ms\n"
        "  upgrade_timeout: 2m\n"
        "  max_payload: 64KiB\n"
        "  transports: [websocket]\n"
        "socketio:\n"
        "  connect_timeout: 30s\n"
        "cors:\n"
        "  origins: [\"https://a.example\", \"https://b.example\"]\n"
        "  credentials: true\n"
        "limits:\n"
        "  max_connections: 500\n"
        "  max_send_queue: 2MiB\n"
        "  max_http_header_size: 8KiB\n"
        "shutdown:\n"
        "  drain_timeout: 1s\n"
        "log:\n"
        "  level: debug\n"
        "http:\n"
        "  healthz_path: /health\n"
        "  metrics_path: /prom\n"
        "modules_path: /opt/switchboard/modules\n"
        "modules:\n"
        "  auth:\n"
        "    file: /opt/auth/auth.so\n"
        "    config:\n"
        "      secret: s3cret\n"
        "  echo: {}\n"
        "  rooms:\n"
        "namespaces:\n"
        "  /:\n"
        "    modules: [auth, echo]\n"
        "  /admin:\n"
        "    modules:\n"
        "      - auth\n"
        "      - rooms\n"
        "  /empty:\n";
    Config c = parse(yaml);

    EXPECT_EQ(c.source_path, kPath);

    ASSERT_EQ(c.listen.size(), 2u);
    EXPECT_EQ(c.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.listen[0].port, 8080);
    EXPECT_EQ(c.listen[0].tls_certificate, "");
    EXPECT_EQ(c.listen[0].tls_key, "");
    EXPECT_EQ(c.listen[1].address, "::");
    EXPECT_EQ(c.listen[1].port, 8443);
    EXPECT_EQ(c.listen[1].tls_certificate, cert.path());
    EXPECT_EQ(c.listen[1].tls_key, key.path());

    EXPECT_EQ(c.engineio_path, "/realtime/");
    EXPECT_EQ(c.ping_interval_ms, 10000u);
    EXPECT_EQ(c.ping_timeout_ms, 5000u);
    EXPECT_EQ(c.upgrade_timeout_ms, 120000u);
    EXPECT_EQ(c.max_payload, 65536u);
    EXPECT_FALSE(c.allow_polling);
    EXPECT_TRUE(c.allow_websocket);

    EXPECT_EQ(c.connect_timeout_ms, 30000u);

    ASSERT_EQ(c.cors_origins.size(), 2u);
    EXPECT_EQ(c.cors_origins[0], "https://a.example");
    EXPECT_EQ(c.cors_origins[1], "https://b.example");
    EXPECT_TRUE(c.cors_credentials);

    EXPECT_EQ(c.max_connections, 500u);
    EXPECT_EQ(c.max_send_queue, 2u * 1024 * 1024);
    EXPECT_EQ(c.max_http_header_size, 8192u);
    EXPECT_EQ(c.drain_timeout_ms, 1000u);

    EXPECT_EQ(c.log_level, sb::log::Level::Debug);

    EXPECT_EQ(c.healthz_path, "/health");
    EXPECT_EQ(c.metrics_path, "/prom");

    EXPECT_EQ(c.modules_path, "/opt/switchboard/modules");
    ASSERT_EQ(c.modules.size(), 3u);
    EXPECT_EQ(c.modules[0].name, "auth");
    EXPECT_EQ(c.modules[0].file, "/opt/auth/auth.so");
    EXPECT_EQ(c.modules[0].config_json, "{\"secret\":\"s3cret\"}");
    EXPECT_EQ(c.modules[1].name, "echo");
    EXPECT_EQ(c.modules[1].file, "echo.so");
    EXPECT_EQ(c.modules[1].config_json, "{}");
    EXPECT_EQ(c.modules[2].name, "rooms");
    EXPECT_EQ(c.modules[2].file, "rooms.so");
    EXPECT_EQ(c.modules[2].config_json, "{}");

    ASSERT_EQ(c.namespaces.size(), 3u);
    EXPECT_EQ(c.namespaces[0].name, "/");
    EXPECT_EQ(c.namespaces[0].modules, (std::vector<std::string>{"auth", "echo"}));
    EXPECT_EQ(c.namespaces[1].name, "/admin");
    EXPECT_EQ(c.namespaces[1].modules, (std::vector<std::string>{"auth", "rooms"}));
    EXPECT_EQ(c.namespaces[2].name, "/empty");
    EXPECT_TRUE(c.namespaces[2].modules.empty());
}

TEST(Config, TransportsBothAndPollingOnly) {
    Config both = parse("engineio:\n  transports: [polling, websocket]\nnamespaces:\n  /:\n");
    EXPECT_TRUE(both.allow_polling);
    EXPECT_TRUE(both.allow_websocket);
    Config polling = parse("engineio:\n  transports: polling\nnamespaces:\n  /:\n");
    EXPECT_TRUE(polling.allow_polling);
    EXPECT_FALSE(polling.allow_websocket);
}

TEST(Config, EngineIoPathKeepsTrailingSlash) {
    EXPECT_EQ(parse("engineio:\n  path: /socket.io/\nnamespaces:\n  /:\n").engineio_path, "/socket.io/");
    EXPECT_EQ(parse("engineio:\n  path: /x\nnamespaces:\n  /:\n").engineio_path, "/x/");
}

TEST(Config, CorsSingleOriginScalar) {
    Config c = parse("cors:\n  origins: \"*\"\nnamespaces:\n  /:\n");
    EXPECT_EQ(c.cors_origins, std::vector<std::string>{"*"});
    EXPECT_FALSE(c.cors_credentials);
}

TEST(Config, LogLevels) {
    EXPECT_EQ(parse("log:\n  level: info\nnamespaces:\n  /:\n").log_level, sb::log::Level::Info);
    EXPECT_EQ(parse("log:\n  level: warn\nnamespaces:\n  /:\n").log_level, sb::log::Level::Warn);
    EXPECT_EQ(parse("log:\n  level: error\nnamespaces:\n  /:\n").log_level, sb::log::Level::Error);
}

// --- defaults --------------------------------------------------------------

TEST(Config, DefaultsWhenSectionsAbsent) {
    Config c = parse("namespaces:\n  /:\n");
    EXPECT_EQ(c.source_path, kPath);
    ASSERT_EQ(c.listen.size(), 1u);
    EXPECT_EQ(c.listen[0].address, "0.0.0.0");
    EXPECT_EQ(c.listen[0].port, 3000);
    EXPECT_TRUE(c.listen[0].tls_certificate.empty());
    EXPECT_TRUE(c.listen[0].tls_key.empty());
    EXPECT_EQ(c.engineio_path, "/socket.io/");
    EXPECT_EQ(c.ping_interval_ms, 25000u);
    EXPECT_EQ(c.ping_timeout_ms, 20000u);
    EXPECT_EQ(c.upgrade_timeout_ms, 10000u);
    EXPECT_EQ(c.max_payload, 1000000u);
    EXPECT_TRUE(c.allow_polling);
    EXPECT_TRUE(c.allow_websocket);
    EXPECT_EQ(c.connect_timeout_ms, 45000u);
    EXPECT_TRUE(c.cors_origins.empty());
    EXPECT_FALSE(c.cors_credentials);
    EXPECT_EQ(c.max_connections, 10000u);
    EXPECT_EQ(c.max_http_header_size, 4096u);
    EXPECT_EQ(c.max_send_queue, 4u * 1024 * 1024);
    EXPECT_EQ(c.drain_timeout_ms, 5000u);
    EXPECT_EQ(c.log_level, sb::log::Level::Info);
    EXPECT_EQ(c.healthz_path, "/healthz");
    EXPECT_EQ(c.metrics_path, "/metrics");
    EXPECT_EQ(c.modules_path, "");
    EXPECT_TRUE(c.modules.empty());
    ASSERT_EQ(c.namespaces.size(), 1u);
    EXPECT_EQ(c.namespaces[0].name, "/");
    EXPECT_TRUE(c.namespaces[0].modules.empty());
}

TEST(Config, ListenEntryDefaults) {
    Config c = parse("listen:\n  - port: 4000\n  - address: 10.0.0.1\nnamespaces:\n  /:\n");
    ASSERT_EQ(c.listen.size(), 2u);
    EXPECT_EQ(c.listen[0].address, "0.0.0.0");
    EXPECT_EQ(c.listen[0].port, 4000);
    EXPECT_EQ(c.listen[1].address, "10.0.0.1");
    EXPECT_EQ(c.listen[1].port, 3000);
}

TEST(Config, PortBounds) {
    EXPECT_EQ(parse("listen:\n  - port: 0\nnamespaces:\n  /:\n").listen[0].port, 0);
    EXPECT_EQ(parse("listen:\n  - port: 65535\nnamespaces:\n  /:\n").listen[0].port, 65535);
}

// --- module config subtree as JSON -------------------------------------------

TEST(Config, ModuleConfigConvertedToTypedJson) {
    const std::string yaml =
        "modules:\n"
        "  m:\n"
        "    config:\n"
        "      int: 42\n"
        "      neg: -7\n"
        "      float: 1.5\n"
        "      exp: 1e3\n"
        "      yes_bool: true\n"
        "      no_bool: false\n"
        "      nothing: null\n"
        "      tilde: ~\n"
        "      empty:\n"
        "      quoted_num: \"123\"\n"
        "      single_quoted: 'true'\n"
        "      word: hello world\n"
        "      leading_zero: 0123\n"
        "      yes_word: yes\n"
        "      nested:\n"
        "        list: [1, \"two\", false, null, {k: v}]\n"
        "        map:\n"
        "          deep: [[1], []]\n"
        "      block_list:\n"
        "        - a\n"
        "        - 2\n"
        "      esc: \"q\\\"b\\\\s\"\n"
        "namespaces:\n"
        "  /:\n"
        "    modules: [m]\n";
    Config c = parse(yaml);
    ASSERT_EQ(c.modules.size(), 1u);
    const std::string& json = c.modules[0].config_json;
    EXPECT_EQ(json,
              "{\"int\":42,\"neg\":-7,\"float\":1.5,\"exp\":1e3,\"yes_bool\":true,\"no_bool\":false,"
              "\"nothing\":null,\"tilde\":null,\"empty\":null,\"quoted_num\":\"123\",\"single_quoted\":\"true\","
              "\"word\":\"hello world\",\"leading_zero\":\"0123\",\"yes_word\":\"yes\","
              "\"nested\":{\"list\":[1,\"two\",false,null,{\"k\":\"v\"}],\"map\":{\"deep\":[[1],[]]}},"
              "\"block_list\":[\"a\",2],\"esc\":\"q\\\"b\\\\s\"}");

    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    ASSERT_FALSE(doc.HasParseError()) << json;
    ASSERT_TRUE(doc.IsObject());
    ASSERT_TRUE(doc["int"].IsInt());
    EXPECT_EQ(doc["int"].GetInt(), 42);
    ASSERT_TRUE(doc["neg"].IsInt());
    EXPECT_EQ(doc["neg"].GetInt(), -7);
    ASSERT_TRUE(doc["float"].IsDouble());
    EXPECT_DOUBLE_EQ(doc["float"].GetDouble(), 1.5);
    ASSERT_TRUE(doc["exp"].IsNumber());
    EXPECT_DOUBLE_EQ(doc["exp"].GetDouble(), 1000.0);
    EXPECT_TRUE(doc["yes_bool"].IsTrue());
    EXPECT_TRUE(doc["no_bool"].IsFalse());
    EXPECT_TRUE(doc["nothing"].IsNull());
    EXPECT_TRUE(doc["tilde"].IsNull());
    EXPECT_TRUE(doc["empty"].IsNull());
    ASSERT_TRUE(doc["quoted_num"].IsString());
    EXPECT_STREQ(doc["quoted_num"].GetString(), "123");
    ASSERT_TRUE(doc["single_quoted"].IsString());
    EXPECT_STREQ(doc["single_quoted"].GetString(), "true");
    ASSERT_TRUE(doc["word"].IsString());
    EXPECT_STREQ(doc["word"].GetString(), "hello world");
    ASSERT_TRUE(doc["esc"].IsString());
    EXPECT_STREQ(doc["esc"].GetString(), "q\"b\\s");
    ASSERT_TRUE(doc["nested"].IsObject());
    ASSERT_TRUE(doc["nested"]["list"].IsArray());
    ASSERT_EQ(doc["nested"]["list"].Size(), 5u);
    EXPECT_TRUE(doc["nested"]["list"][0].IsInt());
    ASSERT_TRUE(doc["nested"]["list"][4].IsObject());
    ASSERT_TRUE(doc["nested"]["list"][4]["k"].IsString());
    EXPECT_STREQ(doc["nested"]["list"][4]["k"].GetString(), "v");
}

TEST(Config, ModuleWithoutConfigGetsEmptyObject) {
    Config c = parse("modules:\n  a:\n    file: x.so\n  b:\n    config:\nnamespaces:\n  /:\n    modules: [a, b]\n");
    ASSERT_EQ(c.modules.size(), 2u);
    EXPECT_EQ(c.modules[0].file, "x.so");
    EXPECT_EQ(c.modules[0].config_json, "{}");
    EXPECT_EQ(c.modules[1].file, "b.so");
    EXPECT_EQ(c.modules[1].config_json, "{}");
}

// --- errors ----------------------------------------------------------------

TEST(ConfigErrors, UnknownTopLevelKey) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "listn:\n"
        "  - port: 3000\n",
        3, "listn", "unknown key");
}

TEST(ConfigErrors, UnknownNestedKey) {
    expect_error(
        "engineio:\n"
        "  ping_interval: 25s\n"
        "  ping_intervall: 30s\n"
        "namespaces:\n"
        "  /:\n",
        3, "engineio.ping_intervall", "unknown key");
}

TEST(ConfigErrors, UnknownKeyInListenEntry) {
    expect_error(
        "listen:\n"
        "  - address: 0.0.0.0\n"
        "    prot: 3000\n"
        "namespaces:\n"
        "  /:\n",
        3, "listen[0].prot", "unknown key");
}

TEST(ConfigErrors, BadDuration) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "engineio:\n"
        "  ping_timeout: fast\n",
        4, "engineio.ping_timeout", "fast");
}

TEST(ConfigErrors, DurationOutOfRange) {
    expect_error(
        "socketio:\n"
        "  connect_timeout: 2h\n"
        "namespaces:\n"
        "  /:\n",
        2, "socketio.connect_timeout", "between");
}

TEST(ConfigErrors, BadSize) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "limits:\n"
        "  max_connections: 10\n"
        "  max_send_queue: 4 megabytes\n",
        5, "limits.max_send_queue", "4 megabytes");
    expect_error(
        "engineio:\n"
        "  max_payload: 1.5MB\n"
        "namespaces:\n"
        "  /:\n",
        2, "engineio.max_payload", "1.5MB");
}

TEST(ConfigErrors, SizeOutOfRange) {
    expect_error(
        "limits:\n"
        "  max_http_header_size: 1MB\n"
        "namespaces:\n"
        "  /:\n",
        2, "limits.max_http_header_size", "between");
    expect_error(
        "limits:\n"
        "  max_send_queue: 3GiB\n"
        "namespaces:\n"
        "  /:\n",
        2, "limits.max_send_queue", "between 1024 and 2147483648 bytes");
}

TEST(ConfigErrors, NegativePort) {
    expect_error(
        "listen:\n"
        "  - address: 0.0.0.0\n"
        "    port: -1\n"
        "namespaces:\n"
        "  /:\n",
        3, "listen[0].port", "non-negative integer");
}

TEST(ConfigErrors, PortTooLarge) {
    expect_error(
        "listen:\n"
        "  - port: 3000\n"
        "  - port: 70000\n"
        "namespaces:\n"
        "  /:\n",
        3, "listen[1].port", "between 0 and 65535");
}

TEST(ConfigErrors, PortNotANumber) {
    expect_error(
        "listen:\n"
        "  - port: http\n"
        "namespaces:\n"
        "  /:\n",
        2, "listen[0].port", "non-negative integer");
}

TEST(ConfigErrors, MaxConnectionsNotInteger) {
    expect_error(
        "limits:\n"
        "  max_connections: 10k\n"
        "namespaces:\n"
        "  /:\n",
        2, "limits.max_connections", "10k");
}

TEST(ConfigErrors, UnknownTransport) {
    expect_error(
        "engineio:\n"
        "  transports: [polling, flash]\n"
        "namespaces:\n"
        "  /:\n",
        2, "engineio.transports", "flash");
}

TEST(ConfigErrors, EmptyTransportList) {
    expect_error(
        "engineio:\n"
        "  transports: []\n"
        "namespaces:\n"
        "  /:\n",
        2, "engineio.transports", "at least one transport");
}

TEST(ConfigErrors, NamespaceWithoutLeadingSlash) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "  admin:\n"
        "    modules: []\n",
        3, "namespaces.admin", "starts with '/'");
}

TEST(ConfigErrors, NamespaceWithComma) {
    expect_error(
        "namespaces:\n"
        "  \"/a,b\":\n",
        2, "namespaces./a,b", "','");
}

TEST(ConfigErrors, NamespaceReferencesUndeclaredModule) {
    expect_error(
        "modules:\n"
        "  auth: {}\n"
        "namespaces:\n"
        "  /:\n"
        "    modules: [auth]\n"
        "  /chat:\n"
        "    modules: [auth, missing]\n",
        7, "namespaces./chat.modules", "'missing'");
}

TEST(ConfigErrors, NamespaceReferencesUndeclaredModuleBlockList) {
    expect_error(
        "modules:\n"
        "  auth: {}\n"
        "namespaces:\n"
        "  /:\n"
        "    modules:\n"
        "      - missing\n",
        6, "namespaces./.modules", "'missing'");
}

TEST(ConfigErrors, UndeclaredModuleLineIsTheOffendingEntry) {
    // The error names 'missing', so it must point at the line that says so,
    // not at the first entry of the list.
    expect_error(
        "modules:\n"
        "  auth: {}\n"
        "namespaces:\n"
        "  /:\n"
        "    modules:\n"
        "      - auth\n"
        "      - missing\n",
        7, "namespaces./.modules", "'missing'");
}

TEST(ConfigErrors, DuplicateNamespace) {
    // A second entry for the same namespace would be unreachable: refuse it.
    expect_error(
        "modules:\n"
        "  auth: {}\n"
        "namespaces:\n"
        "  /:\n"
        "    modules: []\n"
        "  /:\n"
        "    modules: [auth]\n",
        6, "namespaces./", "");
}

TEST(ConfigErrors, DuplicateModule) {
    expect_error(
        "modules:\n"
        "  auth: {}\n"
        "  auth:\n"
        "    file: other.so\n"
        "namespaces:\n"
        "  /:\n"
        "    modules: [auth]\n",
        3, "modules.auth", "");
}

TEST(ConfigErrors, NamespaceReferencesModuleWithoutModulesSection) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "    modules: [echo]\n",
        3, "namespaces./.modules", "'echo'");
}

TEST(ConfigErrors, BadModuleName) {
    expect_error(
        "modules:\n"
        "  Bad.Name: {}\n"
        "namespaces:\n"
        "  /:\n",
        2, "modules.Bad.Name", "lower-case");
}

TEST(ConfigErrors, UnknownModuleKey) {
    expect_error(
        "modules:\n"
        "  auth:\n"
        "    fle: auth.so\n"
        "namespaces:\n"
        "  /:\n",
        3, "modules.auth.fle", "unknown key");
}

TEST(ConfigErrors, ModuleConfigNotAMapping) {
    expect_error(
        "modules:\n"
        "  auth:\n"
        "    config: [1, 2]\n"
        "namespaces:\n"
        "  /:\n",
        3, "modules.auth.config", "mapping");
}

TEST(ConfigErrors, BadLogLevel) {
    expect_error(
        "log:\n"
        "  level: verbose\n"
        "namespaces:\n"
        "  /:\n",
        2, "log.level", "verbose");
}

TEST(ConfigErrors, BadBool) {
    expect_error(
        "cors:\n"
        "  credentials: maybe\n"
        "namespaces:\n"
        "  /:\n",
        2, "cors.credentials", "maybe");
}

TEST(ConfigErrors, RelativeHttpPath) {
    expect_error(
        "http:\n"
        "  metrics_path: metrics\n"
        "namespaces:\n"
        "  /:\n",
        2, "http.metrics_path", "absolute path");
}

TEST(ConfigErrors, YamlSyntaxError) {
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "engineio:\n"
        "  transports: [polling, websocket\n"
        "log:\n"
        "  level: info\n",
        0, "", "YAML syntax error");
}

TEST(ConfigErrors, YamlSyntaxErrorLine) {
    // A mapping value where none may start: the error is on line 3.
    expect_error(
        "namespaces:\n"
        "  /:\n"
        "log: level: info\n",
        3, "", "YAML syntax error");
}

TEST(ConfigErrors, EmptyFile) {
    expect_error("", 0, "(top level)", "empty");
    expect_error("# only a comment\n", 0, "(top level)", "empty");
}

TEST(ConfigErrors, TopLevelNotAMapping) { expect_error("- a\n- b\n", 1, "(top level)", "mapping"); }

TEST(ConfigErrors, MissingNamespaces) {
    expect_error(
        "listen:\n"
        "  - port: 3000\n",
        0, "namespaces", "at least one namespace");
}

TEST(ConfigErrors, TlsCertificateWithoutKey) {
    TempFile cert;
    expect_error(
        "listen:\n"
        "  - port: 443\n"
        "    tls: {certificate: " + cert.path() + "}\n"
        "namespaces:\n"
        "  /:\n",
        3, "listen[0].tls", "both certificate and key");
}

TEST(ConfigErrors, TlsKeyWithoutCertificate) {
    TempFile key;
    expect_error(
        "listen:\n"
        "  - port: 443\n"
        "    tls: {key: " + key.path() + "}\n"
        "namespaces:\n"
        "  /:\n",
        3, "listen[0].tls", "both certificate and key");
}

TEST(ConfigErrors, TlsUnreadableFile) {
    expect_error(
        "listen:\n"
        "  - port: 443\n"
        "    tls:\n"
        "      certificate: /nonexistent/switchboard/cert.pem\n"
        "      key: /nonexistent/switchboard/key.pem\n"
        "namespaces:\n"
        "  /:\n",
        4, "listen[0].tls.certificate", "cannot read file");
}

TEST(ConfigErrors, ListenNotAList) {
    expect_error(
        "listen:\n"
        "  port: 3000\n"
        "namespaces:\n"
        "  /:\n",
        2, "listen", "non-empty list");
}

TEST(ConfigErrors, LoadConfigMissingFile) {
    try {
        sb::load_config("/nonexistent/switchboard/none.yaml");
        ADD_FAILURE() << "no ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/switchboard/none.yaml"), std::string::npos) << e.what();
    }
}

TEST(Config, LoadConfigFromFile) {
    TempFile f;
    {
        std::ofstream out(f.path());
        out << "engineio:\n  ping_interval: 1s\nnamespaces:\n  /:\n";
    }
    Config c = sb::load_config(f.path());
    EXPECT_EQ(c.source_path, f.path());
    EXPECT_EQ(c.ping_interval_ms, 1000u);
}

TEST(ConfigErrors, LoadConfigReportsFilePath) {
    TempFile f;
    {
        std::ofstream out(f.path());
        out << "namespaces:\n  /:\nbogus: 1\n";
    }
    try {
        sb::load_config(f.path());
        ADD_FAILURE() << "no ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(f.path() + ":3: bogus: ", 0), 0u) << e.what();
    }
}

// --- api ------------------------------------------------------------------------

TEST(ConfigApi, OffWithoutKeysAndLocalByDefault) {
    Config c = parse("namespaces:\n  /:\n");
    EXPECT_FALSE(c.api.enabled());
    ASSERT_EQ(c.api.listen.size(), 1u);
    EXPECT_EQ(c.api.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.api.listen[0].port, 3001);
}

TEST(ConfigApi, KeysScopesAndLimits) {
    TempFile f;
    {
        std::ofstream out(f.path());
        out << "from-a-file-0123456789 \n";
    }
    Config c = parse("api:\n"
                     "  listen: [{port: 4001}]\n"
                     "  keys:\n"
                     "    - {name: orders, key: orders-key-0123456789, scopes: [emit, read]}\n"
                     "    - {name: ops, key_file: " + f.path() + "}\n"
                     "  max_body: 64KB\n"
                     "  max_concurrent: 8\n"
                     "  request_timeout: 3s\n"
                     "  rate_limit: {per_second: 5}\n"
                     "namespaces:\n  /:\n");
    EXPECT_TRUE(c.api.enabled());
    EXPECT_EQ(c.api.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.api.listen[0].port, 4001);
    ASSERT_EQ(c.api.keys.size(), 2u);
    EXPECT_EQ(c.api.keys[0].scopes, (std::vector<std::string>{"emit", "read"}));
    EXPECT_EQ(c.api.keys[1].key, "from-a-file-0123456789");
    EXPECT_TRUE(c.api.keys[1].scopes.empty());
    EXPECT_EQ(c.api.max_body, 64000u);
    EXPECT_EQ(c.api.max_concurrent, 8u);
    EXPECT_EQ(c.api.request_timeout_ms, 3000u);
    EXPECT_EQ(c.api.rate_per_second, 5u);
    EXPECT_EQ(c.api.rate_burst, 5u);
}

TEST(ConfigApi, Errors) {
    expect_error("api:\n  keys:\n    - {name: a, key: short}\nnamespaces:\n  /:\n", 3, "api.keys[0].key", "at least 16 characters");
    expect_error("api:\n  keys:\n    - {name: a, key: orders-key-0123456789, key_file: /etc/passwd}\nnamespaces:\n  /:\n", 3,
                 "api.keys[0].key_file", "either key or key_file");
    expect_error("api:\n  keys:\n    - {name: 'a b', key: orders-key-0123456789}\nnamespaces:\n  /:\n", 3, "api.keys[0].name",
                 "letters, digits");
    expect_error("api:\n  keys:\n    - {name: a, key: orders-key-0123456789, scopes: []}\nnamespaces:\n  /:\n", 3,
                 "api.keys[0].scopes", "at least one scope");
    expect_error("api:\n  max_concurrent: 0\nnamespaces:\n  /:\n", 2, "api.max_concurrent", "between 1 and 10000");
    expect_error("api:\n  request_timeout: soon\nnamespaces:\n  /:\n", 2, "api.request_timeout", "expected a duration");
    expect_error("api:\n  keys: {name: a}\nnamespaces:\n  /:\n", 2, "api.keys", "expected a list");
}

}  // namespace

namespace {

TEST(Config, StorageOffUnlessConfigured) {
    EXPECT_FALSE(parse("namespaces:\n  /: {}\n").storage.enabled);
}

TEST(Config, StorageDefaultsAndRelativePathInStateDirectory) {
    setenv("STATE_DIRECTORY", "/var/lib/switchboard-test:/other", 1);
    Config c = parse("storage: {}\nnamespaces:\n  /: {}\n");
    EXPECT_TRUE(c.storage.enabled);
    EXPECT_EQ(c.storage.backend, "sqlite");
    EXPECT_EQ(c.storage.path, "/var/lib/switchboard-test/switchboard.db");
    EXPECT_TRUE(c.storage.synchronous_full);
    c = parse("storage:\n  path: data/chat.db\n  synchronous: normal\n  max_value_size: 64KiB\nnamespaces:\n  /: {}\n");
    EXPECT_EQ(c.storage.path, "/var/lib/switchboard-test/data/chat.db");
    EXPECT_FALSE(c.storage.synchronous_full);
    EXPECT_EQ(c.storage.max_value_size, 65536u);
    unsetenv("STATE_DIRECTORY");
    EXPECT_EQ(parse("storage:\n  path: /srv/sb.db\nnamespaces:\n  /: {}\n").storage.path, "/srv/sb.db");
    EXPECT_EQ(parse("storage: {}\nnamespaces:\n  /: {}\n").storage.path, "/var/lib/switchboard/switchboard.db");
}

TEST(ConfigErrors, StorageKeys) {
    expect_error("storage:\n  backend: mysql\nnamespaces:\n  /: {}\n", 2, "storage.backend", "unknown backend 'mysql'");
    expect_error("storage:\n  backend: redis\nnamespaces:\n  /: {}\n", 2, "storage.backend", "redis needs storage.redis or a cluster.redis section");
    expect_error("storage:\n  synchronous: off\nnamespaces:\n  /: {}\n", 2, "storage.synchronous", "expected full or normal");
    expect_error("storage:\n  pathh: x\nnamespaces:\n  /: {}\n", 2, "storage.pathh", "unknown key");
}

}  // namespace
