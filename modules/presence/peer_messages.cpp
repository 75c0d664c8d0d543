// Encoding and checking of the messages between presence instances of a
// cluster (see peer_messages.h).
#include "peer_messages.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>

namespace presence {
namespace {

constexpr int kVersion = 1;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const std::string& s) { w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size())); }

std::string message(const char* type, const std::function<void(Writer&)>& body) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("v");
    w.Int(kVersion);
    w.Key("type");
    w.String(type);
    body(w);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

[[noreturn]] void bad(const std::string& why) { throw PeerMessageError("presence peer message refused: " + why); }

std::string text(const rapidjson::Value& v, const char* what) {
    if (!v.IsString()) bad(std::string(what) + " is not a string");
    return std::string(v.GetString(), v.GetStringLength());
}

std::string field(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) bad(std::string("no '") + name + "'");
    return text(it->value, name);
}

uint64_t time_field(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsUint64()) bad(std::string("'") + name + "' is not a time");
    return it->value.GetUint64();
}

const rapidjson::Value& list(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsArray()) bad(std::string("'") + name + "' is not a list");
    return it->value;
}

std::string claims_of(const rapidjson::Value& v) {
    std::string claims = text(v, "claims");
    if (!valid_claim_fields(claims)) bad("claims are not JSON object members");
    return claims;
}

}  // namespace

bool valid_claim_fields(const std::string& claims) {
    if (claims.empty()) return true;
    const std::string object = "{" + claims + "}";
    rapidjson::Document doc;
    doc.Parse(object.c_str(), object.size());
    return !doc.HasParseError() && doc.IsObject();
}

void write_node_facts(Writer& w, const NodeFacts& facts) {
    w.Key("present");
    w.StartArray();
    for (const auto& p : facts.present) {
        w.StartArray();
        put(w, p.ns);
        put(w, p.room);
        put(w, p.user);
        put(w, p.claims);
        w.EndArray();
    }
    w.EndArray();
    w.Key("online");
    w.StartArray();
    for (const auto& user : facts.online) put(w, user);
    w.EndArray();
}

std::string present_message(const std::string& ns, const std::string& room, const std::string& user,
                            const std::string& claims) {
    return message("present", [&](Writer& w) {
        w.Key("ns");
        put(w, ns);
        w.Key("room");
        put(w, room);
        w.Key("user");
        put(w, user);
        w.Key("claims");
        put(w, claims);
    });
}

std::string absent_message(const std::string& ns, const std::string& room, const std::string& user,
                           uint64_t last_seen_ms) {
    return message("absent", [&](Writer& w) {
        w.Key("ns");
        put(w, ns);
        w.Key("room");
        put(w, room);
        w.Key("user");
        put(w, user);
        w.Key("lastSeen");
        w.Uint64(last_seen_ms);
    });
}

std::string online_message(const std::string& user) {
    return message("online", [&](Writer& w) {
        w.Key("user");
        put(w, user);
    });
}

std::string offline_message(const std::string& user, uint64_t last_seen_ms) {
    return message("offline", [&](Writer& w) {
        w.Key("user");
        put(w, user);
        w.Key("lastSeen");
        w.Uint64(last_seen_ms);
    });
}

std::string snapshot_message(const NodeFacts& facts, const std::list<OnlineUsers::Seen>& seen) {
    return message("snapshot", [&](Writer& w) {
        write_node_facts(w, facts);
        w.Key("lastSeen");
        w.StartArray();
        for (const auto& s : seen) {
            w.StartArray();
            put(w, s.user);
            w.Uint64(s.wall_ms);
            if (!s.graced) w.Bool(false);
            w.EndArray();
        }
        w.EndArray();
    });
}

std::string resync_message() {
    return message("resync", [](Writer&) {});
}

PeerMessage parse_peer_message(std::string_view bytes) {
    rapidjson::Document doc;
    doc.Parse(bytes.data(), bytes.size());
    if (doc.HasParseError() || !doc.IsObject()) bad("not a JSON object");
    auto v = doc.FindMember("v");
    if (v == doc.MemberEnd() || !v->value.IsInt() || v->value.GetInt() != kVersion)
        bad("unknown version (this node speaks version " + std::to_string(kVersion) + ")");
    const std::string type = field(doc, "type");
    PeerMessage m;
    if (type == "present") {
        m.type = PeerMessage::Type::Present;
        m.ns = field(doc, "ns");
        m.room = field(doc, "room");
        m.user = field(doc, "user");
        m.claims = field(doc, "claims");
        if (!valid_claim_fields(m.claims)) bad("claims are not JSON object members");
    } else if (type == "absent") {
        m.type = PeerMessage::Type::Absent;
        m.ns = field(doc, "ns");
        m.room = field(doc, "room");
        m.user = field(doc, "user");
        m.last_seen_ms = time_field(doc, "lastSeen");
    } else if (type == "online") {
        m.type = PeerMessage::Type::Online;
        m.user = field(doc, "user");
    } else if (type == "offline") {
        m.type = PeerMessage::Type::Offline;
        m.user = field(doc, "user");
        m.last_seen_ms = time_field(doc, "lastSeen");
    } else if (type == "snapshot") {
        m.type = PeerMessage::Type::Snapshot;
        for (const auto& p : list(doc, "present").GetArray()) {
            if (!p.IsArray() || p.Size() != 4) bad("a present entry is not [ns, room, user, claims]");
            m.facts.present.push_back({text(p[0], "ns"), text(p[1], "room"), text(p[2], "user"), claims_of(p[3])});
        }
        for (const auto& u : list(doc, "online").GetArray()) m.facts.online.push_back(text(u, "online user"));
        for (const auto& s : list(doc, "lastSeen").GetArray()) {
            if (!s.IsArray() || s.Size() < 2 || s.Size() > 3 || !s[1].IsUint64() || (s.Size() == 3 && !s[2].IsBool()))
                bad("a lastSeen entry is not [user, ms] or [user, ms, false]");
            m.seen.push_back({text(s[0], "lastSeen user"), s[1].GetUint64(), s.Size() == 2 || s[2].GetBool()});
        }
    } else if (type == "resync") {
        m.type = PeerMessage::Type::Resync;
    } else {
        bad("unknown type '" + type.substr(0, 32) + "'");
    }
    return m;
}

}  // namespace presence
