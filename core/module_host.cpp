// The module host (see module_host.h).
#include "module_host.h"

#include "log.h"
#include "metrics.h"

#include <boost/dll/shared_library_load_mode.hpp>

#include <filesystem>

namespace sb {

struct ModuleHost::Timer {
    uv_timer_t handle;
    sb_timer_id id;
    ModuleInstance* module;
    ModuleHost* host;
    void* user_data;
    bool repeating;
};

ModuleHost::ModuleHost(uv_loop_t* loop, std::string modules_dir) : loop_(loop), modules_dir_(std::move(modules_dir)) {}

ModuleHost::~ModuleHost() { unload_all(); }

void ModuleHost::load_all(const std::vector<ModuleConfig>& configs) {
    for (const auto& mc : configs) {
        auto m = std::make_unique<ModuleInstance>();
        m->name = mc.name;
        std::filesystem::path file(mc.file);
        if (file.is_relative()) file = std::filesystem::path(modules_dir_) / file;
        m->path = file.string();
        const std::string who = "module '" + mc.name + "' (" + m->path + ")";
        if (!std::filesystem::exists(file))
            throw ModuleError(who + ": file not found (check modules_path or --modules-path)");
        try {
            // RTLD_LOCAL keeps each module's symbols to itself; RTLD_NOW
            // reports a missing dependency now, not at the first event.
            m->library.load(boost::dll::fs::path(m->path),
                            boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
        } catch (const std::exception& e) {
            throw ModuleError(who + ": cannot be loaded: " + e.what());
        }
        if (!m->library.has(SB_MODULE_ENTRY_SYMBOL))
            throw ModuleError(who + ": not a Switchboard module (missing symbol " SB_MODULE_ENTRY_SYMBOL ")");
        auto& entry = m->library.get<const sb_module_descriptor*()>(SB_MODULE_ENTRY_SYMBOL);
        const sb_module_descriptor* d = entry();
        if (!d) throw ModuleError(who + ": entry point returned no descriptor");
        if (d->struct_size < offsetof(sb_module_descriptor, on_timer) + sizeof(d->on_timer))
            throw ModuleError(who + ": descriptor is too small (struct_size " + std::to_string(d->struct_size) + ")");
        if (d->abi_major != SB_ABI_MAJOR)
            throw ModuleError(who + ": built for ABI " + std::to_string(d->abi_major) + "." +
                              std::to_string(d->abi_minor) + ", this host speaks ABI " + std::to_string(SB_ABI_MAJOR) +
                              "." + std::to_string(SB_ABI_MINOR) + " (rebuild the module against this host's header)");
        if (!d->create) throw ModuleError(who + ": descriptor has no create hook");
        m->descriptor = d;
        m->ctx = sb_module_ctx{this, m.get()};
        char message[512] = "";
        sb_error err{message, sizeof message};
        void* state = nullptr;
        {
            HookTimer t(*m);
            state = d->create(&m->ctx, host_api(), mc.config_json.c_str(), &err);
        }
        if (!state) {
            stop_timers_of(*m);
            throw ModuleError("module '" + mc.name + "': configuration refused: " +
                              (message[0] ? message : "no reason given"));
        }
        m->state = state;
        log::info("modules", "loaded " + mc.name + " " + (d->version ? d->version : "") + " from " + m->path);
        modules_.push_back(std::move(m));
    }
}

void ModuleHost::unload_all() {
    // Reverse order: a module loaded later may depend on an earlier one's effects.
    while (!modules_.empty()) {
        auto& m = modules_.back();
        stop_timers_of(*m);
        if (m->descriptor && m->descriptor->destroy && m->state) m->descriptor->destroy(m->state);
        m->state = nullptr;
        modules_.pop_back();
    }
}

ModuleInstance* ModuleHost::find(std::string_view name) const {
    for (const auto& m : modules_)
        if (m->name == name) return m.get();
    return nullptr;
}

sb_timer_id ModuleHost::start_timer(ModuleInstance& m, uint64_t delay_ms, uint64_t repeat_ms, void* user_data) {
    auto* t = new Timer{};
    t->id = next_timer_id_++;
    t->module = &m;
    t->host = this;
    t->user_data = user_data;
    t->repeating = repeat_ms > 0;
    uv_timer_init(loop_, &t->handle);
    t->handle.data = t;
    uv_timer_start(&t->handle, on_timer, delay_ms, repeat_ms);
    timers_.emplace(t->id, t);
    return t->id;
}

sb_status ModuleHost::stop_timer(ModuleInstance& m, sb_timer_id id) {
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second->module != &m) return SB_ERR_NOT_FOUND;
    Timer* t = it->second;
    timers_.erase(it);
    uv_timer_stop(&t->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&t->handle), [](uv_handle_t* h) { delete static_cast<Timer*>(h->data); });
    return SB_OK;
}

void ModuleHost::stop_timers_of(ModuleInstance& m) {
    std::vector<sb_timer_id> ids;
    for (auto& [id, t] : timers_)
        if (t->module == &m) ids.push_back(id);
    for (auto id : ids) stop_timer(m, id);
}

void ModuleHost::on_timer(uv_timer_t* handle) {
    auto* t = static_cast<Timer*>(handle->data);
    ModuleHost* host = t->host;
    ModuleInstance& m = *t->module;
    const sb_timer_id id = t->id;
    void* user = t->user_data;
    if (!t->repeating) host->stop_timer(m, id);  // one-shot: gone before the hook runs
    if (m.descriptor->on_timer) {
        HookTimer timer(m);
        m.descriptor->on_timer(m.state, id, user);
    }
}

std::string ModuleHost::render_metrics() const {
    std::string out;
    append_header(out, "switchboard_module_events_total", "counter", "Events a module handled.");
    for (const auto& m : modules_)
        append_labelled(out, "switchboard_module_events_total", "module=\"" + m->name + "\"", m->events_total);
    append_header(out, "switchboard_module_errors_total", "counter", "Hook failures reported by a module.");
    for (const auto& m : modules_)
        append_labelled(out, "switchboard_module_errors_total", "module=\"" + m->name + "\"", m->errors_total);
    append_header(out, "switchboard_module_rejections_total", "counter", "Events or connections a module refused.");
    for (const auto& m : modules_)
        append_labelled(out, "switchboard_module_rejections_total", "module=\"" + m->name + "\"", m->rejects_total);
    append_header(out, "switchboard_module_hook_microseconds_total", "counter", "Time spent inside a module's hooks.");
    for (const auto& m : modules_)
        append_labelled(out, "switchboard_module_hook_microseconds_total", "module=\"" + m->name + "\"",
                        m->hook_nanoseconds_total / 1000);
    return out;
}

}  // namespace sb
