// Module "relay": events that clients send to the other members of a room
// through the server, with no backend in between: cursors, document
// operations, live reactions.
//
//   "<configured event>" (room, ...args)   from a member of `room` only
//                          (NOT_MEMBER); the arguments' size is bounded per
//                          event (INVALID); the room's other sockets (the
//                          sender's too with include_sender) get
//                          ("<event>", {room, from: {userId, socketId}, args})
//                          with `from` written by the server; ack {ok: true}
//   volatile events        dropped for a recipient whose connection still
//                          holds unsent output (SB_TARGET_VOLATILE)
//   other events           not this module's: passed down the chain
//
// The module keeps one thing per socket: its Socket.IO id, which the host
// tells only at connect time and which `from.socketId` carries. Membership
// is the host's, whichever module joined the socket. See README.md.
#include "relayed_event.h"
#include "settings.h"

#include <switchboard/module.hpp>

#include <charconv>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace relay {
namespace {

constexpr std::string_view kStateTag = "relay/1\n";

class Relay {
public:
    static constexpr sb_config_key config_keys[] = {
        {"events", SB_CONFIG_ARRAY, 1,
         "the events relayed to the other members of a room: [{name, max_payload, volatile, include_sender}]; "
         "name is an event name or a pattern with '*'"},
    };

    Relay(sb::Host host, std::string_view config_json) : host_(host), settings_(Settings::parse(config_json)) {
        if (host.api()->struct_size < offsetof(sb_host_api, user_of) + sizeof(host.api()->user_of))
            throw std::runtime_error("relay needs a host with identity support (user_of)");
    }

    void on_connect(sb_socket_id socket, const sb_connect_info& info) {
        if (info.socket_sid) socket_ids_[socket] = info.socket_sid;
    }

    void on_disconnect(sb_socket_id socket, std::string_view) { socket_ids_.erase(socket); }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const EventRule* rule = settings_.rule_for(ev.name);
        if (!rule) return false;
        size_t size = ev.args_json_len;
        for (size_t i = 0; i < ev.attachment_count; ++i) size += ev.attachments[i].len;
        if (size > rule->max_payload)
            throw sb::Refusal(std::string(ev.name) + ": payload of " + std::to_string(size) + " bytes is over the limit of " +
                                  std::to_string(rule->max_payload) + " bytes",
                              "INVALID");
        const auto args = split_room(std::string_view(ev.args_json, ev.args_json_len));
        if (!args)
            throw sb::Refusal(std::string(ev.name) + " needs the room (a non-empty string) as its first argument",
                              "INVALID");
        if (!host_.in_room(socket, args->room))
            throw sb::Refusal("not a member of room '" + args->room + "'", "NOT_MEMBER");

        const auto sid = socket_ids_.find(socket);
        const std::string payload = relayed_args(args->room, host_.user_of(socket),
                                                 sid == socket_ids_.end() ? std::string_view() : sid->second, args->rest);
        const char* rooms[] = {args->room.c_str()};
        sb_target target{};
        target.struct_size = sizeof target;
        target.namespace_name = ev.namespace_name;
        target.rooms = rooms;
        target.room_count = 1;
        target.except_socket = rule->include_sender ? 0 : socket;
        target.flags = rule->is_volatile ? SB_TARGET_VOLATILE : 0;
        const sb_status sent = host_.api()->broadcast(host_.ctx(), &target, ev.name, payload.data(), payload.size(),
                                                      ev.attachments, ev.attachment_count);
        if (sent != SB_OK) throw std::runtime_error("the host refused the broadcast (status " + std::to_string(sent) + ")");
        if (ev.ack_id >= 0) host_.ack(socket, ev.ack_id, "[{\"ok\":true}]");
        return true;
    }

    // "relay/1\n" then one line per socket: "<socket id> <Socket.IO id>\n".
    // Socket.IO ids are 15 or more characters without spaces or newlines.
    std::string export_state() const {
        std::string out(kStateTag);
        for (const auto& [socket, sid] : socket_ids_) out += std::to_string(socket) + " " + sid + "\n";
        return out;
    }

    void import_state(std::string_view bytes) {
        std::string_view rest = sb::state_body(bytes, kStateTag);
        std::unordered_map<sb_socket_id, std::string> ids;
        while (!rest.empty()) {
            const size_t eol = rest.find('\n');
            if (eol == std::string_view::npos) throw std::runtime_error("corrupt relay state: unterminated line");
            const std::string_view line = rest.substr(0, eol);
            rest.remove_prefix(eol + 1);
            sb_socket_id socket = 0;
            const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), socket);
            if (ec != std::errc() || socket == 0 || end == line.data() + line.size() || *end != ' ' ||
                end + 1 == line.data() + line.size())
                throw std::runtime_error("corrupt relay state: bad line");
            ids.emplace(socket, std::string(end + 1, line.data() + line.size()));
        }
        socket_ids_ = std::move(ids);
    }

private:
    sb::Host host_;
    Settings settings_;
    std::unordered_map<sb_socket_id, std::string> socket_ids_;  // the Socket.IO id of each connected socket
};

}  // namespace
}  // namespace relay

SWITCHBOARD_MODULE(relay::Relay, "relay", "1.0.0")
