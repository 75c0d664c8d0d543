// Serialising the reload handover (see handover.h).
#include "handover.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

namespace backend {
namespace {

constexpr std::string_view kTag = "backend/1\n";
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void strings(Writer& w, const char* key, const std::vector<std::string>& list) {
    w.Key(key);
    w.StartArray();
    for (const auto& s : list) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    w.EndArray();
}

const rapidjson::Value& field(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd()) throw std::runtime_error(std::string("backend state: ") + key + " is missing");
    return it->value;
}

std::string text(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value& v = field(obj, key);
    if (!v.IsString()) throw std::runtime_error(std::string("backend state: ") + key + " is not a string");
    return std::string(v.GetString(), v.GetStringLength());
}

uint64_t number(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value& v = field(obj, key);
    if (!v.IsUint64()) throw std::runtime_error(std::string("backend state: ") + key + " is not a number");
    return v.GetUint64();
}

std::vector<std::string> text_list(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value& v = field(obj, key);
    if (!v.IsArray()) throw std::runtime_error(std::string("backend state: ") + key + " is not a list");
    std::vector<std::string> out;
    for (const auto& s : v.GetArray()) {
        if (!s.IsString()) throw std::runtime_error(std::string("backend state: ") + key + " holds a non-string");
        out.emplace_back(s.GetString(), s.GetStringLength());
    }
    return out;
}

}  // namespace

std::string export_handover(const Handover& h) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("sockets");
    w.StartArray();
    for (const auto& [id, s] : h.sockets) {
        w.StartObject();
        w.Key("socket");
        w.Uint64(id);
        put(w, "sid", s.sid);
        put(w, "ns", s.ns);
        put(w, "remote", s.remote);
        w.Key("data");
        w.StartArray();
        for (const auto& [key, is_json] : s.data_keys) {
            w.StartArray();
            w.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
            w.Bool(is_json);
            w.EndArray();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.Key("rpcs");
    w.StartArray();
    for (const auto& r : h.rpcs) {
        w.StartObject();
        w.Key("fetch");
        w.Uint64(r.fetch);
        w.Key("socket");
        w.Uint64(r.socket);
        w.Key("ack");
        w.Int64(r.ack_id);
        put(w, "event", r.event);
        put(w, "backend", r.backend);
        put(w, "path", r.path);
        put(w, "body", r.body);
        w.EndObject();
    }
    w.EndArray();
    w.Key("connects");
    w.StartArray();
    for (const auto& [socket, fetch] : h.connects) {
        w.StartArray();
        w.Uint64(socket);
        w.Uint64(fetch);
        w.EndArray();
    }
    w.EndArray();
    w.Key("webhooks");
    w.StartObject();
    put(w, "prefix", h.webhooks.id_prefix);
    w.Key("seq");
    w.Uint64(h.webhooks.next_seq);
    w.Key("fetch");
    w.Uint64(h.webhooks.batch_fetch);
    strings(w, "batch", h.webhooks.batch);
    strings(w, "queue", h.webhooks.queue);
    w.EndObject();
    w.EndObject();
    return std::string(kTag) + std::string(buf.GetString(), buf.GetSize());
}

Handover import_handover(std::string_view bytes) {
    const std::string_view body = sb::state_body(bytes, kTag);
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject()) throw std::runtime_error("backend state: not a JSON object");
    Handover h;
    const rapidjson::Value& sockets = field(d, "sockets");
    if (!sockets.IsArray()) throw std::runtime_error("backend state: sockets is not a list");
    for (const auto& s : sockets.GetArray()) {
        SocketRecord r;
        r.sid = text(s, "sid");
        r.ns = text(s, "ns");
        r.remote = text(s, "remote");
        const rapidjson::Value& data = field(s, "data");
        if (!data.IsArray()) throw std::runtime_error("backend state: data is not a list");
        for (const auto& kv : data.GetArray()) {
            if (!kv.IsArray() || kv.Size() != 2 || !kv[0].IsString() || !kv[1].IsBool())
                throw std::runtime_error("backend state: a data key is malformed");
            r.data_keys.emplace_back(std::string(kv[0].GetString(), kv[0].GetStringLength()), kv[1].GetBool());
        }
        h.sockets.emplace_back(number(s, "socket"), std::move(r));
    }
    const rapidjson::Value& rpcs = field(d, "rpcs");
    if (!rpcs.IsArray()) throw std::runtime_error("backend state: rpcs is not a list");
    for (const auto& r : rpcs.GetArray()) {
        HandedRpc x;
        x.fetch = number(r, "fetch");
        x.socket = number(r, "socket");
        const rapidjson::Value& ack = field(r, "ack");
        if (!ack.IsInt64()) throw std::runtime_error("backend state: ack is not a number");
        x.ack_id = ack.GetInt64();
        x.event = text(r, "event");
        x.backend = text(r, "backend");
        x.path = text(r, "path");
        x.body = text(r, "body");
        h.rpcs.push_back(std::move(x));
    }
    if (auto connects = d.FindMember("connects"); connects != d.MemberEnd()) {
        if (!connects->value.IsArray()) throw std::runtime_error("backend state: connects is not a list");
        for (const auto& c : connects->value.GetArray()) {
            if (!c.IsArray() || c.Size() != 2 || !c[0].IsUint64() || !c[1].IsUint64())
                throw std::runtime_error("backend state: a pending connect is malformed");
            h.connects.emplace_back(c[0].GetUint64(), c[1].GetUint64());
        }
    }
    const rapidjson::Value& wh = field(d, "webhooks");
    h.webhooks.id_prefix = text(wh, "prefix");
    h.webhooks.next_seq = number(wh, "seq");
    h.webhooks.batch_fetch = number(wh, "fetch");
    h.webhooks.batch = text_list(wh, "batch");
    h.webhooks.queue = text_list(wh, "queue");
    return h;
}

}  // namespace backend
