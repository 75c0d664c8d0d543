// Which rule applies to an event name, remembered per name: matching runs
// an exact lookup and then every prefix, which an event should not pay for
// each time. The cache is bounded (names a client makes up must not grow
// it without limit); names beyond it are matched each time. With only the
// default rule nothing is looked up at all.
#ifndef SWITCHBOARD_THROTTLE_RULE_CACHE_H
#define SWITCHBOARD_THROTTLE_RULE_CACHE_H

#include "settings.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace throttle {

constexpr size_t kMaxCachedNames = 4096;  // distinct event names whose rule is remembered
constexpr size_t kMaxCachedNameLength = 128;

class RuleCache {
public:
    // `settings` must outlive the cache.
    explicit RuleCache(const Settings& settings) : settings_(settings), only_default_(settings.rules.size() == 1) {}

    uint32_t rule_for(std::string_view name) {
        if (only_default_) return 0;
        if (auto it = names_.find(name); it != names_.end()) return it->second;
        const uint32_t r = settings_.match(name);
        if (names_.size() < kMaxCachedNames && name.size() <= kMaxCachedNameLength)
            names_.emplace(std::string(name), r);
        return r;
    }
    size_t size() const { return names_.size(); }

private:
    const Settings& settings_;
    bool only_default_;
    StringMap<uint32_t> names_;  // event name -> rule
};

}  // namespace throttle

#endif
