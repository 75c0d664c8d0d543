// Validation of what reaches the notifications module: the requests of
// clients (notification:list, notification:mark_read; refusals are
// sb::Refusal with code INVALID) and the calls of backends on the HTTP
// routes (refusals are BadRequest, answered 400 INVALID). Messages name the
// field that is wrong.
#ifndef SWITCHBOARD_NOTIFICATIONS_REQUESTS_H
#define SWITCHBOARD_NOTIFICATIONS_REQUESTS_H

#include "settings.h"

#include <switchboard/module.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace notifications {

// Longest user id accepted from a backend, in bytes.
constexpr size_t kMaxUserIdBytes = 256;
// Most ids in one notification:mark_read.
constexpr size_t kMaxMarkIds = 1000;

struct BadRequest : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ListRequest {
    uint64_t before = 0;  // 0: from the newest
    size_t limit = 0;
    bool unread_only = false;
};

// Longest idempotencyKey, in bytes.
constexpr size_t kMaxIdempotencyKeyBytes = 200;

// POST <route>: {userId | userIds, type, data?, idempotencyKey?}
struct CreateRequest {
    std::vector<std::string> users;  // distinct, in the order given
    std::string type;
    std::string data_json = "null";
    std::optional<std::string> idempotency_key;  // per user: a retry with it stores nothing new
};

// GET <route>?userId=...&before=&limit=&unreadOnly=
struct UserListRequest {
    std::string user;
    ListRequest list;
};

ListRequest parse_list(const sb_event& event, const Settings& settings);
std::vector<uint64_t> parse_mark_read(const sb_event& event);
CreateRequest parse_create(std::string_view body, const Settings& settings);
UserListRequest parse_user_list(std::string_view query, const Settings& settings);

}  // namespace notifications

#endif
