// Module "rooms": lets clients enter and leave rooms themselves, under access
// rules written in the configuration, so that applications do not code
// membership checks into a server of their own.
//
//   "subscribe" {room}     name checked (INVALID), first matching rule decides
//                          (FORBIDDEN), per-socket limit (RATE_LIMITED), then
//                          the host joins the socket; ack {ok:true, room}
//   "unsubscribe" {room}   leaves a room the client subscribed to; a room the
//                          server put the socket in (e.g. auth_jwt's user room)
//                          stays (FORBIDDEN), a room it is not in: NOT_MEMBER
//   on_room (left)         a subscription ends however the socket left the room
//   reload                 which rooms each socket subscribed to is handed over
//
// Membership itself lives in the host; this module only remembers which
// rooms each socket entered through it, for the limit and for unsubscribe.
// See README.md for the configuration.
#include "room_rules.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rooms {
namespace {

constexpr std::string_view kStateTag = "rooms/1\n";
constexpr int64_t kDefaultMaxRooms = 100;
constexpr int64_t kDefaultMaxRoomLength = 128;
constexpr int64_t kMaxRoomLengthLimit = 1024;

std::optional<int64_t> integer_setting(const rapidjson::Document& cfg, const char* key, int64_t lo, int64_t hi) {
    auto it = cfg.FindMember(key);
    if (it == cfg.MemberEnd()) return std::nullopt;
    if (!it->value.IsInt64() || it->value.GetInt64() < lo || it->value.GetInt64() > hi)
        throw std::runtime_error(std::string(key) + ": expected an integer from " + std::to_string(lo) + " to " +
                                 std::to_string(hi));
    return it->value.GetInt64();
}

class Rooms {
public:
    static constexpr sb_config_key config_keys[] = {
        {"rules", SB_CONFIG_ARRAY, 1, "access rules, first match decides: [{pattern, roles, allow, anonymous}]"},
        {"role_claim", SB_CONFIG_STRING, 0, "claim holding the socket's role or roles (default role)"},
        {"max_rooms_per_socket", SB_CONFIG_INTEGER, 0, "rooms one socket may subscribe to (default 100)"},
        {"max_room_length", SB_CONFIG_INTEGER, 0, "longest room name in bytes (default 128, at most 1024)"},
    };

    Rooms(sb::Host host, std::string_view config_json) : host_(host) {
        if (host.api()->struct_size < offsetof(sb_host_api, claims_of) + sizeof(host.api()->claims_of))
            throw std::runtime_error("rooms needs a host with identity support (user_of, claims_of)");
        rapidjson::Document cfg;
        cfg.Parse(config_json.data(), config_json.size());
        if (cfg.HasParseError() || !cfg.IsObject()) throw std::runtime_error("configuration is not a JSON object");
        std::string role_claim = "role";
        if (auto it = cfg.FindMember("role_claim"); it != cfg.MemberEnd()) {
            if (!it->value.IsString() || it->value.GetStringLength() == 0)
                throw std::runtime_error("role_claim: expected a non-empty string");
            role_claim.assign(it->value.GetString(), it->value.GetStringLength());
        }
        max_rooms_ = static_cast<size_t>(integer_setting(cfg, "max_rooms_per_socket", 1, 1'000'000).value_or(kDefaultMaxRooms));
        max_room_length_ = static_cast<size_t>(
            integer_setting(cfg, "max_room_length", 1, kMaxRoomLengthLimit).value_or(kDefaultMaxRoomLength));
        auto rules = cfg.FindMember("rules");
        if (rules == cfg.MemberEnd()) throw std::runtime_error("rules: required");
        rules_.emplace(rules->value, std::move(role_claim));
        if (rules_->size() == 0) host_.log(SB_LOG_WARN, "no access rules: every subscription will be refused");
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        const bool subscribing = name == "subscribe";
        if (!subscribing && name != "unsubscribe") return false;
        read_room(ev);
        subscribing ? subscribe(socket) : unsubscribe(socket);
        if (ev.ack_id >= 0) host_.ack(socket, ev.ack_id, "[{\"ok\":true,\"room\":" + sb::json_string(room_) + "}]");
        return true;
    }

    void on_room(sb_socket_id socket, std::string_view room, bool joined) {
        if (joined) return;
        auto it = subscriptions_.find(socket);
        if (it == subscriptions_.end()) return;
        auto& rooms = it->second;
        rooms.erase(std::remove(rooms.begin(), rooms.end(), room), rooms.end());
        if (rooms.empty()) subscriptions_.erase(it);
    }

    void on_disconnect(sb_socket_id socket, std::string_view) { subscriptions_.erase(socket); }

    // "rooms/1\n" then one line per socket: "<socket id> <room> <room>...\n".
    // Room names entered by subscribe hold no spaces nor newlines.
    std::string export_state() const {
        std::string out(kStateTag);
        for (const auto& [socket, rooms] : subscriptions_) {
            out += std::to_string(socket);
            for (const auto& r : rooms) out += " " + r;
            out += "\n";
        }
        return out;
    }

    // Subscriptions stay as they were: new rules and limits apply to the
    // next subscribe, they do not evict anybody.
    void import_state(std::string_view bytes) {
        std::string_view rest = sb::state_body(bytes, kStateTag);
        std::unordered_map<sb_socket_id, std::vector<std::string>> subscriptions;
        while (!rest.empty()) {
            const size_t eol = rest.find('\n');
            if (eol == std::string_view::npos) throw std::runtime_error("corrupt rooms state: unterminated line");
            std::string_view line = rest.substr(0, eol);
            rest.remove_prefix(eol + 1);
            sb_socket_id socket = 0;
            const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), socket);
            if (ec != std::errc() || socket == 0) throw std::runtime_error("corrupt rooms state: bad socket id");
            line.remove_prefix(static_cast<size_t>(end - line.data()));
            auto& rooms = subscriptions[socket];
            while (!line.empty()) {
                line.remove_prefix(1);  // the space
                const size_t space = std::min(line.find(' '), line.size());
                if (space == 0) throw std::runtime_error("corrupt rooms state: empty room name");
                rooms.emplace_back(line.substr(0, space));
                line.remove_prefix(space);
            }
        }
        subscriptions_ = std::move(subscriptions);
    }

private:
    // Reads {room} from the event's first argument into room_ and checks its
    // syntax; refuses with INVALID naming what is wrong.
    void read_room(const sb_event& ev) {
        rapidjson::Document args;
        args.Parse(ev.args_json, ev.args_json_len);
        const std::string usage = std::string(ev.name) + " needs {room: string} as its first argument";
        if (args.HasParseError() || !args.IsArray() || args.Empty() || !args[0].IsObject())
            throw sb::Refusal(usage, "INVALID");
        auto it = args[0].FindMember("room");
        if (it == args[0].MemberEnd()) throw sb::Refusal(usage + ": room is missing", "INVALID");
        if (!it->value.IsString()) throw sb::Refusal(usage + ": room is not a string", "INVALID");
        room_.assign(it->value.GetString(), it->value.GetStringLength());
        const std::string problem = room_name_problem(room_, max_room_length_);
        if (!problem.empty()) throw sb::Refusal(problem, "INVALID");
    }

    void subscribe(sb_socket_id socket) {
        auto it = subscriptions_.find(socket);
        const size_t count = it == subscriptions_.end() ? 0 : it->second.size();
        if (count && std::find(it->second.begin(), it->second.end(), room_) != it->second.end()) return;  // again
        rapidjson::Document claims;
        claims.Parse(host_.claims_of(socket).c_str());
        if (claims.HasParseError() || !claims.IsObject()) claims.SetObject();
        const Subject subject{host_.user_of(socket) != nullptr, &claims};
        const Decision d = rules_->decide(room_, subject);
        if (!d.allowed) {
            debug("socket " + std::to_string(socket) + " refused room '" + room_ + "': " + d.reason);
            throw sb::Refusal(d.reason, "FORBIDDEN");
        }
        if (host_.in_room(socket, room_)) return;  // put there by another module: nothing to record
        if (count >= max_rooms_)
            throw sb::Refusal("room limit reached: a socket may subscribe to at most " + std::to_string(max_rooms_) +
                                  " rooms; unsubscribe from one first",
                              "RATE_LIMITED");
        if (host_.join(socket, room_) != SB_OK) throw std::runtime_error("the host refused to join room " + room_);
        subscriptions_[socket].push_back(room_);
    }

    void unsubscribe(sb_socket_id socket) {
        auto it = subscriptions_.find(socket);
        if (it != subscriptions_.end() && std::find(it->second.begin(), it->second.end(), room_) != it->second.end()) {
            on_room(socket, room_, false);
            host_.leave(socket, room_);
            return;
        }
        if (host_.in_room(socket, room_))
            throw sb::Refusal("room '" + room_ + "' was joined by the server, not by subscribe: it cannot be unsubscribed",
                              "FORBIDDEN");
        throw sb::Refusal("not subscribed to room '" + room_ + "'", "NOT_MEMBER");
    }

    void debug(const std::string& message) const { host_.log(SB_LOG_DEBUG, message); }

    sb::Host host_;
    std::optional<AccessRules> rules_;
    size_t max_rooms_ = kDefaultMaxRooms;
    size_t max_room_length_ = kDefaultMaxRoomLength;
    std::string room_;  // the room of the event being handled
    std::unordered_map<sb_socket_id, std::vector<std::string>> subscriptions_;  // rooms entered by subscribe
};

}  // namespace
}  // namespace rooms

SWITCHBOARD_MODULE(rooms::Rooms, "rooms", "1.0.0")
