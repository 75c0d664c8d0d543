// What presence on one node tells presence on the others (host->cluster_send):
// the facts about this node's own sockets, as deltas when they change and as
// a full snapshot when a node (re)joins. JSON, versioned by "v"; a message of
// another version or shape is refused as a whole (PeerMessageError), never
// half applied. Layouts:
//   {"v":1,"type":"present","ns":"/","room":"chat:1","user":"u1","claims":"\"name\":\"Ada\""}
//   {"v":1,"type":"absent","ns":"/","room":"chat:1","user":"u1","lastSeen":ms}   (grace period over there)
//   {"v":1,"type":"online","user":"u1"}
//   {"v":1,"type":"offline","user":"u1","lastSeen":ms}                           (last socket there gone)
//   {"v":1,"type":"snapshot","present":[[ns,room,user,claims],...],"online":[user,...],
//    "lastSeen":[[user,ms] | [user,ms,false] (read offline at once),...]}
//   {"v":1,"type":"resync"}   (a new instance asks for every node's snapshot)
#ifndef SWITCHBOARD_PRESENCE_PEER_MESSAGES_H
#define SWITCHBOARD_PRESENCE_PEER_MESSAGES_H

#include "online_users.h"
#include "remote_nodes.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace presence {

// Writes the "present" and "online" members of an object: a node's facts
// as both the snapshot message and the reload handover carry them.
void write_node_facts(rapidjson::Writer<rapidjson::StringBuffer>& w, const NodeFacts& facts);

struct PeerMessageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct PeerMessage {
    enum class Type { Present, Absent, Online, Offline, Snapshot, Resync };
    Type type = Type::Resync;
    std::string ns, room, user, claims;
    uint64_t last_seen_ms = 0;
    NodeFacts facts;                        // Snapshot
    std::vector<OnlineUsers::Seen> seen;    // Snapshot
};

std::string present_message(const std::string& ns, const std::string& room, const std::string& user,
                            const std::string& claims);
std::string absent_message(const std::string& ns, const std::string& room, const std::string& user, uint64_t last_seen_ms);
std::string online_message(const std::string& user);
std::string offline_message(const std::string& user, uint64_t last_seen_ms);
std::string snapshot_message(const NodeFacts& facts, const std::list<OnlineUsers::Seen>& seen);
std::string resync_message();

// Throws PeerMessageError.
PeerMessage parse_peer_message(std::string_view bytes);

// Whether `claims` is a run of JSON object members (or empty): claims are
// pasted into payloads as they are, so none from elsewhere is taken unchecked.
bool valid_claim_fields(const std::string& claims);

}  // namespace presence

#endif
