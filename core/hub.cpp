// The hub (see hub.h).
#include "hub.h"

#include "metrics.h"
#include "random_id.h"
#include "socketio_packet.h"

#include <algorithm>
#include <type_traits>
#include <vector>

namespace sb {
namespace {

// A socket's place in an unordered list that knows it (`slot_of` names where
// the socket keeps its position in this list): O(1) in and out, the last
// entry taking a leaving one's slot, however long the list (a service account
// may hold thousands of sockets, a namespace all of them).
template <typename SlotOf>
void list_socket(std::vector<Socket*>& list, Socket& socket, SlotOf slot_of) {
    slot_of(socket) = static_cast<std::remove_reference_t<decltype(slot_of(socket))>>(list.size());
    list.push_back(&socket);
}

template <typename SlotOf>
void unlist_socket(std::vector<Socket*>& list, Socket& socket, SlotOf slot_of) {
    const auto slot = slot_of(socket);
    Socket* last = list.back();
    list[slot] = last;
    slot_of(*last) = slot;
    list.pop_back();
}

// Whether a session still holds output from an earlier loop turn that its
// transport could not take: a WebSocket's frames left over after the last
// flush (frames queued this turn have the session marked for this turn's
// flush, see WsBatchWriter), or frames waiting for a long-polling client's
// next GET. A volatile broadcast skips such a session (SB_TARGET_VOLATILE).
bool backed_up(const EngineSession& s) {
    if (!s.has_queued()) return false;
    return s.transport == TransportKind::WebSocket ? s.write_slot == 0 : s.poll_get == nullptr;
}

auto& user_slot(Socket& s) { return s.extras->user_slot; }
auto& ns_slot(Socket& s) { return s.ns_slot; }

}  // namespace

Hub::~Hub() {
    sockets_.for_each([](Socket* s) { delete s; });
}

Namespace& Hub::add_namespace(const std::string& name) {
    namespaces_.push_back(std::make_unique<Namespace>());
    Namespace& ns = *namespaces_.back();
    ns.name = name;
    ns.rooms.on_room_change = [this, &ns](std::string_view room, bool opened) {
        if (link_) link_->room_changed(ns, room, opened);
    };
    return ns;
}

Namespace* Hub::find_namespace(std::string_view name) {
    for (auto& ns : namespaces_)
        if (ns->name == name) return ns.get();
    return nullptr;
}

void Hub::remove_namespace(Namespace* ns) {
    std::erase_if(namespaces_, [&](const std::unique_ptr<Namespace>& n) { return n.get() == ns; });
}

Socket* Hub::find(sb_socket_id id) const {
    return sockets_.find(id);
}

Socket& Hub::create_socket(Namespace& ns, EngineSession& session) {
    auto* s = new Socket();
    s->id = next_id_++;
    const std::string sid = random_id();
    sid.copy(s->sid, sizeof s->sid - 1);
    s->ns = &ns;
    s->session = &session;
    sockets_.insert(s);
    list_socket(ns.sockets, *s, ns_slot);
    return *s;
}

const std::vector<Socket*>* Hub::sockets_of_user(std::string_view user_id) const {
    auto it = by_user_.find(user_id);
    return it == by_user_.end() ? nullptr : &it->second;
}

void Hub::set_identity(Socket& socket, std::string user_id, std::string claims_json) {
    unindex_user(socket);
    SocketExtras& extras = socket.extra();
    if (!user_id.empty()) {
        auto& sockets = by_user_[user_id];
        if (sockets.empty() && link_) link_->user_changed(user_id, true);
        list_socket(sockets, socket, user_slot);
    }
    extras.user_id = std::move(user_id);
    extras.claims_json = std::move(claims_json);
    socket.trim_extras();
}

void Hub::unindex_user(Socket& socket) {
    const char* user = socket.user_id();
    if (!user) return;
    auto it = by_user_.find(user);
    if (it == by_user_.end()) return;
    auto& sockets = it->second;
    unlist_socket(sockets, socket, user_slot);
    if (sockets.empty()) {
        if (link_) link_->user_changed(it->first, false);
        by_user_.erase(it);
    }
}

void Hub::destroy_socket(Socket* socket) {
    unindex_user(*socket);
    socket->ns->rooms.leave_all(socket->id);
    unlist_socket(socket->ns->sockets, *socket, ns_slot);
    sockets_.erase(socket->id);
    delete socket;
}

std::vector<FrameRef> Hub::encode(const Namespace& ns, bool ack, int64_t ack_id, std::string_view payload_json,
                                  const sb_bytes* attachments, size_t attachment_count, PayloadCheck check) {
    std::vector<FrameRef> frames;
    if (check == PayloadCheck::Validate && !sio::is_json_array(payload_json)) return frames;
    if (attachment_count > 0 && !sio::placeholders_match(payload_json, static_cast<uint32_t>(attachment_count)))
        return frames;
    sio::Packet p;
    const bool binary = attachment_count > 0;
    p.type = ack ? (binary ? sio::PacketType::BinaryAck : sio::PacketType::Ack)
                 : (binary ? sio::PacketType::BinaryEvent : sio::PacketType::Event);
    p.nsp = ns.name;
    p.id = ack_id;
    p.attachments = static_cast<uint32_t>(attachment_count);
    p.data.assign(payload_json);
    frames.reserve(1 + attachment_count);
    frames.push_back(Frame::make(sio::encode_message(p), false));
    for (size_t i = 0; i < attachment_count; ++i)
        frames.push_back(Frame::make(
            std::string_view(reinterpret_cast<const char*>(attachments[i].data), attachments[i].len), true));
    return frames;
}

void Hub::deliver(Socket& socket, const std::vector<FrameRef>& frames) {
    if (!socket.connected) {
        auto& held = socket.extra().held;
        held.insert(held.end(), frames.begin(), frames.end());
        return;
    }
    for (const auto& f : frames) engine_.send(*socket.session, f);
}

void Hub::set_link(HubLink* link) {
    link_ = link;
    if (!link_) return;
    for (const auto& ns : namespaces_)
        ns->rooms.for_each_room([&](std::string_view room) { link_->room_changed(*ns, room, true); });
    for (const auto& [user, _] : by_user_) link_->user_changed(user, true);
}

size_t Hub::broadcast(const BroadcastTarget& target, const std::vector<FrameRef>& frames) {
    const size_t delivered = broadcast_local(target, frames);
    if (link_ && !target.local_only) link_->broadcast(target, frames);
    return delivered;
}

void Hub::mark_sockets_of(const Namespace& ns, std::string_view user, uint64_t gen) {
    if (const auto* sockets = sockets_of_user(user))
        for (Socket* s : *sockets)
            if (s->ns == &ns) s->broadcast_mark = gen;
}

size_t Hub::broadcast_local(const BroadcastTarget& target, const std::vector<FrameRef>& frames) {
    Namespace& ns = *target.ns;
    const uint64_t gen = ++broadcast_generation_;
    // Excluded sockets are marked first, so the delivery loop skips them with
    // the same check that removes duplicates.
    for (auto room : target.except_rooms) {
        if (const auto* members = ns.rooms.members(room))
            for (auto id : *members)
                if (Socket* s = find(id)) s->broadcast_mark = gen;
    }
    for (auto user : target.except_users) mark_sockets_of(ns, user, gen);
    if (target.except_socket)
        if (Socket* s = find(target.except_socket)) s->broadcast_mark = gen;

    // Targets are collected first: a delivery can close a slow consumer's
    // session, which removes its socket from the rooms being walked.
    std::vector<sb_socket_id> targets;
    auto visit = [&](Socket* s) {
        if (s->broadcast_mark == gen) return;
        s->broadcast_mark = gen;
        targets.push_back(s->id);
    };
    if (target.rooms.empty() && target.users.empty()) {
        for (Socket* s : ns.sockets) visit(s);
    } else {
        for (auto room : target.rooms) {
            if (const auto* members = ns.rooms.members(room))
                for (auto id : *members)
                    if (Socket* s = find(id)) visit(s);
        }
        for (auto user : target.users)
            if (const auto* sockets = sockets_of_user(user))
                for (Socket* s : *sockets)
                    if (s->ns == &ns) visit(s);
    }
    size_t delivered = 0;
    for (auto id : targets) {
        if (Socket* s = find(id)) {
            if (target.volatile_only && backed_up(*s->session)) {
                metrics().volatile_dropped_total++;
                continue;
            }
            deliver(*s, frames);
            ++delivered;
        }
    }
    return delivered;
}

void Hub::complete_connect(Socket& socket) {
    sio::Packet p;
    p.type = sio::PacketType::Connect;
    p.nsp = socket.ns->name;
    p.data = std::string("{\"sid\":\"") + socket.sid + "\"}";
    send_raw(*socket.session, sio::encode_message(p));
    socket.connected = true;
    std::vector<FrameRef> held;
    if (socket.extras) {
        held.swap(socket.extras->held);
        socket.trim_extras();
    }
    for (const auto& f : held) engine_.send(*socket.session, f);
}

void Hub::send_raw(EngineSession& session, std::string_view text) {
    engine_.send(session, Frame::make(text, false));
}

}  // namespace sb
