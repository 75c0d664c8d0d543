// Room-name syntax, rule patterns and the first-match decision of the rooms
// module (see room_rules.h for the grammar and README.md for the rules).
#include "room_rules.h"

#include <algorithm>
#include <stdexcept>

namespace rooms {
namespace {

bool segment_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '@' || c == '+';
}

// A client-supplied character, printable in an error message.
std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    static const char* hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

std::vector<std::string_view> split(std::string_view room) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const size_t colon = room.find(':', start);
        out.push_back(room.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
        if (colon == std::string_view::npos) return out;
        start = colon + 1;
    }
}

// The claim's value as one segment, when it is a string or an integer.
bool claim_equals(const rapidjson::Value& v, std::string_view segment) {
    if (v.IsString()) return std::string_view(v.GetString(), v.GetStringLength()) == segment;
    if (v.IsInt64()) return std::to_string(v.GetInt64()) == segment;
    if (v.IsUint64()) return std::to_string(v.GetUint64()) == segment;
    return false;
}

const rapidjson::Value* member(const rapidjson::Value& obj, std::string_view name) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw std::runtime_error(key + ": " + why); }

std::string string_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString() || v.GetStringLength() == 0) refuse(key, "expected a non-empty string");
    return std::string(v.GetString(), v.GetStringLength());
}

bool bool_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsBool()) refuse(key, "expected true or false");
    return v.GetBool();
}

}  // namespace

std::string room_name_problem(std::string_view room, size_t max_length) {
    if (room.empty()) return "room name is empty";
    if (room.size() > max_length)
        return "room name is " + std::to_string(room.size()) + " bytes long, at most " + std::to_string(max_length) +
               " are allowed";
    size_t segment_start = 0;
    for (size_t i = 0; i <= room.size(); ++i) {
        if (i == room.size() || room[i] == ':') {
            if (i == segment_start) return "room name has an empty segment at byte " + std::to_string(i);
            segment_start = i + 1;
        } else if (!segment_char(room[i])) {
            return "room name contains " + shown(room[i]) + " at byte " + std::to_string(i) +
                   " (allowed: letters, digits, _ - . @ + and ':' between segments)";
        }
    }
    return {};
}

AccessRules::AccessRules(const rapidjson::Value& rules, std::string role_claim) : role_claim_(std::move(role_claim)) {
    if (!rules.IsArray()) refuse("rules", "expected a list of {pattern, roles, allow, anonymous}");
    for (rapidjson::SizeType i = 0; i < rules.Size(); ++i) {
        const std::string key = "rules[" + std::to_string(i) + "]";
        const rapidjson::Value& entry = rules[i];
        if (!entry.IsObject()) refuse(key, "expected a mapping {pattern, roles, allow, anonymous}");
        Rule rule;
        for (const auto& m : entry.GetObject()) {
            const std::string field(m.name.GetString(), m.name.GetStringLength());
            const std::string at = key + "." + field;
            if (field == "pattern") {
                rule.pattern = string_of(m.value, at);
            } else if (field == "roles") {
                if (m.value.IsString()) {
                    rule.roles.push_back(string_of(m.value, at));
                } else if (m.value.IsArray() && !m.value.Empty()) {
                    for (rapidjson::SizeType r = 0; r < m.value.Size(); ++r)
                        rule.roles.push_back(string_of(m.value[r], at + "[" + std::to_string(r) + "]"));
                } else {
                    refuse(at, "expected a role or a non-empty list of roles");
                }
            } else if (field == "allow") {
                rule.allow = bool_of(m.value, at);
            } else if (field == "anonymous") {
                rule.anonymous = bool_of(m.value, at);
            } else {
                refuse(at, "unknown field (known: pattern, roles, allow, anonymous)");
            }
        }
        if (rule.pattern.empty()) refuse(key, "pattern is required");
        if (!rule.allow && !rule.roles.empty()) refuse(key, "a rule with allow: false takes no roles");
        rule.segments = compile(rule.pattern, key + ".pattern");
        rules_.push_back(std::move(rule));
    }
}

std::vector<AccessRules::Segment> AccessRules::compile(const std::string& pattern, const std::string& key) {
    std::vector<Segment> out;
    size_t i = 0;
    for (;;) {
        if (i < pattern.size() && pattern[i] == '{') {
            // A claim name may itself contain ':' (claims named by URL), so
            // it runs to the closing brace, which must end the segment.
            const size_t close = pattern.find('}', i + 1);
            if (close == std::string::npos) refuse(key, "'{' at byte " + std::to_string(i) + " is never closed");
            const std::string claim = pattern.substr(i + 1, close - i - 1);
            if (claim.empty() || claim.find('{') != std::string::npos)
                refuse(key, "'{...}' at byte " + std::to_string(i) + " must name a claim");
            out.push_back({Segment::Kind::Claim, claim});
            i = close + 1;
            if (i < pattern.size() && pattern[i] != ':')
                refuse(key, "a {claim} must be a whole segment (followed by ':' or the end), at byte " +
                                std::to_string(i));
        } else {
            const size_t colon = std::min(pattern.find(':', i), pattern.size());
            const std::string text = pattern.substr(i, colon - i);
            if (text == "*") {
                if (colon != pattern.size()) refuse(key, "'*' may only be the last segment");
                out.push_back({Segment::Kind::Rest, {}});
            } else {
                const std::string problem = room_name_problem(text, text.size() + 1);
                if (!problem.empty())
                    refuse(key, "segment '" + text + "' at byte " + std::to_string(i) +
                                    " is not a room-name segment, a {claim} or a final '*'");
                out.push_back({Segment::Kind::Literal, text});
            }
            i = colon;
        }
        if (i == pattern.size()) return out;
        ++i;  // the ':'
        if (i == pattern.size()) refuse(key, "ends with ':'");
    }
}

bool AccessRules::matches(const Rule& rule, const std::vector<std::string_view>& room, const rapidjson::Value& claims) {
    const auto& segs = rule.segments;
    const bool rest = !segs.empty() && segs.back().kind == Segment::Kind::Rest;
    const size_t fixed = rest ? segs.size() - 1 : segs.size();
    if (rest ? room.size() <= fixed : room.size() != fixed) return false;
    for (size_t i = 0; i < fixed; ++i) {
        const Segment& s = segs[i];
        if (s.kind == Segment::Kind::Literal) {
            if (room[i] != s.text) return false;
            continue;
        }
        const rapidjson::Value* v = member(claims, s.text);
        if (!v) return false;
        if (v->IsArray()) {
            if (std::none_of(v->Begin(), v->End(), [&](const rapidjson::Value& e) { return claim_equals(e, room[i]); }))
                return false;
        } else if (!claim_equals(*v, room[i])) {
            return false;
        }
    }
    return true;
}

bool AccessRules::has_role(const Rule& rule, const rapidjson::Value& claims) const {
    const rapidjson::Value* v = member(claims, role_claim_);
    if (!v) return false;
    auto listed = [&](const rapidjson::Value& r) {
        return r.IsString() && std::find(rule.roles.begin(), rule.roles.end(),
                                         std::string_view(r.GetString(), r.GetStringLength())) != rule.roles.end();
    };
    if (v->IsArray()) return std::any_of(v->Begin(), v->End(), listed);
    return listed(*v);
}

Decision AccessRules::decide(std::string_view room, const Subject& subject) const {
    const rapidjson::Value& claims = *subject.claims;
    const std::vector<std::string_view> segments = split(room);
    const std::string quoted = "'" + std::string(room) + "'";
    for (const Rule& rule : rules_) {
        if (!matches(rule, segments, claims)) continue;
        if (!rule.allow) return {false, "room " + quoted + " is not open to subscriptions"};
        if (!subject.authenticated && !rule.anonymous) return {false, "room " + quoted + " needs an authenticated user"};
        if (!rule.roles.empty() && !has_role(rule, claims)) {
            std::string roles;
            for (const auto& r : rule.roles) roles += (roles.empty() ? "" : ", ") + r;
            return {false, "room " + quoted + " needs one of the roles: " + roles};
        }
        return {true, {}};
    }
    return {false, "no access rule allows room " + quoted};
}

}  // namespace rooms
