// Checking a backend's RPC answer against the contract (see reply.h and
// docs/backend.md).
#include "reply.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace backend {
namespace {

constexpr size_t kMaxCodeBytes = 64;
constexpr size_t kMaxMessageBytes = 1024;

std::string json_of(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

std::string str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// FORBIDDEN, NOT_ALLOWED_2: what clients program against, never free text.
bool uppercase_identifier(std::string_view code) {
    if (code.empty() || code.size() > kMaxCodeBytes || code[0] < 'A' || code[0] > 'Z') return false;
    for (char c : code)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

// A string or a list of strings.
bool names_of(const rapidjson::Value& v, std::vector<std::string>& out) {
    if (v.IsString()) {
        out.push_back(str(v));
        return true;
    }
    if (!v.IsArray()) return false;
    for (const auto& item : v.GetArray()) {
        if (!item.IsString()) return false;
        out.push_back(str(item));
    }
    return true;
}

bool parse_emit(const rapidjson::Value& v, EmitAction& e, std::string& why) {
    if (!v.IsObject()) return why = "emit: expected {rooms?, users?, socket?, event, args?}", false;
    auto event = v.FindMember("event");
    if (event == v.MemberEnd() || !event->value.IsString() || event->value.GetStringLength() == 0)
        return why = "emit: event is missing or not a string", false;
    e.event = str(event->value);
    if (auto it = v.FindMember("args"); it != v.MemberEnd()) {
        if (!it->value.IsArray()) return why = "emit: args is not a list", false;
        e.args_json = json_of(it->value);
    }
    if (auto it = v.FindMember("rooms"); it != v.MemberEnd() && !names_of(it->value, e.rooms))
        return why = "emit: rooms is not a string or a list of strings", false;
    if (auto it = v.FindMember("users"); it != v.MemberEnd() && !names_of(it->value, e.users))
        return why = "emit: users is not a string or a list of strings", false;
    if (auto it = v.FindMember("socket"); it != v.MemberEnd()) {
        if (!it->value.IsString()) return why = "emit: socket is not a socket id", false;
        e.socket = str(it->value);
    }
    return true;
}

// {key: value}: a string is stored as is, null unsets, anything else is
// stored as its JSON text.
bool parse_data(const rapidjson::Value& arg, std::vector<DataEntry>& out, std::string& why) {
    if (!arg.IsObject()) return why = "data: expected {key: value}", false;
    for (auto it = arg.MemberBegin(); it != arg.MemberEnd(); ++it) {
        DataEntry d{str(it->name), std::nullopt, false};
        if (d.key.empty()) return why = "data: a key is empty", false;
        if (it->value.IsString()) d.value = str(it->value);
        else if (!it->value.IsNull()) d.value = json_of(it->value), d.is_json = true;
        out.push_back(std::move(d));
    }
    return true;
}

bool parse_action(const rapidjson::Value& v, Action& a, std::string& why) {
    if (!v.IsObject() || v.MemberCount() != 1)
        return why = "an action is an object with one of join, leave, emit, data, disconnect", false;
    const std::string kind = str(v.MemberBegin()->name);
    const rapidjson::Value& arg = v.MemberBegin()->value;
    if (kind == "join" || kind == "leave") {
        if (!arg.IsString() || arg.GetStringLength() == 0) return why = kind + ": expected a room name", false;
        a.kind = kind == "join" ? Action::Kind::join : Action::Kind::leave;
        a.room = str(arg);
        return true;
    }
    if (kind == "emit") {
        a.kind = Action::Kind::emit;
        return parse_emit(arg, a.emit, why);
    }
    if (kind == "data") {
        a.kind = Action::Kind::data;
        return parse_data(arg, a.data, why);
    }
    if (kind == "disconnect") {
        if (!arg.IsBool()) return why = "disconnect: expected true", false;
        a.kind = Action::Kind::disconnect;
        return arg.GetBool() || (why = "disconnect: expected true", false);
    }
    return why = "unknown action '" + kind + "'", false;
}

}  // namespace

std::optional<Reply> parse_reply(std::string_view body, std::string& why) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError()) return why = "the answer is not JSON", std::nullopt;
    if (!d.IsObject()) return why = "the answer is not a JSON object", std::nullopt;
    Reply r;
    auto error = d.FindMember("error");
    auto result = d.FindMember("result");
    if (error != d.MemberEnd() && !error->value.IsNull()) {
        if (!error->value.IsObject()) return why = "error is not an object {code, message}", std::nullopt;
        r.ok = false;
        auto code = error->value.FindMember("code");
        auto message = error->value.FindMember("message");
        const std::string c = code != error->value.MemberEnd() && code->value.IsString() ? str(code->value) : "";
        r.error_code = uppercase_identifier(c) ? c : "INTERNAL";
        if (message != error->value.MemberEnd() && message->value.IsString())
            r.error_message = str(message->value).substr(0, kMaxMessageBytes);
    } else if (result != d.MemberEnd()) {
        r.result_json = json_of(result->value);
    } else {
        return why = "the answer has neither result nor error", std::nullopt;
    }
    if (auto actions = d.FindMember("actions"); actions != d.MemberEnd()) {
        if (!actions->value.IsArray()) return why = "actions is not a list", std::nullopt;
        for (const auto& v : actions->value.GetArray()) {
            Action a{};
            if (!parse_action(v, a, why)) return std::nullopt;
            r.actions.push_back(std::move(a));
        }
    }
    return r;
}

std::optional<ConnectReply> parse_connect_reply(std::string_view body, std::string& why) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError()) return why = "the answer is not JSON", std::nullopt;
    if (!d.IsObject()) return why = "the answer is not a JSON object", std::nullopt;
    ConnectReply r;
    auto allow = d.FindMember("allow");
    if (allow == d.MemberEnd() || !allow->value.IsBool()) return why = "allow is missing or not true/false", std::nullopt;
    r.allow = allow->value.GetBool();
    if (!r.allow) {
        if (auto m = d.FindMember("message"); m != d.MemberEnd() && !m->value.IsNull()) {
            if (!m->value.IsString()) return why = "message is not a string", std::nullopt;
            r.message = str(m->value).substr(0, kMaxMessageBytes);
        }
        return r;
    }
    if (auto u = d.FindMember("userId"); u != d.MemberEnd() && !u->value.IsNull()) {
        if (!u->value.IsString() || u->value.GetStringLength() == 0)
            return why = "userId is not a non-empty string", std::nullopt;
        r.user_id = str(u->value);
    }
    if (auto c = d.FindMember("claims"); c != d.MemberEnd() && !c->value.IsNull()) {
        if (!c->value.IsObject()) return why = "claims is not an object", std::nullopt;
        r.claims_json = json_of(c->value);
    }
    if (auto rooms = d.FindMember("rooms"); rooms != d.MemberEnd()) {
        if (!rooms->value.IsArray()) return why = "rooms is not a list of room names", std::nullopt;
        for (const auto& room : rooms->value.GetArray()) {
            if (!room.IsString() || room.GetStringLength() == 0) return why = "rooms holds something other than a room name", std::nullopt;
            r.rooms.push_back(str(room));
        }
    }
    if (auto data = d.FindMember("data"); data != d.MemberEnd() && !parse_data(data->value, r.data, why)) return std::nullopt;
    return r;
}

}  // namespace backend
