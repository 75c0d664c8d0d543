// Parsing of the chat configuration (see settings.h and README.md).
#include "settings.h"

#include <switchboard/config.hpp>

#include <rapidjson/document.h>

#include <stdexcept>
#include <string>

namespace chat {

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document cfg;
    cfg.Parse(config_json.data(), config_json.size());
    if (cfg.HasParseError() || !cfg.IsObject()) throw std::runtime_error("the configuration is not a JSON object");
    auto count = [&](const char* key, uint64_t fallback, uint64_t lo, uint64_t hi) {
        auto it = cfg.FindMember(key);
        if (it == cfg.MemberEnd()) return fallback;
        if (!it->value.IsUint64() || it->value.GetUint64() < lo || it->value.GetUint64() > hi)
            throw std::runtime_error(std::string(key) + ": expected an integer from " + std::to_string(lo) + " to " +
                                     std::to_string(hi));
        return it->value.GetUint64();
    };
    auto duration = [&](const char* key, uint64_t fallback, uint64_t lo) {
        auto it = cfg.FindMember(key);
        if (it == cfg.MemberEnd()) return fallback;
        std::optional<uint64_t> ms;
        if (it->value.IsUint64()) ms = it->value.GetUint64();
        else if (it->value.IsString()) ms = sb::parse_duration_ms(it->value.GetString());
        if (!ms || *ms < lo)
            throw std::runtime_error(std::string(key) +
                                     ": expected a duration of at least " + std::to_string(lo) +
                                     " ms: integer milliseconds, or \"500ms\", \"30s\", \"5m\", \"12h\", \"30d\"");
        return *ms;
    };
    Settings s;
    s.max_length = count("max_length", s.max_length, 1, 1'000'000);
    s.max_page = count("max_page", s.max_page, 1, 999);
    s.default_page = count("default_page", std::min(s.default_page, s.max_page), 1, s.max_page);
    s.retention_count = count("retention_count", s.retention_count, 0, UINT64_MAX);
    s.retention_age_ms = duration("retention_age", s.retention_age_ms, 0);
    s.trim_interval_ms = duration("trim_interval", s.trim_interval_ms, 10);
    return s;
}

}  // namespace chat
