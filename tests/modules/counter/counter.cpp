// Test-only module "counter", built twice (counter_v1.so, counter_v2.so)
// from this source with a different COUNTER_VERSION, to prove hot reload:
// the new code answers and the count kept by the old version carries over
// through export_state/import_state.
//   "count" ack   -> increments, acks {version, count, label}
//   "version" ack -> acks the version number
// Config keys: start (integer, the first count), label (string).
#include <switchboard/module.h>

#include <rapidjson/document.h>

#include <cstdio>
#include <cstring>
#include <string>

#ifndef COUNTER_VERSION
#define COUNTER_VERSION 1
#endif

namespace {

struct Counter {
    sb_module_ctx* ctx;
    const sb_host_api* host;
    long long count;
    std::string label;
};

const sb_config_key kConfigKeys[] = {
    {"start", SB_CONFIG_INTEGER, 0, "the count before the first event"},
    {"label", SB_CONFIG_STRING, 0, "echoed in every answer"},
};

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char* config_json, sb_error*) {
    rapidjson::Document config;
    config.Parse(config_json);
    auto* c = new Counter{ctx, host, 0, ""};
    if (config.HasMember("start")) c->count = config["start"].GetInt64();
    if (config.HasMember("label")) c->label = config["label"].GetString();
    return c;
}

void destroy(void* state) { delete static_cast<Counter*>(state); }

void ack(Counter* c, sb_socket_id socket, int64_t id, const std::string& args) {
    if (id >= 0) c->host->ack(c->ctx, socket, id, args.data(), args.size(), nullptr, 0);
}

sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error*) {
    auto* c = static_cast<Counter*>(state);
    if (std::strcmp(ev->name, "count") == 0) {
        ++c->count;
        ack(c, socket, ev->ack_id,
            "[{\"version\":" + std::to_string(COUNTER_VERSION) + ",\"count\":" + std::to_string(c->count) +
                ",\"label\":\"" + c->label + "\"}]");
        return SB_EVENT_HANDLED;
    }
    if (std::strcmp(ev->name, "version") == 0) {
        ack(c, socket, ev->ack_id, "[" + std::to_string(COUNTER_VERSION) + "]");
        return SB_EVENT_HANDLED;
    }
    return SB_EVENT_CONTINUE;
}

// The handover format is versioned text, readable by either version.
sb_status export_state(void* state, sb_state_writer* writer) {
    auto* c = static_cast<Counter*>(state);
    std::string bytes = "counter/1 " + std::to_string(c->count);
    writer->write(writer, bytes.data(), bytes.size());
    return SB_OK;
}

sb_status import_state(void* state, const uint8_t* data, size_t len, sb_error* error) {
    auto* c = static_cast<Counter*>(state);
    std::string bytes(reinterpret_cast<const char*>(data), len);
    long long count = 0;
    if (std::sscanf(bytes.c_str(), "counter/1 %lld", &count) != 1) {
        sb_error_set(error, "INTERNAL", "unrecognised counter state");
        return SB_ERR_INVALID;
    }
    c->count = count;
    return SB_OK;
}

const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "counter",
    .version = COUNTER_VERSION == 1 ? "1.0.0" : "2.0.0",
    .flags = 0,
    .create = create,
    .destroy = destroy,
    .on_connect = nullptr,
    .on_event = on_event,
    .on_disconnect = nullptr,
    .on_timer = nullptr,
    .export_state = export_state,
    .import_state = import_state,
    .config_keys = kConfigKeys,
    .config_key_count = sizeof kConfigKeys / sizeof kConfigKeys[0],
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
