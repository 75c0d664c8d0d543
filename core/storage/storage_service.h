// The storage the host offers to modules: the configured backend plus the
// limits the host API enforces before a request reaches it. The server owns
// one; the module host hands it to the storage entries of the host API.
#pragma once

#include "config.h"
#include "storage_backend.h"

#include <uv.h>

#include <memory>
#include <string>

namespace sb::storage {

struct StorageService {
    std::unique_ptr<StorageBackend> backend;
    uint64_t max_value_size = 0;
};

// Opens the backend `config` names. Throws StorageError naming the file and
// the reason. `key_prefix` starts every Redis key (cluster.prefix). A Redis
// backend opens even while Redis is down: it connects in the background.
std::unique_ptr<StorageService> open_storage(uv_loop_t* loop, const StorageConfig& config, const std::string& key_prefix);

// For `switchboard -t`: checks the SQLite database without creating or
// changing anything (nothing for Redis). Throws StorageError.
void check_storage(const StorageConfig& config);

// switchboard_storage_* lines for /metrics ("" when storage is off).
std::string render_storage_metrics(const StorageService* service);

}  // namespace sb::storage
