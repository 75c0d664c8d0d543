// Module "typing": "who is typing" indicators that cost almost nothing when
// a client reports every keystroke, and that never stay on after the typist
// has gone quiet, left the room or disconnected.
//
//   "typing:start" {room}  member of the room only (NOT_MEMBER), authenticated
//                          only (FORBIDDEN); the room's other sockets get
//                          `typing {room, userId, typing: true}` when the user
//                          starts, and again at most once per coalesce interval
//                          while the starts keep coming; ack {ok:true, room}
//   "typing:stop" {room}   `typing {..., typing: false}` once the user's last
//                          typing socket in the room stops
//   timeout                a socket that sends no start for timeout_ms stops
//   on_room (left), disconnect   the socket stops typing in that room / everywhere
//
// State is per user and room (several tabs of one user count once), with the
// time of each typing socket's last start. One repeating sweep timer, running
// only while somebody types, expires the quiet ones: no timer per typist.
// See README.md for the configuration.
#include <switchboard/module.hpp>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace typing {
namespace {

constexpr std::string_view kStateTag = "typing/1\n";

uint64_t steady_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

// The module's settings, in milliseconds (see README.md).
struct Settings {
    uint64_t timeout_ms = 3000;
    uint64_t coalesce_ms = 1000;
    uint64_t sweep_ms = 250;

    static Settings parse(std::string_view config_json) {
        rapidjson::Document cfg;
        cfg.Parse(config_json.data(), config_json.size());
        if (cfg.HasParseError() || !cfg.IsObject()) throw std::runtime_error("configuration is not a JSON object");
        auto ms = [&](const char* key, uint64_t fallback, uint64_t lo, uint64_t hi) {
            auto it = cfg.FindMember(key);
            if (it == cfg.MemberEnd()) return fallback;
            if (!it->value.IsUint64() || it->value.GetUint64() < lo || it->value.GetUint64() > hi)
                throw std::runtime_error(std::string(key) + ": expected an integer number of milliseconds from " +
                                         std::to_string(lo) + " to " + std::to_string(hi));
            return it->value.GetUint64();
        };
        Settings s;
        s.timeout_ms = ms("timeout_ms", s.timeout_ms, 100, 3'600'000);
        s.coalesce_ms = ms("coalesce_interval_ms", s.coalesce_ms, 0, s.timeout_ms);
        s.sweep_ms = ms("sweep_interval_ms", s.sweep_ms, 10, s.timeout_ms);
        return s;
    }
};

class Typing {
public:
    static constexpr sb_config_key config_keys[] = {
        {"timeout_ms", SB_CONFIG_INTEGER, 0, "a typing socket that sends no start for this long stops (default 3000)"},
        {"coalesce_interval_ms", SB_CONFIG_INTEGER, 0,
         "at most one typing:true broadcast per user and room per interval (default 1000)"},
        {"sweep_interval_ms", SB_CONFIG_INTEGER, 0, "how often expiry is checked while somebody types (default 250)"},
    };

    Typing(sb::Host host, std::string_view config_json) : host_(host), settings_(Settings::parse(config_json)) {
        if (host.api()->struct_size < offsetof(sb_host_api, user_of) + sizeof(host.api()->user_of))
            throw std::runtime_error("typing needs a host with identity support (user_of)");
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        const bool starting = name == "typing:start";
        if (!starting && name != "typing:stop") return false;
        read_room(socket, ev);
        if (starting) {
            start(socket, ev.namespace_name);
        } else {
            stop_where(socket, [&](const Typist& t) { return t.room == room_; });
        }
        if (ev.ack_id >= 0) host_.ack(socket, ev.ack_id, "[{\"ok\":true,\"room\":" + sb::json_string(room_) + "}]");
        return true;
    }

    void on_room(sb_socket_id socket, std::string_view room, bool joined) {
        if (!joined) stop_where(socket, [&](const Typist& t) { return t.room == room; });
    }

    void on_disconnect(sb_socket_id socket, std::string_view) {
        stop_where(socket, [](const Typist&) { return true; });
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer != sweep_timer_) return;
        const uint64_t now = steady_ms();
        std::vector<std::pair<std::string, sb_socket_id>> quiet;
        for (const auto& [key, t] : typists_)
            for (const auto& [socket, last] : t.sockets)
                if (now - last >= settings_.timeout_ms) quiet.emplace_back(key, socket);
        for (const auto& [key, socket] : quiet) stop_typist(key, socket);
        if (typists_.empty()) {
            host_.stop_timer(sweep_timer_);
            sweep_timer_ = 0;
        }
    }

    // "typing/1\n" then {"typists":[{"namespace","room","user","broadcastAgoMs",
    // "sockets":[{"socket":N,"agoMs":M}]}]}; times are ages, so the importer
    // needs no shared clock.
    std::string export_state() const {
        const uint64_t now = steady_ms();
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        auto str = [&](const std::string& s) { w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size())); };
        w.StartObject();
        w.Key("typists");
        w.StartArray();
        for (const auto& [key, t] : typists_) {
            w.StartObject();
            w.Key("namespace");
            str(t.ns);
            w.Key("room");
            str(t.room);
            w.Key("user");
            str(t.user);
            w.Key("broadcastAgoMs");
            w.Uint64(now - t.last_broadcast);
            w.Key("sockets");
            w.StartArray();
            for (const auto& [socket, last] : t.sockets) {
                w.StartObject();
                w.Key("socket");
                w.Uint64(socket);
                w.Key("agoMs");
                w.Uint64(now - last);
                w.EndObject();
            }
            w.EndArray();
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return std::string(kStateTag) + std::string(buf.GetString(), buf.GetSize());
    }

    void import_state(std::string_view bytes) {
        const std::string_view json = sb::state_body(bytes, kStateTag);
        rapidjson::Document doc;
        doc.Parse(json.data(), json.size());
        if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("typists") || !doc["typists"].IsArray())
            throw std::runtime_error("corrupt typing state");
        const uint64_t now = steady_ms();
        auto text = [](const rapidjson::Value& e, const char* k) {
            if (!e.HasMember(k) || !e[k].IsString()) throw std::runtime_error("corrupt typing state entry");
            return std::string(e[k].GetString(), e[k].GetStringLength());
        };
        auto age = [&](const rapidjson::Value& e, const char* k) {
            if (!e.HasMember(k) || !e[k].IsUint64()) throw std::runtime_error("corrupt typing state entry");
            return now - std::min(now, e[k].GetUint64());
        };
        for (const auto& e : doc["typists"].GetArray()) {
            if (!e.IsObject() || !e.HasMember("sockets") || !e["sockets"].IsArray())
                throw std::runtime_error("corrupt typing state entry");
            Typist t{text(e, "namespace"), text(e, "room"), text(e, "user"), {}, age(e, "broadcastAgoMs")};
            const std::string key = key_of(t.ns, t.room, t.user);
            for (const auto& s : e["sockets"].GetArray()) {
                if (!s.IsObject() || !s.HasMember("socket") || !s["socket"].IsUint64())
                    throw std::runtime_error("corrupt typing state entry");
                t.sockets[s["socket"].GetUint64()] = age(s, "agoMs");
                by_socket_[s["socket"].GetUint64()].push_back(key);
            }
            if (!t.sockets.empty()) typists_.emplace(key, std::move(t));
        }
        keep_sweeping();
    }

private:
    // One user typing in one room of one namespace, from one or more sockets.
    struct Typist {
        std::string ns, room, user;
        std::unordered_map<sb_socket_id, uint64_t> sockets;  // typing socket -> its last start (steady ms)
        uint64_t last_broadcast = 0;                         // of typing:true (steady ms)
    };

    static std::string key_of(const std::string& ns, const std::string& room, const std::string& user) {
        return ns + '\0' + room + '\0' + user;  // none of them can hold a NUL: they come from C strings
    }

    // Reads {room} from the event's first argument into room_ (INVALID when
    // absent or not a non-empty string) and checks the socket is in it.
    void read_room(sb_socket_id socket, const sb_event& ev) {
        rapidjson::Document args;
        args.Parse(ev.args_json, ev.args_json_len);
        const rapidjson::Value* room = args.HasParseError() ? nullptr : rapidjson::Pointer("/0/room").Get(args);
        if (!room || !room->IsString() || room->GetStringLength() == 0)
            throw sb::Refusal(std::string(ev.name) + " needs {room: string} as its first argument, the string not empty",
                              "INVALID");
        room_.assign(room->GetString(), room->GetStringLength());
        if (!host_.in_room(socket, room_)) throw sb::Refusal("not a member of room '" + room_ + "'", "NOT_MEMBER");
    }

    void start(sb_socket_id socket, const std::string& ns) {
        const char* user = host_.user_of(socket);
        if (!user) throw sb::Refusal("typing needs an authenticated user", "FORBIDDEN");
        const std::string key = key_of(ns, room_, user);
        auto [it, created] = typists_.try_emplace(key, Typist{ns, room_, user, {}, 0});
        Typist& t = it->second;
        const uint64_t now = steady_ms();
        if (t.sockets.emplace(socket, now).second) {
            by_socket_[socket].push_back(key);
        } else {
            t.sockets[socket] = now;
        }
        if (created || now - t.last_broadcast >= settings_.coalesce_ms) {
            t.last_broadcast = now;
            announce(t, true, socket);
        }
        keep_sweeping();
    }

    // Stops `socket` in every room whose typist satisfies `which`. A socket
    // is in one namespace, so the room alone identifies the typist.
    template <typename Which>
    void stop_where(sb_socket_id socket, Which which) {
        auto it = by_socket_.find(socket);
        if (it == by_socket_.end()) return;
        std::vector<std::string> keys;
        for (const auto& key : it->second)
            if (auto t = typists_.find(key); t != typists_.end() && which(t->second)) keys.push_back(key);
        for (const auto& key : keys) stop_typist(key, socket);
    }

    // `socket` stops typing as its user in the typist's room; the room hears
    // typing:false when it was the user's last typing socket there.
    void stop_typist(const std::string& key, sb_socket_id socket) {
        if (auto s = by_socket_.find(socket); s != by_socket_.end()) {
            auto& keys = s->second;
            keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
            if (keys.empty()) by_socket_.erase(s);
        }
        auto it = typists_.find(key);
        if (it == typists_.end() || it->second.sockets.erase(socket) == 0 || !it->second.sockets.empty()) return;
        const Typist t = std::move(it->second);
        typists_.erase(it);
        announce(t, false, socket);
    }

    void announce(const Typist& t, bool typing, sb_socket_id except) {
        const std::string args = "[{\"room\":" + sb::json_string(t.room) + ",\"userId\":" + sb::json_string(t.user) +
                                 ",\"typing\":" + (typing ? "true" : "false") + "}]";
        host_.broadcast(t.ns, {t.room}, "typing", args, except);
    }

    void keep_sweeping() {
        if (sweep_timer_ || typists_.empty()) return;
        sweep_timer_ = host_.start_timer(settings_.sweep_ms, settings_.sweep_ms);
        if (!sweep_timer_) host_.log(SB_LOG_ERROR, "cannot start the typing sweep timer");
    }

    sb::Host host_;
    Settings settings_;
    std::string room_;  // the room of the event being handled
    std::unordered_map<std::string, Typist> typists_;                    // by key_of(ns, room, user)
    std::unordered_map<sb_socket_id, std::vector<std::string>> by_socket_;  // keys each socket types under
    sb_timer_id sweep_timer_ = 0;
};

}  // namespace
}  // namespace typing

SWITCHBOARD_MODULE(typing::Typing, "typing", "1.0.0")
