// The module host: loads modules from shared objects, checks their ABI,
// configures them, owns their timers, calls their hooks and counts what they
// cost.
//
// Modules are loaded with Boost.DLL from the configured modules directory.
// Everything that crosses into a module is C (see plugins-api); everything a
// module asks of the host goes through the function table built in
// host_api.cpp, which resolves opaque ids and never trusts a module's input.
#pragma once

#include "config.h"

#include <switchboard/module.h>

#include <boost/dll/shared_library.hpp>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb {
class ModuleHost;
class Hub;
struct ModuleInstance;
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

struct ModuleInstance {
    std::string name;
    std::string path;
    boost::dll::shared_library library;
    const sb_module_descriptor* descriptor = nullptr;
    void* state = nullptr;
    sb_module_ctx ctx{};
    uint64_t events_total = 0;
    uint64_t errors_total = 0;
    uint64_t rejects_total = 0;
    uint64_t hook_nanoseconds_total = 0;
};

class ModuleHost {
public:
    ModuleHost(uv_loop_t* loop, std::string modules_dir);
    ~ModuleHost();

    // Loads and configures every module of the config; throws ModuleError
    // naming the module, the file and the reason.
    void load_all(const std::vector<ModuleConfig>& modules);
    void unload_all();

    ModuleInstance* find(std::string_view name) const;
    const std::vector<std::unique_ptr<ModuleInstance>>& modules() const { return modules_; }

    void set_hub(Hub* hub) { hub_ = hub; }
    Hub* hub() const { return hub_; }
    uv_loop_t* loop() const { return loop_; }
    // How a module's request to disconnect a socket reaches the Socket.IO layer.
    std::function<void(sb_socket_id)> disconnect_socket;

    sb_timer_id start_timer(ModuleInstance& m, uint64_t delay_ms, uint64_t repeat_ms, void* user_data);
    sb_status stop_timer(ModuleInstance& m, sb_timer_id id);

    std::string render_metrics() const;

private:
    struct Timer;
    void stop_timers_of(ModuleInstance& m);
    static void on_timer(uv_timer_t* handle);

    uv_loop_t* loop_;
    std::string modules_dir_;
    Hub* hub_ = nullptr;
    std::vector<std::unique_ptr<ModuleInstance>> modules_;
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

}  // namespace sb
