// Test-only module "test_rooms": lets end-to-end tests drive the hub's rooms
// and broadcasts from a client, before the real rooms module exists.
//   "join" room [ack]        -> joins, acks true
//   "leave" room [ack]       -> leaves, acks true
//   "broadcast" {rooms, except, event, data} [ack]
//                            -> emits `event` with `data` to the namespace's
//                               sockets in any of `rooms` (all when empty),
//                               minus those in `except`; acks true
//   "rooms" ack              -> acks the sorted list of the socket's rooms
//   "room_events" room ack   -> acks {joined, left}: how many on_room joins and
//                               leaves of `room` this module was told about
#include <switchboard/module.h>

#include "../test_module_util.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

struct State {
    sb_module_ctx* ctx;
    const sb_host_api* host;
    std::map<std::string, std::pair<int, int>> room_events;  // room -> (joined, left)
};

using test_module::to_json;

void ack(State* s, sb_socket_id socket, const sb_event* ev, const std::string& args) {
    test_module::ack(s->host, s->ctx, socket, ev, args);
}

std::vector<const char*> strings_of(const rapidjson::Value& obj, const char* key) {
    std::vector<const char*> out;
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsArray()) return out;
    for (auto& v : it->value.GetArray())
        if (v.IsString()) out.push_back(v.GetString());
    return out;
}

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char*, sb_error*) { return new State{ctx, host}; }
void destroy(void* state) { delete static_cast<State*>(state); }

sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error* error) {
    auto* s = static_cast<State*>(state);
    rapidjson::Document args;
    args.Parse(ev->args_json, ev->args_json_len);
    if (args.HasParseError() || !args.IsArray()) return SB_EVENT_CONTINUE;
    const std::string name = ev->name;
    if (name == "join" || name == "leave") {
        if (args.Empty() || !args[0].IsString()) {
            sb_error_set(error, "INVALID", (name + " needs a room name").c_str());
            std::snprintf(error->details_json, error->details_capacity, "{\"expected\":\"string\"}");
            return SB_EVENT_REJECT;
        }
        if (name == "join") s->host->join(s->ctx, socket, args[0].GetString());
        else s->host->leave(s->ctx, socket, args[0].GetString());
        ack(s, socket, ev, "[true]");
        return SB_EVENT_HANDLED;
    }
    if (name == "broadcast") {
        if (args.Empty() || !args[0].IsObject() || !args[0].HasMember("event") || !args[0]["event"].IsString()) {
            sb_error_set(error, "INVALID", "broadcast needs {event, data, rooms?, except?}");
            return SB_EVENT_REJECT;
        }
        const rapidjson::Value& req = args[0];
        auto rooms = strings_of(req, "rooms");
        auto except = strings_of(req, "except");
        std::string payload = "[" + (req.HasMember("data") ? to_json(req["data"]) : std::string("null")) + "]";
        sb_target target{sizeof(sb_target), ev->namespace_name, rooms.data(), rooms.size(),
                         except.data(),     except.size(),      0};
        // Binary data keeps the placeholders of the original event, so its
        // attachments go along unchanged.
        s->host->broadcast(s->ctx, &target, req["event"].GetString(), payload.data(), payload.size(),
                           ev->attachments, ev->attachment_count);
        ack(s, socket, ev, "[true]");
        return SB_EVENT_HANDLED;
    }
    if (name == "room_events") {
        if (args.Empty() || !args[0].IsString()) return SB_EVENT_CONTINUE;
        const auto& counts = s->room_events[args[0].GetString()];
        ack(s, socket, ev,
            "[{\"joined\":" + std::to_string(counts.first) + ",\"left\":" + std::to_string(counts.second) + "}]");
        return SB_EVENT_HANDLED;
    }
    if (name == "rooms") {
        const char* list[256];
        size_t n = std::min<size_t>(s->host->rooms_of(s->ctx, socket, list, 256), 256);
        std::vector<std::string> rooms(list, list + n);
        std::sort(rooms.begin(), rooms.end());
        rapidjson::Document out(rapidjson::kArrayType);
        rapidjson::Value arr(rapidjson::kArrayType);
        for (auto& r : rooms) arr.PushBack(rapidjson::Value(r.c_str(), out.GetAllocator()), out.GetAllocator());
        out.PushBack(arr, out.GetAllocator());
        ack(s, socket, ev, to_json(out));
        return SB_EVENT_HANDLED;
    }
    return SB_EVENT_CONTINUE;
}

void on_room(void* state, sb_socket_id, const char* room, int joined) {
    auto& counts = static_cast<State*>(state)->room_events[room];
    (joined ? counts.first : counts.second)++;
}

// Hooks left out are NULL: the host does not call them.
const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "test_rooms",
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .config_key_count = 0,
    .on_room = on_room,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
