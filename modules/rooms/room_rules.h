// Room names and the access rules of the rooms module, apart from the
// module's plumbing so that the security-relevant part (which room a socket
// may enter, and why not) reads in one place.
//
// A room name is segments joined by ':'; a segment is one or more of
// A-Z a-z 0-9 _ - . @ +. Nothing else is accepted from a client, so a room
// name can never contain a pattern's own syntax ('*', '{', '}') nor split a
// claim value across segments.
//
// A rule's pattern has the same segments, plus:
//   {claim}  a whole segment equal to the socket's claim (a string, an
//            integer, or any element of a list of those); a claim value that
//            is not itself a valid segment never matches;
//   *        the last segment only: one or more further segments.
// Rules are tried in order; the first whose pattern matches decides.
#ifndef SWITCHBOARD_ROOMS_ROOM_RULES_H
#define SWITCHBOARD_ROOMS_ROOM_RULES_H

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rooms {

// Empty when `room` is a valid name of at most `max_length` bytes, else
// what is wrong with it (a sentence fragment for the client).
std::string room_name_problem(std::string_view room, size_t max_length);

// What a socket is, as far as the rules are concerned.
struct Subject {
    bool authenticated = false;        // the socket has a user id
    const rapidjson::Value* claims;    // never null: a JSON object, {} when the socket has none
};

struct Decision {
    bool allowed = false;
    std::string reason;  // for a refusal: the message the client sees
};

class AccessRules {
public:
    // `rules` is the config's list; `role_claim` names the claim holding a
    // role or a list of roles. Throws std::runtime_error naming the entry
    // ("rules[2].pattern: ...") when the configuration is wrong.
    AccessRules(const rapidjson::Value& rules, std::string role_claim);

    // `room` must already be a valid name (room_name_problem is empty).
    Decision decide(std::string_view room, const Subject& subject) const;

    size_t size() const { return rules_.size(); }

private:
    struct Segment {
        enum class Kind { Literal, Claim, Rest } kind;
        std::string text;  // the literal, or the claim's name
    };
    struct Rule {
        std::string pattern;
        std::vector<Segment> segments;
        std::vector<std::string> roles;  // empty: no role needed
        bool allow = true;
        bool anonymous = false;
    };

    static std::vector<Segment> compile(const std::string& pattern, const std::string& key);
    static bool matches(const Rule& rule, const std::vector<std::string_view>& room, const rapidjson::Value& claims);
    bool has_role(const Rule& rule, const rapidjson::Value& claims) const;

    std::vector<Rule> rules_;
    std::string role_claim_;
};

}  // namespace rooms

#endif  // SWITCHBOARD_ROOMS_ROOM_RULES_H
