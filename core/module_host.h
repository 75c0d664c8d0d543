// The module host: loads modules from shared objects, checks their ABI and
// configuration, owns their timers and the hook dispatcher through which
// every call into them goes, and replaces them on a reload without dropping
// a connection.
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
#include "hook_dispatcher.h"
#include "host_services.h"
#include "module_instance.h"

#include <switchboard/module.h>

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sb {

class ModuleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What a reload changed, for the log and the admin API.
struct ReloadSummary {
    std::vector<std::string> added, replaced, reconfigured, removed, unchanged;
    std::string describe() const;
};

class ModuleHost {
public:
    // `services` is what modules reach through the host; it must be complete
    // before the first module loads and outlive every module.
    ModuleHost(uv_loop_t* loop, std::string modules_dir, const HostServices& services);
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

    // What modules reach through the host API (host_api*.cpp read it).
    const HostServices& services() const { return services_; }
    // The only way into module code, for the layers that run module chains.
    HookDispatcher& hooks() { return hooks_; }
    void set_modules_dir(std::string dir) { modules_dir_ = std::move(dir); }
    // Cluster news for the modules that take it (on_cluster): every module
    // for node events, the module named in it for a message.
    void cluster_event(sb_cluster_event_kind kind, const std::string& node, const std::string* module = nullptr,
                       std::string_view data = {});

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
    const HostServices& services_;
    HookDispatcher hooks_;
    std::vector<std::unique_ptr<ModuleInstance>> modules_;
    std::map<std::string, std::weak_ptr<ModuleLibrary>> libraries_;  // by digest
    std::unordered_map<sb_timer_id, Timer*> timers_;
    sb_timer_id next_timer_id_ = 1;
};

// The function table given to every module (host_api.cpp).
const sb_host_api* host_api();

}  // namespace sb
