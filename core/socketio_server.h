// The Socket.IO v5 layer: turns Engine.IO messages into namespace
// connections, events and acks, and runs each namespace's module chain.
//
// Per Engine.IO session it keeps the namespaces the client joined, the
// binary packet being reassembled and the connect deadline. Protocol rules
// follow the reference server: the first packet must be a CONNECT, a packet
// for a namespace the client has not joined or a malformed packet closes
// that client's connection only, and an unknown namespace is answered with
// CONNECT_ERROR "Invalid namespace".
#pragma once

#include "config.h"
#include "deadline_queue.h"
#include "engineio/engine_server.h"
#include "hook_dispatcher.h"
#include "host_services.h"
#include "hub.h"
#include "socketio_packet.h"

#include <memory>
#include <string>
#include <vector>

namespace sb {

class SocketIOServer : public SessionListener, public SocketDisconnector {
public:
    SocketIOServer(uv_loop_t* loop, const Config& config, Hub& hub, HookDispatcher& hooks);
    ~SocketIOServer() override;

    void on_session_open(EngineSession& s) override;
    void on_session_message(EngineSession& s, std::string_view data, bool binary) override;
    void on_session_close(EngineSession& s, std::string_view reason) override;

    // Stops the connect-timeout timer (last step of shutdown).
    void shutdown() { connect_timeouts_.close(); }

    // A module (or the HTTP API, or another node) asked to disconnect this
    // socket from its namespace.
    void disconnect_socket(sb_socket_id id) override;

private:
    // A binary packet waiting for its attachments (rare: allocated on demand).
    struct PendingBinary {
        sio::Packet packet;
        std::vector<std::string> attachments;
        size_t bytes = 0;
    };

    struct Client {
        EngineSession* session = nullptr;
        std::vector<Socket*> sockets;
        std::unique_ptr<PendingBinary> pending;
    };

    void dispatch(Client& c, sio::Packet& p, std::vector<std::string>& attachments);
    void handle_connect(Client& c, sio::Packet& p);
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
};

}  // namespace sb
