// Parsing and checking of the relay configuration (see settings.h and
// README.md for every key).
#include "settings.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace relay {
namespace {

constexpr size_t kMaxNameBytes = 256;
constexpr uint64_t kMaxPayloadLimit = 1024ull * 1024 * 1024;  // 1GiB: far above any engineio.max_payload

// Events a Socket.IO client reserves for itself, plus "error", which the
// host uses to report a refused event: relaying them would let one client
// fake connection state or a server error at the others.
constexpr std::string_view kReservedNames[] = {"connect",       "connect_error", "disconnect", "disconnecting",
                                               "newListener",   "removeListener", "error"};

bool reserved(std::string_view name) {
    return std::find(std::begin(kReservedNames), std::end(kReservedNames), name) != std::end(kReservedNames);
}

[[noreturn]] void refuse(const std::string& key, const std::string& why) { throw std::runtime_error(key + ": " + why); }

std::string name_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsString() || v.GetStringLength() == 0) refuse(key, "expected a non-empty string (an event name or pattern)");
    std::string name(v.GetString(), v.GetStringLength());
    if (name.size() > kMaxNameBytes) refuse(key, "longer than " + std::to_string(kMaxNameBytes) + " bytes");
    for (size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) refuse(key, "control character at byte " + std::to_string(i));
    }
    if (name.find_first_not_of('*') == std::string::npos)
        refuse(key, "'" + name + "' would relay every event, other modules' requests included; name the events");
    if (reserved(name)) refuse(key, "'" + name + "' is reserved by Socket.IO (or the server's error reports)");
    return name;
}

uint64_t size_of(const rapidjson::Value& v, const std::string& key) {
    std::optional<uint64_t> bytes;
    if (v.IsUint64()) bytes = v.GetUint64();
    else if (v.IsString()) bytes = parse_size_bytes(std::string_view(v.GetString(), v.GetStringLength()));
    if (!bytes) refuse(key, "expected a size such as 1KB, 64KiB or 1000 (bytes)");
    if (*bytes < 1 || *bytes > kMaxPayloadLimit) refuse(key, "must be between 1 byte and 1GiB");
    return *bytes;
}

bool flag_of(const rapidjson::Value& v, const std::string& key) {
    if (!v.IsBool()) refuse(key, "expected true or false");
    return v.GetBool();
}

EventRule rule_of(const rapidjson::Value& entry, const std::string& key) {
    if (!entry.IsObject()) refuse(key, "expected a mapping {name, max_payload, volatile, include_sender}");
    EventRule rule;
    bool named = false;
    for (const auto& m : entry.GetObject()) {
        const std::string field(m.name.GetString(), m.name.GetStringLength());
        const std::string at = key + "." + field;
        if (field == "name") {
            rule.name = name_of(m.value, at);
            named = true;
        } else if (field == "max_payload") {
            rule.max_payload = size_of(m.value, at);
        } else if (field == "volatile") {
            rule.is_volatile = flag_of(m.value, at);
        } else if (field == "include_sender") {
            rule.include_sender = flag_of(m.value, at);
        } else {
            refuse(at, "unknown field (known: name, max_payload, volatile, include_sender)");
        }
    }
    if (!named) refuse(key, "name is required");
    return rule;
}

}  // namespace

std::optional<uint64_t> parse_size_bytes(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        uint64_t factor;
    };
    static constexpr Unit kUnits[] = {{"B", 1},      {"KB", 1000},         {"MB", 1000'000},
                                      {"GB", 1000'000'000}, {"KiB", 1024}, {"MiB", 1024 * 1024},
                                      {"GiB", 1024ull * 1024 * 1024}};
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return std::nullopt;
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || end != text.data() + digits) return std::nullopt;
    std::string_view suffix = text.substr(digits);
    while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
    if (suffix.empty()) return value;
    for (const Unit& u : kUnits) {
        if (suffix != u.suffix) continue;
        if (value > UINT64_MAX / u.factor) return std::nullopt;
        return value * u.factor;
    }
    return std::nullopt;
}

Settings Settings::parse(std::string_view config_json) {
    rapidjson::Document doc;
    doc.Parse(config_json.data(), config_json.size());
    if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("the configuration is not a JSON object");
    Settings s;
    for (const auto& m : doc.GetObject()) {
        const std::string key(m.name.GetString(), m.name.GetStringLength());
        // The host checks keys against the table first; this guards a host
        // that passes the configuration through unchecked.
        if (key != "events") refuse(key, "unknown key (known keys: events)");
    }
    auto events = doc.FindMember("events");
    if (events == doc.MemberEnd()) refuse("events", "required: the events to relay");
    if (!events->value.IsArray() || events->value.Empty())
        refuse("events", "expected a non-empty list of {name, max_payload, volatile, include_sender}");
    for (rapidjson::SizeType i = 0; i < events->value.Size(); ++i) {
        const std::string key = "events[" + std::to_string(i) + "]";
        EventRule rule = rule_of(events->value[i], key);
        for (const auto& earlier : s.rules_)
            if (earlier.name == rule.name) refuse(key + ".name", "'" + rule.name + "' is listed twice");
        const size_t index = s.rules_.size();
        if (rule.name.find('*') == std::string::npos) s.exact_.emplace(rule.name, index);
        else s.patterns_.push_back(index);
        s.rules_.push_back(std::move(rule));
    }
    return s;
}

const EventRule* Settings::rule_for(std::string_view event) const {
    if (!exact_.empty()) {
        if (auto it = exact_.find(event); it != exact_.end()) return &rules_[it->second];
    }
    for (size_t index : patterns_)
        if (glob_match(rules_[index].name, event)) return reserved(event) ? nullptr : &rules_[index];
    return nullptr;
}

}  // namespace relay
