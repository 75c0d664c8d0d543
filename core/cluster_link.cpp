// The hub and module host side of the cluster (see cluster_link.h).
#include "cluster_link.h"

#include "metrics.h"
#include "module_host.h"

namespace sb::cluster {
namespace {

std::vector<std::string> strings_of(const std::vector<std::string_view>& v) { return {v.begin(), v.end()}; }
std::vector<std::string_view> views_of(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

sb_cluster_event_kind kind_of(NodeEvent e) {
    switch (e) {
    case NodeEvent::Joined: return SB_CLUSTER_JOINED;
    case NodeEvent::Up: return SB_CLUSTER_NODE_UP;
    case NodeEvent::Down: break;
    }
    return SB_CLUSTER_NODE_DOWN;
}

}  // namespace

ClusterLink::ClusterLink(uv_loop_t* loop, const ClusterConfig& config, Hub& hub, ModuleHost& modules,
                         SocketDisconnector& sockets)
    : hub_(hub), modules_(modules), sockets_(sockets) {
    Cluster::Hooks hooks;
    hooks.deliver = [this](const Delivery& d) { deliver(d); };
    hooks.module_message = [this](const ModuleMessage& m) {
        modules_.cluster_event(SB_CLUSTER_MESSAGE, m.origin, &m.module, m.payload);
    };
    hooks.node_event = [this](NodeEvent e, const std::string& node) { modules_.cluster_event(kind_of(e), node); };
    hooks.disconnect = [this](const DisconnectRequest& r) { disconnect(r); };
    cluster_ = std::make_unique<Cluster>(loop, config, std::move(hooks));
}

ClusterLink::~ClusterLink() {
    if (linked_) hub_.set_link(nullptr);
}

void ClusterLink::start() {
    hub_.set_link(this);
    linked_ = true;
    cluster_->start();
}

void ClusterLink::stop() {
    cluster_->stop();
    if (linked_) hub_.set_link(nullptr);
    linked_ = false;
}

void ClusterLink::broadcast(const BroadcastTarget& target, const std::vector<FrameRef>& frames) {
    Delivery d;
    d.ns = target.ns->name;
    d.rooms = strings_of(target.rooms);
    d.users = strings_of(target.users);
    d.except_rooms = strings_of(target.except_rooms);
    d.except_users = strings_of(target.except_users);
    d.frames.reserve(frames.size());
    for (const auto& f : frames) d.frames.push_back({f->binary(), std::string(f->view())});
    cluster_->publish(std::move(d));
}

void ClusterLink::room_changed(const Namespace& ns, std::string_view room, bool opened) {
    cluster_->watch_room(ns.name, room, opened);
}

void ClusterLink::user_changed(std::string_view user, bool arrived) { cluster_->watch_user(user, arrived); }

void ClusterLink::deliver(const Delivery& d) {
    BroadcastTarget t;
    t.ns = hub_.find_namespace(d.ns);
    if (!t.ns) return;  // a namespace this node does not serve
    t.rooms = views_of(d.rooms);
    t.users = views_of(d.users);
    t.except_rooms = views_of(d.except_rooms);
    t.except_users = views_of(d.except_users);
    std::vector<FrameRef> frames;
    frames.reserve(d.frames.size());
    for (const auto& f : d.frames) frames.push_back(Frame::make(f.bytes, f.binary));
    hub_.broadcast_local(t, frames);
}

void ClusterLink::disconnect(const DisconnectRequest& r) {
    std::vector<sb_socket_id> ids;
    auto wanted = [&](const Socket& s) { return r.ns.empty() || s.ns->name == r.ns; };
    if (!r.user.empty()) {
        if (const auto* sockets = hub_.sockets_of_user(r.user))
            for (const Socket* s : *sockets)
                if (wanted(*s)) ids.push_back(s->id);
    } else {
        for (const auto& ns : hub_.namespaces())
            for (const Socket* s : ns->sockets)
                if (s->sid == r.sid && wanted(*s)) ids.push_back(s->id);
    }
    for (auto id : ids)
        if (hub_.find(id)) sockets_.disconnect_socket(id);
}

void ClusterLink::render_metrics(std::string& out) const {
    const ClusterStats& s = cluster_->stats();
    auto counter = [&](const char* name, const char* help, uint64_t v) {
        append_header(out, name, "counter", help);
        append_labelled(out, name, "", v);
    };
    auto gauge = [&](const char* name, const char* help, uint64_t v) {
        append_header(out, name, "gauge", help);
        append_labelled(out, name, "", v);
    };
    gauge("switchboard_cluster_redis_connected", "1 while both Redis connections of the cluster are up.",
          cluster_->redis_connected() ? 1 : 0);
    gauge("switchboard_cluster_nodes", "Nodes this node knows to be alive, itself included.", cluster_->nodes_alive());
    gauge("switchboard_cluster_channels", "Redis channels this node listens to (rooms and users it has, and its own).",
          cluster_->channels());
    counter("switchboard_cluster_published_total", "Emits sent to other nodes (one per channel).", s.deliveries_published);
    counter("switchboard_cluster_received_total", "Emits from other nodes delivered to this node's sockets.",
            s.deliveries_received);
    counter("switchboard_cluster_publish_dropped_total",
            "Emits not sent to other nodes because Redis was unavailable (local delivery happened).", s.publish_dropped);
    counter("switchboard_cluster_duplicates_dropped_total", "Copies of an emit received on a second channel and dropped.",
            s.duplicates_dropped);
    counter("switchboard_cluster_malformed_total", "Messages on this cluster's channels that did not decode.",
            s.malformed_dropped);
    counter("switchboard_cluster_module_messages_sent_total", "Module messages sent to other nodes.",
            s.module_messages_sent);
    counter("switchboard_cluster_module_messages_received_total", "Module messages received from other nodes.",
            s.module_messages_received);
    counter("switchboard_cluster_nodes_joined_total", "Other nodes seen joining.", s.nodes_joined);
    counter("switchboard_cluster_nodes_lost_total", "Other nodes gone (lease ran out or left).", s.nodes_lost);
    counter("switchboard_cluster_rejoins_total", "Times this node rejoined under a new id after losing Redis.", s.rejoins);
}

}  // namespace sb::cluster
