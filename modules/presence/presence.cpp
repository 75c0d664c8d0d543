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
//   cluster (on_cluster)              -> each node tracks its own sockets as
//                                        above and tells the others the
//                                        resulting facts (peer_messages.h);
//                                        the cluster-wide view is the union
//                                        (remote_nodes.h), and each node
//                                        announces its changes to its own
//                                        sockets only (SB_TARGET_LOCAL)
//
// Grace periods end on one module timer armed for the earliest (roster.h).
// Host calls that deliver may, through a slow consumer being dropped, run
// this module's hooks again before they return; so nothing found in the
// roster is used after such a call without being looked up again.
// See README.md for the configuration and every payload.
#include "handover.h"
#include "online_users.h"
#include "payloads.h"
#include "peer_messages.h"
#include "remote_nodes.h"
#include "requests.h"
#include "roster.h"
#include "settings.h"

#include <switchboard/module.hpp>

#include <algorithm>
#include <chrono>
#include <map>
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
        {"cluster_resync", SB_CONFIG_ANY, 0, "cluster: how long, after this node rejoined, it waits for the other nodes to rejoin before dropping what they said (default 10s)"},
    };

    Presence(sb::Host host, std::string_view config_json) : host_(host), settings_(parse_settings(config_json)) {
        if (host.api()->struct_size < offsetof(sb_host_api, counter_add) + sizeof(host.api()->counter_add))
            throw std::runtime_error("this host lacks user_of/claims_of/counter_add (needs ABI 1.0 with identity support)");
        roster_ = std::make_unique<Roster>(settings_.grace_ms);
        users_ = std::make_unique<OnlineUsers>(settings_.max_last_seen);
        remote_ = std::make_unique<RemoteNodes>();
        clusterable_ = host.api()->abi_minor >= 2 &&
                       host.api()->struct_size >= offsetof(sb_host_api, cluster_send) + sizeof(host.api()->cluster_send);
        // Added by a reload while the node is in a cluster: no JOINED will
        // come, so announce once the handover (if any) is in.
        if (!node_id().empty()) announce_timer_ = host_.start_timer(0);
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
        const std::string user = s->user;
        roster_->remove(socket);
        if (!user.empty() && users_->disconnected(user, now.wall_ms)) tell_peers(offline_message(user, now.wall_ms));
        if (const uint64_t evicted = users_->take_evictions()) count("presence_last_seen_evictions", "", evicted);
        arm();
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer == announce_timer_) {
            announce_timer_ = 0;
            tell_peers(own_snapshot());
            if (!imported_) tell_peers(resync_message());
            return;
        }
        if (timer == resync_timer_) {
            resync_timer_ = 0;
            for (const std::string& node : remote_->stale_nodes()) forget_node(node);
            return;
        }
        if (timer != timer_) return;
        timer_ = 0;  // one-shot: the host has dropped it already
        const std::vector<Offline> gone = roster_->expire(steady_ms());
        arm();
        for (const Offline& o : gone) tell_peers(absent_message(o.ns, o.room, o.user, o.last_seen_ms));
        for (const Offline& o : gone) {
            if (remote_->has(o.ns, o.room, o.user)) continue;  // still present on another node
            count("presence_changes", "change=\"offline\"");
            broadcast_here(o.ns, o.room, "presence:offline", offline_args(o.room, o.user, o.last_seen_ms));
        }
    }

    void on_cluster(const sb_cluster_event& e) {
        const std::string node = e.node ? e.node : "";
        switch (e.kind) {
        case SB_CLUSTER_JOINED:
            // What the others said may be stale. Each of them alive now sends
            // its snapshot to this new id (or is reported up); the rest (dead,
            // or rejoining under a new id) get the resync window.
            remote_->mark_all_stale();
            if (resync_timer_) host_.stop_timer(resync_timer_);
            resync_timer_ = remote_->stale_nodes().empty() ? 0 : host_.start_timer(settings_.resync_ms);
            tell_peers(own_snapshot());
            break;
        case SB_CLUSTER_NODE_UP:
            remote_->confirm(node);
            tell_peers(own_snapshot(), node.c_str());
            break;
        case SB_CLUSTER_NODE_DOWN:
            forget_node(node);
            break;
        case SB_CLUSTER_MESSAGE:
            try {
                apply(node, parse_peer_message(std::string_view(static_cast<const char*>(e.data), e.len)));
            } catch (const PeerMessageError& err) {
                host_.log(SB_LOG_WARN, std::string(err.what()) + " (from node " + node + ")");
            }
            break;
        }
    }

    std::string export_state() { return export_handover(*roster_, *users_, *remote_); }

    void import_state(std::string_view bytes) {
        auto roster = std::make_unique<Roster>(settings_.grace_ms);
        auto users = std::make_unique<OnlineUsers>(settings_.max_last_seen);
        auto remote = std::make_unique<RemoteNodes>();
        import_handover(bytes, settings_, clocks(), *roster, *users, *remote);
        roster_ = std::move(roster);
        users_ = std::move(users);
        remote_ = std::move(remote);
        imported_ = true;
        // Stale tables came along: give their nodes a whole window again.
        if (!remote_->stale_nodes().empty() && !resync_timer_) resync_timer_ = host_.start_timer(settings_.resync_ms);
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
        if (!user.empty() && users_->connected(user)) tell_peers(online_message(user));
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
            const std::string user = s->user;
            entered.member->claims = claim_fields(host_.api()->claims_of(host_.ctx(), socket), settings_.claims);
            const std::string claims = entered.member->claims;
            tell_peers(present_message(ns, room, user, claims));
            if (!remote_->has(ns, room, user)) {  // else present on another node already: no change
                count("presence_changes", "change=\"online\"");
                broadcast_here(ns, room, "presence:online", online_args(room, user, claims), socket);
            }
        } else if (entered.entry == Entry::Resumed) {
            count("presence_changes", "change=\"resumed\"");
        }
        host_.emit(socket, "presence:state", state_args(room, users_in(ns, room)));
    }

    // The users present in a room cluster-wide, sorted: this node's roster
    // merged with what the others reported (this node's claims first).
    std::vector<PresentUser> users_in(const std::string& ns, const std::string& room) const {
        std::vector<PresentUser> out;
        const Room* here = roster_->room(ns, room);
        const RemoteNodes::Members* there = remote_->room(ns, room);
        static const std::map<std::string, Member> no_members;
        static const RemoteNodes::Members no_remote;
        const auto& a = here ? here->members : no_members;
        const auto& b = there ? *there : no_remote;
        auto i = a.begin();
        auto j = b.begin();
        while (i != a.end() || j != b.end()) {
            if (j == b.end() || (i != a.end() && i->first <= j->first)) {
                if (j != b.end() && i->first == j->first) ++j;
                out.push_back({&i->first, &i->second.claims});
                ++i;
            } else {
                out.push_back({&j->first, &j->second.claims});
                ++j;
            }
        }
        return out;
    }

    // Presence events go to this node's sockets only: every node announces
    // the cluster-wide changes to its own, so each client gets one copy.
    void broadcast_here(const std::string& ns, const std::string& room, const char* name, const std::string& args,
                        sb_socket_id except = 0) const {
        const char* rooms[] = {room.c_str()};
        sb_target target{sizeof(sb_target), ns.c_str(), rooms, 1, nullptr, 0, except, SB_TARGET_LOCAL};
        host_.api()->broadcast(host_.ctx(), &target, name, args.data(), args.size(), nullptr, 0);
    }

    std::string node_id() const {
        if (!clusterable_) return {};
        const char* id = host_.api()->node_id(host_.ctx());
        return id ? id : "";
    }

    // To the other nodes (all, or `to`). Not clustered or Redis away: not
    // sent, and the snapshot after the next JOINED covers it.
    void tell_peers(const std::string& bytes, const char* to = nullptr) const {
        if (node_id().empty()) return;
        host_.api()->cluster_send(host_.ctx(), to, bytes.data(), bytes.size());
    }

    std::string own_snapshot() const {
        NodeFacts facts;
        roster_->each_room([&](const Room& room) {
            for (const auto& [user, m] : room.members) facts.present.push_back({room.ns, room.name, user, m.claims});
        });
        users_->each_connected([&](const std::string& user) { facts.online.push_back(user); });
        return snapshot_message(facts, users_->last_seen());
    }

    void apply(const std::string& node, const PeerMessage& m) {
        using T = PeerMessage::Type;
        switch (m.type) {
        case T::Present:
            if (settings_.tracks(m.room)) announce(remote_->present(node, m.ns, m.room, m.user, m.claims), 0);
            break;
        case T::Absent:
            announce(remote_->absent(node, m.ns, m.room, m.user), m.last_seen_ms);
            break;
        case T::Online:
            remote_->online(node, m.user);
            break;
        case T::Offline:
            remote_->offline(node, m.user);
            users_->merge(m.user, m.last_seen_ms, true);
            break;
        case T::Snapshot: {
            NodeFacts facts;
            facts.online = m.facts.online;
            for (const auto& p : m.facts.present)
                if (settings_.tracks(p.room)) facts.present.push_back(p);
            for (const auto& seen : m.seen)
                if (!users_->has_sockets(seen.user)) users_->merge(seen.user, seen.wall_ms, seen.graced);
            announce(remote_->replace(node, facts), host_.now_ms());
            // A node sends its snapshot to every node it sees appear, this
            // one's new id included: it is alive and in step with us.
            remote_->confirm(node);
            break;
        }
        case T::Resync:
            tell_peers(own_snapshot(), node.c_str());
            break;
        }
        if (const uint64_t evicted = users_->take_evictions()) count("presence_last_seen_evictions", "", evicted);
    }

    // A node is gone: its users go offline now (their lease already ran
    // out), unless present here or on another node.
    void forget_node(const std::string& node) {
        const uint64_t now = host_.now_ms();
        std::vector<std::string> offline;
        const std::vector<RemoteChange> changes = remote_->drop(node, offline);
        for (const auto& user : offline)
            if (!users_->has_sockets(user)) users_->merge(user, now, false);
        if (const uint64_t evicted = users_->take_evictions()) count("presence_last_seen_evictions", "", evicted);
        announce(changes, now);
    }

    // Tells this node's sockets about changes of the other nodes' union
    // that change the cluster-wide view: those of users this node's roster
    // does not hold (when it does, it speaks for them).
    void announce(const std::vector<RemoteChange>& changes, uint64_t last_seen_ms) {
        for (const RemoteChange& c : changes) {
            if (roster_->member(c.ns, c.room, c.user)) continue;
            if (c.present) {
                const RemoteNodes::Members* members = remote_->room(c.ns, c.room);
                auto it = members ? members->find(c.user) : RemoteNodes::Members::const_iterator();
                if (!members || it == members->end()) continue;  // gone again meanwhile
                broadcast_here(c.ns, c.room, "presence:online", online_args(c.room, c.user, it->second.claims));
            } else if (!remote_->has(c.ns, c.room, c.user)) {
                broadcast_here(c.ns, c.room, "presence:offline", offline_args(c.room, c.user, last_seen_ms));
            }
        }
    }

    void answer_list(sb_socket_id socket, const sb_event& ev) {
        const std::string room = parse_list_request(ev);
        if (!settings_.tracks(room))
            throw sb::Refusal(std::string(kListEvent) + ": presence is not tracked in room '" + room + "'", "INVALID");
        const TrackedSocket* s = roster_->find(socket);
        const Room* r = s ? roster_->room(s->ns, room) : nullptr;
        if (!r || !s->in(r)) throw sb::Refusal(std::string(kListEvent) + ": not a member of room '" + room + "'", "NOT_MEMBER");
        host_.ack(socket, ev.ack_id, list_answer(room, users_in(s->ns, room)));
    }

    void answer_query(sb_socket_id socket, const sb_event& ev) {
        const std::vector<std::string> ids = parse_query_request(ev, settings_.max_query_ids);
        const uint64_t now = host_.now_ms();
        std::vector<std::pair<std::string, OnlineUsers::Status>> statuses;
        statuses.reserve(ids.size());
        for (const auto& id : ids)
            statuses.emplace_back(id, remote_->online(id) ? OnlineUsers::Status{true, std::nullopt}
                                                          : users_->status(id, now, settings_.grace_ms));
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
    std::unique_ptr<RemoteNodes> remote_;  // what the other nodes of a cluster reported
    bool clusterable_ = false;             // the host has ABI 1.2's cluster calls
    bool imported_ = false;
    sb_timer_id announce_timer_ = 0;       // a reload added presence to a clustered node
    sb_timer_id resync_timer_ = 0;         // stale tables are dropped when it fires
    sb_timer_id timer_ = 0;
    uint64_t timer_due_ = 0;  // steady clock, while timer_ is set
};
}  // namespace
}  // namespace presence

SWITCHBOARD_MODULE(presence::Presence, "presence", "1.0.0")
