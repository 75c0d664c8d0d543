// The running server (see server.h).
#include "server.h"

#include "log.h"
#include "lws_helpers.h"
#include "metrics.h"

#include "socketio_packet.h"

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace sb {
namespace {

constexpr const char* kComponent = "server";
// A forwarded GET is held on the owner up to ping_interval, and the owner may
// take up to ping_timeout more to notice a dead session: beyond this margin
// on top, the owner is not answering.
constexpr uint64_t kForwardMarginMs = 5000;

// Engine.IO heartbeats are ours (core/deadline_queue.h). Left to its default,
// libwebsockets also keeps an idle-validity timer per connection in a sorted
// list, re-inserted on every received frame: a walk over all connections each
// time, which dominated the cost of a connection storm.
const lws_retry_bo_t kNoTransportIdlePolicy = {};

void lws_log_to_ours(int level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // lws reports per-connection trouble (a peer resetting, a bad handshake)
    // as errors; to an operator those are debug noise, not server faults.
    log::debug("lws", std::string(level == LLL_ERR ? "error: " : "") + std::string(text));
}

// Every connection of our one protocol lands here; per-connection events go
// to the Engine.IO server, everything else to lws' default handling.
int lws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    lws_context* ctx = wsi ? lws_get_context(wsi) : nullptr;
    auto* self = ctx ? static_cast<Server*>(lws_context_user(ctx)) : nullptr;
    if (!self || !user) return lws_callback_http_dummy(wsi, reason, user, in, len);
    return self->engine_lws().handle_lws_event(wsi, reason, user, in, len);
}

}  // namespace

Server::Server(uv_loop_t* loop, Config config, std::string modules_path_override, std::string default_modules_path)
    : loop_(loop),
      config_(std::move(config)),
      modules_(loop, "", services_),
      modules_path_override_(std::move(modules_path_override)),
      default_modules_path_(std::move(default_modules_path)) {
    resolve_modules_path(config_);
    modules_.set_modules_dir(config_.modules_path);
    engine_ = std::make_unique<EngineServer>(loop_, config_);
    engine_lws_ = std::make_unique<EngineLws>(loop_, config_, *engine_);
    hub_ = std::make_unique<Hub>(*engine_);
    socketio_ = std::make_unique<SocketIOServer>(loop_, config_, *hub_, modules_.hooks());
    engine_->set_listener(socketio_.get());
    engine_->admit = [this](const sb_handshake_info& info, std::string& message) { return modules_.admit(info, message); };
    services_.hub = hub_.get();
    services_.sockets = socketio_.get();
    services_.connects = socketio_.get();
    started_ms_ = uv_now(loop_);
    if (config_.api.enabled()) {
        http_api_ = std::make_unique<HttpApi>(loop_, config_, *hub_, modules_.hooks(), services_);
        http_api_->set_started(started_ms_);
        services_.routes = http_api_.get();
    }
}

void Server::resolve_modules_path(Config& config) const {
    if (!modules_path_override_.empty()) config.modules_path = modules_path_override_;
    if (config.modules_path.empty()) config.modules_path = default_modules_path_;
}

Server::~Server() {
    remove_pid_file();
    engine_lws_->set_remote_sessions(nullptr);
    forwarder_.reset();
    if (context_) lws_context_destroy(context_);
    engine_->shutdown_now();
    engine_lws_->shutdown_now();
    modules_.unload_all();  // before the cluster and storage they reach through services_
    cluster_.reset();
    storage_.reset();  // completes what the modules asked for before they went
    services_.fetch = nullptr;
    fetch_.reset();
    if (drain_timer_) {
        uv_close(reinterpret_cast<uv_handle_t*>(drain_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        drain_timer_ = nullptr;
    }
}

// Makes the hub's namespaces and their module chains match config_. A
// namespace that left the config has its sockets disconnected from it (their
// Engine.IO sessions stay open); one that arrived starts accepting CONNECTs.
void Server::apply_namespaces() {
    for (const auto& nc : config_.namespaces) {
        Namespace* ns = hub_->find_namespace(nc.name);
        if (!ns) ns = &hub_->add_namespace(nc.name);
        ns->chain.clear();
        for (const auto& name : nc.modules) ns->chain.push_back(modules_.find(name));
    }
    std::vector<Namespace*> gone;
    for (const auto& ns : hub_->namespaces()) {
        bool configured = false;
        for (const auto& nc : config_.namespaces) configured = configured || nc.name == ns->name;
        if (!configured) gone.push_back(ns.get());
    }
    for (Namespace* ns : gone) {
        log::info(kComponent, "namespace " + ns->name + " removed: disconnecting its " +
                                  std::to_string(ns->sockets.size()) + " sockets");
        ns->chain.clear();  // its modules may already be gone: no hooks for these sockets
        std::vector<sb_socket_id> ids;
        for (const Socket* s : ns->sockets) ids.push_back(s->id);
        for (auto id : ids) socketio_->disconnect_socket(id);
        hub_->remove_namespace(ns);
    }
}

void Server::start() {
    fetch_ = std::make_unique<http::FetchService>(loop_, config_.http_client);
    services_.fetch = fetch_.get();
    if (config_.storage.enabled) {
        try {
            storage_ = storage::open_storage(loop_, config_.storage, config_.cluster.prefix);
        } catch (const storage::StorageError& e) {
            throw StartupError(std::string("storage: ") + e.what());
        }
        services_.storage = storage_.get();
        const bool sqlite = config_.storage.backend == "sqlite";
        log::info(kComponent, "storage: " + storage_->backend->describe() +
                                  (!sqlite ? "" : config_.storage.synchronous_full ? " (synchronous=full)" : " (synchronous=normal)"));
    }
    if (config_.cluster.enabled) {
        cluster_ = std::make_unique<cluster::ClusterLink>(loop_, config_.cluster, *hub_, modules_, *socketio_);
        services_.cluster = &cluster_->cluster();  // modules may ask for the node id from create on
    }
    modules_.load_all(config_.modules, config_.source_path);
    apply_namespaces();
    if (cluster_) {
        cluster_->start();
        // A session's id names its node, so the load balancer in front need
        // not be sticky: other nodes forward its polling requests here.
        cluster::Cluster& c = cluster_->cluster();
        engine_->set_sid_prefix(c.session_tag());
        const uint64_t timeout = config_.ping_interval_ms + config_.ping_timeout_ms + kForwardMarginMs;
        const size_t max_answer = 2 * std::max<size_t>(config_.max_send_queue, config_.max_payload) + 64 * 1024;
        forwarder_ = std::make_unique<cluster::SessionForwarder>(loop_, c, timeout, max_answer);
        engine_lws_->set_remote_sessions(forwarder_.get());
    }
    engine_lws_->add_route({"GET", config_.healthz_path, "application/json", [this](const std::string&, int& status) {
                                if (shutting_down_) status = 503;
                                return render_health();
                            }});
    engine_lws_->add_route({"GET", config_.metrics_path, "text/plain; version=0.0.4; charset=utf-8",
                            [this](const std::string&, int&) { return render_metrics(); }});
    engine_lws_->add_route({"POST", config_.admin_reload_path, "application/json",
                            [this](const std::string& authorization, int& status) {
                                return handle_admin_reload(authorization, status);
                            }});
    create_listeners();
    write_pid_file();
}

std::string Server::handle_admin_reload(const std::string& authorization, int& status) {
    if (config_.admin_token.empty()) {
        status = 404;
        return "{\"code\":404,\"message\":\"Not found\"}";
    }
    const std::string expected = "Bearer " + config_.admin_token;
    if (authorization.size() != expected.size() ||
        CRYPTO_memcmp(authorization.data(), expected.data(), expected.size()) != 0) {
        status = 401;
        log::warn(kComponent, "admin reload refused: missing or wrong bearer token");
        return "{\"ok\":false,\"error\":\"unauthorized\"}";
    }
    ReloadResult r = reload("the admin API");
    if (!r.ok) status = 422;
    return std::string("{\"ok\":") + (r.ok ? "true" : "false") + ",\"" + (r.ok ? "summary" : "error") +
           "\":" + sio::json_quote(r.message) + "}";
}

Server::ReloadResult Server::reload(const std::string& trigger) {
    if (shutting_down_) return {false, "the server is shutting down"};
    log::info(kComponent, "reload requested by " + trigger + ": reading " + config_.source_path);
    auto fail = [&](const std::string& why) {
        metrics().reloads_failed_total++;
        log::error(kComponent, "reload failed, the previous configuration and modules keep running: " + why);
        return ReloadResult{false, why};
    };
    Config next;
    try {
        next = load_config(config_.source_path);
    } catch (const ConfigError& e) {
        return fail(e.what());
    }
    resolve_modules_path(next);
    // Listening sockets and the pid file belong to the running process.
    std::vector<std::string> need_restart;
    auto same_listen = [](const ListenConfig& a, const ListenConfig& b) {
        return a.address == b.address && a.port == b.port && a.tls_certificate == b.tls_certificate && a.tls_key == b.tls_key;
    };
    if (!std::equal(next.listen.begin(), next.listen.end(), config_.listen.begin(), config_.listen.end(), same_listen))
        need_restart.push_back("listen");
    if (next.pid_file != config_.pid_file) need_restart.push_back("pid_file");
    if (next.api.enabled() != config_.api.enabled() ||
        !std::equal(next.api.listen.begin(), next.api.listen.end(), config_.api.listen.begin(), config_.api.listen.end(),
                    same_listen))
        need_restart.push_back("api.listen (or turning the API on or off)");
    if (next.api.enabled() != config_.api.enabled()) next.api.keys = config_.api.keys;
    next.api.listen = config_.api.listen;
    auto same_redis = [](const redis::RedisEndpoint& a, const redis::RedisEndpoint& b) {
        return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path && a.username == b.username &&
               a.password == b.password && a.db == b.db && a.command_timeout_ms == b.command_timeout_ms;
    };
    auto same_storage = [&](const StorageConfig& a, const StorageConfig& b) {
        return a.enabled == b.enabled && a.backend == b.backend && a.path == b.path &&
               a.synchronous_full == b.synchronous_full && a.integrity_check == b.integrity_check &&
               a.max_value_size == b.max_value_size && a.max_queued == b.max_queued && same_redis(a.redis, b.redis);
    };
    if (!same_storage(next.storage, config_.storage)) need_restart.push_back("storage");
    next.storage = config_.storage;
    const ClusterConfig &nc = next.cluster, &cc = config_.cluster;
    if (nc.enabled != cc.enabled || !same_redis(nc.redis, cc.redis) || nc.prefix != cc.prefix ||
        nc.node_lease_ms != cc.node_lease_ms || nc.advertise != cc.advertise)
        need_restart.push_back("cluster");
    next.cluster = config_.cluster;
    const HttpClientConfig &nh = next.http_client, &ch = config_.http_client;
    if (nh.max_in_flight != ch.max_in_flight || nh.max_connections_per_host != ch.max_connections_per_host ||
        nh.ca_file != ch.ca_file || nh.ca_dir != ch.ca_dir || nh.proxy != ch.proxy)
        need_restart.push_back("http_client");
    next.http_client = config_.http_client;
    if (next.healthz_path != config_.healthz_path || next.metrics_path != config_.metrics_path ||
        next.admin_reload_path != config_.admin_reload_path)
        need_restart.push_back("http/admin paths");
    next.listen = config_.listen;
    next.pid_file = config_.pid_file;
    next.healthz_path = config_.healthz_path;
    next.metrics_path = config_.metrics_path;
    next.admin_reload_path = config_.admin_reload_path;

    ReloadSummary summary;
    modules_.set_modules_dir(next.modules_path);
    try {
        summary = modules_.reload(next.modules, next.source_path, [&] {
            socketio_->note_chains_before_reload();
            config_ = next;
            apply_namespaces();
            socketio_->rebind_pending_connects();
            log::set_level(config_.log_level);
        });
    } catch (const std::exception& e) {
        modules_.set_modules_dir(config_.modules_path);
        return fail(e.what());
    }
    socketio_->settle_pending_connects();  // with the replaced instances gone
    metrics().reloads_succeeded_total++;
    std::string message = "modules " + summary.describe();
    log::info(kComponent, "reload complete (" + trigger + "): " + message);
    if (!need_restart.empty()) {
        std::string list;
        for (const auto& n : need_restart) list += (list.empty() ? "" : ", ") + n;
        message += "; changes to " + list + " need a restart and were not applied";
        log::warn(kComponent, "reload: changes to " + list + " need a restart and were not applied");
    }
    return {true, message};
}

void Server::write_pid_file() {
    if (config_.pid_file.empty()) return;
    std::ofstream out(config_.pid_file, std::ios::trunc);
    out << getpid() << "\n";
    if (!out) throw StartupError("cannot write pid_file " + config_.pid_file);
    pid_file_written_ = true;
}

void Server::remove_pid_file() {
    if (!pid_file_written_) return;
    pid_file_written_ = false;
    std::ifstream in(config_.pid_file);
    long pid = 0;
    in >> pid;
    if (pid == getpid()) ::unlink(config_.pid_file.c_str());  // not another instance's
}

void Server::create_listeners() {
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);

    // rx_buffer_size is allocated for every WebSocket: 256 bytes instead of
    // lws' 4 KiB default is most of what keeps an idle client near 2 KiB.
    // Reads from the socket still go through lws' per-thread buffer; larger
    // messages just arrive in more callbacks and are reassembled. Not lower:
    // below 256 bytes (224 and 160 tried) libwebsockets 4.1 stops refusing
    // junk sent in place of an HTTP request (tests/e2e/hostile).
    static lws_protocols protocols[] = {
        {"switchboard", lws_callback, EngineLws::kPerConnectionDataSize, 256, 0, nullptr, 0},
        {nullptr, nullptr, 0, 0, 0, nullptr, 0},
    };

    bool tls = false;
    for (const auto& l : config_.listen) tls = tls || !l.tls_certificate.empty();
    for (const auto& l : config_.api.listen) tls = tls || (http_api_ && !l.tls_certificate.empty());

    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    void* loops[1] = {loop_};
    info.foreign_loops = loops;
    info.user = this;
    info.max_http_header_data = static_cast<unsigned short>(config_.max_http_header_size);
    // Header buffers (max_http_header_size each) are held only while a request
    // is parsed: a bounded pool keeps a connection storm from leaving
    // thousands of them scattered through the heap; extra connections wait.
    info.max_http_header_pool = static_cast<unsigned short>(config_.concurrent_handshakes);
    context_ = lws_create_context(&info);
    if (!context_) throw StartupError("cannot create the network context (libwebsockets with libuv)");

    for (const auto& l : config_.listen) {
        lws_context_creation_info vi;
        std::memset(&vi, 0, sizeof vi);
        vi.protocols = protocols;
        vi.vhost_name = "switchboard";
        vi.retry_and_idle_policy = &kNoTransportIdlePolicy;
        log::info(kComponent, "listening on " + create_listening_vhost(context_, l, vi, "") + config_.engineio_path);
    }
    if (http_api_) http_api_->listen(context_);
    else log::info(kComponent, "HTTP API off: no api.keys configured");
}

std::string Server::render_health() const {
    std::string out = "{\"status\":\"";
    out += shutting_down_ ? "draining" : "ok";
    out += "\",\"connections\":" + std::to_string(engine_->session_count());
    out += ",\"uptime_seconds\":" + std::to_string((uv_now(loop_) - started_ms_) / 1000) + "}";
    return out;
}

std::string Server::render_metrics() const {
    std::string out = render_core_metrics();
    append_header(out, "switchboard_sockets", "gauge", "Connected Socket.IO sockets by namespace.");
    for (const auto& ns : hub_->namespaces())
        append_labelled(out, "switchboard_sockets", "namespace=\"" + ns->name + "\"", ns->sockets.size());
    append_header(out, "switchboard_rooms", "gauge", "Rooms with at least one member, by namespace.");
    for (const auto& ns : hub_->namespaces())
        append_labelled(out, "switchboard_rooms", "namespace=\"" + ns->name + "\"", ns->rooms.room_count());
    if (http_api_) http_api_->render_metrics(out);
    if (cluster_) cluster_->render_metrics(out);
    if (forwarder_) forwarder_->render_metrics(out);
    out += storage::render_storage_metrics(storage_.get());
    if (fetch_) out += fetch_->client().render_metrics();
    out += modules_.render_metrics();
    return out;
}

void Server::shutdown(const char* why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    log::info(kComponent, std::string("shutting down (") + why + "): closing " +
                              std::to_string(engine_->session_count()) + " sessions, drain timeout " +
                              std::to_string(config_.drain_timeout_ms) + "ms");
    engine_->stop_accepting();
    if (cluster_) cluster_->stop();  // the others drop this node's users now, not when its lease runs out
    engine_->close_all("server shutting down");
    drain_timer_ = new uv_timer_t;
    uv_timer_init(loop_, drain_timer_);
    drain_timer_->data = this;
    uv_timer_start(
        drain_timer_,
        [](uv_timer_t* t) {
            auto* self = static_cast<Server*>(t->data);
            const bool drained = self->engine_->session_count() == 0;
            const bool expired = uv_now(self->loop_) >= self->drain_deadline_;
            if (drained || expired) self->finish_shutdown();
        },
        10, 10);
    drain_deadline_ = uv_now(loop_) + config_.drain_timeout_ms;
}

void Server::finish_shutdown() {
    if (stopped_) return;
    stopped_ = true;
    if (engine_->session_count() > 0)
        log::warn(kComponent, std::to_string(engine_->session_count()) + " sessions still open after the drain timeout; closing them");
    uv_timer_stop(drain_timer_);
    engine_->shutdown_now();
    engine_lws_->shutdown_now();
    socketio_->shutdown();
    lws_context_destroy(context_);
    context_ = nullptr;
    modules_.unload_all();
    engine_lws_->set_remote_sessions(nullptr);
    forwarder_.reset();
    cluster_.reset();
    // The Redis backend's connection would keep the loop running.
    storage_.reset();
    // Open keep-alive connections would keep the loop running too.
    services_.fetch = nullptr;
    fetch_.reset();
    remove_pid_file();
    uv_close(reinterpret_cast<uv_handle_t*>(drain_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    drain_timer_ = nullptr;
    log::info(kComponent, "stopped");
    if (on_stopped) on_stopped();
}

}  // namespace sb
