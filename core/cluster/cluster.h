// This node's membership of a cluster: the Redis connections, the node
// registry with its leases, and the pub/sub routing of emits between nodes.
//
// Routing follows interest. A node subscribes to a room's channel while it
// has a socket in that room and to a user's channel while it has a socket of
// that user, so a broadcast to a room reaches only the nodes with members
// there, not every node (the cost that makes Socket.IO's Redis adapter stop
// scaling). Namespace-wide emits use one channel all nodes listen to.
//
// Every node holds a lease in a sorted set scored with Redis' own clock, and
// renews it every second. A node whose lease ran out is gone: each node
// notices on its own, tells the host once, and ignores anything that node
// id says afterwards, so a late or duplicated message cannot bring back what
// its death removed. A node that loses Redis takes a new id when it comes
// back, because others may have buried the old one meanwhile; its modules
// are told to announce their state again.
#pragma once

#include "cluster/cluster_message.h"
#include "config.h"
#include "redis/redis_client.h"

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sb::cluster {

struct ClusterStats {
    uint64_t deliveries_published = 0;   // PUBLISH commands sent for emits
    uint64_t deliveries_received = 0;    // emits from other nodes delivered here
    uint64_t duplicates_dropped = 0;     // the same emit seen again on another channel
    uint64_t publish_dropped = 0;        // emits not sent: Redis unavailable
    uint64_t malformed_dropped = 0;      // messages on our channels that did not decode
    uint64_t module_messages_sent = 0;
    uint64_t module_messages_received = 0;
    uint64_t nodes_joined = 0;
    uint64_t nodes_lost = 0;             // leases that ran out, or nodes that said goodbye
    uint64_t rejoins = 0;                // this node came back after losing Redis
};

enum class NodeEvent {
    Joined,  // this node (re)joined under a new id: announce your state to all
    Up,      // another node appeared: it needs your state
    Down,    // another node is gone for good: forget what it told you
};

class Cluster {
public:
    struct Hooks {
        std::function<void(const Delivery&)> deliver;
        std::function<void(const ModuleMessage&)> module_message;
        std::function<void(NodeEvent, const std::string& node)> node_event;
        std::function<void(const DisconnectRequest&)> disconnect;
    };

    Cluster(uv_loop_t* loop, const ClusterConfig& config, Hooks hooks);
    ~Cluster();

    void start();
    // Leaves the cluster: the lease is dropped and the others told at once,
    // so this node's users go offline now rather than when the lease ends.
    void stop();
    // Whether stop() has run: the node is on its way out.
    bool left() const { return left_; }

    // Both connections up and this node registered.
    bool available() const { return registered_ && commands_.ready() && subscriber_.ready(); }
    const std::string& node_id() const { return node_id_; }
    // What this node's session ids start with, so any node can tell the
    // owner of a session from its id.
    const std::string& session_tag() const { return session_tag_; }
    const ClusterConfig& config() const { return config_; }
    const ClusterStats& stats() const { return stats_; }
    size_t nodes_alive() const { return alive_.size() + (registered_ ? 1 : 0); }
    size_t channels() const { return subscriber_.channel_count(); }
    bool redis_connected() const { return commands_.ready() && subscriber_.ready(); }

    // Interest: this node has (opened) or no longer has members of a room or
    // sockets of a user.
    void watch_room(std::string_view ns, std::string_view room, bool on);
    void watch_user(std::string_view user, bool on);

    // Sends an emit to the other nodes. False (and counted) when Redis is
    // unavailable: local delivery has happened and is not undone.
    bool publish(Delivery delivery);
    // Asks the other nodes to disconnect a user's sockets (sent only to the
    // nodes that have that user) or a socket by id (sent to all).
    bool publish_disconnect(DisconnectRequest request);
    // A module's message to the same module on every other node, or on one
    // (`to_node` non-empty).
    bool send_module_message(const std::string& module, std::string_view payload, const std::string& to_node);

    // The address (host:port) of the node whose sessions start with `tag`,
    // or nullopt; `done` runs on the loop, from a cache when possible.
    void node_address(const std::string& tag, std::function<void(std::optional<std::string>)> done);
    // Channel a node-directed message goes on; other parts of the host
    // (request forwarding) may add their own kinds to it.
    std::string node_channel(const std::string& node) const { return config_.prefix + ":n:" + node; }
    // A raw message on this node's own channel that is neither a delivery
    // nor a module message goes here.
    std::function<void(std::string_view payload)> on_node_message;
    redis::RedisClient& commands() { return commands_; }

private:
    uv_loop_t* loop_;
    ClusterConfig config_;
    Hooks hooks_;
    redis::RedisClient commands_;
    redis::RedisClient subscriber_;
    uv_timer_t* tick_ = nullptr;

    std::string session_tag_;
    std::string node_id_;  // session_tag_ + "." + epoch
    uint64_t epoch_ = 0;
    bool registered_ = false;
    bool left_ = false;
    bool rejoin_needed_ = false;    // a connection was lost since we registered
    bool register_in_flight_ = false;
    uint64_t seq_ = 0;
    ClusterStats stats_;

    std::set<std::string> alive_;                 // other nodes, by id
    std::set<std::string> buried_;                // nodes declared down: their messages are ignored
    std::deque<std::string> buried_order_;        // oldest first, to bound buried_
    std::unordered_map<std::string, uint64_t> last_seq_;  // per origin: the newest emit taken
    std::map<std::string, std::string> addresses_;        // session tag -> host:port

    std::string ctl_channel_, all_channel_, module_channel_;
    std::string room_channel(std::string_view ns, std::string_view room) const;
    std::string user_channel(std::string_view user) const;

    void connections_changed();
    void tick();
    void register_node();
    void new_identity();
    void node_up(const std::string& node);
    void node_down(const std::string& node);
    void forget_peers();
    void on_message(std::string_view channel, std::string_view payload);
    void on_control(std::string_view payload);
    bool from_buried(const std::string& origin) const { return buried_.count(origin) != 0; }
    // Another process's (not this one's, under any epoch), and not declared dead.
    bool from_live_peer(const std::string& origin) const {
        return origin.compare(0, origin.find('.'), session_tag_) != 0 && !from_buried(origin);
    }
};

}  // namespace sb::cluster
