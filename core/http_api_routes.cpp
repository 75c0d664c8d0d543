// The core routes of the HTTP API: emit, disconnect, room members, stats.
//
// Each validates its input field by field so that a backend's mistake comes
// back as a 400 naming the field, and answers with what a backend needs to
// act on: how many sockets of this node an emit reached, how many were
// disconnected. Emits are encoded once and the same frames go to every
// recipient, as for a module's broadcast.
#include "http_api.h"

#include "cluster/cluster.h"
#include "hub.h"
#include "socketio_packet.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>
#include <set>

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.0.0"
#endif

namespace sb {
namespace {

struct CoreRoute {
    std::string_view path, method, scope;
};

constexpr CoreRoute kCoreRoutes[] = {
    {"/api/v1/emit", "POST", "emit"},
    {"/api/v1/disconnect", "POST", "disconnect"},
    {"/api/v1/rooms/members", "GET", "read"},
    {"/api/v1/stats", "GET", "read"},
};

// Event names the Socket.IO client library reserves for itself.
constexpr std::string_view kReservedEvents[] = {"connect", "connect_error", "disconnect", "disconnecting",
                                                "newListener", "removeListener"};

ApiAnswer invalid(std::string_view message) { return api_error(400, "INVALID", message); }

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

// The request body as a JSON object whose members are all in `known`.
std::optional<ApiAnswer> parse_object(const std::string& body, rapidjson::Document& doc,
                                      std::initializer_list<std::string_view> known) {
    if (body.empty()) return invalid("the body must be a JSON object");
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) return invalid("the body must be a JSON object");
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        std::string_view name(it->name.GetString(), it->name.GetStringLength());
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            return invalid(std::string(name) + ": unknown field (known fields: " + list + ")");
        }
    }
    return std::nullopt;
}

std::optional<ApiAnswer> string_field(const rapidjson::Value& obj, const char* field, std::string& out, bool required) {
    auto it = obj.FindMember(field);
    if (it == obj.MemberEnd()) return required ? std::optional(invalid(std::string(field) + ": required")) : std::nullopt;
    if (!it->value.IsString() || it->value.GetStringLength() == 0)
        return invalid(std::string(field) + ": expected a non-empty string");
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return std::nullopt;
}

// A list of non-empty strings; `present` tells whether the field was given.
std::optional<ApiAnswer> string_list_field(const rapidjson::Value& obj, const char* field, std::vector<std::string>& out,
                                           bool& present) {
    auto it = obj.FindMember(field);
    present = it != obj.MemberEnd();
    if (!present) return std::nullopt;
    if (!it->value.IsArray()) return invalid(std::string(field) + ": expected an array of strings");
    if (it->value.Empty()) return invalid(std::string(field) + ": must not be empty (leave it out instead)");
    for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i) {
        const auto& v = it->value[i];
        if (!v.IsString() || v.GetStringLength() == 0)
            return invalid(std::string(field) + "[" + std::to_string(i) + "]: expected a non-empty string");
        out.emplace_back(v.GetString(), v.GetStringLength());
    }
    return std::nullopt;
}

std::optional<ApiAnswer> namespace_field(const rapidjson::Value& obj, Hub& hub, Namespace*& ns) {
    std::string name = "/";
    if (auto e = string_field(obj, "namespace", name, false)) return e;
    ns = hub.find_namespace(name);
    if (!ns) return invalid("namespace: '" + name + "' is not a configured namespace");
    return std::nullopt;
}

ApiAnswer emit(const ApiRequest& request, Hub& hub) {
    rapidjson::Document doc;
    if (auto e = parse_object(request.body, doc,
                              {"namespace", "event", "data", "args", "rooms", "users", "exceptRooms", "exceptUsers"}))
        return *e;
    Namespace* ns = nullptr;
    if (auto e = namespace_field(doc, hub, ns)) return *e;
    std::string event;
    if (auto e = string_field(doc, "event", event, true)) return *e;
    if (std::find(std::begin(kReservedEvents), std::end(kReservedEvents), event) != std::end(kReservedEvents))
        return invalid("event: '" + event + "' is reserved by Socket.IO");
    std::string args = "[]";
    const bool has_data = doc.HasMember("data"), has_args = doc.HasMember("args");
    if (has_data && has_args) return invalid("data, args: give one of them (data is one argument, args a list)");
    if (has_args && !doc["args"].IsArray()) return invalid("args: expected an array of arguments");
    if (has_args) args = to_json(doc["args"]);
    if (has_data) args = "[" + to_json(doc["data"]) + "]";
    std::vector<std::string> rooms, users, except_rooms, except_users;
    bool has_rooms = false, has_users = false, has_except_rooms = false, has_except_users = false;
    if (auto e = string_list_field(doc, "rooms", rooms, has_rooms)) return *e;
    if (auto e = string_list_field(doc, "users", users, has_users)) return *e;
    if (auto e = string_list_field(doc, "exceptRooms", except_rooms, has_except_rooms)) return *e;
    if (auto e = string_list_field(doc, "exceptUsers", except_users, has_except_users)) return *e;

    auto payload = sio::join_event(event, args);
    if (!payload) return invalid("args: not a valid list of arguments");
    const auto frames = Hub::encode(*ns, false, -1, *payload, nullptr, 0);
    if (frames.empty()) return invalid("args: not a valid list of arguments");

    // An explicit but empty list of rooms and users selects nobody, not everybody.
    if ((has_rooms || has_users) && rooms.empty() && users.empty())
        return {200, "{\"recipients\":0}", {}};
    BroadcastTarget t;
    t.ns = ns;
    t.rooms.assign(rooms.begin(), rooms.end());
    t.users.assign(users.begin(), users.end());
    t.except_rooms.assign(except_rooms.begin(), except_rooms.end());
    t.except_users.assign(except_users.begin(), except_users.end());
    const size_t recipients = hub.broadcast(t, frames);
    return {200, "{\"recipients\":" + std::to_string(recipients) + "}", {}};
}

ApiAnswer disconnect(const ApiRequest& request, Hub& hub, const HostServices& services) {
    rapidjson::Document doc;
    if (auto e = parse_object(request.body, doc, {"namespace", "userId", "socketId"})) return *e;
    std::string user, sid;
    if (auto e = string_field(doc, "userId", user, false)) return *e;
    if (auto e = string_field(doc, "socketId", sid, false)) return *e;
    if (user.empty() == sid.empty()) return invalid("userId, socketId: give exactly one of them");
    Namespace* only = nullptr;
    if (doc.HasMember("namespace"))
        if (auto e = namespace_field(doc, hub, only)) return *e;
    std::vector<sb_socket_id> ids;
    if (!user.empty()) {
        if (const auto* sockets = hub.sockets_of_user(user))
            for (Socket* s : *sockets)
                if (!only || s->ns == only) ids.push_back(s->id);
    } else {
        for (const auto& ns : hub.namespaces()) {
            if (only && ns.get() != only) continue;
            for (Socket* s : ns->sockets)
                if (s->sid == sid) ids.push_back(s->id);
        }
    }
    // In a cluster the user's sockets on other nodes, or a socket that is not
    // here, are disconnected by their own nodes; the count is this node's.
    cluster::Cluster* cluster = services.joined_cluster();
    const bool ask_cluster = cluster && (!user.empty() || ids.empty());
    if (!sid.empty() && ids.empty() && !cluster)
        return api_error(404, "SOCKET_NOT_FOUND", "socketId: no connected socket '" + sid + "'");
    if (ask_cluster && !cluster->publish_disconnect({"", only ? only->name : "", user, sid}))
        return api_error(503, "CLUSTER_UNAVAILABLE",
                         "Redis is unavailable: sockets on other nodes cannot be reached now (" +
                             std::to_string(ids.size()) + " on this node were not disconnected either)");
    size_t done = 0;
    for (auto id : ids) {
        if (!hub.find(id) || !services.sockets) continue;
        services.sockets->disconnect_socket(id);
        ++done;
    }
    return {200, "{\"disconnected\":" + std::to_string(done) + (cluster ? ",\"cluster\":true}" : "}"), {}};
}

ApiAnswer members(const ApiRequest& request, Hub& hub) {
    std::string ns_name = "/", room;
    for (const auto& [k, v] : request.args) {
        if (k == "namespace") ns_name = v;
        else if (k == "room") room = v;
        else return invalid(k + ": unknown query parameter (known: namespace, room)");
    }
    if (room.empty()) return invalid("room: required query parameter");
    const Namespace* ns = hub.find_namespace(ns_name);
    if (!ns) return invalid("namespace: '" + ns_name + "' is not a configured namespace");
    std::string sockets, users;
    std::set<std::string_view> distinct;
    size_t count = 0;
    if (const auto* ids = ns->rooms.members(room)) {
        for (auto id : *ids) {
            const Socket* s = hub.find(id);
            if (!s) continue;
            sockets += std::string(count++ ? "," : "") + "{\"id\":" + sio::json_quote(s->sid) +
                       ",\"userId\":" + (s->user_id() ? sio::json_quote(s->user_id()) : "null") + "}";
            if (s->user_id()) distinct.insert(s->user_id());
        }
    }
    for (auto u : distinct) users += (users.empty() ? "" : ",") + sio::json_quote(u);
    return {200,
            "{\"namespace\":" + sio::json_quote(ns->name) + ",\"room\":" + sio::json_quote(room) +
                ",\"count\":" + std::to_string(count) + ",\"sockets\":[" + sockets + "],\"users\":[" + users + "]}",
            {}};
}

ApiAnswer stats(const ApiRequest& request, Hub& hub, uint64_t uptime_ms) {
    if (!request.args.empty()) return invalid(request.args.front().first + ": unknown query parameter");
    std::string namespaces;
    size_t sockets = 0;
    for (const auto& ns : hub.namespaces()) {
        sockets += ns->sockets.size();
        namespaces += std::string(namespaces.empty() ? "" : ",") + "{\"name\":" + sio::json_quote(ns->name) +
                      ",\"sockets\":" + std::to_string(ns->sockets.size()) +
                      ",\"rooms\":" + std::to_string(ns->rooms.room_count()) + "}";
    }
    return {200,
            std::string("{\"version\":\"") + SWITCHBOARD_VERSION + "\",\"uptimeSeconds\":" + std::to_string(uptime_ms / 1000) +
                ",\"connections\":" + std::to_string(hub.engine().session_count()) +
                ",\"sockets\":" + std::to_string(sockets) + ",\"namespaces\":[" + namespaces + "]}",
            {}};
}

}  // namespace

bool is_core_route(std::string_view path, std::string_view* method, std::string_view* scope) {
    for (const auto& r : kCoreRoutes) {
        if (r.path != path) continue;
        if (method) *method = r.method;
        if (scope) *scope = r.scope;
        return true;
    }
    return false;
}

bool covers_core_route(std::string_view prefix) {
    return std::any_of(std::begin(kCoreRoutes), std::end(kCoreRoutes),
                       [&](const CoreRoute& r) { return r.path == prefix || (prefix.ends_with('/') && r.path.starts_with(prefix)); });
}

ApiAnswer serve_core_route(const ApiRequest& request, Hub& hub, const HostServices& services, uint64_t uptime_ms) {
    if (request.path == "/api/v1/emit") return emit(request, hub);
    if (request.path == "/api/v1/disconnect") return disconnect(request, hub, services);
    if (request.path == "/api/v1/rooms/members") return members(request, hub);
    return stats(request, hub, uptime_ms);
}

}  // namespace sb
