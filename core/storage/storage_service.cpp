// Choosing and opening the storage backend, and its metrics (see storage_service.h).
#include "storage_service.h"

#include "metrics.h"
#include "redis_backend.h"
#include "sqlite_backend.h"

namespace sb::storage {
namespace {

SqliteOptions sqlite_options(const StorageConfig& config) {
    return SqliteOptions{config.path, config.synchronous_full, config.integrity_check};
}

}  // namespace

std::unique_ptr<StorageService> open_storage(uv_loop_t* loop, const StorageConfig& config, const std::string& key_prefix) {
    auto service = std::make_unique<StorageService>();
    service->max_value_size = config.max_value_size;
    // The config loader accepts only backends listed here.
    if (config.backend == "redis")
        service->backend = std::make_unique<RedisBackend>(loop, config.redis, key_prefix, config.max_queued);
    else
        service->backend = std::make_unique<SqliteBackend>(loop, sqlite_options(config), config.max_queued);
    return service;
}

// Redis is not contacted: it may well be down while the configuration is
// checked, and the server starts (and retries) anyway.
void check_storage(const StorageConfig& config) {
    if (config.backend == "sqlite") inspect_database(config.path);
}

std::string render_storage_metrics(const StorageService* service) {
    if (!service || !service->backend) return "";
    const StorageStats& s = service->backend->stats();
    struct Line {
        const char* name;
        const char* type;
        const char* help;
        uint64_t value;
    };
    const Line lines[] = {
        {"switchboard_storage_requests_total", "counter", "Storage requests accepted from modules.", s.requests_total},
        {"switchboard_storage_errors_total", "counter",
         "Storage requests that failed in the backend (I/O error, disk full, Redis unreachable, ...).", s.errors_total},
        {"switchboard_storage_rejected_total", "counter",
         "Storage requests refused because storage.max_queued were already waiting.", s.rejected_total},
        {"switchboard_storage_queued", "gauge", "Storage requests submitted and not yet completed.", s.queued},
        {"switchboard_storage_batches_total", "counter",
         "Batches executed, each in one transaction (SQLite: group commit; Redis: one script or command per request).",
         s.batches_total},
        {"switchboard_storage_batch_requests_total", "counter",
         "Requests executed in those batches (divided by batches: the mean batch size).", s.batch_ops_total},
        {"switchboard_storage_batch_microseconds_total", "counter",
         "Time spent executing and committing batches (divided by batches: the mean commit latency; Redis: the round trip).",
         s.commit_microseconds_total},
        {"switchboard_storage_expired_keys_purged_total", "counter",
         "Expired key-value pairs deleted (SQLite: by the periodic sweep; Redis: by the requests that met them).", s.expired_keys_purged_total},
    };
    std::string out;
    for (const Line& l : lines) append_metric(out, l.name, l.type, l.help, l.value);
    return out;
}

}  // namespace sb::storage
