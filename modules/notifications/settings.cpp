// Parsing of the notifications configuration (see settings.h and README.md).
#include "settings.h"

#include <switchboard/config.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace notifications {

Settings parse_settings(std::string_view config_json) {
    rapidjson::Document cfg;
    cfg.Parse(config_json.data(), config_json.size());
    if (cfg.HasParseError() || !cfg.IsObject()) throw std::runtime_error("the configuration is not a JSON object");
    auto number = [&](const char* key, uint64_t fallback, uint64_t lo, uint64_t hi) -> uint64_t {
        auto it = cfg.FindMember(key);
        if (it == cfg.MemberEnd()) return fallback;
        if (it->value.IsUint64() && it->value.GetUint64() >= lo && it->value.GetUint64() <= hi) return it->value.GetUint64();
        throw std::runtime_error(std::string(key) + ": expected an integer from " + std::to_string(lo) + " to " +
                                 std::to_string(hi));
    };
    auto millis = [&](const char* key, uint64_t fallback, uint64_t lo) -> uint64_t {
        auto it = cfg.FindMember(key);
        if (it == cfg.MemberEnd()) return fallback;
        const std::optional<uint64_t> ms = it->value.IsUint64() ? std::optional<uint64_t>(it->value.GetUint64())
                                           : it->value.IsString() ? sb::parse_duration_ms(it->value.GetString())
                                                                  : std::nullopt;
        if (ms && *ms >= lo) return *ms;
        throw std::runtime_error(std::string(key) + ": expected a duration (integer milliseconds, or a number with ms, s, m, h or d) of at least " +
                                 std::to_string(lo) + " ms");
    };
    Settings s;
    s.retention_count = number("retention_count", s.retention_count, 1, 1000);
    s.retention_age_ms = millis("retention_age", s.retention_age_ms, 0);
    s.trim_interval_ms = millis("trim_interval", s.trim_interval_ms, 10);
    s.max_recipients = number("max_recipients", s.max_recipients, 1, 100'000);
    s.max_type_length = number("max_type_length", s.max_type_length, 1, 1024);
    s.max_data_bytes = number("max_data_bytes", s.max_data_bytes, 2, 1'000'000);
    s.max_page = number("max_page", s.max_page, 1, 999);
    s.default_page = number("default_page", std::min<uint64_t>(s.default_page, s.max_page), 1, s.max_page);
    if (auto it = cfg.FindMember("route"); it != cfg.MemberEnd()) {
        if (!it->value.IsString() || std::string_view(it->value.GetString()).substr(0, 5) != "/api/" ||
            it->value.GetStringLength() < 6 || it->value.GetString()[it->value.GetStringLength() - 1] == '/')
            throw std::runtime_error("route: expected a path under /api/ that does not end in '/'");
        s.route = it->value.GetString();
    }
    return s;
}

}  // namespace notifications
