// Module "auth_jwt": authenticates sockets with a JSON Web Token when they
// join a namespace, and keeps them authorised while connected.
//
//   on connect        token from the CONNECT auth payload, the handshake's
//                     Authorization: Bearer header or the `token` query
//                     parameter (configurable) -> verified -> identity and
//                     claims set for every other module, socket joins
//                     user:<id>; otherwise CONNECT_ERROR "missing token",
//                     "invalid token" or "token expired", counted by reason
//   any event         role rules: a matching pattern whose roles the socket
//                     lacks -> FORBIDDEN; no match -> next module
//   "auth:refresh"    {token} for the same user -> new expiry and claims,
//                     acked {ok:true, exp}
//   token expiry      the socket is disconnected (or, configurably, kept);
//                     one ordered set of deadlines and one timer for the
//                     earliest, never a timer per socket
//   reload            sessions and deadlines are handed to the new instance
//
// See README.md for the configuration.
#include "settings.h"
#include "verifier.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace auth_jwt {
namespace {

// The expiry timer never sleeps longer than this, so a wall-clock jump is
// noticed within a minute.
constexpr uint64_t kMaxTimerDelayMs = 60'000;
constexpr std::string_view kStateTag = "auth_jwt/1\n";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string percent_decode(std::string_view s) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const size_t eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) != name) continue;
        return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    return std::nullopt;
}

// Log lines carry client-supplied text (kid, user ids): keep them on one line.
std::string printable(std::string_view s, size_t limit = 200) {
    std::string out;
    for (char c : s.substr(0, limit)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
    if (s.size() > limit) out += "...";
    return out;
}

const char* source_name(Source s) {
    switch (s) {
        case Source::Auth: return "auth payload";
        case Source::Header: return "Authorization header";
        case Source::Query: return "query";
    }
    return "?";
}

std::string exp_json(const std::optional<uint64_t>& exp_ms) {
    if (!exp_ms) return "null";
    if (*exp_ms % 1000 == 0) return std::to_string(*exp_ms / 1000);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.Double(static_cast<double>(*exp_ms) / 1000.0);
    return std::string(buf.GetString(), buf.GetSize());
}

class AuthJwt {
public:
    static constexpr sb_config_key config_keys[] = {
        {"keys", SB_CONFIG_ARRAY, 1, "verification keys: [{kid, algorithm, secret | secret_file | public_key | public_key_file}]"},
        {"algorithms", SB_CONFIG_ARRAY, 0, "accepted alg values (default: the algorithms of the keys)"},
        {"token_sources", SB_CONFIG_ARRAY, 0, "where tokens are taken from, in order: auth, header, query (default [auth, header])"},
        {"auth_field", SB_CONFIG_STRING, 0, "field of the CONNECT auth payload holding the token (default token)"},
        {"query_parameter", SB_CONFIG_STRING, 0, "handshake query parameter holding the token (default token)"},
        {"leeway", SB_CONFIG_ANY, 0, "clock skew allowed for exp and nbf: integer seconds or \"30s\" (default 0)"},
        {"issuer", SB_CONFIG_ANY, 0, "accepted iss: a string or a list (default: not checked)"},
        {"audience", SB_CONFIG_ANY, 0, "accepted aud: a string or a list (default: not checked)"},
        {"required_claims", SB_CONFIG_ARRAY, 0, "claims every token must carry (default [exp])"},
        {"identity_claim", SB_CONFIG_STRING, 0, "claim holding the user id (default sub)"},
        {"expose_claims", SB_CONFIG_ARRAY, 0, "claims copied into the claims other modules read (default none)"},
        {"role_claim", SB_CONFIG_STRING, 0, "claim holding the role or roles for rules (default role)"},
        {"rules", SB_CONFIG_OBJECT, 0, "event pattern (exact or ending in *) -> role or roles allowed"},
        {"user_room", SB_CONFIG_ANY, 0, "room joined on connect, {id} = user id (default \"user:{id}\"; \"\" or false: none)"},
        {"on_expiry", SB_CONFIG_STRING, 0, "disconnect or ignore, when a token expires during a connection (default disconnect)"},
        {"refresh_event", SB_CONFIG_STRING, 0, "event carrying {token} to extend a connection (default auth:refresh; \"\": none)"},
    };

    AuthJwt(sb::Host host, std::string_view config_json) : host_(host) {
        if (host.api()->struct_size < offsetof(sb_host_api, counter_add) + sizeof(host.api()->counter_add))
            throw std::runtime_error("this host lacks set_identity/counter_add (needs ABI 1.0 with identity support)");
        settings_ = parse_settings(config_json);
        verifier_ = std::make_unique<Verifier>(settings_.policy, std::move(settings_.keys));
    }

    void on_connect(sb_socket_id socket, const sb_connect_info& info) {
        const Found found = find_token(info);
        if (found.failure != Failure::None) refuse_connect(info, found.failure, found.detail);
        Verdict v = verifier_->verify(found.token, host_.now_ms());
        if (!v.ok()) refuse_connect(info, v.failure, std::string(source_name(found.source)) + ": " + v.detail);
        if (host_.api()->set_identity(host_.ctx(), socket, v.user.c_str(), v.claims_json.c_str()) != SB_OK)
            throw std::runtime_error("the host refused the identity");
        if (!settings_.user_room.empty()) host_.join(socket, room_for(settings_.user_room, v.user));
        Session& s = sessions_[socket];
        s.user = std::move(v.user);
        s.roles = std::move(v.roles);
        s.exp_ms = v.exp_ms;
        track(socket, s);
        arm();
        debug("socket " + std::string(info.socket_sid) + " authenticated as '" + printable(s.user) + "' (" +
              source_name(found.source) + ")");
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        if (!settings_.refresh_event.empty() && name == settings_.refresh_event) {
            refresh(socket, ev);
            return true;
        }
        if (const auto* allowed = settings_.rules.match(name)) {
            auto it = sessions_.find(socket);
            const bool ok = it != sessions_.end() &&
                            std::any_of(it->second.roles.begin(), it->second.roles.end(), [&](const std::string& r) {
                                return std::find(allowed->begin(), allowed->end(), r) != allowed->end();
                            });
            if (!ok) throw sb::Refusal("Event '" + std::string(name) + "' is not allowed for your role", "FORBIDDEN");
        }
        return false;
    }

    void on_disconnect(sb_socket_id socket, std::string_view) {
        auto it = sessions_.find(socket);
        if (it == sessions_.end()) return;
        untrack(socket, it->second);
        sessions_.erase(it);
        arm();
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer != timer_) return;
        timer_ = 0;  // one-shot: the host has already dropped it
        timer_at_ = 0;
        const uint64_t now = host_.now_ms();
        std::vector<sb_socket_id> due;
        while (!expiries_.empty() && expiries_.begin()->first <= now) {
            const sb_socket_id socket = expiries_.begin()->second;
            expiries_.erase(expiries_.begin());
            if (auto it = sessions_.find(socket); it != sessions_.end()) it->second.deadline = 0;
            due.push_back(socket);
        }
        arm();
        // Disconnecting calls on_disconnect, which finds the state consistent.
        for (sb_socket_id socket : due) {
            host_.api()->counter_add(host_.ctx(), "auth_expired_disconnects", "", 1);
            debug("socket " + std::to_string(socket) + ": token expired, disconnecting");
            host_.disconnect(socket);
        }
    }

    // "auth_jwt/1\n" then {"sessions":[{"socket":N,"user":"...","roles":[...],"exp":ms}]}
    std::string export_state() {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        w.Key("sessions");
        w.StartArray();
        for (const auto& [socket, s] : sessions_) {
            w.StartObject();
            w.Key("socket");
            w.Uint64(socket);
            w.Key("user");
            w.String(s.user.c_str(), static_cast<rapidjson::SizeType>(s.user.size()));
            w.Key("roles");
            w.StartArray();
            for (const auto& r : s.roles) w.String(r.c_str(), static_cast<rapidjson::SizeType>(r.size()));
            w.EndArray();
            if (s.exp_ms) {
                w.Key("exp");
                w.Uint64(*s.exp_ms);
            }
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return std::string(kStateTag) + std::string(buf.GetString(), buf.GetSize());
    }

    void import_state(std::string_view bytes) {
        if (bytes.substr(0, kStateTag.size()) != kStateTag)
            throw std::runtime_error("unrecognised auth_jwt state (expected format auth_jwt/1)");
        const std::string_view json = bytes.substr(kStateTag.size());
        rapidjson::Document doc;
        doc.Parse(json.data(), json.size());
        if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("sessions") || !doc["sessions"].IsArray())
            throw std::runtime_error("corrupt auth_jwt state");
        std::unordered_map<sb_socket_id, Session> sessions;
        for (const auto& e : doc["sessions"].GetArray()) {
            if (!e.IsObject() || !e.HasMember("socket") || !e["socket"].IsUint64() || !e.HasMember("user") ||
                !e["user"].IsString() || !e.HasMember("roles") || !e["roles"].IsArray() ||
                (e.HasMember("exp") && !e["exp"].IsUint64()))
                throw std::runtime_error("corrupt auth_jwt state entry");
            Session& s = sessions[e["socket"].GetUint64()];
            s.user.assign(e["user"].GetString(), e["user"].GetStringLength());
            for (const auto& r : e["roles"].GetArray())
                if (r.IsString()) s.roles.emplace_back(r.GetString(), r.GetStringLength());
            if (e.HasMember("exp")) s.exp_ms = e["exp"].GetUint64();
        }
        // Deadlines follow this instance's configuration (leeway, on_expiry).
        sessions_ = std::move(sessions);
        expiries_.clear();
        for (auto& [socket, s] : sessions_) track(socket, s);
        arm();
    }

private:
    struct Session {
        std::string user;
        std::vector<std::string> roles;
        std::optional<uint64_t> exp_ms;  // the token's exp
        uint64_t deadline = 0;           // when it is disconnected; 0 = not tracked
    };

    struct Found {
        Failure failure = Failure::None;
        std::string token;
        Source source = Source::Auth;
        std::string detail;
    };

    Found find_token(const sb_connect_info& info) const {
        Found f;
        for (Source src : settings_.sources) {
            f.source = src;
            switch (src) {
                case Source::Auth: {
                    rapidjson::Document auth;
                    auth.Parse(info.auth_json ? info.auth_json : "{}");
                    if (auth.HasParseError() || !auth.IsObject()) break;
                    auto it = auth.FindMember(settings_.auth_field.c_str());
                    if (it == auth.MemberEnd() || it->value.IsNull()) break;
                    if (!it->value.IsString()) {
                        f.failure = Failure::Malformed;
                        f.detail = "auth payload: the token field is not a string";
                        return f;
                    }
                    if (it->value.GetStringLength() == 0) break;
                    f.token.assign(it->value.GetString(), it->value.GetStringLength());
                    return f;
                }
                case Source::Header: {
                    const std::string_view h = trim(info.authorization ? info.authorization : "");
                    if (h.size() < 7 || !iequals(h.substr(0, 6), "Bearer") || (h[6] != ' ' && h[6] != '\t')) break;
                    const std::string_view token = trim(h.substr(7));
                    if (token.empty()) break;
                    f.token = std::string(token);
                    return f;
                }
                case Source::Query: {
                    auto value = query_value(info.query ? info.query : "", settings_.query_parameter);
                    if (!value || value->empty()) break;
                    f.token = std::move(*value);
                    return f;
                }
            }
        }
        f.failure = Failure::Missing;
        f.detail = "no token in any accepted place";
        return f;
    }

    [[noreturn]] void refuse_connect(const sb_connect_info& info, Failure failure, const std::string& detail) {
        const std::string labels = std::string("reason=\"") + failure_label(failure) + "\"";
        host_.api()->counter_add(host_.ctx(), "auth_failures", labels.c_str(), 1);
        debug("connect refused for socket " + std::string(info.socket_sid) + " from " + info.remote_address + " (" +
              failure_label(failure) + "): " + printable(detail));
        throw sb::Refusal(failure_category(failure), "UNAUTHORIZED");
    }

    void refresh(sb_socket_id socket, const sb_event& ev) {
        rapidjson::Document args;
        args.Parse(ev.args_json, ev.args_json_len);
        std::string token;
        if (!args.HasParseError() && args.IsArray() && !args.Empty()) {
            const auto& first = args[0];
            if (first.IsString()) token.assign(first.GetString(), first.GetStringLength());
            else if (first.IsObject() && first.HasMember("token") && first["token"].IsString())
                token.assign(first["token"].GetString(), first["token"].GetStringLength());
        }
        if (token.empty()) throw sb::Refusal(settings_.refresh_event + " needs {token}", "INVALID");
        auto it = sessions_.find(socket);
        if (it == sessions_.end()) throw sb::Refusal("not authenticated", "UNAUTHORIZED");
        Session& s = it->second;
        Verdict v = verifier_->verify(token, host_.now_ms());
        if (!v.ok()) refuse_refresh(socket, v.failure, v.detail, failure_category(v.failure), "UNAUTHORIZED");
        if (v.user != s.user)
            refuse_refresh(socket, Failure::Claims, "token is for '" + printable(v.user) + "', not '" + printable(s.user) + "'",
                           "token is for another user", "FORBIDDEN", "other_user");
        if (host_.api()->set_identity(host_.ctx(), socket, v.user.c_str(), v.claims_json.c_str()) != SB_OK)
            throw std::runtime_error("the host refused the identity");
        untrack(socket, s);
        s.roles = std::move(v.roles);
        s.exp_ms = v.exp_ms;
        track(socket, s);
        arm();
        host_.api()->counter_add(host_.ctx(), "auth_refreshes", "", 1);
        debug("socket " + std::to_string(socket) + ": token refreshed, exp " + exp_json(s.exp_ms));
        if (ev.ack_id >= 0) host_.ack(socket, ev.ack_id, "[{\"ok\":true,\"exp\":" + exp_json(s.exp_ms) + "}]");
    }

    [[noreturn]] void refuse_refresh(sb_socket_id socket, Failure failure, const std::string& detail,
                                     const char* message, const char* code, const char* label = nullptr) {
        const std::string labels = std::string("reason=\"") + (label ? label : failure_label(failure)) + "\"";
        host_.api()->counter_add(host_.ctx(), "auth_refresh_failures", labels.c_str(), 1);
        debug("refresh refused for socket " + std::to_string(socket) + ": " + printable(detail));
        throw sb::Refusal(message, code);
    }

    // Expiry deadlines: one ordered set, one timer for the earliest. Callers
    // of track/untrack call arm() once they are done.
    void track(sb_socket_id socket, Session& s) {
        if (settings_.on_expiry != OnExpiry::Disconnect || !s.exp_ms) return;
        s.deadline = std::max<uint64_t>(*s.exp_ms + verifier_->policy().leeway_ms, 1);
        expiries_.emplace(s.deadline, socket);
    }

    void untrack(sb_socket_id socket, Session& s) {
        if (s.deadline == 0) return;
        expiries_.erase({s.deadline, socket});
        s.deadline = 0;
    }

    void arm() {
        if (expiries_.empty()) {
            if (timer_) host_.stop_timer(timer_);
            timer_ = 0;
            timer_at_ = 0;
            return;
        }
        const uint64_t next = expiries_.begin()->first;
        if (timer_ && timer_at_ == next) return;
        if (timer_) host_.stop_timer(timer_);
        const uint64_t now = host_.now_ms();
        const uint64_t delay = std::min(next > now ? next - now : 0, kMaxTimerDelayMs);
        timer_ = host_.start_timer(delay);
        timer_at_ = timer_ ? next : 0;
        if (!timer_) host_.log(SB_LOG_ERROR, "cannot start the token expiry timer");
    }

    void debug(const std::string& message) const { host_.log(SB_LOG_DEBUG, message); }

    sb::Host host_;
    Settings settings_;
    std::unique_ptr<Verifier> verifier_;
    std::unordered_map<sb_socket_id, Session> sessions_;
    std::set<std::pair<uint64_t, sb_socket_id>> expiries_;
    sb_timer_id timer_ = 0;
    uint64_t timer_at_ = 0;
};

}  // namespace
}  // namespace auth_jwt

SWITCHBOARD_MODULE(auth_jwt::AuthJwt, "auth_jwt", "1.0.0")
