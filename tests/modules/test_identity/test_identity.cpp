// Test-only module "test_identity": gives sockets a user id without an
// authentication module, so end-to-end tests of modules that act per user
// (throttle, ...) can have users.
//   on connect with auth {"user": "<id>"} -> set_identity(socket, id, {})
//   any other CONNECT payload                -> the socket stays anonymous
// It handles no event. No configuration.
#include <switchboard/module.h>

#include <rapidjson/document.h>

namespace {

struct State {
    sb_module_ctx* ctx;
    const sb_host_api* host;
};

const sb_config_key kConfigKeys[1] = {{"", SB_CONFIG_ANY, 0, ""}};

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char*, sb_error*) { return new State{ctx, host}; }
void destroy(void* state) { delete static_cast<State*>(state); }

sb_connect_result on_connect(void* state, sb_socket_id socket, const sb_connect_info* info, sb_error* error) {
    auto* s = static_cast<State*>(state);
    rapidjson::Document auth;
    auth.Parse(info->auth_json);
    if (auth.HasParseError() || !auth.IsObject()) return SB_CONNECT_ACCEPT;
    auto it = auth.FindMember("user");
    if (it == auth.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0) return SB_CONNECT_ACCEPT;
    if (s->host->set_identity(s->ctx, socket, it->value.GetString(), "{}") != SB_OK) {
        sb_error_set(error, "INTERNAL", "set_identity failed");
        return SB_CONNECT_REJECT;
    }
    return SB_CONNECT_ACCEPT;
}

const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "test_identity",
    .version = "1.0.0",
    .flags = 0,
    .create = create,
    .destroy = destroy,
    .on_connect = on_connect,
    .on_event = nullptr,
    .on_disconnect = nullptr,
    .on_timer = nullptr,
    .export_state = nullptr,
    .import_state = nullptr,
    .config_keys = kConfigKeys,
    .config_key_count = 0,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
