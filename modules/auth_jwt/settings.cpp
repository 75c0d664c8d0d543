// Parsing and checking of the auth_jwt configuration (see settings.h and
// README.md for every key).
#include "settings.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>

namespace auth_jwt {
namespace {

constexpr uint64_t kMaxLeewayMs = 24ull * 3600 * 1000;
constexpr size_t kMaxKeyFileBytes = 1 << 20;

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw std::runtime_error(key + ": " + why); }

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string string_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString()) refuse(key, "expected a string");
    return std::string(v.GetString(), v.GetStringLength());
}

std::string non_empty_string(const rapidjson::Value& v, const std::string& key) {
    std::string s = string_of(v, key);
    if (s.empty()) refuse(key, "must not be empty");
    return s;
}

// A string or a list of strings.
std::vector<std::string> strings_of(const rapidjson::Value& v, const std::string& key) {
    std::vector<std::string> out;
    if (v.IsString()) {
        out.push_back(non_empty_string(v, key));
        return out;
    }
    if (!v.IsArray()) refuse(key, "expected a string or a list of strings");
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
        out.push_back(non_empty_string(v[i], key + "[" + std::to_string(i) + "]"));
    return out;
}

// An integer number of seconds, or a string "500ms", "30s", "2m", "1h".
uint64_t duration_ms(const rapidjson::Value& v, const std::string& key) {
    uint64_t ms = 0;
    if (v.IsUint64()) {
        if (v.GetUint64() > kMaxLeewayMs / 1000) refuse(key, "at most 24h");
        ms = v.GetUint64() * 1000;
    } else if (v.IsString()) {
        const std::string s = v.GetString();
        size_t digits = 0;
        while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
        const std::string unit = s.substr(digits);
        if (digits == 0 || digits > 9 || !(unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h"))
            refuse(key, "expected a duration: an integer number of seconds, or \"500ms\", \"30s\", \"2m\", \"1h\"");
        const uint64_t n = std::stoull(s.substr(0, digits));
        ms = unit == "ms" ? n : unit == "m" ? n * 60'000 : unit == "h" ? n * 3'600'000 : n * 1000;
    } else {
        refuse(key, "expected a duration: an integer number of seconds, or \"500ms\", \"30s\", \"2m\", \"1h\"");
    }
    if (ms > kMaxLeewayMs) refuse(key, "at most 24h");
    return ms;
}

std::string read_file(const std::string& path, const std::string& key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) refuse(key, "cannot read file '" + path + "'");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() > kMaxKeyFileBytes) refuse(key, "file '" + path + "' is larger than 1 MiB");
    return bytes;
}

std::string known_algorithms() {
    return "HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512";
}

Alg algorithm_of(const rapidjson::Value& v, const std::string& key) {
    const std::string name = string_of(v, key);
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "none") refuse(key, "'none' (unsigned tokens) is never accepted");
    auto alg = alg_from_name(name);
    if (!alg) refuse(key, "unknown algorithm '" + name + "' (known: " + known_algorithms() + ")");
    return *alg;
}

std::unique_ptr<Key> parse_key(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsObject()) refuse(key, "expected a mapping {kid, algorithm, secret | secret_file | public_key | public_key_file}");
    static const char* const kFields[] = {"kid", "algorithm", "secret", "secret_file", "public_key", "public_key_file"};
    for (const auto& m : v.GetObject()) {
        const std::string name = m.name.GetString();
        if (std::none_of(std::begin(kFields), std::end(kFields), [&](const char* f) { return name == f; }))
            refuse(key + "." + name, "unknown key (known keys: kid, algorithm, secret, secret_file, public_key, public_key_file)");
    }
    const rapidjson::Value* alg_value = member(v, "algorithm");
    if (!alg_value) refuse(key, "missing 'algorithm'");
    const Alg alg = algorithm_of(*alg_value, key + ".algorithm");
    std::string kid;
    if (const auto* k = member(v, "kid")) kid = non_empty_string(*k, key + ".kid");

    int sources = 0;
    for (const char* f : {"secret", "secret_file", "public_key", "public_key_file"}) sources += member(v, f) ? 1 : 0;
    if (sources != 1) refuse(key, "give exactly one of secret, secret_file, public_key, public_key_file");

    try {
        if (const auto* s = member(v, "secret")) {
            if (!is_hmac(alg)) refuse(key + ".secret", std::string(alg_name(alg)) + " needs public_key or public_key_file");
            return Key::secret(alg, kid, string_of(*s, key + ".secret"));
        }
        if (const auto* f = member(v, "secret_file")) {
            if (!is_hmac(alg)) refuse(key + ".secret_file", std::string(alg_name(alg)) + " needs public_key or public_key_file");
            const std::string path = non_empty_string(*f, key + ".secret_file");
            std::string secret = read_file(path, key + ".secret_file");
            // Files written by editors and `echo` end with a newline that is not part of the secret.
            if (!secret.empty() && secret.back() == '\n') secret.pop_back();
            if (!secret.empty() && secret.back() == '\r') secret.pop_back();
            return Key::secret(alg, kid, secret);
        }
        if (is_hmac(alg)) refuse(key, std::string(alg_name(alg)) + " needs secret or secret_file");
        if (const auto* p = member(v, "public_key")) return Key::public_key(alg, kid, string_of(*p, key + ".public_key"));
        const std::string path = non_empty_string(*member(v, "public_key_file"), key + ".public_key_file");
        return Key::public_key(alg, kid, read_file(path, key + ".public_key_file"));
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        if (what.rfind(key, 0) == 0) throw;  // already names the key
        refuse(key, what);
    }
}

void check_event_pattern(const std::string& pattern, const std::string& key) {
    if (pattern.empty()) refuse(key, "an event pattern must not be empty");
    const size_t star = pattern.find('*');
    if (star != std::string::npos && star != pattern.size() - 1)
        refuse(key, "'*' is only allowed at the end of a pattern (\"admin:*\")");
}

}  // namespace

void Rules::add(const std::string& pattern, std::vector<std::string> roles) {
    if (!pattern.empty() && pattern.back() == '*') {
        prefixes_.emplace_back(pattern.substr(0, pattern.size() - 1), std::move(roles));
        std::stable_sort(prefixes_.begin(), prefixes_.end(),
                         [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    } else {
        exact_[pattern] = std::move(roles);
    }
}

const std::vector<std::string>* Rules::match(std::string_view event) const {
    if (auto it = exact_.find(event); it != exact_.end()) return &it->second;
    for (const auto& [prefix, roles] : prefixes_)
        if (event.substr(0, prefix.size()) == prefix) return &roles;
    return nullptr;
}

std::string room_for(const std::string& user_room, const std::string& user) {
    std::string out;
    size_t from = 0;
    for (;;) {
        const size_t at = user_room.find("{id}", from);
        if (at == std::string::npos) break;
        out.append(user_room, from, at - from);
        out += user;
        from = at + 4;
    }
    out.append(user_room, from, std::string::npos);
    return out;
}

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document config;
    config.Parse(config_json.data(), config_json.size());
    if (config.HasParseError() || !config.IsObject()) throw std::runtime_error("the configuration is not a mapping");
    Settings s;

    // Keys, and the algorithms accepted.
    const auto* keys = member(config, "keys");
    if (!keys || !keys->IsArray() || keys->Empty()) refuse("keys", "at least one key is required");
    std::set<std::string> kids;
    for (rapidjson::SizeType i = 0; i < keys->Size(); ++i) {
        const std::string key = "keys[" + std::to_string(i) + "]";
        auto k = parse_key((*keys)[i], key);
        if (!k->kid().empty() && !kids.insert(k->kid()).second) refuse(key + ".kid", "duplicate kid '" + k->kid() + "'");
        s.keys.push_back(std::move(k));
    }
    if (const auto* a = member(config, "algorithms")) {
        if (!a->IsArray() || a->Empty()) refuse("algorithms", "expected a non-empty list");
        for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
            const Alg alg = algorithm_of((*a)[i], "algorithms[" + std::to_string(i) + "]");
            if (std::find(s.policy.algorithms.begin(), s.policy.algorithms.end(), alg) == s.policy.algorithms.end())
                s.policy.algorithms.push_back(alg);
        }
        for (size_t i = 0; i < s.keys.size(); ++i)
            if (std::find(s.policy.algorithms.begin(), s.policy.algorithms.end(), s.keys[i]->alg()) ==
                s.policy.algorithms.end())
                refuse("keys[" + std::to_string(i) + "].algorithm",
                       std::string(alg_name(s.keys[i]->alg())) + " is not listed in algorithms");
    } else {
        for (const auto& k : s.keys)
            if (std::find(s.policy.algorithms.begin(), s.policy.algorithms.end(), k->alg()) == s.policy.algorithms.end())
                s.policy.algorithms.push_back(k->alg());
    }

    // Where tokens come from.
    if (const auto* v = member(config, "token_sources")) {
        s.sources.clear();
        for (const auto& name : strings_of(*v, "token_sources")) {
            Source src;
            if (name == "auth") src = Source::Auth;
            else if (name == "header") src = Source::Header;
            else if (name == "query") src = Source::Query;
            else refuse("token_sources", "unknown source '" + name + "' (expected auth, header, query)");
            if (std::find(s.sources.begin(), s.sources.end(), src) != s.sources.end())
                refuse("token_sources", "'" + name + "' is listed twice");
            s.sources.push_back(src);
        }
        if (s.sources.empty()) refuse("token_sources", "at least one source is required");
    }
    if (const auto* v = member(config, "auth_field")) s.auth_field = non_empty_string(*v, "auth_field");
    if (const auto* v = member(config, "query_parameter")) s.query_parameter = non_empty_string(*v, "query_parameter");

    // Claims.
    if (const auto* v = member(config, "leeway")) s.policy.leeway_ms = duration_ms(*v, "leeway");
    if (const auto* v = member(config, "issuer")) s.policy.issuers = strings_of(*v, "issuer");
    if (const auto* v = member(config, "audience")) s.policy.audiences = strings_of(*v, "audience");
    s.policy.required_claims = {"exp"};
    if (const auto* v = member(config, "required_claims")) {
        if (!v->IsArray()) refuse("required_claims", "expected a list of claim names");
        s.policy.required_claims = strings_of(*v, "required_claims");
    }
    if (const auto* v = member(config, "identity_claim")) s.policy.identity_claim = non_empty_string(*v, "identity_claim");
    if (const auto* v = member(config, "expose_claims")) {
        if (!v->IsArray()) refuse("expose_claims", "expected a list of claim names");
        s.policy.expose_claims = strings_of(*v, "expose_claims");
    }
    if (const auto* v = member(config, "role_claim")) s.policy.role_claim = non_empty_string(*v, "role_claim");

    // What an authenticated socket gets.
    if (const auto* v = member(config, "user_room")) {
        if (v->IsBool() && !v->GetBool()) {
            s.user_room.clear();
        } else {
            s.user_room = string_of(*v, "user_room");
            if (!s.user_room.empty() && s.user_room.find("{id}") == std::string::npos)
                refuse("user_room", "must contain {id} (e.g. \"user:{id}\"), or be \"\" or false to join no room");
        }
    }
    if (const auto* v = member(config, "rules")) {
        if (!v->IsObject()) refuse("rules", "expected a mapping of event pattern to roles");
        for (const auto& m : v->GetObject()) {
            const std::string pattern(m.name.GetString(), m.name.GetStringLength());
            const std::string key = "rules." + pattern;
            check_event_pattern(pattern, key);
            s.rules.add(pattern, strings_of(m.value, key));
        }
    }

    // Token lifetime during a connection.
    if (const auto* v = member(config, "on_expiry")) {
        const std::string mode = string_of(*v, "on_expiry");
        if (mode == "disconnect") s.on_expiry = OnExpiry::Disconnect;
        else if (mode == "ignore") s.on_expiry = OnExpiry::Ignore;
        else refuse("on_expiry", "expected disconnect or ignore, got '" + mode + "'");
    }
    if (const auto* v = member(config, "refresh_event")) s.refresh_event = string_of(*v, "refresh_event");
    return s;
}

}  // namespace auth_jwt
