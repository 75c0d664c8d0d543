// Parsing and checking of the backend configuration (see settings.h and
// README.md for every key).
#include "settings.h"

#include <switchboard/glob.hpp>

#include <switchboard/config.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace backend {
namespace {

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw std::runtime_error(key + ": " + why); }

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string string_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString()) refuse(key, "expected a string");
    return std::string(v.GetString(), v.GetStringLength());
}

uint64_t count_of(const rapidjson::Value& v, const std::string& key, uint64_t lo, uint64_t hi) {
    if (!v.IsUint64() || v.GetUint64() < lo || v.GetUint64() > hi)
        refuse(key, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return v.GetUint64();
}

// Core convention: a bare integer is milliseconds; a string has a unit.
uint64_t duration_of(const rapidjson::Value& v, const std::string& key, uint64_t lo, uint64_t hi) {
    std::optional<uint64_t> ms;
    if (v.IsUint64()) ms = v.GetUint64();
    else if (v.IsString()) ms = sb::parse_duration_ms(v.GetString());
    if (!ms || *ms < lo || *ms > hi)
        refuse(key, "expected a duration from " + std::to_string(lo) + " to " + std::to_string(hi) +
                        " ms: integer milliseconds, or \"800ms\", \"5s\", \"2m\"");
    return *ms;
}

bool bool_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsBool()) refuse(key, "expected true or false");
    return v.GetBool();
}

void check_keys(const rapidjson::Value& obj, const std::string& key, std::initializer_list<std::string_view> known) {
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
        const std::string_view name(it->name.GetString(), it->name.GetStringLength());
        if (std::find(known.begin(), known.end(), name) == known.end())
            refuse(key + "." + std::string(name), "unknown key");
    }
}

// A header name and value that cannot end the header block or start another.
void check_header(const std::string& name, const std::string& value, const std::string& key) {
    if (name.empty()) refuse(key, "a header name is empty");
    for (char c : name)
        if (c <= ' ' || c == ':' || c == 0x7f) refuse(key + "." + name, "not a valid header name");
    if (value.find_first_of("\r\n") != std::string::npos) refuse(key + "." + name, "a header value cannot span lines");
}

std::string read_secret_file(const std::string& file, const std::string& key) {
    std::ifstream in(file, std::ios::binary);
    if (!in) refuse(key, "cannot read '" + file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    if (s.empty()) refuse(key, "'" + file + "' is empty");
    return s;
}

std::string path_of(const rapidjson::Value& v, const std::string& key) {
    std::string p = string_of(v, key);
    if (p.empty() || p[0] != '/') refuse(key, "expected a path starting with '/'");
    if (p.find_first_of(" \r\n\t") != std::string::npos) refuse(key, "a path cannot contain spaces or line breaks");
    return p;
}

BackendSettings parse_backend(const std::string& name, const rapidjson::Value& v, const std::string& key) {
    if (!v.IsObject()) refuse(key, "expected {url, headers?, secret?, secret_file?, timeout?, ...}");
    check_keys(v, key, {"url", "headers", "secret", "secret_file", "connect_timeout", "timeout", "max_in_flight",
                        "max_queue", "max_response_bytes", "ca_file", "insecure_skip_verify"});
    BackendSettings b;
    b.name = name;
    const rapidjson::Value* url = member(v, "url");
    if (!url) refuse(key + ".url", "missing");
    b.url = string_of(*url, key + ".url");
    if (b.url.rfind("http://", 0) != 0 && b.url.rfind("https://", 0) != 0)
        refuse(key + ".url", "expected an http:// or https:// URL, got '" + b.url + "'");
    while (b.url.size() > 8 && b.url.back() == '/') b.url.pop_back();
    if (const auto* h = member(v, "headers")) {
        if (!h->IsObject()) refuse(key + ".headers", "expected a mapping of header names to values");
        for (auto it = h->MemberBegin(); it != h->MemberEnd(); ++it) {
            std::string hn(it->name.GetString(), it->name.GetStringLength());
            std::string hv = string_of(it->value, key + ".headers." + hn);
            check_header(hn, hv, key + ".headers");
            b.headers.emplace_back(std::move(hn), std::move(hv));
        }
    }
    const auto* secret = member(v, "secret");
    const auto* secret_file = member(v, "secret_file");
    if (secret && secret_file) refuse(key, "give secret or secret_file, not both");
    if (secret) {
        b.secret = string_of(*secret, key + ".secret");
        if (b.secret.empty()) refuse(key + ".secret", "must not be empty");
    }
    if (secret_file) b.secret = read_secret_file(string_of(*secret_file, key + ".secret_file"), key + ".secret_file");
    if (const auto* x = member(v, "connect_timeout")) b.connect_timeout_ms = duration_of(*x, key + ".connect_timeout", 1, 600'000);
    if (const auto* x = member(v, "timeout")) b.timeout_ms = duration_of(*x, key + ".timeout", 1, 3'600'000);
    if (const auto* x = member(v, "max_in_flight")) b.max_in_flight = count_of(*x, key + ".max_in_flight", 1, 100'000);
    if (const auto* x = member(v, "max_queue")) b.max_queue = count_of(*x, key + ".max_queue", 0, 1'000'000);
    if (const auto* x = member(v, "max_response_bytes"))
        b.max_response_bytes = count_of(*x, key + ".max_response_bytes", 1, 1ull << 30);
    if (const auto* x = member(v, "ca_file")) {
        b.ca_file = string_of(*x, key + ".ca_file");
        if (!std::ifstream(b.ca_file)) refuse(key + ".ca_file", "cannot read '" + b.ca_file + "'");
    }
    if (const auto* x = member(v, "insecure_skip_verify")) b.insecure_skip_verify = bool_of(*x, key + ".insecure_skip_verify");
    return b;
}

size_t backend_ref(const Settings& s, const rapidjson::Value* v, const std::string& key) {
    if (!v) {
        if (s.backends.size() == 1) return 0;
        refuse(key, "missing (there are several backends: name one)");
    }
    const std::string name = string_of(*v, key);
    if (auto i = s.backend_named(name)) return *i;
    refuse(key, "no backend named '" + name + "' under backends");
}

void parse_webhooks(Settings& s, const rapidjson::Value& v) {
    const std::string key = "webhooks";
    if (!v.IsObject()) refuse(key, "expected {backend?, path, events?, batch_size?, ...}");
    check_keys(v, key, {"backend", "path", "events", "batch_size", "batch_delay", "max_queue", "retry_initial", "retry_max"});
    WebhookSettings& w = s.webhooks;
    w.enabled = true;
    w.backend = backend_ref(s, member(v, "backend"), key + ".backend");
    const auto* path = member(v, "path");
    if (!path) refuse(key + ".path", "missing");
    w.path = path_of(*path, key + ".path");
    if (const auto* events = member(v, "events")) {
        if (!events->IsArray()) refuse(key + ".events", "expected a list of connect, disconnect, join, leave");
        w.connect = w.disconnect = w.join = w.leave = false;
        for (rapidjson::SizeType i = 0; i < events->Size(); ++i) {
            const std::string e = string_of((*events)[i], key + ".events[" + std::to_string(i) + "]");
            if (e == "connect") w.connect = true;
            else if (e == "disconnect") w.disconnect = true;
            else if (e == "join") w.join = true;
            else if (e == "leave") w.leave = true;
            else refuse(key + ".events[" + std::to_string(i) + "]", "'" + e + "' is not one of connect, disconnect, join, leave");
        }
    }
    if (const auto* x = member(v, "batch_size")) w.batch_size = count_of(*x, key + ".batch_size", 1, 10'000);
    if (const auto* x = member(v, "batch_delay")) w.batch_delay_ms = duration_of(*x, key + ".batch_delay", 0, 60'000);
    if (const auto* x = member(v, "max_queue")) w.max_queue = count_of(*x, key + ".max_queue", 1, 10'000'000);
    if (const auto* x = member(v, "retry_initial")) w.retry_initial_ms = duration_of(*x, key + ".retry_initial", 1, 3'600'000);
    if (const auto* x = member(v, "retry_max")) w.retry_max_ms = duration_of(*x, key + ".retry_max", 1, 86'400'000);
    if (w.retry_max_ms < w.retry_initial_ms) refuse(key + ".retry_max", "must not be below retry_initial");
}

// `connect: /path` or `connect: {backend?, path}`.
void parse_connect(Settings& s, const rapidjson::Value& v) {
    const std::string key = "connect";
    ConnectSettings& c = s.connect;
    c.enabled = true;
    if (v.IsString()) {
        c.backend = backend_ref(s, nullptr, key + ".backend");
        c.path = path_of(v, key);
        return;
    }
    if (!v.IsObject()) refuse(key, "expected a path, or {backend?, path}");
    check_keys(v, key, {"backend", "path"});
    c.backend = backend_ref(s, member(v, "backend"), key + ".backend");
    const auto* path = member(v, "path");
    if (!path) refuse(key + ".path", "missing");
    c.path = path_of(*path, key + ".path");
}

}  // namespace

const RpcRule* Settings::match(std::string_view event) const {
    for (const auto& r : rpc)
        if (sb::glob_match(r.pattern, event)) return &r;
    return nullptr;
}

std::optional<size_t> Settings::backend_named(std::string_view name) const {
    for (size_t i = 0; i < backends.size(); ++i)
        if (backends[i].name == name) return i;
    return std::nullopt;
}

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document cfg;
    cfg.Parse(config_json.data(), config_json.size());
    if (cfg.HasParseError() || !cfg.IsObject()) throw std::runtime_error("the configuration is not a JSON object");
    Settings s;
    const auto* backends = member(cfg, "backends");
    if (!backends || !backends->IsObject() || backends->MemberCount() == 0)
        refuse("backends", "expected a mapping of backend names to {url, ...}, at least one");
    for (auto it = backends->MemberBegin(); it != backends->MemberEnd(); ++it) {
        const std::string name(it->name.GetString(), it->name.GetStringLength());
        if (name.empty() || name.find_first_of("\"\\\n") != std::string::npos) refuse("backends", "'" + name + "' is not a usable name");
        s.backends.push_back(parse_backend(name, it->value, "backends." + name));
    }
    if (const auto* rpc = member(cfg, "rpc")) {
        if (!rpc->IsArray()) refuse("rpc", "expected a list of {event, backend?, path}");
        for (rapidjson::SizeType i = 0; i < rpc->Size(); ++i) {
            const std::string key = "rpc[" + std::to_string(i) + "]";
            const rapidjson::Value& r = (*rpc)[i];
            if (!r.IsObject()) refuse(key, "expected {event, backend?, path}");
            check_keys(r, key, {"event", "backend", "path"});
            RpcRule rule;
            const auto* event = member(r, "event");
            if (!event) refuse(key + ".event", "missing");
            rule.pattern = string_of(*event, key + ".event");
            if (rule.pattern.empty()) refuse(key + ".event", "must not be empty");
            rule.backend = backend_ref(s, member(r, "backend"), key + ".backend");
            const auto* path = member(r, "path");
            if (!path) refuse(key + ".path", "missing");
            rule.path = path_of(*path, key + ".path");
            s.rpc.push_back(std::move(rule));
        }
    }
    if (const auto* x = member(cfg, "max_rpcs_per_socket")) s.max_rpcs_per_socket = count_of(*x, "max_rpcs_per_socket", 1, 10'000);
    if (const auto* x = member(cfg, "max_request_bytes")) s.max_request_bytes = count_of(*x, "max_request_bytes", 64, 64ull << 20);
    if (const auto* x = member(cfg, "binary")) {
        const std::string b = string_of(*x, "binary");
        if (b == "base64") s.binary_as_base64 = true;
        else if (b == "refuse") s.binary_as_base64 = false;
        else refuse("binary", "expected base64 or refuse, got '" + b + "'");
    }
    if (const auto* w = member(cfg, "webhooks")) parse_webhooks(s, *w);
    if (const auto* c = member(cfg, "connect")) parse_connect(s, *c);
    return s;
}

}  // namespace backend
