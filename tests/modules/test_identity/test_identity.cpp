// Test-only module "test_identity": gives sockets a user id without an
// authentication module, so end-to-end tests of modules that act per user
// (throttle, ...) can have users.
//   on connect with auth {"user": "<id>"} -> set_identity(socket, id, {})
//   any other CONNECT payload                -> the socket stays anonymous
//   "to_user" user event data [exceptSelf] [ack]
//                                            -> emit_to_user(NULL namespace), acks true
//   "namespace" ack                          -> acks namespace_of(socket)
//   "address" ack                            -> acks [remote address at connect, remote_address_of(socket)]
// No configuration.
#include <switchboard/module.h>

#include "../test_module_util.h"

#include <rapidjson/document.h>

#include <cstring>
#include <string>
#include <unordered_map>

namespace {

struct State {
    sb_module_ctx* ctx;
    const sb_host_api* host;
    std::unordered_map<sb_socket_id, std::string> address_at_connect;
};

const sb_config_key kConfigKeys[1] = {{"", SB_CONFIG_ANY, 0, ""}};

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char*, sb_error*) { return new State{ctx, host}; }
void destroy(void* state) { delete static_cast<State*>(state); }

sb_connect_result on_connect(void* state, sb_socket_id socket, const sb_connect_info* info, sb_error* error) {
    auto* s = static_cast<State*>(state);
    s->address_at_connect[socket] = info->remote_address ? info->remote_address : "";
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

void on_disconnect(void* state, sb_socket_id socket, const char*) {
    static_cast<State*>(state)->address_at_connect.erase(socket);
}

using test_module::to_json;

void ack(State* s, sb_socket_id socket, const sb_event* ev, const std::string& args) {
    test_module::ack(s->host, s->ctx, socket, ev, args);
}

sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error* error) {
    auto* s = static_cast<State*>(state);
    if (std::strcmp(ev->name, "namespace") == 0) {
        const char* ns = s->host->namespace_of(s->ctx, socket);
        ack(s, socket, ev, std::string("[\"") + (ns ? ns : "") + "\"]");
        return SB_EVENT_HANDLED;
    }
    if (std::strcmp(ev->name, "address") == 0) {
        const char* now = s->host->remote_address_of(s->ctx, socket);
        ack(s, socket, ev, "[\"" + s->address_at_connect[socket] + "\",\"" + (now ? now : "") + "\"]");
        return SB_EVENT_HANDLED;
    }
    if (std::strcmp(ev->name, "to_user") != 0) return SB_EVENT_CONTINUE;
    rapidjson::Document args;
    args.Parse(ev->args_json, ev->args_json_len);
    if (args.HasParseError() || !args.IsArray() || args.Size() < 3 || !args[0].IsString() || !args[1].IsString()) {
        sb_error_set(error, "INVALID", "to_user needs user, event, data");
        return SB_EVENT_REJECT;
    }
    const bool except_self = args.Size() > 3 && args[3].IsTrue();
    const std::string data = "[" + to_json(args[2]) + "]";
    sb_status st = s->host->emit_to_user(s->ctx, nullptr, args[0].GetString(), except_self ? socket : 0,
                                         args[1].GetString(), data.data(), data.size());
    ack(s, socket, ev, st == SB_OK ? "[true]" : "[false]");
    return SB_EVENT_HANDLED;
}

// Hooks left out are NULL: the host does not call them.
const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "test_identity",
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .on_connect = on_connect,
    .on_event = on_event,
    .on_disconnect = on_disconnect,
    .config_keys = kConfigKeys,
    .config_key_count = 0,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
