// Process-wide counters (see metrics.h).
#include "metrics.h"

namespace sb {

Metrics& metrics() {
    static Metrics m;
    return m;
}

void append_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void append_labelled(std::string& out, const char* name, const std::string& labels, uint64_t value) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

void append_metric(std::string& out, const char* name, const char* type, const char* help, uint64_t value) {
    append_header(out, name, type, help);
    append_labelled(out, name, "", value);
}

std::string render_core_metrics() {
    const Metrics& m = metrics();
    std::string out;
    append_header(out, "switchboard_connections", "gauge", "Open Engine.IO sessions by transport.");
    append_labelled(out, "switchboard_connections", "transport=\"polling\"", m.connections_polling);
    append_labelled(out, "switchboard_connections", "transport=\"websocket\"", m.connections_websocket);
    append_metric(out, "switchboard_sessions_opened_total", "counter", "Engine.IO sessions opened.", m.sessions_opened_total);
    append_metric(out, "switchboard_sessions_closed_total", "counter", "Engine.IO sessions closed.", m.sessions_closed_total);
    append_metric(out, "switchboard_packets_in_total", "counter", "Engine.IO packets received.", m.packets_in_total);
    append_metric(out, "switchboard_packets_out_total", "counter", "Engine.IO packets queued for sending.", m.packets_out_total);
    append_metric(out, "switchboard_bytes_in_total", "counter", "Payload bytes received.", m.bytes_in_total);
    append_metric(out, "switchboard_bytes_out_total", "counter", "Payload bytes written.", m.bytes_out_total);
    append_metric(out, "switchboard_upgrades_total", "counter", "Polling sessions upgraded to WebSocket.", m.upgrades_total);
    append_metric(out, "switchboard_ping_timeouts_total", "counter", "Sessions closed for a missing pong.", m.ping_timeouts_total);
    append_metric(out, "switchboard_protocol_errors_total", "counter", "Connections closed for malformed input.", m.protocol_errors_total);
    append_metric(out, "switchboard_send_queue_overflows_total", "counter",
                  "Sessions closed because their send queue exceeded limits.max_send_queue.", m.send_queue_overflows_total);
    append_metric(out, "switchboard_volatile_dropped_total", "counter",
                  "Volatile broadcasts skipped for a session whose earlier output was still unsent.",
                  m.volatile_dropped_total);
    append_metric(out, "switchboard_connections_refused_total", "counter",
                  "Connections refused (max_connections reached or shutting down).", m.connections_refused_total);
    append_header(out, "switchboard_reloads_total", "counter", "Configuration and module reloads by result.");
    append_labelled(out, "switchboard_reloads_total", "result=\"success\"", m.reloads_succeeded_total);
    append_labelled(out, "switchboard_reloads_total", "result=\"failure\"", m.reloads_failed_total);
    append_metric(out, "switchboard_module_unload_failures_total", "counter",
                  "Old module versions still mapped after unloading.", m.module_unload_failures_total);
    static const char* kReasons[] = {"transport_unknown", "session_id_unknown", "bad_handshake_method",
                                     "bad_request",       "forbidden",          "unsupported_protocol_version",
                                     "payload_too_large"};
    append_header(out, "switchboard_handshake_failures_total", "counter", "Refused Engine.IO requests by reason.");
    for (size_t i = 0; i < m.handshake_failures_total.size(); ++i)
        append_labelled(out, "switchboard_handshake_failures_total", std::string("reason=\"") + kReasons[i] + "\"",
                        m.handshake_failures_total[i]);
    return out;
}

}  // namespace sb
