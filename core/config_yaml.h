// Reading typed values out of a YAML tree, every mistake reported as
// "file:line: key: what was expected".
//
// The configuration loader (config.cpp) reads many sections with the same
// few kinds of value (sizes, durations, bounded integers, lists, a module's
// subtree as JSON); these readers keep that file about its sections, not
// about YAML. Private to the loader: nothing else includes it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sb {

class YamlReader {
public:
    explicit YamlReader(std::string path) : path_(std::move(path)) {}

    // Throws ConfigError naming the file, the node's line and the key.
    [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& reason) const;

    // Walks a mapping, calling the handler registered for each key and
    // refusing keys that have none.
    using Handlers = std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>>;
    void for_each_key(const YAML::Node& map, const std::string& prefix, const Handlers& handlers) const;

    std::string scalar(const YAML::Node& n, const std::string& key) const;
    std::string string_value(const YAML::Node& n, const std::string& key) const;
    bool bool_value(const YAML::Node& n, const std::string& key) const;
    uint64_t uint_value(const YAML::Node& n, const std::string& key, uint64_t min, uint64_t max) const;
    uint64_t duration_value(const YAML::Node& n, const std::string& key, uint64_t min_ms, uint64_t max_ms) const;
    uint64_t size_value(const YAML::Node& n, const std::string& key, uint64_t min, uint64_t max) const;
    // A single value counts as a list of one.
    std::vector<std::string> string_list(const YAML::Node& n, const std::string& key) const;
    // A subtree as JSON text (a module's configuration).
    std::string json_of(const YAML::Node& n, const std::string& key) const;

protected:
    const std::string path_;

private:
    void to_json(const YAML::Node& n, rapidjson::Writer<rapidjson::StringBuffer>& w, const std::string& key) const;
    static bool is_number(const std::string& v);
};

}  // namespace sb
