// What the module host hands on to modules: the hub, socket disconnects and
// connect decisions, HTTP routes, storage, the cluster and outbound HTTP,
// gathered in one struct.
//
// The module host sits below the Socket.IO layer, the HTTP API and the
// cluster link: they call into modules through it. A module's requests go the
// other way (disconnect this socket, serve this route), so the host reaches
// those layers only through the small interfaces below, which they
// implement, and never includes their headers. The server owns the one
// HostServices and completes it before the first module loads; every pointer
// in it outlives the modules that use it.
#pragma once

#include <switchboard/module.h>

namespace sb {

class Hub;
struct ModuleInstance;
namespace storage {
struct StorageService;
}
namespace cluster {
class Cluster;
}
namespace http {
class FetchService;
}

// How a module's request to disconnect a socket reaches the Socket.IO layer.
class SocketDisconnector {
public:
    virtual void disconnect_socket(sb_socket_id id) = 0;

protected:
    ~SocketDisconnector() = default;
};

// How a module's decision on a connect it left pending (connect_decide)
// reaches the Socket.IO layer, which runs the rest of the chain.
class PendingConnects {
public:
    // SB_ERR_NOT_FOUND when `id` has no connect pending on `m`.
    virtual sb_status decide_connect(ModuleInstance& m, sb_socket_id id, bool accept, const char* message) = 0;

protected:
    ~PendingConnects() = default;
};

// The routes modules serve on the HTTP API (host functions http_route and
// http_respond); an instance going away takes its routes and unanswered
// requests with it.
class ModuleRoutes {
public:
    virtual sb_status add_module_route(ModuleInstance& m, const char* method, const char* path) = 0;
    virtual sb_status respond(ModuleInstance& m, sb_http_response* response, int status, const char* body,
                              size_t len) = 0;
    virtual void forget_instance(const ModuleInstance& m) = 0;

protected:
    ~ModuleRoutes() = default;
};

struct HostServices {
    Hub* hub = nullptr;                          // null only when checking a config (switchboard -t)
    SocketDisconnector* sockets = nullptr;       // null only when checking a config
    ModuleRoutes* routes = nullptr;              // null: the HTTP API is off
    storage::StorageService* storage = nullptr;  // null: storage is not configured
    cluster::Cluster* cluster = nullptr;         // null: the server runs alone
    http::FetchService* fetch = nullptr;         // outbound HTTP; null only when checking a config
    PendingConnects* connects = nullptr;         // null only when checking a config

    // The cluster while this node is a member of it: null once the node has
    // left (shutting down), when modules and the HTTP API must act alone.
    cluster::Cluster* joined_cluster() const;
};

}  // namespace sb
