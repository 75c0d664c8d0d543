// switchboard/glob.hpp — the pattern matching modules use for room and
// event names (header-only, C++17 and later).
//
// Why it exists: several modules let an operator name events or rooms by a
// pattern ("order:*", "doc:*:cursor"), and one syntax for all of them is
// what an operator can remember. A pattern is literal text in which `*`
// matches any run of characters, the empty run included; there is no other
// special character.
#ifndef SWITCHBOARD_GLOB_HPP
#define SWITCHBOARD_GLOB_HPP

#include <cstddef>
#include <string_view>

namespace sb {

inline bool glob_match(std::string_view pattern, std::string_view text) {
    // Greedy with one backtrack point: the last '*' seen absorbs one more
    // character whenever the rest fails to match. Linear in practice.
    size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace sb

#endif  // SWITCHBOARD_GLOB_HPP
