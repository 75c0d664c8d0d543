// Reload handover of the presence state (see handover.h). Layout after the
// tag:
//   {"sockets":  [{"id":N, "ns":"/", "user":"alice" (absent: anonymous), "rooms":["chat:1"]}],
//    "members":  [{"ns":"/", "room":"chat:1", "user":"alice", "claims":"\"role\":\"admin\"", "leftAt":ms (while leaving)}],
//    "lastSeen": [["bob", ms] | ["bob", ms, false] (no grace: its node died), ...],   (least recent first)
//    "remote":   [{"node":"id", "stale":bool, "present":[[ns,room,user,claims],...], "online":[user,...]}]}
// presence/1 had no "remote" and only [user, ms] last-seen entries.
#include "handover.h"

#include "peer_messages.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

namespace presence {
namespace {

constexpr std::string_view kTag = "presence/2\n";
constexpr std::string_view kOldTag = "presence/1\n";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, const std::string& s) { w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size())); }

[[noreturn]] void corrupt(const std::string& what) { throw std::runtime_error("corrupt presence state: " + what); }

std::string string_field(const rapidjson::Value& obj, const char* name, const char* where) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) corrupt(std::string(where) + " without a string '" + name + "'");
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value& array_field(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsArray()) corrupt(std::string("no '") + name + "' list");
    return it->value;
}

}  // namespace

std::string export_handover(const Roster& roster, const OnlineUsers& users, const RemoteNodes& remote) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("sockets");
    w.StartArray();
    for (const auto& [id, s] : roster.sockets()) {
        w.StartObject();
        w.Key("id");
        w.Uint64(id);
        w.Key("ns");
        put(w, s.ns);
        if (!s.user.empty()) {
            w.Key("user");
            put(w, s.user);
        }
        w.Key("rooms");
        w.StartArray();
        for (const Room* room : s.rooms) put(w, room->name);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.Key("members");
    w.StartArray();
    roster.each_room([&](const Room& room) {
        for (const auto& [user, m] : room.members) {
            w.StartObject();
            w.Key("ns");
            put(w, room.ns);
            w.Key("room");
            put(w, room.name);
            w.Key("user");
            put(w, user);
            w.Key("claims");
            put(w, m.claims);
            if (m.leaving) {
                w.Key("leftAt");
                w.Uint64(m.left_at_ms);
            }
            w.EndObject();
        }
    });
    w.EndArray();
    w.Key("lastSeen");
    w.StartArray();
    for (const auto& seen : users.last_seen()) {
        w.StartArray();
        put(w, seen.user);
        w.Uint64(seen.wall_ms);
        if (!seen.graced) w.Bool(false);
        w.EndArray();
    }
    w.EndArray();
    w.Key("remote");
    w.StartArray();
    for (const std::string& node : remote.nodes()) {
        const NodeFacts facts = remote.facts(node);
        w.StartObject();
        w.Key("node");
        put(w, node);
        w.Key("stale");
        w.Bool(remote.stale(node));
        write_node_facts(w, facts);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(kTag) + std::string(buf.GetString(), buf.GetSize());
}

void import_handover(std::string_view bytes, const Settings& settings, Clocks now, Roster& roster, OnlineUsers& users,
                     RemoteNodes& remote) {
    const bool old = bytes.substr(0, kOldTag.size()) == kOldTag;
    if (!old && bytes.substr(0, kTag.size()) != kTag)
        throw std::runtime_error("unrecognised presence state (expected format presence/2 or presence/1)");
    const std::string_view json = bytes.substr(kTag.size());  // both tags are as long
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) corrupt("not a JSON object");

    for (const auto& seen : array_field(doc, "lastSeen").GetArray()) {
        if (!seen.IsArray() || seen.Size() < 2 || seen.Size() > 3 || !seen[0].IsString() || !seen[1].IsUint64() ||
            (seen.Size() == 3 && !seen[2].IsBool()))
            corrupt("bad lastSeen entry");
        users.remember(std::string(seen[0].GetString(), seen[0].GetStringLength()), seen[1].GetUint64(),
                       seen.Size() == 2 || seen[2].GetBool());
    }
    if (!old) {
        for (const auto& n : array_field(doc, "remote").GetArray()) {
            if (!n.IsObject()) corrupt("remote node is not an object");
            const std::string node = string_field(n, "node", "remote node");
            NodeFacts facts;
            for (const auto& p : array_field(n, "present").GetArray()) {
                if (!p.IsArray() || p.Size() != 4 || !p[0].IsString() || !p[1].IsString() || !p[2].IsString() ||
                    !p[3].IsString())
                    corrupt("bad remote present entry");
                NodeFacts::Present fact{p[0].GetString(), p[1].GetString(), p[2].GetString(), p[3].GetString()};
                if (settings.tracks(fact.room)) facts.present.push_back(std::move(fact));
            }
            for (const auto& u : array_field(n, "online").GetArray()) {
                if (!u.IsString()) corrupt("remote online user is not a string");
                facts.online.emplace_back(u.GetString(), u.GetStringLength());
            }
            remote.replace(node, facts);
            if (n.HasMember("stale") && n["stale"].IsTrue()) remote.mark_stale(node);
        }
    }
    for (const auto& s : array_field(doc, "sockets").GetArray()) {
        if (!s.IsObject() || !s.HasMember("id") || !s["id"].IsUint64()) corrupt("socket without an id");
        const std::string user = s.HasMember("user") ? string_field(s, "user", "socket") : std::string();
        TrackedSocket& socket = roster.add(s["id"].GetUint64(), string_field(s, "ns", "socket"), user);
        if (!user.empty()) users.connected(user);
        for (const auto& room : array_field(s, "rooms").GetArray()) {
            if (!room.IsString()) corrupt("socket room is not a string");
            const std::string name(room.GetString(), room.GetStringLength());
            if (settings.tracks(name)) roster.enter(socket, name);
        }
    }
    for (const auto& m : array_field(doc, "members").GetArray()) {
        if (!m.IsObject()) corrupt("member is not an object");
        const std::string ns = string_field(m, "ns", "member"), room = string_field(m, "room", "member"),
                          user = string_field(m, "user", "member");
        std::string claims = string_field(m, "claims", "member");
        rapidjson::Document check;
        const std::string object = "{" + claims + "}";
        check.Parse(object.c_str(), object.size());
        if (!claims.empty() && (check.HasParseError() || !check.IsObject())) corrupt("member claims are not JSON members");
        if (!settings.tracks(room)) continue;
        if (m.HasMember("leftAt")) {
            if (!m["leftAt"].IsUint64()) corrupt("member leftAt is not a time");
            const uint64_t left = m["leftAt"].GetUint64();
            const uint64_t end = left + settings.grace_ms;
            roster.restore_leaving(ns, room, user, std::move(claims), left,
                                   now.steady_ms + (end > now.wall_ms ? end - now.wall_ms : 0));
        } else if (Member* member = roster.member(ns, room, user)) {
            member->claims = std::move(claims);
        }
    }
}

}  // namespace presence
