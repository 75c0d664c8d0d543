// Validation of chat requests (see requests.h and README.md).
#include "requests.h"

#include <switchboard/module.hpp>

#include <rapidjson/document.h>

#include <string_view>

namespace chat {
namespace {

[[noreturn]] void invalid(const sb_event& event, const std::string& why) {
    throw sb::Refusal(std::string(event.name) + ": " + why, "INVALID");
}

// The first argument, which must be an object; `shape` shows what is expected.
const rapidjson::Value& request_of(const sb_event& event, rapidjson::Document& args, const char* shape) {
    args.Parse(event.args_json, event.args_json_len);
    if (args.HasParseError() || !args.IsArray() || args.Empty() || !args[0].IsObject())
        invalid(event, std::string("needs ") + shape + " as its first argument");
    return args[0];
}

std::string room_of(const sb_event& event, const rapidjson::Value& request) {
    auto it = request.FindMember("room");
    if (it == request.MemberEnd()) invalid(event, "room is missing");
    if (!it->value.IsString()) invalid(event, "room is not a string");
    if (it->value.GetStringLength() == 0) invalid(event, "room is empty");
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Code points in `s`, or nullopt when it is not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF are invalid too).
std::optional<size_t> utf8_length(std::string_view s) {
    size_t count = 0;
    for (size_t i = 0; i < s.size(); ++count) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t extra = 0;
        uint32_t cp = 0;
        if (c < 0x80) { cp = c; }
        else if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
        else return std::nullopt;
        if (i + extra >= s.size() && extra) return std::nullopt;
        for (size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kSmallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
        i += extra + 1;
    }
    return count;
}

bool blank(std::string_view s) {
    return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// An optional id field: absent is 0, otherwise a positive integer.
uint64_t id_field(const sb_event& event, const rapidjson::Value& request, const char* name) {
    auto it = request.FindMember(name);
    if (it == request.MemberEnd() || it->value.IsNull()) return 0;
    if (!it->value.IsUint64() || it->value.GetUint64() == 0)
        invalid(event, std::string(name) + " is not a positive integer message id");
    return it->value.GetUint64();
}

}  // namespace

MessageRequest parse_message(const sb_event& event, const Settings& settings) {
    rapidjson::Document args;
    const rapidjson::Value& request = request_of(event, args, "{room: string, text: string, clientId?: string}");
    MessageRequest out;
    out.room = room_of(event, request);
    auto text = request.FindMember("text");
    if (text == request.MemberEnd()) invalid(event, "text is missing");
    if (!text->value.IsString()) invalid(event, "text is not a string");
    out.text.assign(text->value.GetString(), text->value.GetStringLength());
    if (blank(out.text)) invalid(event, "text is empty (or only whitespace)");
    const auto length = utf8_length(out.text);
    if (!length) invalid(event, "text is not valid UTF-8");
    if (*length > settings.max_length)
        invalid(event, "text is " + std::to_string(*length) + " characters long, at most " +
                           std::to_string(settings.max_length) + " are allowed");
    auto client_id = request.FindMember("clientId");
    if (client_id != request.MemberEnd() && !client_id->value.IsNull()) {
        if (!client_id->value.IsString()) invalid(event, "clientId is not a string");
        std::string id(client_id->value.GetString(), client_id->value.GetStringLength());
        if (id.empty()) invalid(event, "clientId is empty");
        if (id.size() > kMaxClientIdBytes)
            invalid(event, "clientId is longer than " + std::to_string(kMaxClientIdBytes) + " bytes");
        if (!utf8_length(id)) invalid(event, "clientId is not valid UTF-8");
        out.client_id = std::move(id);
    }
    return out;
}

HistoryRequest parse_history(const sb_event& event, const Settings& settings) {
    rapidjson::Document args;
    const rapidjson::Value& request =
        request_of(event, args, "{room: string, before?: id, after?: id, limit?: integer}");
    HistoryRequest out;
    out.room = room_of(event, request);
    out.before = id_field(event, request, "before");
    if (auto after = request.FindMember("after"); after != request.MemberEnd() && !after->value.IsNull()) {
        if (!after->value.IsUint64()) invalid(event, "after is not a message id (an integer, 0 for the start)");
        out.after = after->value.GetUint64();
    }
    if (out.before && out.after && out.before <= *out.after + 1)
        invalid(event, "before must be greater than after + 1 (nothing lies between them)");
    out.limit = settings.default_page;
    auto limit = request.FindMember("limit");
    if (limit != request.MemberEnd() && !limit->value.IsNull()) {
        if (!limit->value.IsUint64() || limit->value.GetUint64() == 0 || limit->value.GetUint64() > settings.max_page)
            invalid(event, "limit is not an integer from 1 to " + std::to_string(settings.max_page));
        out.limit = static_cast<size_t>(limit->value.GetUint64());
    }
    return out;
}

}  // namespace chat
