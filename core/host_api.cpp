// The function table the host gives to modules (sb_host_api in module.h).
//
// Every entry resolves the module's opaque ids through the hub and validates
// what the module passes, so a buggy module gets an error code back instead
// of corrupting a connection or crashing the server.
#include "cluster/cluster.h"
#include "host_api_storage.h"
#include "host_api_fetch.h"
#include "hub.h"
#include "log.h"
#include "module_host.h"
#include "socketio_packet.h"

#include <rapidjson/document.h>
#include <sys/time.h>

#include <algorithm>
#include <cstddef>
#include <unordered_map>

namespace sb {
namespace {

Hub& hub_of(sb_module_ctx* ctx) { return *ctx->host->services().hub; }

void api_log(sb_module_ctx* ctx, sb_log_level level, const char* message) {
    if (!ctx || !message) return;
    auto l = static_cast<log::Level>(std::clamp(static_cast<int>(level), 0, 3));
    if (log::enabled(l)) log::write(l, "module " + ctx->instance->name, message);
}

sb_status api_emit(sb_module_ctx* ctx, sb_socket_id socket, const char* name, const char* args_json,
                   size_t args_json_len, const sb_bytes* attachments, size_t attachment_count) {
    if (!name || (!args_json && args_json_len)) return SB_ERR_INVALID;
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return SB_ERR_NOT_FOUND;
    auto payload = sio::join_event(name, args_json ? std::string_view(args_json, args_json_len) : "[]",
                                   ctx->host->hooks().is_dispatched_args(args_json, args_json_len));
    if (!payload) return SB_ERR_INVALID;
    auto frames = Hub::encode(*s->ns, false, -1, *payload, attachments, attachment_count, Hub::PayloadCheck::AlreadyValid);
    if (frames.empty()) return SB_ERR_INVALID;
    hub_of(ctx).deliver(*s, frames);
    return SB_OK;
}

sb_status api_broadcast(sb_module_ctx* ctx, const sb_target* target, const char* name, const char* args_json,
                        size_t args_json_len, const sb_bytes* attachments, size_t attachment_count) {
    if (!target || !name || (!args_json && args_json_len)) return SB_ERR_INVALID;
    Hub& hub = hub_of(ctx);
    BroadcastTarget t;
    t.ns = hub.find_namespace(target->namespace_name ? target->namespace_name : "/");
    if (!t.ns) return SB_ERR_NOT_FOUND;
    for (size_t i = 0; i < target->room_count; ++i)
        if (target->rooms[i]) t.rooms.emplace_back(target->rooms[i]);
    for (size_t i = 0; i < target->except_room_count; ++i)
        if (target->except_rooms[i]) t.except_rooms.emplace_back(target->except_rooms[i]);
    t.except_socket = target->except_socket;
    if (target->struct_size >= offsetof(sb_target, flags) + sizeof(target->flags)) {
        t.local_only = (target->flags & SB_TARGET_LOCAL) != 0;
        t.volatile_only = (target->flags & SB_TARGET_VOLATILE) != 0;
    }
    // An explicit list of rooms that are all empty selects nobody, not everybody.
    if (target->room_count > 0 && t.rooms.empty()) return SB_OK;
    auto payload = sio::join_event(name, args_json ? std::string_view(args_json, args_json_len) : "[]",
                                   ctx->host->hooks().is_dispatched_args(args_json, args_json_len));
    if (!payload) return SB_ERR_INVALID;
    auto frames = Hub::encode(*t.ns, false, -1, *payload, attachments, attachment_count, Hub::PayloadCheck::AlreadyValid);
    if (frames.empty()) return SB_ERR_INVALID;
    hub.broadcast(t, frames);
    return SB_OK;
}

sb_status api_ack(sb_module_ctx* ctx, sb_socket_id socket, int64_t ack_id, const char* args_json,
                  size_t args_json_len, const sb_bytes* attachments, size_t attachment_count) {
    if (ack_id < 0 || (!args_json && args_json_len)) return SB_ERR_INVALID;
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return SB_ERR_NOT_FOUND;
    auto frames = Hub::encode(*s->ns, true, ack_id, args_json ? std::string_view(args_json, args_json_len) : "[]",
                              attachments, attachment_count);
    if (frames.empty()) return SB_ERR_INVALID;
    hub_of(ctx).deliver(*s, frames);
    return SB_OK;
}

sb_status api_join(sb_module_ctx* ctx, sb_socket_id socket, const char* room) {
    if (!room || !*room) return SB_ERR_INVALID;
    Socket* s = hub_of(ctx).find(socket);
    if (!s || s->leaving) return SB_ERR_NOT_FOUND;
    if (s->ns->rooms.join(socket, room)) ctx->host->hooks().room(s->ns->chain, socket, room, true);
    return SB_OK;
}

sb_status api_leave(sb_module_ctx* ctx, sb_socket_id socket, const char* room) {
    if (!room) return SB_ERR_INVALID;
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return SB_ERR_NOT_FOUND;
    if (!s->ns->rooms.leave(socket, room)) return SB_ERR_NOT_FOUND;
    ctx->host->hooks().room(s->ns->chain, socket, room, false);
    return SB_OK;
}

size_t api_rooms_of(sb_module_ctx* ctx, sb_socket_id socket, const char** rooms, size_t capacity) {
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return 0;
    const auto* list = s->ns->rooms.rooms_of(socket);
    if (!list) return 0;
    for (size_t i = 0; i < list->size() && i < capacity && rooms; ++i) rooms[i] = (*list)[i].c_str();
    return list->size();
}

sb_status api_disconnect(sb_module_ctx* ctx, sb_socket_id socket) {
    if (!hub_of(ctx).find(socket)) return SB_ERR_NOT_FOUND;
    if (SocketDisconnector* sockets = ctx->host->services().sockets) sockets->disconnect_socket(socket);
    return SB_OK;
}

sb_status api_connect_decide(sb_module_ctx* ctx, sb_socket_id socket, int accept, const char* message) {
    PendingConnects* connects = ctx ? ctx->host->services().connects : nullptr;
    if (!connects) return SB_ERR_NOT_FOUND;
    return connects->decide_connect(*ctx->instance, socket, accept != 0, message);
}

sb_status api_socket_set(sb_module_ctx* ctx, sb_socket_id socket, const char* key, const char* value) {
    if (!key) return SB_ERR_INVALID;
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return SB_ERR_NOT_FOUND;
    auto& data = s->extra().data;
    auto it = std::find_if(data.begin(), data.end(), [&](const auto& kv) { return kv.first == key; });
    if (!value) {
        if (it != data.end()) data.erase(it);
    } else if (it != data.end()) {
        it->second = value;
    } else {
        data.emplace_back(key, value);
    }
    s->trim_extras();
    return SB_OK;
}

const char* api_socket_get(sb_module_ctx* ctx, sb_socket_id socket, const char* key) {
    if (!key) return nullptr;
    Socket* s = hub_of(ctx).find(socket);
    if (!s || !s->extras) return nullptr;
    for (const auto& [k, v] : s->extras->data)
        if (k == key) return v.c_str();
    return nullptr;
}

sb_timer_id api_timer_start(sb_module_ctx* ctx, uint64_t delay_ms, uint64_t repeat_ms, void* user_data) {
    return ctx->host->start_timer(*ctx->instance, delay_ms, repeat_ms, user_data);
}

sb_status api_timer_stop(sb_module_ctx* ctx, sb_timer_id timer) { return ctx->host->stop_timer(*ctx->instance, timer); }

uint64_t api_now_ms(sb_module_ctx*) {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

sb_status api_set_identity(sb_module_ctx* ctx, sb_socket_id socket, const char* user_id, const char* claims_json) {
    Socket* s = hub_of(ctx).find(socket);
    if (!s) return SB_ERR_NOT_FOUND;
    std::string claims = claims_json && *claims_json ? claims_json : "{}";
    rapidjson::Document doc;
    doc.Parse(claims.c_str(), claims.size());
    if (doc.HasParseError() || !doc.IsObject()) return SB_ERR_INVALID;
    hub_of(ctx).set_identity(*s, user_id ? user_id : "", std::move(claims));
    return SB_OK;
}

const char* api_user_of(sb_module_ctx* ctx, sb_socket_id socket) {
    Socket* s = hub_of(ctx).find(socket);
    return s ? s->user_id() : nullptr;
}

const char* api_claims_of(sb_module_ctx* ctx, sb_socket_id socket) {
    Socket* s = hub_of(ctx).find(socket);
    return s ? s->claims_json() : "{}";
}

const char* api_remote_address_of(sb_module_ctx* ctx, sb_socket_id socket) {
    Socket* s = hub_of(ctx).find(socket);
    return s ? s->session->remote_address.c_str() : "";
}

sb_status api_counter_add(sb_module_ctx* ctx, const char* name, const char* labels, uint64_t delta) {
    if (!name || !*name) return SB_ERR_INVALID;
    for (const char* p = name; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return SB_ERR_INVALID;
    std::string l = labels ? labels : "";
    if (l.find('\n') != std::string::npos || l.find('}') != std::string::npos) return SB_ERR_INVALID;
    ctx->instance->counters[{name, l}] += delta;
    return SB_OK;
}

const char* api_namespace_of(sb_module_ctx* ctx, sb_socket_id socket) {
    Socket* s = hub_of(ctx).find(socket);
    return s ? s->ns->name.c_str() : nullptr;
}

bool chain_holds(const Namespace& ns, const ModuleInstance* instance) {
    return std::find(ns.chain.begin(), ns.chain.end(), instance) != ns.chain.end();
}

sb_status api_emit_to_user(sb_module_ctx* ctx, const char* namespace_name, const char* user_id,
                           sb_socket_id except_socket, const char* name, const char* args_json, size_t args_json_len) {
    if (!user_id || !*user_id || !name || (!args_json && args_json_len)) return SB_ERR_INVALID;
    auto payload = sio::join_event(name, args_json ? std::string_view(args_json, args_json_len) : "[]",
                                   ctx->host->hooks().is_dispatched_args(args_json, args_json_len));
    if (!payload) return SB_ERR_INVALID;
    Hub& hub = hub_of(ctx);
    // Encoded once per namespace, and sent to the other nodes of a cluster
    // even when this one has no socket of the user; alone, such a user costs nothing.
    if (!hub.linked() && !hub.sockets_of_user(user_id)) return SB_OK;
    for (const auto& ns : hub.namespaces()) {
        if (namespace_name ? ns->name != namespace_name : !chain_holds(*ns, ctx->instance)) continue;
        const auto frames = Hub::encode(*ns, false, -1, *payload, nullptr, 0, Hub::PayloadCheck::AlreadyValid);
        if (frames.empty()) return SB_ERR_INVALID;
        BroadcastTarget t;
        t.ns = ns.get();
        t.users.emplace_back(user_id);
        t.except_socket = except_socket;
        hub.broadcast(t, frames);
    }
    return SB_OK;
}

sb_status api_http_route(sb_module_ctx* ctx, const char* method, const char* path) {
    ModuleRoutes* routes = ctx->host->services().routes;
    return routes ? routes->add_module_route(*ctx->instance, method, path) : SB_ERR_UNAVAILABLE;
}
sb_status api_http_respond(sb_module_ctx* ctx, sb_http_response* response, int status, const char* json_body,
                           size_t json_body_len) {
    ModuleRoutes* routes = ctx->host->services().routes;
    return routes ? routes->respond(*ctx->instance, response, status, json_body, json_body_len) : SB_ERR_UNAVAILABLE;
}

const char* api_node_id(sb_module_ctx* ctx) {
    const cluster::Cluster* c = ctx->host->services().joined_cluster();
    return c && c->available() ? c->node_id().c_str() : "";
}

sb_status api_cluster_send(sb_module_ctx* ctx, const char* to_node, const void* data, size_t len) {
    cluster::Cluster* c = ctx->host->services().joined_cluster();
    if (!data && len) return SB_ERR_INVALID;
    if (!c || !c->available()) return SB_ERR_UNAVAILABLE;
    const std::string_view bytes(static_cast<const char*>(data), len);
    return c->send_module_message(ctx->instance->name, bytes, to_node ? to_node : "") ? SB_OK : SB_ERR_UNAVAILABLE;
}

const sb_host_api kHostApi = {
    .struct_size = sizeof(sb_host_api),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .log = api_log,
    .emit = api_emit,
    .broadcast = api_broadcast,
    .ack = api_ack,
    .join = api_join,
    .leave = api_leave,
    .rooms_of = api_rooms_of,
    .disconnect = api_disconnect,
    .socket_set = api_socket_set,
    .socket_get = api_socket_get,
    .timer_start = api_timer_start,
    .timer_stop = api_timer_stop,
    .now_ms = api_now_ms,
    .set_identity = api_set_identity,
    .user_of = api_user_of,
    .claims_of = api_claims_of,
    .remote_address_of = api_remote_address_of,
    .counter_add = api_counter_add,
    .namespace_of = api_namespace_of,
    .emit_to_user = api_emit_to_user,
    .stream_append = storage::api_stream_append,
    .stream_read = storage::api_stream_read,
    .stream_trim = storage::api_stream_trim,
    .kv_get = storage::api_kv_get,
    .kv_set = storage::api_kv_set,
    .kv_delete = storage::api_kv_delete,
    .kv_scan = storage::api_kv_scan,
    .http_route = api_http_route,
    .http_respond = api_http_respond,
    .node_id = api_node_id,
    .cluster_send = api_cluster_send,
    .fetch = http::api_fetch,
    .fetch_cancel = http::api_fetch_cancel,
    .fetch_adopt = http::api_fetch_adopt,
    .connect_decide = api_connect_decide,
};

}  // namespace

const sb_host_api* host_api() { return &kHostApi; }

}  // namespace sb
