// The auth_jwt module's configuration, parsed and checked once when the
// module is created (keys are read and parsed here, not per token).
#ifndef SWITCHBOARD_AUTH_JWT_SETTINGS_H
#define SWITCHBOARD_AUTH_JWT_SETTINGS_H

#include "verifier.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace auth_jwt {

// Where a token may come from, tried in the configured order.
enum class Source { Auth, Header, Query };

enum class OnExpiry { Disconnect, Ignore };

// Event-name patterns -> roles allowed. An exact name wins over patterns
// ending in '*'; among those the longest prefix wins.
class Rules {
public:
    void add(const std::string& pattern, std::vector<std::string> roles);
    // The roles allowed to send `event`, or nullptr when no rule matches.
    const std::vector<std::string>* match(std::string_view event) const;

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::vector<std::string>, Hash, std::equal_to<>> exact_;
    std::vector<std::pair<std::string, std::vector<std::string>>> prefixes_;  // longest first
};

struct Settings {
    std::vector<Source> sources{Source::Auth, Source::Header};
    std::string auth_field = "token";
    std::string query_parameter = "token";
    std::string user_room = "user:{id}";  // "" = no automatic room
    OnExpiry on_expiry = OnExpiry::Disconnect;
    std::string refresh_event = "auth:refresh";  // "" = no refresh
    Rules rules;
    Policy policy;
    std::vector<std::unique_ptr<Key>> keys;
};

// Throws std::runtime_error naming the offending key.
Settings parse_settings(std::string_view config_json);

// "user:{id}" with the user id in place of every "{id}".
std::string room_for(const std::string& user_room, const std::string& user);

}  // namespace auth_jwt

#endif
