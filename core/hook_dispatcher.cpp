// The one caller of module code (see hook_dispatcher.h): the hooks that run
// rarely (lifecycle, timers, handover, handshake, HTTP, cluster).
#include "hook_dispatcher.h"

namespace sb {

ModuleHooks HookDispatcher::resolve(const sb_module_descriptor& d) {
    ModuleHooks h;
    h.create = SB_DESCRIPTOR_FIELD(&d, create);
    h.destroy = SB_DESCRIPTOR_FIELD(&d, destroy);
    h.on_connect = SB_DESCRIPTOR_FIELD(&d, on_connect);
    h.on_event = SB_DESCRIPTOR_FIELD(&d, on_event);
    h.on_disconnect = SB_DESCRIPTOR_FIELD(&d, on_disconnect);
    h.on_timer = SB_DESCRIPTOR_FIELD(&d, on_timer);
    h.export_state = SB_DESCRIPTOR_FIELD(&d, export_state);
    h.import_state = SB_DESCRIPTOR_FIELD(&d, import_state);
    h.on_handshake = SB_DESCRIPTOR_FIELD(&d, on_handshake);
    h.on_room = SB_DESCRIPTOR_FIELD(&d, on_room);
    h.on_http = SB_DESCRIPTOR_FIELD(&d, on_http);
    h.on_cluster = SB_DESCRIPTOR_FIELD(&d, on_cluster);
    return h;
}

void* HookDispatcher::create(ModuleInstance& m, const sb_host_api* api, const char* config_json, sb_error* error) {
    if (!m.hooks.create) return nullptr;
    Timed t(m);
    return m.hooks.create(&m.ctx, api, config_json, error);
}

void HookDispatcher::destroy(ModuleInstance& m) {
    if (m.hooks.destroy && m.state) m.hooks.destroy(m.state);
    m.state = nullptr;
}

void HookDispatcher::timer(ModuleInstance& m, sb_timer_id id, void* user_data) {
    if (!m.hooks.on_timer) return;
    Timed t(m);
    m.hooks.on_timer(m.state, id, user_data);
}

sb_status HookDispatcher::export_state(ModuleInstance& m, std::string& bytes) {
    if (!m.hooks.export_state) return SB_ERR_UNAVAILABLE;
    sb_state_writer writer{[](sb_state_writer* w, const void* data, size_t len) {
                               static_cast<std::string*>(w->host_data)->append(static_cast<const char*>(data), len);
                           },
                           &bytes};
    Timed t(m);
    return m.hooks.export_state(m.state, &writer);
}

sb_status HookDispatcher::import_state(ModuleInstance& m, std::string_view bytes, sb_error* error) {
    if (!m.hooks.import_state) return SB_ERR_UNAVAILABLE;
    Timed t(m);
    return m.hooks.import_state(m.state, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), error);
}

int HookDispatcher::handshake(const std::vector<std::unique_ptr<ModuleInstance>>& modules, const sb_handshake_info& info,
                              std::string& message) {
    for (const auto& m : modules) {
        if (!m->hooks.on_handshake) continue;
        ErrorBuffer err;
        int status;
        {
            Timed t(*m);
            status = m->hooks.on_handshake(m->state, &info, &err.error);
        }
        if (status == 0) continue;
        m->rejects_total++;
        if (status < 400 || status > 599) status = 403;
        message = err.message[0] ? err.message : "Connection refused";
        return status;
    }
    return 0;
}

void HookDispatcher::http(ModuleInstance& m, const sb_http_request& request, sb_http_response* response) {
    if (!m.hooks.on_http) return;
    {
        Timed t(m);
        m.hooks.on_http(m.state, &request, response);
    }
    m.events_total++;
}

void HookDispatcher::cluster(const std::vector<std::unique_ptr<ModuleInstance>>& modules, const sb_cluster_event& event,
                             const std::string* only) {
    for (const auto& m : modules) {
        if (!m->hooks.on_cluster || (only && m->name != *only)) continue;
        Timed t(*m);
        m->hooks.on_cluster(m->state, &event);
    }
}

}  // namespace sb
