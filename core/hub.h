// The hub: namespaces, the sockets connected to them, their rooms, and
// delivery of packets to one socket or to a broadcast's targets.
//
// A Socket.IO socket is one client's membership of one namespace; one
// Engine.IO session can carry several. Modules address sockets by opaque
// integer ids, so a stale id from a module is a lookup miss, never a dangling
// pointer. A broadcast is encoded once into shared frames and the same frames
// are queued to every target; duplicates across rooms are removed with a
// per-broadcast generation mark instead of a temporary set.
#pragma once

#include "engineio/engine_server.h"
#include "frame.h"
#include "open_index.h"
#include "room_index.h"

#include <switchboard/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sb {

struct ModuleInstance;
struct Namespace;

// What only some sockets need, allocated on first use: an anonymous socket
// without module data, once connected, carries none of it.
struct SocketExtras {
    std::vector<FrameRef> held;  // output produced by connect hooks before the answer
    std::vector<std::pair<std::string, std::string>> data;  // per-socket key/value
    std::string user_id;             // set by an authentication module; empty = anonymous
    std::string claims_json = "{}";  // claims other modules may read
    size_t user_slot = 0;            // position in the hub's list of the user's sockets
    bool empty() const { return held.empty() && data.empty() && user_id.empty() && claims_json == "{}"; }
};

struct Socket {
    sb_socket_id id = 0;
    char sid[16] = {};  // the Socket.IO id the client sees: random_id()'s 15 characters, inline
    Namespace* ns = nullptr;
    EngineSession* session = nullptr;
    bool connected = false;  // CONNECT answered; until then output is held back
    bool leaving = false;    // disconnect hooks are running
    uint32_t ns_slot = 0;    // position in its namespace's list of sockets
    uint64_t broadcast_mark = 0;
    std::unique_ptr<SocketExtras> extras;

    SocketExtras& extra() {
        if (!extras) extras = std::make_unique<SocketExtras>();
        return *extras;
    }
    void trim_extras() {
        if (extras && extras->empty()) extras.reset();
    }
    const char* user_id() const { return extras && !extras->user_id.empty() ? extras->user_id.c_str() : nullptr; }
    const char* claims_json() const { return extras ? extras->claims_json.c_str() : "{}"; }
};

struct Namespace {
    std::string name;
    std::vector<ModuleInstance*> chain;
    // Unordered; a leaving socket's slot is taken by the last one. A list, not
    // a map: it is only walked and counted, and costs 8 bytes per socket.
    std::vector<Socket*> sockets;
    RoomIndex rooms;
};

// What a broadcast selects: the sockets of `ns` that are in any of `rooms`
// or belong to any of `users` (every socket of `ns` when both are empty),
// minus those in `except_rooms`, those of `except_users` and
// `except_socket`. See sb_target in module.h.
struct BroadcastTarget {
    Namespace* ns = nullptr;
    std::vector<std::string_view> rooms;
    std::vector<std::string_view> users;
    std::vector<std::string_view> except_rooms;
    std::vector<std::string_view> except_users;
    sb_socket_id except_socket = 0;
    bool local_only = false;  // this node's sockets only, even in a cluster
    bool volatile_only = false;  // skipped for a backed-up session (SB_TARGET_VOLATILE); this node only
};

// Where a broadcast also goes beyond this node's sockets (cluster/), and
// what it needs to know to route them: which rooms and users this node has.
class HubLink {
public:
    virtual ~HubLink() = default;
    virtual void broadcast(const BroadcastTarget& target, const std::vector<FrameRef>& frames) = 0;
    virtual void room_changed(const Namespace& ns, std::string_view room, bool opened) = 0;
    virtual void user_changed(std::string_view user, bool arrived) = 0;
};

class Hub {
public:
    explicit Hub(EngineServer& engine) : engine_(engine) {}
    ~Hub();

    Namespace& add_namespace(const std::string& name);
    Namespace* find_namespace(std::string_view name);
    // Forgets an empty namespace (its sockets must be gone).
    void remove_namespace(Namespace* ns);
    const std::vector<std::unique_ptr<Namespace>>& namespaces() const { return namespaces_; }

    Socket* find(sb_socket_id id) const;
    // The sockets of a user (set_identity), across namespaces; null when none.
    const std::vector<Socket*>* sockets_of_user(std::string_view user_id) const;
    // Sets the socket's identity and keeps the user index in step.
    void set_identity(Socket& socket, std::string user_id, std::string claims_json);
    Socket& create_socket(Namespace& ns, EngineSession& session);
    // Forgets the socket: leaves its rooms and deletes it.
    void destroy_socket(Socket* socket);

    // Encodes an event/ack for `ns` into frames (text packet, then binary
    // attachments). Returns an empty vector if args_json is not a JSON array
    // or the placeholders do not match the attachments.
    // AlreadyValid skips the JSON check for payloads the host built itself
    // from validated parts (join_event), which would otherwise parse every
    // outgoing event twice.
    enum class PayloadCheck { Validate, AlreadyValid };
    static std::vector<FrameRef> encode(const Namespace& ns, bool ack, int64_t ack_id, std::string_view payload_json,
                                        const sb_bytes* attachments, size_t attachment_count,
                                        PayloadCheck check = PayloadCheck::Validate);

    void deliver(Socket& socket, const std::vector<FrameRef>& frames);
    // Delivers to this node's sockets and, unless target.local_only, hands
    // the frames to the link for the other nodes. Returns how many of this
    // node's sockets the frames were queued to.
    size_t broadcast(const BroadcastTarget& target, const std::vector<FrameRef>& frames);
    size_t broadcast_local(const BroadcastTarget& target, const std::vector<FrameRef>& frames);
    // Null detaches. The link learns the rooms and users that exist already.
    void set_link(HubLink* link);
    bool linked() const { return link_ != nullptr; }
    // Sends the CONNECT answer and releases output held back until then.
    void complete_connect(Socket& socket);
    void send_raw(EngineSession& session, std::string_view text);

    EngineServer& engine() { return engine_; }

private:
    EngineServer& engine_;
    HubLink* link_ = nullptr;
    std::vector<std::unique_ptr<Namespace>> namespaces_;
    struct SocketById {
        static uint64_t key(const Socket* s) { return s->id; }
        static uint64_t hash(uint64_t id) { return id; }
    };
    OpenIndex<Socket, SocketById> sockets_;
    std::unordered_map<std::string, std::vector<Socket*>, TransparentStringHash, std::equal_to<>> by_user_;

    void unindex_user(Socket& socket);
    void mark_sockets_of(const Namespace& ns, std::string_view user, uint64_t gen);
    sb_socket_id next_id_ = 1;
    uint64_t broadcast_generation_ = 0;
};

}  // namespace sb
