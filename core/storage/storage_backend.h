// The interface between the host and whatever keeps module data: SQLite in a
// local file today, a shared server (Redis) for a cluster later. The host API
// and the modules only ever see this, so adding a backend touches neither.
#pragma once

#include "storage_op.h"

#include <stdexcept>
#include <string>

namespace sb::storage {

// A backend that cannot be opened: the message names the file or address and
// the reason, ready for the operator.
class StorageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What the backend did, for /metrics. Counted on the loop thread.
struct StorageStats {
    uint64_t requests_total = 0;
    uint64_t errors_total = 0;
    uint64_t rejected_total = 0;      // refused at submit: queue full
    uint64_t batches_total = 0;       // transactions committed (or attempted)
    uint64_t batch_ops_total = 0;     // requests executed inside those batches
    uint64_t commit_microseconds_total = 0;
    uint64_t expired_keys_purged_total = 0;
    uint64_t queued = 0;              // gauge: submitted, not yet completed
};

class StorageBackend {
public:
    virtual ~StorageBackend() = default;

    // Queues `op`. Its `done` runs later on the loop thread, exactly once;
    // requests complete in the order submitted. Returns false (and never
    // runs `done`) when the backend cannot take more work right now.
    virtual bool submit(StorageOpPtr op) = 0;

    virtual const StorageStats& stats() const = 0;
    // "sqlite /var/lib/switchboard/switchboard.db", for the log.
    virtual std::string describe() const = 0;
};

}  // namespace sb::storage
