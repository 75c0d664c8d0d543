// switchboard/storage.hpp — an optional, header-only C++20 layer over the
// storage calls of module.h (ABI 1.1), for module authors.
//
// Why it exists: the C calls take a function pointer and a user_data
// pointer, and the host drops pending callbacks when the module instance is
// destroyed (a reload), so whatever user_data points at must be owned by
// the instance, or it leaks. sb::Storage keeps each request's C++ callback
// in a table it owns: a module holds one sb::Storage as a member, passes
// lambdas, and everything still pending is freed with the instance. A
// callback that throws is caught and logged: it never reaches the host.
#ifndef SWITCHBOARD_STORAGE_HPP
#define SWITCHBOARD_STORAGE_HPP

#include <switchboard/module.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace sb {

// A stream entry with its bytes as text (module data is usually JSON).
inline std::string_view entry_text(const sb_stream_entry& e) {
    return {reinterpret_cast<const char*>(e.data), e.len};
}

// Whether the host offers the ABI 1.1 storage calls at all.
inline bool host_has_storage(const Host& host) {
    return host.api()->struct_size >= offsetof(sb_host_api, kv_scan) + sizeof(host.api()->kv_scan);
}

class Storage {
public:
    using AppendDone = std::function<void(sb_status, const sb_stream_entry*, bool duplicate)>;
    using EntriesDone = std::function<void(sb_status, std::span<const sb_stream_entry>)>;
    using ValueDone = std::function<void(sb_status, std::string_view)>;
    using Done = std::function<void(sb_status)>;

    explicit Storage(Host host) : host_(host) {}
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    // Each call returns the host's immediate status; the callback runs later
    // only when that status is SB_OK.
    sb_status append(const std::string& stream, const std::string* idempotency_key, std::string_view data,
                     AppendDone done) {
        auto [cookie, call] = keep(std::move(done));
        return check(cookie, api()->stream_append(ctx(), stream.c_str(), idempotency_key ? idempotency_key->c_str() : nullptr,
                                                  data.data(), data.size(), &on_append, cookie));
    }
    sb_status read(const std::string& stream, const sb_stream_query& query, EntriesDone done) {
        auto [cookie, call] = keep(std::move(done));
        return check(cookie, api()->stream_read(ctx(), stream.c_str(), &query, &on_entries, cookie));
    }
    sb_status trim(const std::string& stream, uint64_t max_count, uint64_t max_age_ms, Done done) {
        auto [cookie, call] = keep(std::move(done));
        return check(cookie, api()->stream_trim(ctx(), stream.c_str(), max_count, max_age_ms, &on_done, cookie));
    }
    sb_status get(const std::string& key, ValueDone done) {
        auto [cookie, call] = keep(std::move(done));
        return check(cookie, api()->kv_get(ctx(), key.c_str(), &on_value, cookie));
    }
    sb_status set(const std::string& key, std::string_view value, Done done) {
        auto [cookie, call] = keep(std::move(done));
        return check(cookie, api()->kv_set(ctx(), key.c_str(), value.data(), value.size(), 0, &on_done, cookie));
    }

    size_t pending() const { return calls_.size(); }

private:
    struct Call {
        Storage* owner;
        AppendDone append;
        EntriesDone entries;
        ValueDone value;
        Done done;
    };

    const sb_host_api* api() const { return host_.api(); }
    sb_module_ctx* ctx() const { return host_.ctx(); }

    template <typename F>
    std::pair<void*, Call*> keep(F done) {
        auto call = std::make_unique<Call>();
        call->owner = this;
        if constexpr (std::is_same_v<F, AppendDone>) call->append = std::move(done);
        else if constexpr (std::is_same_v<F, EntriesDone>) call->entries = std::move(done);
        else if constexpr (std::is_same_v<F, ValueDone>) call->value = std::move(done);
        else call->done = std::move(done);
        Call* raw = call.get();
        calls_.emplace(raw, std::move(call));
        return {raw, raw};
    }
    sb_status check(void* cookie, sb_status queued) {
        if (queued != SB_OK) calls_.erase(cookie);
        return queued;
    }

    // Takes the call out of the table (so a callback may start new requests)
    // and runs `invoke` on it, containing exceptions.
    template <typename Invoke>
    static void finish(void* cookie, Invoke invoke) {
        auto* raw = static_cast<Call*>(cookie);
        Storage* self = raw->owner;
        auto it = self->calls_.find(cookie);
        if (it == self->calls_.end()) return;
        std::unique_ptr<Call> call = std::move(it->second);
        self->calls_.erase(it);
        try {
            invoke(*call);
        } catch (const std::exception& e) {
            self->host_.log(SB_LOG_ERROR, std::string("storage callback failed: ") + e.what());
        } catch (...) {
            self->host_.log(SB_LOG_ERROR, "storage callback failed");
        }
    }

    static void on_append(void* cookie, sb_status status, const sb_stream_entry* entry, int duplicate) {
        finish(cookie, [&](Call& c) { c.append(status, entry, duplicate != 0); });
    }
    static void on_entries(void* cookie, sb_status status, const sb_stream_entry* entries, size_t count) {
        finish(cookie, [&](Call& c) { c.entries(status, std::span<const sb_stream_entry>(entries, entries ? count : 0)); });
    }
    static void on_value(void* cookie, sb_status status, const uint8_t* value, size_t len) {
        finish(cookie, [&](Call& c) {
            c.value(status, value ? std::string_view(reinterpret_cast<const char*>(value), len) : std::string_view());
        });
    }
    static void on_done(void* cookie, sb_status status) {
        finish(cookie, [&](Call& c) { c.done(status); });
    }

    Host host_;
    std::unordered_map<void*, std::unique_ptr<Call>> calls_;
};

}  // namespace sb

#endif  // SWITCHBOARD_STORAGE_HPP
