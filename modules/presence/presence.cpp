// Module "presence": who is online, by user rather than by socket.
//
//   a socket enters a tracked room    (whichever module made it join: the host
//                                     reports every join and leave through
//                                     on_room) -> the user's first socket
//                                     there: the others get presence:online;
//                                     the joiner always gets presence:state
//   the user's last socket leaves     -> presence:offline once the grace
//     the room or disconnects            period has passed, unless a socket of
//                                        the user came back meanwhile (a
//                                        reconnect is a new socket, same user)
//   presence:list {room}              -> ack with the users present (members
//                                        of the room only)
//   presence:query {userIds}          -> ack with who is online anywhere
//                                        presence runs, lastSeen for the others
//   reload                            -> the state is handed to the new
//                                        instance (handover.h)
//
// Grace periods end on one module timer armed for the earliest (roster.h).
// Host calls that deliver may, through a slow consumer being dropped, run
// this module's hooks again before they return; so nothing found in the
// roster is used after such a call without being looked up again.
// See README.md for the configuration and every payload.
#include "handover.h"
#include "online_users.h"
#include "payloads.h"
#include "requests.h"
#include "roster.h"
#include "settings.h"

#include <switchboard/module.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace presence {
namespace {

constexpr std::string_view kListEvent = "presence:list";
constexpr std::string_view kQueryEvent = "presence:query";

uint64_t steady_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

class Presence {
public:
    static constexpr sb_config_key config_keys[] = {
        {"rooms", SB_CONFIG_ARRAY, 1, "room patterns presence is tracked in, '*' matching any characters (e.g. [\"chat:*\"])"},
        {"claims", SB_CONFIG_ARRAY, 0, "claims of the socket's identity copied into user objects (default none)"},
        {"grace_period", SB_CONFIG_ANY, 0, "delay before presence:offline, cancelled if the user comes back: \"5s\", \"800ms\" or integer ms (default 5s)"},
        {"max_query_ids", SB_CONFIG_INTEGER, 0, "most userIds in one presence:query (default 100)"},
        {"max_last_seen", SB_CONFIG_INTEGER, 0, "offline users whose lastSeen is remembered, least recently seen forgotten first (default 100000)"},
    };

    Presence(sb::Host host, std::string_view config_json) : host_(host), settings_(parse_settings(config_json)) {
        if (host.api()->struct_size < offsetof(sb_host_api, counter_add) + sizeof(host.api()->counter_add))
            throw std::runtime_error("this host lacks user_of/claims_of/counter_add (needs ABI 1.0 with identity support)");
        roster_ = std::make_unique<Roster>(settings_.grace_ms);
        users_ = std::make_unique<OnlineUsers>(settings_.max_last_seen);
    }

    void on_connect(sb_socket_id socket, const sb_connect_info& info) { adopt(socket, info.namespace_name); }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        adopt(socket, ev.namespace_name);
        const std::string_view name = ev.name;
        if (name != kListEvent && name != kQueryEvent) return false;
        if (ev.ack_id < 0) throw sb::Refusal(std::string(name) + " needs an ack callback: the answer is the ack", "INVALID");
        if (name == kListEvent) answer_list(socket, ev);
        else answer_query(socket, ev);
        return true;
    }

    void on_room(sb_socket_id socket, std::string_view room_name, bool joined) {
        const std::string room(room_name);
        if (!roster_->find(socket) || !settings_.tracks(room)) return;
        if (joined) {
            enter(socket, room);
        } else {
            const Clocks now = clocks();
            roster_->leave(*roster_->find(socket), room, now.steady_ms, now.wall_ms);
            arm();
        }
    }

    void on_disconnect(sb_socket_id socket, std::string_view) {
        TrackedSocket* s = roster_->find(socket);
        if (!s) return;
        const Clocks now = clocks();
        // The host reports the leaves before the disconnect; this covers any it did not.
        while (!s->rooms.empty()) roster_->leave(*s, std::string(s->rooms.back()->name), now.steady_ms, now.wall_ms);
        if (!s->user.empty()) users_->disconnected(s->user, now.wall_ms);
        roster_->remove(socket);
        if (const uint64_t evicted = users_->take_evictions()) count("presence_last_seen_evictions", "", evicted);
        arm();
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer != timer_) return;
        timer_ = 0;  // one-shot: the host has dropped it already
        const std::vector<Offline> gone = roster_->expire(steady_ms());
        arm();
        for (const Offline& o : gone) {
            count("presence_changes", "change=\"offline\"");
            host_.broadcast(o.ns, {o.room}, "presence:offline", offline_args(o.room, o.user, o.last_seen_ms));
        }
    }

    std::string export_state() { return export_handover(*roster_, *users_); }

    void import_state(std::string_view bytes) {
        auto roster = std::make_unique<Roster>(settings_.grace_ms);
        auto users = std::make_unique<OnlineUsers>(settings_.max_last_seen);
        import_handover(bytes, settings_, clocks(), *roster, *users);
        roster_ = std::move(roster);
        users_ = std::move(users);
        arm();
    }

private:
    Clocks clocks() const { return {steady_ms(), host_.now_ms()}; }

    // Starts tracking a socket: at connect, or at the first event of its
    // that reaches this module when it connected before a reload added
    // presence to its namespace (no on_connect then). A no-op once known.
    void adopt(sb_socket_id socket, const char* ns) {
        if (roster_->find(socket)) return;
        const char* id = host_.api()->user_of(host_.ctx(), socket);
        const std::string user = id ? id : "";  // borrowed until the next host call
        roster_->add(socket, ns ? ns : "/", user);
        if (!user.empty()) users_->connected(user);
        // Rooms joined before this module's turn (auth_jwt's user room, joins
        // made by earlier modules' on_connect) were not reported to it.
        for (const std::string& room : rooms_of(socket))
            if (settings_.tracks(room)) enter(socket, room);
    }

    void enter(sb_socket_id socket, const std::string& room) {
        TrackedSocket* s = roster_->find(socket);
        if (!s) return;
        const Roster::Entered entered = roster_->enter(*s, room);
        if (entered.entry == Entry::Already) return;
        const std::string ns = s->ns;
        if (entered.entry == Entry::Online) {
            entered.member->claims = claim_fields(host_.api()->claims_of(host_.ctx(), socket), settings_.claims);
            count("presence_changes", "change=\"online\"");
            const std::string args = online_args(room, s->user, entered.member->claims);
            host_.broadcast(ns, {room}, "presence:online", args, socket);
        } else if (entered.entry == Entry::Resumed) {
            count("presence_changes", "change=\"resumed\"");
        }
        host_.emit(socket, "presence:state", state_args(room, roster_->room(ns, room)));
    }

    void answer_list(sb_socket_id socket, const sb_event& ev) {
        const std::string room = parse_list_request(ev);
        if (!settings_.tracks(room))
            throw sb::Refusal(std::string(kListEvent) + ": presence is not tracked in room '" + room + "'", "INVALID");
        const TrackedSocket* s = roster_->find(socket);
        const Room* r = s ? roster_->room(s->ns, room) : nullptr;
        if (!r || !s->in(r)) throw sb::Refusal(std::string(kListEvent) + ": not a member of room '" + room + "'", "NOT_MEMBER");
        host_.ack(socket, ev.ack_id, list_answer(room, r));
    }

    void answer_query(sb_socket_id socket, const sb_event& ev) {
        const std::vector<std::string> ids = parse_query_request(ev, settings_.max_query_ids);
        const uint64_t now = host_.now_ms();
        std::vector<std::pair<std::string, OnlineUsers::Status>> statuses;
        statuses.reserve(ids.size());
        for (const auto& id : ids) statuses.emplace_back(id, users_->status(id, now, settings_.grace_ms));
        host_.ack(socket, ev.ack_id, query_answer(statuses));
    }

    std::vector<std::string> rooms_of(sb_socket_id socket) const {
        std::vector<const char*> names(16);
        size_t n = host_.api()->rooms_of(host_.ctx(), socket, names.data(), names.size());
        if (n > names.size()) {
            names.resize(n);
            n = host_.api()->rooms_of(host_.ctx(), socket, names.data(), names.size());
        }
        // Borrowed until the next host call: copied at once.
        return std::vector<std::string>(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(n, names.size())));
    }

    // One timer, armed for the earliest end of a grace period. A departure
    // queued later than the armed time leaves it alone; when the earliest
    // is cancelled the timer fires for nothing and is armed again.
    void arm() {
        const auto next = roster_->next_expiry();
        if (!next) {
            if (timer_) host_.stop_timer(timer_);
            timer_ = 0;
            return;
        }
        if (timer_ && timer_due_ <= *next) return;
        if (timer_) host_.stop_timer(timer_);
        const uint64_t now = steady_ms();
        timer_ = host_.start_timer(*next > now ? *next - now : 0);
        timer_due_ = *next;
        if (!timer_) host_.log(SB_LOG_ERROR, "cannot start the grace period timer: presence:offline is delayed");
    }

    void count(const char* name, const char* labels, uint64_t n = 1) const {
        host_.api()->counter_add(host_.ctx(), name, labels, n);
    }

    sb::Host host_;
    Settings settings_;
    std::unique_ptr<Roster> roster_;
    std::unique_ptr<OnlineUsers> users_;
    sb_timer_id timer_ = 0;
    uint64_t timer_due_ = 0;  // steady clock, while timer_ is set
};
}  // namespace
}  // namespace presence

SWITCHBOARD_MODULE(presence::Presence, "presence", "1.0.0")
