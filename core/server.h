// The running server: one libuv loop owning libwebsockets, the Engine.IO and
// Socket.IO layers, the hub and the modules, plus signals and shutdown.
//
// Construction order is dependency order (modules before the hub uses them,
// listeners last), so a failure at any step is reported before a single
// connection is accepted.
#pragma once

#include "cluster_link.h"
#include "cluster/session_forwarder.h"
#include "config.h"
#include "errors.h"
#include "engineio/engine_server.h"
#include "host_services.h"
#include "http_api.h"
#include "hub.h"
#include "module_host.h"
#include "socketio_server.h"
#include "storage/storage_service.h"
#include "transport/engine_lws.h"
#include "host_api_fetch.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

struct lws_context;

namespace sb {

class Server {
public:
    // `modules_path_override` (from --modules-path) wins over the config's
    // modules_path, which wins over `default_modules_path`.
    Server(uv_loop_t* loop, Config config, std::string modules_path_override, std::string default_modules_path);
    ~Server();

    // Loads modules, binds listeners. Throws StartupError / ModuleError.
    void start();
    // Begins a graceful shutdown: refuse new sessions, close the open ones,
    // and stop once they are gone or drain_timeout has passed.
    void shutdown(const char* why);
    bool stopped() const { return stopped_; }

    struct ReloadResult {
        bool ok;
        std::string message;
    };
    // Re-reads the configuration file and applies it: modules added,
    // replaced, reconfigured or removed, namespaces and their chains, and
    // every setting that can change at run time. Any failure leaves the
    // running configuration and modules as they were. Connections stay.
    ReloadResult reload(const std::string& trigger);
    EngineServer& engine() { return *engine_; }
    EngineLws& engine_lws() { return *engine_lws_; }
    // Called once everything is closed, so the owner can close its own handles.
    std::function<void()> on_stopped;

private:
    void apply_namespaces();
    void resolve_modules_path(Config& config) const;
    void write_pid_file();
    void remove_pid_file();
    std::string handle_admin_reload(const std::string& authorization, int& status);
    void create_listeners();
    void finish_shutdown();
    std::string render_metrics() const;
    std::string render_health() const;

    uv_loop_t* loop_;
    Config config_;
    std::unique_ptr<storage::StorageService> storage_;  // before modules_: they use it until unloaded
    // What modules reach through the host: filled as the parts it names are
    // made (hub, Socket.IO layer, HTTP API here; storage and cluster in
    // start()), complete before the first module loads.
    HostServices services_;
    std::unique_ptr<http::FetchService> fetch_;          // likewise
    ModuleHost modules_;
    std::unique_ptr<SocketIOServer> socketio_;
    std::unique_ptr<EngineServer> engine_;
    std::unique_ptr<EngineLws> engine_lws_;  // the engine on libwebsockets
    std::unique_ptr<Hub> hub_;
    std::unique_ptr<cluster::ClusterLink> cluster_;
    std::unique_ptr<cluster::SessionForwarder> forwarder_;  // with cluster_: other nodes' sessions
    std::unique_ptr<HttpApi> http_api_;  // null when no API key is configured
    lws_context* context_ = nullptr;
    uv_timer_t* drain_timer_ = nullptr;
    bool shutting_down_ = false;
    bool stopped_ = false;
    uint64_t started_ms_ = 0;
    uint64_t drain_deadline_ = 0;
    std::string modules_path_override_;
    std::string default_modules_path_;
    bool pid_file_written_ = false;
};

}  // namespace sb
