// The module host: loads modules from shared objects, checks their ABI and
// configuration, owns their timers, calls their hooks, counts what they
// cost, and replaces them on a reload without dropping a connection.
//
// Every module file is loaded from a content-addressed private copy
// (<runtime dir>/<name>-<sha256>.so). On this platform dlopen() of a path it
// has already loaded returns the old code, and overwriting a mapped .so in
// place crashes the process; a copy named by its content avoids both, and
// lets the host check after dlclose() that an old version is really gone.
// Everything that crosses into a module is C (see plugins-api); what a module
// asks of the host goes through host_api.cpp.
#pragma once

#include "config.h"

#include <switchboard/module.h>

#include <boost/dll/shared_library.hpp>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb {
class ModuleHost;
class Hub;
class HttpApi;
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
}  // namespace sb

// The opaque handle module.h declares: which module is calling the host.
struct sb_module_ctx {
    sb::ModuleHost* host;
    sb::ModuleInstance* instance;
};

namespace sb {

class ModuleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One loaded copy of a module file, shared by the instances created from it.
struct ModuleLibrary {
    std::string digest;     // sha256 of the file, hex
    std::string copy_path;  // the private copy that was dlopen()ed
    boost::dll::shared_library library;
    ~ModuleLibrary();       // unloads, verifies, removes the copy
};

struct ModuleInstance {
    std::string name;
    std::string path;         // the configured file
    std::string config_json;  // the configuration it was created with
    std::shared_ptr<ModuleLibrary> library;
    const sb_module_descriptor* descriptor = nullptr;
    void* state = nullptr;
    sb_module_ctx ctx{};
    uint64_t events_total = 0;
    uint64_t errors_total = 0;
    uint64_t rejects_total = 0;
    uint64_t hook_nanoseconds_total = 0;
    // Counters the module defines itself (host api counter_add): (name, labels) -> value.
    std::map<std::pair<std::string, std::string>, uint64_t> counters;

    // Hooks appended to the descriptor after the first ABI 1.0 fields; NULL
    // when the module's descriptor predates them.
    int (*on_handshake)(void*, const sb_handshake_info*, sb_error*) = nullptr;
    void (*on_room)(void*, sb_socket_id, const char*, int) = nullptr;
    void (*on_http)(void*, const sb_http_request*, sb_http_response*) = nullptr;
    void (*on_cluster)(void*, const sb_cluster_event*) = nullptr;

    // Expires with the instance: a storage completion holds a weak reference
    // and drops the module's callback once the instance is gone.
    std::shared_ptr<const bool> liveness = std::make_shared<const bool>(true);
};

// Tells the modules of a namespace chain that a socket joined or left a room.
void notify_room(const std::vector<ModuleInstance*>& chain, sb_socket_id socket, const std::string& room, bool joined);

// What a reload changed, for the log and the admin API.
struct ReloadSummary {
    std::vector<std::string> added, replaced, reconfigured, removed, unchanged;
    std::string describe() const;
};

class ModuleHost {
public:
    ModuleHost(uv_loop_t* loop, std::string modules_dir);
    ~ModuleHost();

    // Loads and configures every module of the config; throws ModuleError
    // naming the module, the file and the reason.
    void load_all(const std::vector<ModuleConfig>& modules, const std::string& config_source);
    void unload_all();

    // Brings the running modules to `next`: unchanged modules stay, new ones
    // are loaded, changed code or configuration is replaced with state
    // handed over, removed ones are unloaded. Every new instance is created
    // and every handover done before anything changes; any failure throws
    // ModuleError and leaves the running modules untouched. `swap_routing`
    // runs once the new set is in place and before old instances are
    // destroyed.
    ReloadSummary reload(const std::vector<ModuleConfig>& next, const std::string& config_source,
                         const std::function<void()>& swap_routing);

    ModuleInstance* find(std::string_view name) const;
    const std::vector<std::unique_ptr<ModuleInstance>>& modules() const { return modules_; }

    void set_hub(Hub* hub) { hub_ = hub; }
    Hub* hub() const { return hub_; }
    // The storage modules use (nullptr: not configured).
    void set_storage(storage::StorageService* storage) { storage_ = storage; }
    storage::StorageService* storage() const { return storage_; }
    // Outbound HTTP for modules (host API fetch).
    void set_fetch(http::FetchService* fetch) { fetch_ = fetch; }
    http::FetchService* fetch() const { return fetch_; }
    void set_modules_dir(std::string dir) { modules_dir_ = std::move(dir); }
    // The HTTP API (null when it is off): module routes live there, and an
    // instance going away takes its routes and unanswered requests with it.
    HttpApi* http_api = nullptr;
    // Set when the server is a cluster node.
    cluster::Cluster* cluster = nullptr;
    // Cluster news for the modules that take it (on_cluster): every module
    // for node events, the module named in it for a message.
    void cluster_event(sb_cluster_event_kind kind, const std::string& node, const std::string* module = nullptr,
                       std::string_view data = {});
    // How a module's request to disconnect a socket reaches the Socket.IO layer.
    std::function<void(sb_socket_id)> disconnect_socket;

    // The args of the client event being dispatched, validated when the
    // packet was decoded. A module that relays them unchanged (the common
    // case: chat, typing, echo) passes this very buffer back, and the host
    // can skip parsing it again. Set only while the chain runs.
    std::string_view dispatched_args;
    bool is_dispatched_args(const char* args, size_t len) const {
        return args && args == dispatched_args.data() && len == dispatched_args.size();
    }

    sb_timer_id start_timer(ModuleInstance& m, uint64_t delay_ms, uint64_t repeat_ms, void* user_data);
    sb_status stop_timer(ModuleInstance& m, sb_timer_id id);

    std::string render_metrics() const;

    // Offers a new Engine.IO session to every module's on_handshake. Returns
    // 0 to admit, or the HTTP status to refuse with (and `message`).
    int admit(const sb_handshake_info& info, std::string& message);

private:
    struct Timer;
    std::unique_ptr<ModuleInstance> instantiate(const ModuleConfig& mc, const std::string& config_source);
    std::shared_ptr<ModuleLibrary> load_library(const std::string& who, const std::string& path);
    std::string resolve(const ModuleConfig& mc) const;
    void destroy(std::unique_ptr<ModuleInstance> m);
    void stop_timers_of(ModuleInstance& m);
    static void on_timer(uv_timer_t* handle);

    uv_loop_t* loop_;
    std::string modules_dir_;
    std::string runtime_dir_;  // private copies of module files
    Hub* hub_ = nullptr;
    storage::StorageService* storage_ = nullptr;
    http::FetchService* fetch_ = nullptr;
    std::vector<std::unique_ptr<ModuleInstance>> modules_;
    std::map<std::string, std::weak_ptr<ModuleLibrary>> libraries_;  // by digest
    std::unordered_map<sb_timer_id, Timer*> timers_;
    sb_timer_id next_timer_id_ = 1;
};

// The function table given to every module (host_api.cpp).
const sb_host_api* host_api();

// Measures a hook call into the module's counters.
class HookTimer {
public:
    explicit HookTimer(ModuleInstance& m) : m_(m), start_(uv_hrtime()) {}
    ~HookTimer() { m_.hook_nanoseconds_total += uv_hrtime() - start_; }

private:
    ModuleInstance& m_;
    uint64_t start_;
};

// Host-side buffers behind an sb_error.
struct ErrorBuffer {
    char message[512] = "";
    char code[32] = "";
    char details[256] = "";
    sb_error error{sizeof(sb_error), message, sizeof message, code, sizeof code, details, sizeof details};
    ErrorBuffer() = default;
    ErrorBuffer(const ErrorBuffer&) = delete;
    ErrorBuffer& operator=(const ErrorBuffer&) = delete;
};

}  // namespace sb
