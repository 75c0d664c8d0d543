// Module "echo": answers clients with what they sent.
//
// It is the behaviour protocol conformance suites expect from a server under
// test, and the smallest complete example of a module: it reads its (empty)
// configuration, emits on connect, handles two events and passes every
// other event on to the next module of the chain.
//   on connect          -> emits "auth" with the CONNECT auth payload
//   "message" ...       -> emits "message-back" with the same arguments
//   "message-with-ack"  -> acks with the same arguments
#include <switchboard/module.h>

#include <rapidjson/document.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

struct Echo {
    sb_module_ctx* ctx;
    const sb_host_api* host;
};

void* echo_create(sb_module_ctx* ctx, const sb_host_api* host, const char* config_json, sb_error* error) {
    rapidjson::Document config;
    config.Parse(config_json);
    if (config.HasParseError() || !config.IsObject()) {
        std::snprintf(error->message, error->capacity, "configuration must be a mapping");
        return nullptr;
    }
    if (config.MemberCount() > 0) {
        std::snprintf(error->message, error->capacity, "unknown key '%s' (echo takes no settings)",
                      config.MemberBegin()->name.GetString());
        return nullptr;
    }
    return new Echo{ctx, host};
}

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
            std::snprintf(error->message, error->capacity, "emit failed");
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
    sizeof(sb_module_descriptor),
    SB_ABI_MAJOR,
    SB_ABI_MINOR,
    "echo",
    "1.0.0",
    0,
    echo_create,
    echo_destroy,
    echo_on_connect,
    echo_on_event,
    nullptr,
    nullptr,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
