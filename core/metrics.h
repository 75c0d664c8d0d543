// Process-wide counters exported at GET /metrics in the Prometheus text
// format.
//
// Operators alert on these, so names are stable and follow Prometheus
// conventions (_total for counters). Counters are plain integers: the loop
// thread is the only writer and the only reader.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace sb {

struct Metrics {
    uint64_t connections_polling = 0;    // gauge
    uint64_t connections_websocket = 0;  // gauge
    uint64_t sessions_opened_total = 0;
    uint64_t sessions_closed_total = 0;
    uint64_t packets_in_total = 0;
    uint64_t packets_out_total = 0;
    uint64_t bytes_in_total = 0;
    uint64_t bytes_out_total = 0;
    uint64_t upgrades_total = 0;
    uint64_t ping_timeouts_total = 0;
    uint64_t protocol_errors_total = 0;
    uint64_t send_queue_overflows_total = 0;
    uint64_t volatile_dropped_total = 0;  // volatile broadcasts not queued to a backed-up session
    uint64_t connections_refused_total = 0;  // max_connections reached or draining
    uint64_t reloads_succeeded_total = 0;
    uint64_t reloads_failed_total = 0;
    uint64_t module_unload_failures_total = 0;
    // Indexed by the Engine.IO error code (0..5); 6 = 413 payload too large.
    std::array<uint64_t, 7> handshake_failures_total{};
};

Metrics& metrics();

// Appends "# HELP/# TYPE" and one sample line.
void append_metric(std::string& out, const char* name, const char* type, const char* help, uint64_t value);
// Appends one labelled sample line (HELP/TYPE written by the caller once).
void append_labelled(std::string& out, const char* name, const std::string& labels, uint64_t value);
void append_header(std::string& out, const char* name, const char* type, const char* help);

// Renders the process-wide counters above.
std::string render_core_metrics();

}  // namespace sb
