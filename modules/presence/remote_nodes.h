// What the other nodes of a cluster told this one: per node, the users
// present in each tracked room there (their grace periods included, which
// each node runs for its own sockets) and the users connected there; and
// the union over all those nodes, which together with this node's roster is
// the cluster-wide view.
//
// Every change reports how the union changed (a user now present on some
// other node where none had them, or now on none), so that the caller can
// announce the cluster-wide change to this node's sockets when its own
// roster does not already account for the user. Applying the same fact
// twice changes nothing, so a repeated or late delta cannot bring a user
// back. Pure bookkeeping, no host calls.
//
// A node's table is "stale" from the moment this node rejoined the cluster
// (after losing Redis) until the node proves alive (reported up, or its
// snapshot to this node's new id arrives): a stale table whose node never
// does belongs to a node that died or took a new id meanwhile, and is
// dropped when the resync window ends.
#ifndef SWITCHBOARD_PRESENCE_REMOTE_NODES_H
#define SWITCHBOARD_PRESENCE_REMOTE_NODES_H

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace presence {

// One node's facts, as a snapshot carries them.
struct NodeFacts {
    struct Present {
        std::string ns, room, user, claims;
    };
    std::vector<Present> present;
    std::vector<std::string> online;
};

// A change of the union over the other nodes.
struct RemoteChange {
    std::string ns, room, user;
    bool present;  // true: now present on some other node (was on none); false: now on none
};

struct RemoteMember {
    uint32_t nodes = 0;  // how many other nodes have the user present
    std::string claims;  // as the first of them reported
};

class RemoteNodes {
public:
    using Members = std::map<std::string, RemoteMember>;  // by user id, sorted

    // Deltas from `node`. Each returns the union's change, if any.
    std::vector<RemoteChange> present(const std::string& node, const std::string& ns, const std::string& room,
                                      const std::string& user, const std::string& claims);
    std::vector<RemoteChange> absent(const std::string& node, const std::string& ns, const std::string& room,
                                     const std::string& user);
    void online(const std::string& node, const std::string& user);
    // True when no other node has the user connected any more.
    bool offline(const std::string& node, const std::string& user);

    // Everything `node` knows, replacing what it said before.
    std::vector<RemoteChange> replace(const std::string& node, const NodeFacts& facts);

    // Forgets `node`. `now_offline` gets the users it had connected that no
    // other node has.
    std::vector<RemoteChange> drop(const std::string& node, std::vector<std::string>& now_offline);

    // The users present in a room on other nodes; null when none.
    const Members* room(const std::string& ns, const std::string& room) const;
    bool has(const std::string& ns, const std::string& room, const std::string& user) const;
    bool online(const std::string& user) const { return online_.count(user) != 0; }

    // After this node rejoined: every table is stale until its node is confirmed up.
    void mark_all_stale();
    void mark_stale(const std::string& node);
    void confirm(const std::string& node);
    std::vector<std::string> stale_nodes() const;
    bool stale(const std::string& node) const;

    // For the reload handover.
    std::vector<std::string> nodes() const;
    NodeFacts facts(const std::string& node) const;

private:
    static std::string key(const std::string& ns, const std::string& room) { return ns + '\0' + room; }

    struct Table {
        std::map<std::string, std::map<std::string, std::string>> rooms;  // key(ns, room) -> user -> claims
        std::set<std::string> online;
        bool stale = false;
    };

    void add_fact(Table& t, const std::string& ns, const std::string& room, const std::string& user,
                  const std::string& claims, std::vector<RemoteChange>& out);
    void remove_fact(Table& t, const std::string& room_key, const std::string& user, std::vector<RemoteChange>& out);
    bool remove_online(Table& t, const std::string& user);

    std::unordered_map<std::string, Table> tables_;                 // by node id
    std::unordered_map<std::string, Members> rooms_;                // the union, by key(ns, room)
    std::unordered_map<std::string, uint32_t> online_;              // user -> nodes that have them connected
};

}  // namespace presence

#endif
