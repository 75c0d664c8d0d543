// Module "echo": answers clients with what they sent.
//
// It is the behaviour protocol conformance suites expect from a server under
// test, and the smallest complete example of a module: it declares its
// (empty) configuration, emits on connect, handles two events and passes
// every other event on to the next module of the chain.
//   on connect          -> emits "auth" with the CONNECT auth payload
//   "message" ...       -> emits "message-back" with the same arguments
//   "message-with-ack"  -> acks with the same arguments
#include <switchboard/module.h>

#include <cstring>
#include <string>

namespace {

struct Echo {
    sb_module_ctx* ctx;
    const sb_host_api* host;
};

// echo takes no settings: an empty key table makes the host refuse any key.
const sb_config_key kConfigKeys[1] = {{"", SB_CONFIG_ANY, 0, ""}};

void* echo_create(sb_module_ctx* ctx, const sb_host_api* host, const char*, sb_error*) { return new Echo{ctx, host}; }

void echo_destroy(void* state) { delete static_cast<Echo*>(state); }

sb_connect_result echo_on_connect(void* state, sb_socket_id socket, const sb_connect_info* info, sb_error*) {
    auto* e = static_cast<Echo*>(state);
    std::string args = std::string("[") + info->auth_json + "]";
    e->host->emit(e->ctx, socket, "auth", args.data(), args.size(), nullptr, 0);
    return SB_CONNECT_ACCEPT;
}

sb_event_result echo_on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error* error) {
    auto* e = static_cast<Echo*>(state);
    if (std::strcmp(ev->name, "message") == 0) {
        if (e->host->emit(e->ctx, socket, "message-back", ev->args_json, ev->args_json_len, ev->attachments,
                          ev->attachment_count) != SB_OK) {
            sb_error_set(error, "INTERNAL", "emit failed");
            return SB_EVENT_FAILED;
        }
        return SB_EVENT_HANDLED;
    }
    if (std::strcmp(ev->name, "message-with-ack") == 0) {
        if (ev->ack_id >= 0)
            e->host->ack(e->ctx, socket, ev->ack_id, ev->args_json, ev->args_json_len, ev->attachments,
                         ev->attachment_count);
        return SB_EVENT_HANDLED;
    }
    return SB_EVENT_CONTINUE;
}

const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "echo",
    .version = "1.0.0",
    .flags = 0,
    .create = echo_create,
    .destroy = echo_destroy,
    .on_connect = echo_on_connect,
    .on_event = echo_on_event,
    .on_disconnect = nullptr,
    .on_timer = nullptr,
    .export_state = nullptr,
    .import_state = nullptr,
    .config_keys = kConfigKeys,
    .config_key_count = 0,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
