// The storage entries of the host API (see host_api_storage.h).
//
// Scoping: every request carries the calling module's name as its scope, so
// two modules using the same stream or key name never see each other's data.
// Reload safety: a completion holds only a weak reference to the instance
// that asked; once that instance is destroyed (unload, or replaced by a
// reload) its callbacks are dropped, so the host never calls into code that
// may already be unmapped. The request itself still completes.
#include "host_api_storage.h"

#include "log.h"
#include "module_host.h"
#include "storage/storage_service.h"

#include <cstring>
#include <string_view>
#include <vector>

namespace sb::storage {
namespace {

constexpr size_t kMaxNameBytes = 512;

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (extra == 4 || (extra == 1 && c < 0xC2) || i + extra >= s.size()) return false;
        uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
        for (size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += extra + 1;
    }
    return true;
}

// Stream names, keys and idempotency keys: 1 to 512 bytes of UTF-8.
bool valid_name(const char* name) {
    if (!name) return false;
    const size_t n = strnlen(name, kMaxNameBytes + 1);
    return n >= 1 && n <= kMaxNameBytes && valid_utf8({name, n});
}

// A prefix or a continuation key may also be empty.
bool valid_optional_name(const char* name) { return !name || !*name || valid_name(name); }

StorageService* service_of(sb_module_ctx* ctx) {
    if (!ctx || !ctx->host || !ctx->instance) return nullptr;
    StorageService* s = ctx->host->services().storage;
    return s && s->backend ? s : nullptr;
}

// Scopes `op` to the caller and submits it; `deliver` runs with the result
// on the loop thread while the caller's instance is alive.
template <typename Deliver>
sb_status submit(sb_module_ctx* ctx, StorageService& service, StorageOpPtr op, Deliver deliver) {
    ModuleInstance* instance = ctx->instance;
    HookDispatcher* hooks = &ctx->host->hooks();
    op->scope = instance->name;
    std::weak_ptr<const bool> alive = instance->liveness;
    op->done = [instance, hooks, alive = std::move(alive), deliver = std::move(deliver)](StorageOp& result) {
        if (result.status == SB_ERR_INTERNAL) log::error("storage", "module " + result.scope + ": " + result.error);
        if (alive.expired()) return;  // the instance, and maybe its host, are gone
        hooks->call_back(*instance, [&] { deliver(result); });
    };
    return service.backend->submit(std::move(op)) ? SB_OK : SB_ERR_UNAVAILABLE;
}

StorageOpPtr make_op(OpKind kind, const char* name) {
    auto op = std::make_unique<StorageOp>();
    op->kind = kind;
    op->name = name ? name : "";
    return op;
}

sb_status check_value(const StorageService& service, const void* data, size_t len) {
    if (!data && len) return SB_ERR_INVALID;
    if (len > service.max_value_size) return SB_ERR_TOO_LARGE;
    return SB_OK;
}

auto done_delivery(sb_done_cb cb, void* user_data) {
    return [cb, user_data](StorageOp& r) {
        if (cb) cb(user_data, r.status);
    };
}

}  // namespace

sb_status api_stream_append(sb_module_ctx* ctx, const char* stream, const char* idempotency_key, const void* data,
                            size_t len, sb_append_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(stream) || (idempotency_key && !valid_name(idempotency_key))) return SB_ERR_INVALID;
    if (sb_status s = check_value(*service, data, len); s != SB_OK) return s;
    auto op = make_op(OpKind::Append, stream);
    op->has_idempotency_key = idempotency_key != nullptr;
    if (idempotency_key) op->idempotency_key = idempotency_key;
    if (len) op->data.assign(static_cast<const char*>(data), len);
    return submit(ctx, *service, std::move(op), [cb, user_data](StorageOp& r) {
        if (!cb) return;
        if (r.status != SB_OK || r.entries.empty()) return cb(user_data, r.status == SB_OK ? SB_ERR_INTERNAL : r.status, nullptr, 0);
        const StoredEntry& e = r.entries.front();
        const sb_stream_entry entry{e.id, e.ts_ms, reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size()};
        cb(user_data, SB_OK, &entry, r.duplicate ? 1 : 0);
    });
}

sb_status api_stream_read(sb_module_ctx* ctx, const char* stream, const sb_stream_query* query, sb_entries_cb cb,
                          void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(stream) || !query || query->struct_size < sizeof(sb_stream_query) || !cb) return SB_ERR_INVALID;
    auto op = make_op(OpKind::Read, stream);
    op->after_id = query->after_id;
    op->before_id = query->before_id;
    op->limit = query->limit;
    op->newest_first = query->newest_first != 0;
    return submit(ctx, *service, std::move(op), [cb, user_data](StorageOp& r) {
        std::vector<sb_stream_entry> entries;
        entries.reserve(r.entries.size());
        for (const auto& e : r.entries)
            entries.push_back({e.id, e.ts_ms, reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size()});
        cb(user_data, r.status, entries.data(), entries.size());
    });
}

sb_status api_stream_trim(sb_module_ctx* ctx, const char* stream, uint64_t max_count, uint64_t max_age_ms,
                          sb_done_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(stream)) return SB_ERR_INVALID;
    auto op = make_op(OpKind::Trim, stream);
    op->max_count = max_count;
    op->max_age_ms = max_age_ms;
    return submit(ctx, *service, std::move(op), done_delivery(cb, user_data));
}

sb_status api_kv_get(sb_module_ctx* ctx, const char* key, sb_value_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(key) || !cb) return SB_ERR_INVALID;
    return submit(ctx, *service, make_op(OpKind::KvGet, key), [cb, user_data](StorageOp& r) {
        if (r.status != SB_OK || r.pairs.empty()) return cb(user_data, r.status == SB_OK ? SB_ERR_NOT_FOUND : r.status, nullptr, 0);
        const std::string& v = r.pairs.front().value;
        cb(user_data, SB_OK, reinterpret_cast<const uint8_t*>(v.data()), v.size());
    });
}

sb_status api_kv_set(sb_module_ctx* ctx, const char* key, const void* value, size_t len, uint64_t ttl_ms,
                     sb_done_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(key)) return SB_ERR_INVALID;
    if (sb_status s = check_value(*service, value, len); s != SB_OK) return s;
    auto op = make_op(OpKind::KvSet, key);
    if (len) op->data.assign(static_cast<const char*>(value), len);
    op->ttl_ms = ttl_ms;
    return submit(ctx, *service, std::move(op), done_delivery(cb, user_data));
}

sb_status api_kv_delete(sb_module_ctx* ctx, const char* key, sb_done_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_name(key)) return SB_ERR_INVALID;
    return submit(ctx, *service, make_op(OpKind::KvDelete, key), done_delivery(cb, user_data));
}

sb_status api_kv_scan(sb_module_ctx* ctx, const char* prefix, const char* after_key, size_t limit,
                      sb_kv_entries_cb cb, void* user_data) {
    StorageService* service = service_of(ctx);
    if (!service) return SB_ERR_UNAVAILABLE;
    if (!valid_optional_name(prefix) || !valid_optional_name(after_key) || !cb) return SB_ERR_INVALID;
    auto op = make_op(OpKind::KvScan, prefix);
    op->after_key = after_key ? after_key : "";
    op->limit = limit;
    return submit(ctx, *service, std::move(op), [cb, user_data](StorageOp& r) {
        std::vector<sb_kv_entry> entries;
        entries.reserve(r.pairs.size());
        for (const auto& p : r.pairs)
            entries.push_back({p.key.c_str(), reinterpret_cast<const uint8_t*>(p.value.data()), p.value.size()});
        cb(user_data, r.status, entries.data(), entries.size());
    });
}

}  // namespace sb::storage
