// The module host (see module_host.h).
#include "module_host.h"

#include "encoding.h"
#include "log.h"
#include "metrics.h"

#include <boost/dll/shared_library_load_mode.hpp>
#include <dlfcn.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace sb {
namespace {

constexpr const char* kComponent = "modules";

const char* type_name(sb_config_type t) {
    switch (t) {
        case SB_CONFIG_STRING: return "a string";
        case SB_CONFIG_INTEGER: return "an integer";
        case SB_CONFIG_NUMBER: return "a number";
        case SB_CONFIG_BOOLEAN: return "true or false";
        case SB_CONFIG_OBJECT: return "a mapping";
        case SB_CONFIG_ARRAY: return "a list";
        default: return "a value";
    }
}

bool has_type(const rapidjson::Value& v, sb_config_type t) {
    switch (t) {
        case SB_CONFIG_STRING: return v.IsString();
        case SB_CONFIG_INTEGER: return v.IsInt64() || v.IsUint64();
        case SB_CONFIG_NUMBER: return v.IsNumber();
        case SB_CONFIG_BOOLEAN: return v.IsBool();
        case SB_CONFIG_OBJECT: return v.IsObject();
        case SB_CONFIG_ARRAY: return v.IsArray();
        default: return true;
    }
}

// Checks a module's configuration against the keys its descriptor declares.
void validate_config_keys(const ModuleConfig& mc, const sb_module_descriptor* d, const std::string& source) {
    const sb_config_key* keys = SB_DESCRIPTOR_FIELD(d, config_keys);
    const size_t count = SB_DESCRIPTOR_FIELD(d, config_key_count);
    if (!keys) return;
    rapidjson::Document config;
    config.Parse(mc.config_json.c_str(), mc.config_json.size());
    auto where = [&](const std::string& key) {
        auto line = mc.config_key_lines.find(key);
        int n = line != mc.config_key_lines.end() ? line->second : mc.line;
        return source + ":" + std::to_string(n) + ": modules." + mc.name + ".config" + (key.empty() ? "" : "." + key) + ": ";
    };
    std::string known;
    for (size_t i = 0; i < count; ++i) known += (i ? ", " : "") + std::string(keys[i].name);
    for (auto& m : config.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        const sb_config_key* spec = nullptr;
        for (size_t i = 0; i < count; ++i)
            if (key == keys[i].name) spec = &keys[i];
        if (!spec)
            throw ModuleError(where(key) + "unknown key for module '" + mc.name + "' (known keys: " +
                              (known.empty() ? "none" : known) + ")");
        if (!has_type(m.value, spec->type)) throw ModuleError(where(key) + "expected " + type_name(spec->type));
    }
    for (size_t i = 0; i < count; ++i)
        if (keys[i].required && !config.HasMember(keys[i].name))
            throw ModuleError(where("") + "missing required key '" + keys[i].name + "'");
}

}  // namespace

ModuleLibrary::~ModuleLibrary() {
    if (!library.is_loaded()) return;
    library.unload();
    // dlclose() can silently keep code mapped (STB_GNU_UNIQUE symbols, a
    // thread_local with a destructor): ask the loader whether it is gone.
    if (void* still = dlopen(copy_path.c_str(), RTLD_NOLOAD | RTLD_LAZY)) {
        dlclose(still);
        metrics().module_unload_failures_total++;
        log::warn(kComponent, "module code " + copy_path +
                                  " is still mapped after unloading (STB_GNU_UNIQUE symbols or thread_local "
                                  "destructors?); its old version stays in memory");
        return;
    }
    ::unlink(copy_path.c_str());
}

std::string ReloadSummary::describe() const {
    std::string out;
    auto part = [&](const char* what, const std::vector<std::string>& names) {
        if (names.empty()) return;
        if (!out.empty()) out += "; ";
        out += what;
        out += ": ";
        for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
    };
    part("added", added);
    part("replaced (new code)", replaced);
    part("reconfigured", reconfigured);
    part("removed", removed);
    part("unchanged", unchanged);
    return out.empty() ? "no modules" : out;
}

struct ModuleHost::Timer {
    uv_timer_t handle;
    sb_timer_id id;
    ModuleInstance* module;
    ModuleHost* host;
    void* user_data;
    bool repeating;
};

ModuleHost::ModuleHost(uv_loop_t* loop, std::string modules_dir, const HostServices& services)
    : loop_(loop), modules_dir_(std::move(modules_dir)), services_(services) {}

ModuleHost::~ModuleHost() {
    unload_all();
    libraries_.clear();
    if (!runtime_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir_, ec);
    }
}

std::string ModuleHost::resolve(const ModuleConfig& mc) const {
    std::filesystem::path file(mc.file);
    if (file.is_relative()) file = std::filesystem::path(modules_dir_) / file;
    return file.string();
}

std::shared_ptr<ModuleLibrary> ModuleHost::load_library(const std::string& who, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModuleError(who + ": file not found or unreadable (check modules_path or --modules-path)");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string digest = sha256_hex(bytes);
    if (auto it = libraries_.find(digest); it != libraries_.end())
        if (auto alive = it->second.lock()) return alive;

    if (runtime_dir_.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/switchboard-modules-XXXXXX";
        if (!mkdtemp(templ.data())) throw ModuleError(who + ": cannot create a private directory under " + templ);
        runtime_dir_ = templ;
    }
    const std::string name = std::filesystem::path(path).stem().string();
    const std::string copy = runtime_dir_ + "/" + name + "-" + digest.substr(0, 16) + ".so";
    if (!std::filesystem::exists(copy)) {
        const std::string partial = copy + ".part";
        {
            std::ofstream out(partial, std::ios::binary | std::ios::trunc);
            out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            if (!out) throw ModuleError(who + ": cannot write a private copy to " + runtime_dir_);
        }
        std::filesystem::rename(partial, copy);
    }
    auto lib = std::make_shared<ModuleLibrary>();
    lib->digest = digest;
    lib->copy_path = copy;
    try {
        // RTLD_LOCAL keeps each module's symbols to itself; RTLD_NOW reports
        // a missing dependency now, not at the first event.
        lib->library.load(boost::dll::fs::path(copy), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        ::unlink(copy.c_str());
        throw ModuleError(who + ": cannot be loaded: " + e.what());
    }
    libraries_[digest] = lib;
    return lib;
}

std::unique_ptr<ModuleInstance> ModuleHost::instantiate(const ModuleConfig& mc, const std::string& config_source) {
    auto m = std::make_unique<ModuleInstance>();
    m->name = mc.name;
    m->path = resolve(mc);
    m->config_json = mc.config_json;
    const std::string who = "module '" + mc.name + "' (" + m->path + ")";
    m->library = load_library(who, m->path);
    auto& lib = m->library->library;
    if (!lib.has(SB_MODULE_ENTRY_SYMBOL))
        throw ModuleError(who + ": not a Switchboard module (missing symbol " SB_MODULE_ENTRY_SYMBOL ")");
    const sb_module_descriptor* d = HookDispatcher::describe(lib.get<const sb_module_descriptor*()>(SB_MODULE_ENTRY_SYMBOL));
    if (!d) throw ModuleError(who + ": entry point returned no descriptor");
    if (d->struct_size < offsetof(sb_module_descriptor, on_timer) + sizeof(d->on_timer))
        throw ModuleError(who + ": descriptor is too small (struct_size " + std::to_string(d->struct_size) + ")");
    if (d->abi_major != SB_ABI_MAJOR)
        throw ModuleError(who + ": built for ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                          ", this host speaks ABI " + std::to_string(SB_ABI_MAJOR) + "." + std::to_string(SB_ABI_MINOR) +
                          " (rebuild the module against this host's header)");
    if (!d->create) throw ModuleError(who + ": descriptor has no create hook");
    validate_config_keys(mc, d, config_source);
    m->descriptor = d;
    m->hooks = HookDispatcher::resolve(*d);
    m->ctx = sb_module_ctx{this, m.get()};
    ErrorBuffer err;
    void* state = hooks_.create(*m, host_api(), mc.config_json.c_str(), &err.error);
    if (!state) {
        stop_timers_of(*m);
        throw ModuleError("module '" + mc.name + "': configuration refused: " +
                          (err.message[0] ? err.message : "no reason given"));
    }
    m->state = state;
    return m;
}

void ModuleHost::load_all(const std::vector<ModuleConfig>& configs, const std::string& config_source) {
    for (const auto& mc : configs) {
        auto m = instantiate(mc, config_source);
        log::info(kComponent, "loaded " + mc.name + " " + (m->descriptor->version ? m->descriptor->version : "") +
                                  " from " + m->path);
        modules_.push_back(std::move(m));
    }
}

void ModuleHost::destroy(std::unique_ptr<ModuleInstance> m) {
    stop_timers_of(*m);
    if (services_.routes) services_.routes->forget_instance(*m);
    hooks_.destroy(*m);
    // Dropping the last reference to the library unloads it (ModuleLibrary).
}

void ModuleHost::unload_all() {
    // Reverse order: a module loaded later may depend on an earlier one's effects.
    while (!modules_.empty()) {
        auto m = std::move(modules_.back());
        modules_.pop_back();
        destroy(std::move(m));
    }
}

ReloadSummary ModuleHost::reload(const std::vector<ModuleConfig>& next, const std::string& config_source,
                                 const std::function<void()>& swap_routing) {
    ReloadSummary summary;
    std::vector<std::unique_ptr<ModuleInstance>> fresh;     // created for this reload
    std::vector<ModuleInstance*> replaced_old;              // parallel to `fresh`, or nullptr when added
    std::vector<std::unique_ptr<ModuleInstance>> result;    // the new running set, in config order
    auto discard_fresh = [&] {
        for (auto& f : fresh) destroy(std::move(f));
    };
    try {
        for (const auto& mc : next) {
            ModuleInstance* old = find(mc.name);
            if (old && old->path == resolve(mc) && old->config_json == mc.config_json) {
                std::ifstream in(old->path, std::ios::binary);
                if (!in) throw ModuleError("module '" + mc.name + "' (" + old->path + "): file not found or unreadable");
                std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                if (sha256_hex(bytes) == old->library->digest) {
                    summary.unchanged.push_back(mc.name);
                    continue;
                }
            }
            fresh.push_back(instantiate(mc, config_source));
            replaced_old.push_back(old);
            if (!old) summary.added.push_back(mc.name);
            else if (old->library == fresh.back()->library) summary.reconfigured.push_back(mc.name);
            else summary.replaced.push_back(mc.name);
        }
        // State handover, still without changing anything that runs.
        for (size_t i = 0; i < fresh.size(); ++i) {
            ModuleInstance* old = replaced_old[i];
            if (!old) continue;
            if (!HookDispatcher::can_hand_over(*old, *fresh[i])) continue;
            std::string bytes;
            sb_status st = hooks_.export_state(*old, bytes);
            if (st != SB_OK) throw ModuleError("module '" + old->name + "': exporting its state failed (status " + std::to_string(st) + ")");
            ErrorBuffer err;
            st = hooks_.import_state(*fresh[i], bytes, &err.error);
            if (st != SB_OK)
                throw ModuleError("module '" + fresh[i]->name + "': importing the previous version's state failed: " +
                                  (err.message[0] ? err.message : "no reason given"));
        }
    } catch (...) {
        discard_fresh();
        throw;
    }

    // Commit: from here nothing fails.
    std::vector<std::unique_ptr<ModuleInstance>> retired;
    std::map<std::string, std::unique_ptr<ModuleInstance>> running;
    for (auto& m : modules_) running[m->name] = std::move(m);
    modules_.clear();
    size_t next_fresh = 0;
    for (const auto& mc : next) {
        if (next_fresh < fresh.size() && fresh[next_fresh]->name == mc.name) {
            if (auto it = running.find(mc.name); it != running.end()) {
                // Counters continue across versions, as operators expect.
                ModuleInstance& f = *fresh[next_fresh];
                f.events_total = it->second->events_total;
                f.errors_total = it->second->errors_total;
                f.rejects_total = it->second->rejects_total;
                f.hook_nanoseconds_total = it->second->hook_nanoseconds_total;
                f.counters = it->second->counters;
                retired.push_back(std::move(it->second));
                running.erase(it);
            }
            modules_.push_back(std::move(fresh[next_fresh++]));
        } else {
            modules_.push_back(std::move(running[mc.name]));
            running.erase(mc.name);
        }
    }
    for (auto& [name, m] : running) {
        summary.removed.push_back(name);
        retired.push_back(std::move(m));
    }
    swap_routing();
    for (auto& m : retired) destroy(std::move(m));
    return summary;
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
    host->hooks_.timer(m, id, user);
}

int ModuleHost::admit(const sb_handshake_info& info, std::string& message) {
    return hooks_.handshake(modules_, info, message);
}

void ModuleHost::cluster_event(sb_cluster_event_kind kind, const std::string& node, const std::string* module,
                               std::string_view data) {
    const sb_cluster_event e{sizeof(sb_cluster_event), kind, node.c_str(), data.data(), data.size()};
    hooks_.cluster(modules_, e, module);
}

std::string ModuleHost::render_metrics() const {
    std::string out;
    // Module-defined counters, grouped by metric name.
    std::map<std::string, std::vector<std::string>> samples;
    for (const auto& m : modules_)
        for (const auto& [key, value] : m->counters)
            samples[key.first].push_back("{module=\"" + m->name + "\"" + (key.second.empty() ? "" : "," + key.second) +
                                         "} " + std::to_string(value));
    for (const auto& [name, lines] : samples) {
        const std::string metric = "switchboard_" + name + "_total";
        append_header(out, metric.c_str(), "counter", "Counted by a module.");
        for (const auto& l : lines) out += metric + l + "\n";
    }
    auto each = [&](const char* name, const char* help, auto value) {
        append_header(out, name, "counter", help);
        for (const auto& m : modules_) append_labelled(out, name, "module=\"" + m->name + "\"", value(*m));
    };
    each("switchboard_module_events_total", "Events a module handled.", [](const ModuleInstance& m) { return m.events_total; });
    each("switchboard_module_errors_total", "Hook failures reported by a module.",
         [](const ModuleInstance& m) { return m.errors_total; });
    each("switchboard_module_rejections_total", "Events or connections a module refused.",
         [](const ModuleInstance& m) { return m.rejects_total; });
    each("switchboard_module_hook_microseconds_total", "Time spent inside a module's hooks.",
         [](const ModuleInstance& m) { return m.hook_nanoseconds_total / 1000; });
    return out;
}

}  // namespace sb
