// The one caller of module code. Every hook (create, destroy, connect,
// event, disconnect, timer, state handover, handshake, room, HTTP, cluster)
// and every callback a module passed to the host runs through here, so that
// the time spent inside modules and what they answered are counted the same
// way everywhere, and a hook a module's ABI version lacks is never called.
//
// Hook pointers are resolved once per instance (resolve(), by the
// descriptor's struct_size); a call is a direct call through the cached
// pointer, with no allocation. The hot hooks are inline.
#pragma once

#include "module_instance.h"

#include <switchboard/module.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

class HookDispatcher {
public:
    // Calls a module file's entry point for its descriptor.
    static const sb_module_descriptor* describe(sb_module_entry_fn entry) { return entry(); }
    // Reads a descriptor's hooks, leaving null those beyond its struct_size.
    static ModuleHooks resolve(const sb_module_descriptor& d);

    // create: the module's state, or null when it refused its configuration.
    void* create(ModuleInstance& m, const sb_host_api* api, const char* config_json, sb_error* error);
    void destroy(ModuleInstance& m);

    sb_connect_result connect(ModuleInstance& m, sb_socket_id socket, const sb_connect_info& info, sb_error* error) {
        if (!m.hooks.on_connect) return SB_CONNECT_ACCEPT;
        sb_connect_result r;
        {
            Timed t(m);
            r = m.hooks.on_connect(m.state, socket, &info, error);
        }
        if (r != SB_CONNECT_ACCEPT && r != SB_CONNECT_PENDING) m.rejects_total++;
        return r;
    }

    // SB_EVENT_CONTINUE when the module does not take events.
    sb_event_result event(ModuleInstance& m, sb_socket_id socket, const sb_event& event, sb_error* error) {
        if (!m.hooks.on_event) return SB_EVENT_CONTINUE;
        sb_event_result r;
        {
            Timed t(m);
            r = m.hooks.on_event(m.state, socket, &event, error);
        }
        if (r == SB_EVENT_HANDLED) m.events_total++;
        else if (r == SB_EVENT_REJECT) m.rejects_total++;
        else if (r != SB_EVENT_CONTINUE) m.errors_total++;
        return r;
    }

    void disconnect(ModuleInstance& m, sb_socket_id socket, const char* reason) {
        if (!m.hooks.on_disconnect) return;
        Timed t(m);
        m.hooks.on_disconnect(m.state, socket, reason);
    }

    // Tells the modules of a namespace chain that a socket joined or left a room.
    void room(const std::vector<ModuleInstance*>& chain, sb_socket_id socket, const char* room, bool joined) {
        for (ModuleInstance* m : chain) {
            if (!m || !m->hooks.on_room) continue;
            Timed t(*m);
            m->hooks.on_room(m->state, socket, room, joined ? 1 : 0);
        }
    }

    void timer(ModuleInstance& m, sb_timer_id id, void* user_data);

    // Reload handover: whether `from` can hand its state to `to`, and doing it.
    static bool can_hand_over(const ModuleInstance& from, const ModuleInstance& to) {
        return from.hooks.export_state && to.hooks.import_state;
    }
    sb_status export_state(ModuleInstance& m, std::string& bytes);
    sb_status import_state(ModuleInstance& m, std::string_view bytes, sb_error* error);

    // Offers a new Engine.IO session to every module's on_handshake. Returns
    // 0 to admit, or the HTTP status to refuse with (and `message`).
    int handshake(const std::vector<std::unique_ptr<ModuleInstance>>& modules, const sb_handshake_info& info,
                  std::string& message);

    // A request to a route the module registered.
    void http(ModuleInstance& m, const sb_http_request& request, sb_http_response* response);

    // Cluster news: to every module that takes it, or only to `only` (by name).
    void cluster(const std::vector<std::unique_ptr<ModuleInstance>>& modules, const sb_cluster_event& event,
                 const std::string* only);

    // A callback the module handed to the host (a storage completion):
    // module code like any hook, timed the same way.
    template <typename Call>
    void call_back(ModuleInstance& m, Call&& call) {
        Timed t(m);
        call();
    }

    // The args of the client event whose chain is running, validated when
    // the packet was decoded. A module that relays them unchanged (chat,
    // typing, echo) passes this very buffer back, and the host can skip
    // parsing it again.
    bool is_dispatched_args(const char* args, size_t len) const {
        return args && args == dispatched_args_.data() && len == dispatched_args_.size();
    }
    // Marks `args` as the dispatched args while a chain runs.
    class EventArgsScope {
    public:
        EventArgsScope(HookDispatcher& hooks, std::string_view args) : hooks_(hooks) { hooks_.dispatched_args_ = args; }
        ~EventArgsScope() { hooks_.dispatched_args_ = {}; }
        EventArgsScope(const EventArgsScope&) = delete;
        EventArgsScope& operator=(const EventArgsScope&) = delete;

    private:
        HookDispatcher& hooks_;
    };

private:
    // Adds the time a hook takes to its module's total.
    class Timed {
    public:
        explicit Timed(ModuleInstance& m) : m_(m), start_(uv_hrtime()) {}
        ~Timed() { m_.hook_nanoseconds_total += uv_hrtime() - start_; }
        Timed(const Timed&) = delete;
        Timed& operator=(const Timed&) = delete;

    private:
        ModuleInstance& m_;
        uint64_t start_;
    };

    std::string_view dispatched_args_;
};

}  // namespace sb
