// The Socket.IO v5 layer: turns Engine.IO messages into namespace
// connections, events and acks, and runs each namespace's module chain.
//
// Per Engine.IO session it keeps the namespaces the client joined, the
// binary packet being reassembled and the connect deadline. Protocol rules
// follow the reference server: the first packet must be a CONNECT, a packet
// for a namespace the client has not joined or a malformed packet closes
// that client's connection only, and an unknown namespace is answered with
// CONNECT_ERROR "Invalid namespace".
//
// A module may leave a CONNECT pending (SB_CONNECT_PENDING: it asks its
// backend) and decide later (connect_decide). The chain is paused at that
// module meanwhile; the socket exists for host functions but not for the
// client's packets, like a namespace not joined yet in the reference
// server. Pending connects are few and short: they live in a table of their
// own, bounded by socketio.connect_timeout on one shared deadline queue.
#pragma once

#include "config.h"
#include "deadline_queue.h"
#include "engineio/engine_server.h"
#include "hook_dispatcher.h"
#include "host_services.h"
#include "hub.h"
#include "socketio_packet.h"

#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb {

class SocketIOServer : public SessionListener, public SocketDisconnector, public PendingConnects {
public:
    SocketIOServer(uv_loop_t* loop, const Config& config, Hub& hub, HookDispatcher& hooks);
    ~SocketIOServer() override;

    void on_session_open(EngineSession& s) override;
    void on_session_message(EngineSession& s, std::string_view data, bool binary) override;
    void on_session_close(EngineSession& s, std::string_view reason) override;

    // Stops the connect-timeout timers (last step of shutdown).
    void shutdown() {
        connect_timeouts_.close();
        pending_timeouts_.close();
    }

    // A module (or the HTTP API, or another node) asked to disconnect this
    // socket from its namespace. A connect still pending ends instead.
    void disconnect_socket(sb_socket_id id) override;

    // A module decided a connect it left pending (host connect_decide).
    sb_status decide_connect(ModuleInstance& m, sb_socket_id id, bool accept, const char* message) override;

    // A reload changes the namespaces' chains; pending connects follow the
    // module they wait for. Called in this order: before the chains change
    // (the old instances still run them), once they have changed (old
    // instances still exist), and after the reload destroyed the replaced
    // instances, when connects whose module was replaced without a handover
    // are offered to the new instance and those whose module left the
    // chain are rejected.
    void note_chains_before_reload();
    void rebind_pending_connects();
    void settle_pending_connects();

private:
    // A binary packet waiting for its attachments (rare: allocated on demand).
    struct PendingBinary {
        sio::Packet packet;
        std::vector<std::string> attachments;
        size_t bytes = 0;
    };

    struct Client {
        EngineSession* session = nullptr;
        std::vector<Socket*> sockets;  // connected, or running their connect chain now
        std::unique_ptr<PendingBinary> pending;
        uint32_t pending_connects = 0;  // entries of pending_connects_ for this client
    };

    // A CONNECT whose chain waits for `module` to decide.
    struct PendingConnect {
        Client* client = nullptr;
        Socket* socket = nullptr;
        ModuleInstance* module = nullptr;  // null: left the chain in a reload
        std::string auth;                  // the CONNECT payload, for the modules after it
        // Across a reload: which modules had accepted, by name, and what
        // happens once the reload is done.
        std::vector<std::string> accepted;
        enum class AfterReload : uint8_t { Wait, Reoffer, Abort } after_reload = AfterReload::Wait;
    };

    void dispatch(Client& c, sio::Packet& p, std::vector<std::string>& attachments);
    void handle_connect(Client& c, sio::Packet& p);
    // Runs the connect hooks of the socket's chain from position `from`:
    // answers the client, or leaves the connect pending on a module.
    void run_connect_chain(Client& c, Socket& socket, size_t from, std::string auth);
    // The socket's connect failed or was abandoned: it leaves its rooms,
    // `told` hear on_disconnect(reason), it is destroyed, and the client
    // gets CONNECT_ERROR `answer` unless null.
    void end_connect(Client& c, Socket& socket, std::span<ModuleInstance* const> told, const char* reason,
                     const char* answer);
    std::unique_ptr<PendingConnect> take_pending(sb_socket_id id);
    // A pending connect that ends undecided: the awaited module and those
    // before it hear on_disconnect(reason).
    void abandon_pending(sb_socket_id id, const char* reason, const char* answer);
    void send_connect_error(EngineSession& session, const std::string& nsp, std::string_view message);
    void handle_event(Socket& socket, sio::Packet& p, std::vector<std::string>& attachments);
    void report_failure(Socket& socket, const std::string& event, int64_t ack_id, const char* code,
                        const std::string& message, const char* details_json = "");
    void protocol_error(Client& c, const std::string& reason);
    void remove_socket(Client& c, Socket* socket, const char* reason);
    // Leaves every room of the socket, telling its namespace's chain.
    void leave_all_rooms(Socket& socket);
    Socket* socket_for(Client& c, std::string_view nsp);

    const Config& config_;
    Hub& hub_;
    HookDispatcher& hooks_;
    // Until a client's first CONNECT; a connected client (nearly every one,
    // nearly all the time) no longer has one.
    SparseDeadlines<Client> connect_timeouts_;
    std::unordered_map<sb_socket_id, std::unique_ptr<PendingConnect>> pending_connects_;
    SparseDeadlines<PendingConnect> pending_timeouts_;
};

}  // namespace sb
