// One running module: the loaded code it came from, its state, the hooks
// resolved from its descriptor, and what it has cost so far.
//
// Kept apart from the module host so that the layers that run module chains
// (the hub's namespaces, the Socket.IO layer, the HTTP API) can hold and
// count instances without knowing how modules are loaded or reloaded.
#pragma once

#include <switchboard/module.h>

#include <boost/dll/shared_library.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace sb {
class ModuleHost;
struct ModuleInstance;
}  // namespace sb

// The opaque handle module.h declares: which module is calling the host.
struct sb_module_ctx {
    sb::ModuleHost* host;
    sb::ModuleInstance* instance;
};

// A descriptor field is read only when the module's descriptor is large
// enough to hold it: fields are appended with each ABI minor version.
#define SB_DESCRIPTOR_FIELD(d, field)                                                              \
    ((d)->struct_size >= offsetof(sb_module_descriptor, field) + sizeof((d)->field) ? (d)->field \
                                                                                   : decltype((d)->field){})

namespace sb {

// One loaded copy of a module file, shared by the instances created from it.
struct ModuleLibrary {
    std::string digest;     // sha256 of the file, hex
    std::string copy_path;  // the private copy that was dlopen()ed
    boost::dll::shared_library library;
    ~ModuleLibrary();       // unloads, verifies, removes the copy
};

// A module's hook pointers, read once from its descriptor (null: not used, or
// beyond what the module's ABI minor version holds). Only the hook
// dispatcher calls them; others may ask whether a hook exists.
class ModuleHooks {
public:
    // Callers check these first only to skip preparing a call (an error
    // buffer, a request) for a module that would not take it.
    bool has_connect() const { return on_connect != nullptr; }
    bool has_event() const { return on_event != nullptr; }
    bool has_http() const { return on_http != nullptr; }

private:
    friend class HookDispatcher;
    decltype(sb_module_descriptor::create) create = nullptr;
    decltype(sb_module_descriptor::destroy) destroy = nullptr;
    decltype(sb_module_descriptor::on_connect) on_connect = nullptr;
    decltype(sb_module_descriptor::on_event) on_event = nullptr;
    decltype(sb_module_descriptor::on_disconnect) on_disconnect = nullptr;
    decltype(sb_module_descriptor::on_timer) on_timer = nullptr;
    decltype(sb_module_descriptor::export_state) export_state = nullptr;
    decltype(sb_module_descriptor::import_state) import_state = nullptr;
    decltype(sb_module_descriptor::on_handshake) on_handshake = nullptr;
    decltype(sb_module_descriptor::on_room) on_room = nullptr;
    decltype(sb_module_descriptor::on_http) on_http = nullptr;
    decltype(sb_module_descriptor::on_cluster) on_cluster = nullptr;
};

struct ModuleInstance {
    std::string name;
    std::string path;         // the configured file
    std::string config_json;  // the configuration it was created with
    std::shared_ptr<ModuleLibrary> library;
    const sb_module_descriptor* descriptor = nullptr;
    ModuleHooks hooks;
    void* state = nullptr;
    sb_module_ctx ctx{};
    uint64_t events_total = 0;
    uint64_t errors_total = 0;
    uint64_t rejects_total = 0;
    uint64_t hook_nanoseconds_total = 0;
    // Counters the module defines itself (host api counter_add): (name, labels) -> value.
    std::map<std::pair<std::string, std::string>, uint64_t> counters;

    // Expires with the instance: a storage completion holds a weak reference
    // and drops the module's callback once the instance is gone.
    std::shared_ptr<const bool> liveness = std::make_shared<const bool>(true);
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
