// Reading YAML values with precise errors (see config_yaml.h).
#include "config_yaml.h"

#include "config.h"
#include "units.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <set>
#include <sstream>
#include <stdexcept>

namespace sb {

void YamlReader::fail(const YAML::Node& node, const std::string& key, const std::string& reason) const {
    std::ostringstream s;
    s << path_;
    if (node.IsDefined() && node.Mark().line >= 0) s << ":" << node.Mark().line + 1;
    s << ": " << key << ": " << reason;
    throw ConfigError(s.str());
}

void YamlReader::for_each_key(const YAML::Node& map, const std::string& prefix, const Handlers& handlers) const {
    if (!map.IsMap()) fail(map, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        const std::string key = it->first.as<std::string>();
        const std::string full = prefix.empty() ? key : prefix + "." + key;
        if (!seen.insert(key).second) fail(it->first, full, "duplicate key");
        auto h = handlers.find(key);
        if (h == handlers.end()) {
            std::string known;
            for (auto& [k, _] : handlers) known += (known.empty() ? "" : ", ") + k;
            fail(it->first, full, "unknown key (known keys: " + known + ")");
        }
        h->second(it->second, full);
    }
}

std::string YamlReader::scalar(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a single value");
    return n.Scalar();
}

std::string YamlReader::string_value(const YAML::Node& n, const std::string& key) const { return scalar(n, key); }

bool YamlReader::bool_value(const YAML::Node& n, const std::string& key) const {
    std::string v = scalar(n, key);
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
    fail(n, key, "expected true or false, got '" + v + "'");
}

uint64_t YamlReader::uint_value(const YAML::Node& n, const std::string& key, uint64_t min, uint64_t max) const {
    std::string v = scalar(n, key);
    uint64_t out = 0;
    size_t pos = 0;
    try {
        if (v.empty() || v[0] == '-') throw std::invalid_argument(v);
        out = std::stoull(v, &pos);
    } catch (const std::exception&) {
        fail(n, key, "expected a non-negative integer, got '" + v + "'");
    }
    if (pos != v.size()) fail(n, key, "expected a non-negative integer, got '" + v + "'");
    if (out < min || out > max)
        fail(n, key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return out;
}

uint64_t YamlReader::duration_value(const YAML::Node& n, const std::string& key, uint64_t min_ms, uint64_t max_ms) const {
    std::string v = scalar(n, key);
    auto d = parse_duration_ms(v);
    if (!d) fail(n, key, "expected a duration such as 25s or 300ms, got '" + v + "'");
    if (*d < min_ms || *d > max_ms)
        fail(n, key, "must be between " + std::to_string(min_ms) + "ms and " + std::to_string(max_ms) + "ms");
    return *d;
}

uint64_t YamlReader::size_value(const YAML::Node& n, const std::string& key, uint64_t min, uint64_t max) const {
    std::string v = scalar(n, key);
    auto s = parse_size_bytes(v);
    if (!s) fail(n, key, "expected a size such as 1MB, 64KiB or 1000000, got '" + v + "'");
    if (*s < min || *s > max)
        fail(n, key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
    return *s;
}

std::vector<std::string> YamlReader::string_list(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) fail(n, key, "expected a list");
    std::vector<std::string> out;
    for (size_t i = 0; i < n.size(); ++i) out.push_back(scalar(n[i], key + "[" + std::to_string(i) + "]"));
    return out;
}

void YamlReader::to_json(const YAML::Node& n, rapidjson::Writer<rapidjson::StringBuffer>& w, const std::string& key) const {
    switch (n.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            w.Null();
            break;
        case YAML::NodeType::Scalar: {
            const std::string& v = n.Scalar();
            if (n.Tag() == "!") {  // quoted: always a string
                w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
            } else if (v == "true" || v == "false") {
                w.Bool(v == "true");
            } else if (v == "null" || v == "~") {
                w.Null();
            } else if (is_number(v)) {
                w.RawValue(v.c_str(), v.size(), rapidjson::kNumberType);
            } else {
                w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
            }
            break;
        }
        case YAML::NodeType::Sequence:
            w.StartArray();
            for (size_t i = 0; i < n.size(); ++i) to_json(n[i], w, key + "[" + std::to_string(i) + "]");
            w.EndArray();
            break;
        case YAML::NodeType::Map:
            w.StartObject();
            for (auto it = n.begin(); it != n.end(); ++it) {
                std::string k = scalar(it->first, key);
                w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
                to_json(it->second, w, key + "." + k);
            }
            w.EndObject();
            break;
    }
}

bool YamlReader::is_number(const std::string& v) {
    // JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
    size_t i = 0;
    if (i < v.size() && v[i] == '-') ++i;
    if (i >= v.size() || !isdigit(static_cast<unsigned char>(v[i]))) return false;
    if (v[i] == '0' && i + 1 < v.size() && isdigit(static_cast<unsigned char>(v[i + 1]))) return false;
    while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i < v.size() && v[i] == '.') {
        ++i;
        if (i >= v.size() || !isdigit(static_cast<unsigned char>(v[i]))) return false;
        while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) ++i;
    }
    if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
        ++i;
        if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
        if (i >= v.size() || !isdigit(static_cast<unsigned char>(v[i]))) return false;
        while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) ++i;
    }
    return i == v.size();
}

std::string YamlReader::json_of(const YAML::Node& n, const std::string& key) const {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    to_json(n, w, key);
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace sb
