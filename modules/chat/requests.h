// Validation of the requests clients send to chat (chat:message and
// chat:history): every refusal is an sb::Refusal with code INVALID and a
// message naming the field, as docs/events.md requires.
#ifndef SWITCHBOARD_CHAT_REQUESTS_H
#define SWITCHBOARD_CHAT_REQUESTS_H

#include "settings.h"

#include <switchboard/module.h>

#include <cstdint>
#include <optional>
#include <string>

namespace chat {

// Longest clientId, in bytes.
constexpr size_t kMaxClientIdBytes = 128;

struct MessageRequest {
    std::string room;
    std::string text;  // as sent (not trimmed)
    std::optional<std::string> client_id;
};

struct HistoryRequest {
    std::string room;
    uint64_t before = 0;                // 0: none
    std::optional<uint64_t> after;      // present: page forward from it (0: from the start)
    size_t limit = 0;
};

MessageRequest parse_message(const sb_event& event, const Settings& settings);
HistoryRequest parse_history(const sb_event& event, const Settings& settings);

}  // namespace chat

#endif
