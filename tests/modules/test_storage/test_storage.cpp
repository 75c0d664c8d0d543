// Test-only module "test_storage": exposes the host's storage calls as
// events, so end-to-end tests drive them through a real server. Every event
// takes one object argument and is answered through its ack with
// {ok: true, ...} or {ok: false, status: <sb_status>}.
//   "append" {stream, key?, data}              -> {ok, id, ts, duplicate}
//   "read"   {stream, after?, before?, limit?, newest?} -> {ok, entries: [{id, ts, data}]}
//   "trim"   {stream, max_count?, max_age_ms?} -> {ok}
//   "kv_set" {key, value, ttl_ms?}             -> {ok}
//   "kv_get" {key}                             -> {ok, value}
//   "kv_delete" {key}                          -> {ok}
//   "kv_scan" {prefix?, after?, limit?}        -> {ok, entries: [{key, value}]}
// Config key `tag` (any string) exists so a test can change the config and
// make a reload replace the instance while requests are pending.
#include <switchboard/module.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>
#include <string>

namespace {

struct State;

// One request waiting for its storage callback. The module owns them, so
// the ones whose callbacks the host drops (the instance went away) are freed
// in destroy.
struct Pending {
    State* state;
    sb_socket_id socket;
    int64_t ack_id;
};

struct State {
    sb_module_ctx* ctx;
    const sb_host_api* host;
    std::set<Pending*> pending;
};

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Answers the ack of `p` with [{ok: status == SB_OK, status, ...fields}] and frees `p`.
template <typename Fields>
void answer(Pending* p, sb_status status, Fields fields) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartArray();
    w.StartObject();
    w.Key("ok");
    w.Bool(status == SB_OK);
    w.Key("status");
    w.Int(status);
    if (status == SB_OK) fields(w);
    w.EndObject();
    w.EndArray();
    State* s = p->state;
    if (p->ack_id >= 0) s->host->ack(s->ctx, p->socket, p->ack_id, buf.GetString(), buf.GetSize(), nullptr, 0);
    s->pending.erase(p);
    delete p;
}

void no_fields(Writer&) {}

void write_bytes(Writer& w, const uint8_t* data, size_t len) {
    w.String(reinterpret_cast<const char*>(data), static_cast<rapidjson::SizeType>(len));
}

void on_append(void* ud, sb_status status, const sb_stream_entry* e, int duplicate) {
    answer(static_cast<Pending*>(ud), status, [&](Writer& w) {
        w.Key("id");
        w.Uint64(e->id);
        w.Key("ts");
        w.Uint64(e->ts_ms);
        w.Key("duplicate");
        w.Bool(duplicate != 0);
        w.Key("data");
        write_bytes(w, e->data, e->len);
    });
}

// Writes "entries": [{...}, ...], each object's members written by `member(w, i)`.
template <typename Member>
void write_entries(Writer& w, size_t count, Member member) {
    w.Key("entries");
    w.StartArray();
    for (size_t i = 0; i < count; ++i) {
        w.StartObject();
        member(w, i);
        w.EndObject();
    }
    w.EndArray();
}

void on_entries(void* ud, sb_status status, const sb_stream_entry* entries, size_t count) {
    answer(static_cast<Pending*>(ud), status, [&](Writer& w) {
        write_entries(w, count, [&](Writer& o, size_t i) {
            o.Key("id");
            o.Uint64(entries[i].id);
            o.Key("ts");
            o.Uint64(entries[i].ts_ms);
            o.Key("data");
            write_bytes(o, entries[i].data, entries[i].len);
        });
    });
}

void on_done(void* ud, sb_status status) { answer(static_cast<Pending*>(ud), status, no_fields); }

void on_value(void* ud, sb_status status, const uint8_t* value, size_t len) {
    answer(static_cast<Pending*>(ud), status, [&](Writer& w) {
        w.Key("value");
        write_bytes(w, value, len);
    });
}

void on_kv_entries(void* ud, sb_status status, const sb_kv_entry* entries, size_t count) {
    answer(static_cast<Pending*>(ud), status, [&](Writer& w) {
        write_entries(w, count, [&](Writer& o, size_t i) {
            o.Key("key");
            o.String(entries[i].key);
            o.Key("value");
            write_bytes(o, entries[i].value, entries[i].len);
        });
    });
}

const char* string_of(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : nullptr;
}

uint64_t number_of(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

void* create(sb_module_ctx* ctx, const sb_host_api* host, const char*, sb_error* error) {
    if (host->struct_size < offsetof(sb_host_api, kv_scan) + sizeof(host->kv_scan)) {
        sb_error_set(error, "ABI", "the host offers no storage (ABI 1.1 needed)");
        return nullptr;
    }
    return new State{ctx, host, {}};
}

void destroy(void* state) {
    auto* s = static_cast<State*>(state);
    for (Pending* p : s->pending) delete p;
    delete s;
}

// Issues the storage call for event `name`; SB_OK when a callback will come.
sb_status dispatch(State* s, const std::string& name, const rapidjson::Value& a, Pending* p) {
    const char* stream = string_of(a, "stream");
    const char* key = string_of(a, "key");
    if (name == "append") {
        const char* data = string_of(a, "data");
        std::string bytes = data ? data : "";
        return s->host->stream_append(s->ctx, stream, key, bytes.data(), bytes.size(), on_append, p);
    }
    if (name == "read") {
        sb_stream_query q{sizeof(sb_stream_query), number_of(a, "after"), number_of(a, "before"),
                          static_cast<size_t>(number_of(a, "limit")), a.HasMember("newest") && a["newest"].IsTrue()};
        return s->host->stream_read(s->ctx, stream, &q, on_entries, p);
    }
    if (name == "trim")
        return s->host->stream_trim(s->ctx, stream, number_of(a, "max_count"), number_of(a, "max_age_ms"), on_done, p);
    if (name == "kv_set") {
        const char* value = string_of(a, "value");
        std::string bytes = value ? value : "";
        return s->host->kv_set(s->ctx, key, bytes.data(), bytes.size(), number_of(a, "ttl_ms"), on_done, p);
    }
    if (name == "kv_get") return s->host->kv_get(s->ctx, key, on_value, p);
    if (name == "kv_delete") return s->host->kv_delete(s->ctx, key, on_done, p);
    if (name == "kv_scan")
        return s->host->kv_scan(s->ctx, string_of(a, "prefix"), string_of(a, "after"),
                                static_cast<size_t>(number_of(a, "limit")), on_kv_entries, p);
    return SB_ERR_NOT_FOUND;
}

sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* ev, sb_error*) {
    auto* s = static_cast<State*>(state);
    rapidjson::Document args;
    args.Parse(ev->args_json, ev->args_json_len);
    if (args.HasParseError() || !args.IsArray() || args.Empty() || !args[0].IsObject()) return SB_EVENT_CONTINUE;
    auto* p = new Pending{s, socket, ev->ack_id};
    s->pending.insert(p);
    const sb_status status = dispatch(s, ev->name, args[0], p);
    if (status == SB_ERR_NOT_FOUND) {  // not one of ours
        s->pending.erase(p);
        delete p;
        return SB_EVENT_CONTINUE;
    }
    if (status != SB_OK) answer(p, status, no_fields);  // refused at once: no callback will come
    return SB_EVENT_HANDLED;
}

const sb_config_key kConfigKeys[] = {
    {"tag", SB_CONFIG_STRING, 0, "any text; changing it makes a reload replace the instance"},
};

// Hooks left out are NULL: the host does not call them.
const sb_module_descriptor kDescriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "test_storage",
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .config_keys = kConfigKeys,
    .config_key_count = 1,
};

}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
