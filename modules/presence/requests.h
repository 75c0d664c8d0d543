// Reading and checking what clients send with presence:list and
// presence:query. Anything malformed is refused with INVALID and a message
// saying what was wrong, before any state is looked at.
#ifndef SWITCHBOARD_PRESENCE_REQUESTS_H
#define SWITCHBOARD_PRESENCE_REQUESTS_H

#include <switchboard/module.h>

#include <cstddef>
#include <string>
#include <vector>

namespace presence {

// presence:list {room} -> the room's name. Throws sb::Refusal (INVALID).
std::string parse_list_request(const sb_event& event);

// presence:query {userIds: [...]} -> the distinct ids, in the order given.
// Throws sb::Refusal (INVALID).
std::vector<std::string> parse_query_request(const sb_event& event, size_t max_ids);

}  // namespace presence

#endif
