// Validation of notifications requests (see requests.h and README.md).
#include "requests.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <string_view>
#include <unordered_set>

namespace notifications {
namespace {

[[noreturn]] void invalid(const sb_event& event, const std::string& why) {
    throw sb::Refusal(std::string(event.name) + ": " + why, "INVALID");
}

// The first argument as an object; absent counts as {} (every field is optional).
const rapidjson::Value* object_arg(const sb_event& event, rapidjson::Document& args, const char* shape) {
    args.Parse(event.args_json, event.args_json_len);
    if (args.HasParseError() || !args.IsArray()) invalid(event, std::string("needs ") + shape + " as its first argument");
    if (args.Empty()) return nullptr;
    if (!args[0].IsObject()) invalid(event, std::string("needs ") + shape + " as its first argument");
    return &args[0];
}

// The limit and `before` of a list, checked; `fail` reports a bad field.
template <typename Fail>
void check_page(ListRequest& r, const Settings& settings, Fail fail) {
    if (r.limit == 0) r.limit = settings.default_page;
    if (r.limit > settings.max_page) fail("limit is not an integer from 1 to " + std::to_string(settings.max_page));
}

std::string user_id(const rapidjson::Value& v, const std::string& where) {
    if (!v.IsString() || v.GetStringLength() == 0) throw BadRequest(where + ": expected a non-empty string");
    if (v.GetStringLength() > kMaxUserIdBytes)
        throw BadRequest(where + ": longer than " + std::to_string(kMaxUserIdBytes) + " bytes");
    return std::string(v.GetString(), v.GetStringLength());
}

std::string percent_decoded(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size()) {
            unsigned value = 0;
            auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
            if (ec != std::errc() || end != s.data() + i + 3) throw BadRequest("malformed percent escape in the query");
            out += static_cast<char>(value);
            i += 2;
        } else if (s[i] == '%') {
            throw BadRequest("malformed percent escape in the query");
        } else {
            out += s[i];
        }
    }
    return out;
}

uint64_t positive(std::string_view name, const std::string& text) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v == 0)
        throw BadRequest(std::string(name) + ": expected a positive integer");
    return v;
}

}  // namespace

ListRequest parse_list(const sb_event& event, const Settings& settings) {
    rapidjson::Document args;
    const rapidjson::Value* req = object_arg(event, args, "{before?: id, limit?: integer, unreadOnly?: boolean}");
    ListRequest r;
    if (req) {
        if (auto it = req->FindMember("before"); it != req->MemberEnd() && !it->value.IsNull()) {
            if (!it->value.IsUint64() || it->value.GetUint64() == 0) invalid(event, "before is not a positive integer id");
            r.before = it->value.GetUint64();
        }
        if (auto it = req->FindMember("limit"); it != req->MemberEnd() && !it->value.IsNull()) {
            if (!it->value.IsUint64() || it->value.GetUint64() == 0)
                invalid(event, "limit is not an integer from 1 to " + std::to_string(settings.max_page));
            r.limit = static_cast<size_t>(std::min<uint64_t>(it->value.GetUint64(), settings.max_page + 1));
        }
        if (auto it = req->FindMember("unreadOnly"); it != req->MemberEnd() && !it->value.IsNull()) {
            if (!it->value.IsBool()) invalid(event, "unreadOnly is not a boolean");
            r.unread_only = it->value.GetBool();
        }
    }
    check_page(r, settings, [&](const std::string& why) { invalid(event, why); });
    return r;
}

std::vector<uint64_t> parse_mark_read(const sb_event& event) {
    rapidjson::Document args;
    const rapidjson::Value* req = object_arg(event, args, "{ids: [id, ...]}");
    if (!req || !req->HasMember("ids")) invalid(event, "ids is missing");
    const rapidjson::Value& ids = (*req)["ids"];
    if (!ids.IsArray()) invalid(event, "ids is not an array of notification ids");
    if (ids.Size() > kMaxMarkIds) invalid(event, "at most " + std::to_string(kMaxMarkIds) + " ids per call");
    std::vector<uint64_t> out;
    for (rapidjson::SizeType i = 0; i < ids.Size(); ++i) {
        if (!ids[i].IsUint64() || ids[i].GetUint64() == 0)
            invalid(event, "ids[" + std::to_string(i) + "] is not a positive integer id");
        out.push_back(ids[i].GetUint64());
    }
    return out;
}

CreateRequest parse_create(std::string_view body, const Settings& settings) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject())
        throw BadRequest("the body must be a JSON object {userId | userIds, type, data?}");
    for (const auto& m : d.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name != "userId" && name != "userIds" && name != "type" && name != "data" && name != "idempotencyKey")
            throw BadRequest("unknown field '" + std::string(name.substr(0, 64)) +
                             "' (expected userId | userIds, type, data, idempotencyKey)");
    }
    CreateRequest r;
    const bool one = d.HasMember("userId"), many = d.HasMember("userIds");
    if (one == many) throw BadRequest("give exactly one of userId (a string) and userIds (an array of strings)");
    if (one) {
        r.users.push_back(user_id(d["userId"], "userId"));
    } else {
        const rapidjson::Value& ids = d["userIds"];
        if (!ids.IsArray() || ids.Empty()) throw BadRequest("userIds: expected a non-empty array of strings");
        if (ids.Size() > settings.max_recipients)
            throw BadRequest("userIds: at most " + std::to_string(settings.max_recipients) + " users per call");
        std::unordered_set<std::string> seen;
        for (rapidjson::SizeType i = 0; i < ids.Size(); ++i) {
            std::string id = user_id(ids[i], "userIds[" + std::to_string(i) + "]");
            if (seen.insert(id).second) r.users.push_back(std::move(id));
        }
    }
    if (!d.HasMember("type")) throw BadRequest("type: is required");
    const rapidjson::Value& type = d["type"];
    if (!type.IsString() || type.GetStringLength() == 0) throw BadRequest("type: expected a non-empty string");
    if (type.GetStringLength() > settings.max_type_length)
        throw BadRequest("type: longer than " + std::to_string(settings.max_type_length) + " bytes");
    r.type.assign(type.GetString(), type.GetStringLength());
    if (d.HasMember("data")) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        d["data"].Accept(w);
        if (buf.GetSize() > settings.max_data_bytes)
            throw BadRequest("data: " + std::to_string(buf.GetSize()) + " bytes as JSON, at most " +
                             std::to_string(settings.max_data_bytes) + " are allowed");
        r.data_json.assign(buf.GetString(), buf.GetSize());
    }
    if (auto it = d.FindMember("idempotencyKey"); it != d.MemberEnd()) {
        if (!it->value.IsString() || it->value.GetStringLength() == 0 ||
            it->value.GetStringLength() > kMaxIdempotencyKeyBytes)
            throw BadRequest("idempotencyKey: expected a string of 1 to " + std::to_string(kMaxIdempotencyKeyBytes) + " bytes");
        r.idempotency_key = std::string(it->value.GetString(), it->value.GetStringLength());
    }
    return r;
}

UserListRequest parse_user_list(std::string_view query, const Settings& settings) {
    UserListRequest r;
    bool has_user = false;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        const std::string name = percent_decoded(pair.substr(0, eq));
        const std::string value = eq == std::string_view::npos ? std::string() : percent_decoded(pair.substr(eq + 1));
        if (name == "userId") {
            rapidjson::Value v(rapidjson::StringRef(value.data(), value.size()));
            r.user = user_id(v, "userId");
            has_user = true;
        } else if (name == "before") {
            r.list.before = positive(name, value);
        } else if (name == "limit") {
            r.list.limit = static_cast<size_t>(std::min<uint64_t>(positive(name, value), settings.max_page + 1));
        } else if (name == "unreadOnly") {
            if (value != "true" && value != "false") throw BadRequest("unreadOnly: expected true or false");
            r.list.unread_only = value == "true";
        } else {
            throw BadRequest("unknown query parameter '" + name.substr(0, 64) + "' (expected userId, before, limit, unreadOnly)");
        }
    }
    if (!has_user) throw BadRequest("userId: is required (?userId=...)");
    check_page(r.list, settings, [](const std::string& why) -> void { throw BadRequest(why); });
    return r;
}

}  // namespace notifications
