// Module "chat": messages in rooms that are never lost once acknowledged.
//
//   "chat:message" {room, text, clientId?}  member of the room only; stored
//        in the room's stream, acked {ok, id, ts} once storage reports it
//        durable, then `chat:message {id, room, userId, text, ts, clientId}`
//        to every socket in the room (the sender's included). The same
//        clientId from the same user is stored once: a retry gets the
//        original ack and broadcasts nothing.
//   "chat:history" {room, before?, after?, limit?}  members only; the
//        messages oldest first, paged by id.
//
// Order: storage completes a module's requests in the order they were made,
// and the broadcast happens in the completion, so every member sees the
// messages of a room in stream (id) order. Retention: rooms written or read
// since the last sweep are trimmed by one module timer. See README.md.
#include "requests.h"
#include "settings.h"

#include <switchboard/module.hpp>
#include <switchboard/storage.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace chat {
namespace {

// Longest idempotency key storage accepts.
constexpr size_t kMaxKeyBytes = 512;

// A room's stream: rooms are per namespace, and neither part holds '\n'
// as the rooms module accepts them (other modules' rooms are checked here).
std::string stream_of(const std::string& ns, const std::string& room) { return ns + "\n" + room; }

// What is stored per message: {"u":userId,"t":text,"c":clientId|null}.
std::string record_of(const std::string& user, const MessageRequest& m) {
    return "{\"u\":" + sb::json_string(user) + ",\"t\":" + sb::json_string(m.text) +
           ",\"c\":" + (m.client_id ? sb::json_string(*m.client_id) : std::string("null")) + "}";
}

// The message object clients see, from a stored entry; nullopt when the
// entry is not a record this module wrote.
std::optional<std::string> message_of(const std::string& room, const sb_stream_entry& e) {
    rapidjson::Document r;
    const std::string_view text = sb::entry_text(e);
    r.Parse(text.data(), text.size());
    if (r.HasParseError() || !r.IsObject() || !r.HasMember("u") || !r["u"].IsString() || !r.HasMember("t") ||
        !r["t"].IsString())
        return std::nullopt;
    auto str = [&](const char* k) { return sb::json_string(std::string_view(r[k].GetString(), r[k].GetStringLength())); };
    const bool has_client_id = r.HasMember("c") && r["c"].IsString();
    return "{\"id\":" + std::to_string(e.id) + ",\"room\":" + sb::json_string(room) + ",\"userId\":" + str("u") +
           ",\"text\":" + str("t") + ",\"ts\":" + std::to_string(e.ts_ms) +
           ",\"clientId\":" + (has_client_id ? str("c") : std::string("null")) + "}";
}

class Chat {
public:
    static constexpr sb_config_key config_keys[] = {
        {"max_length", SB_CONFIG_INTEGER, 0, "longest message text in characters (default 4000)"},
        {"default_page", SB_CONFIG_INTEGER, 0, "messages per chat:history answer without a limit (default 50)"},
        {"max_page", SB_CONFIG_INTEGER, 0, "largest chat:history limit (default 200, at most 999)"},
        {"retention_count", SB_CONFIG_INTEGER, 0, "messages kept per room, 0 for no limit (default 10000)"},
        {"retention_age", SB_CONFIG_ANY, 0, "messages older than this are dropped, 0 for no limit (default 0)"},
        {"trim_interval", SB_CONFIG_ANY, 0, "how often rooms written to are trimmed (default 60s)"},
    };

    Chat(sb::Host host, std::string_view config_json)
        : host_(host), settings_(parse_settings(config_json)), storage_(host) {
        if (!sb::host_has_storage(host)) throw std::runtime_error("chat needs a host with storage (ABI 1.1)");
        // `switchboard -t` creates modules without storage, so a missing
        // storage section is logged, not refused; requests then fail INTERNAL.
        if (storage_.get("probe", [](sb_status, std::string_view) {}) == SB_ERR_UNAVAILABLE)
            host_.log(SB_LOG_ERROR, "no storage (expected under switchboard -t): chat needs a `storage:` section in the configuration");
        if (settings_.retention_count || settings_.retention_age_ms) {
            trim_timer_ = host_.start_timer(settings_.trim_interval_ms, settings_.trim_interval_ms);
            if (!trim_timer_) throw std::runtime_error("cannot start the retention timer");
        }
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        if (name == "chat:message") {
            send(socket, ev);
            return true;
        }
        if (name == "chat:history") {
            history(socket, ev);
            return true;
        }
        return false;
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer != trim_timer_) return;
        for (const auto& stream : to_trim_) {
            storage_.trim(stream, settings_.retention_count, settings_.retention_age_ms, [this, stream](sb_status s) {
                if (s != SB_OK) host_.log(SB_LOG_WARN, "trimming a room's history failed (status " + std::to_string(s) + ")");
            });
        }
        to_trim_.clear();
    }

    // Nothing to hand over on a reload: messages live in storage, shared by
    // the old and the new instance. An append in flight during a reload is
    // stored but not acked; the client's retry with the same clientId gets
    // the original ack.

private:
    // The authenticated user of a member of `room`, or a refusal.
    std::string member_of(sb_socket_id socket, const sb_event& ev, const std::string& room) {
        const char* user = host_.user_of(socket);
        if (!user) throw sb::Refusal(std::string(ev.name) + " needs an authenticated user", "FORBIDDEN");
        std::string out = user;
        if (room.find('\n') != std::string::npos || !host_.in_room(socket, room))
            throw sb::Refusal("not a member of room '" + room + "'", "NOT_MEMBER");
        return out;
    }

    void send(sb_socket_id socket, const sb_event& ev) {
        MessageRequest m = parse_message(ev, settings_);
        const std::string user = member_of(socket, ev, m.room);
        const std::string ns = ev.namespace_name;
        const std::string stream = stream_of(ns, m.room);
        std::optional<std::string> key;
        if (m.client_id) {
            // Length-prefixed: no user id and clientId pair can spell another's.
            key = std::to_string(user.size()) + ":" + user + *m.client_id;
            if (key->size() > kMaxKeyBytes)
                throw sb::Refusal("chat:message: clientId is too long for this user id", "INVALID");
        }
        const int64_t ack_id = ev.ack_id;
        const sb_status queued = storage_.append(
            stream, key ? &*key : nullptr, record_of(user, m),
            [this, socket, ack_id, ns, stream, room = m.room](sb_status s, const sb_stream_entry* e, bool duplicate) {
                if (s != SB_OK || !e) {
                    host_.log(SB_LOG_ERROR, "storing a message in room '" + room + "' failed (status " + std::to_string(s) + ")");
                    fail(socket, ack_id, "chat:message", "the message could not be stored; send it again");
                    return;
                }
                if (ack_id >= 0)
                    host_.ack(socket, ack_id,
                              "[{\"ok\":true,\"id\":" + std::to_string(e->id) + ",\"ts\":" + std::to_string(e->ts_ms) + "}]");
                to_trim_.insert(stream);
                if (duplicate) return;
                if (auto message = message_of(room, *e)) host_.broadcast(ns, {room}, "chat:message", "[" + *message + "]");
            });
        refuse_unqueued(queued, "chat:message");
    }

    void history(sb_socket_id socket, const sb_event& ev) {
        const HistoryRequest h = parse_history(ev, settings_);
        member_of(socket, ev, h.room);
        const std::string stream = stream_of(ev.namespace_name, h.room);
        // Forward from `after`, else backward from `before` (or the newest);
        // one more than asked tells whether there is more.
        const bool forward = h.after.has_value();
        const sb_stream_query query{sizeof(sb_stream_query), h.after.value_or(0), h.before, h.limit + 1, forward ? 0 : 1};
        const int64_t ack_id = ev.ack_id;
        const uint64_t oldest_ts = settings_.retention_age_ms ? host_.now_ms() - std::min(host_.now_ms(), settings_.retention_age_ms) : 0;
        to_trim_.insert(stream);
        const sb_status queued = storage_.read(
            stream, query,
            [this, socket, ack_id, room = h.room, limit = h.limit, forward, oldest_ts](
                sb_status s, std::span<const sb_stream_entry> entries) {
                if (s != SB_OK) {
                    host_.log(SB_LOG_ERROR, "reading the history of room '" + room + "' failed (status " + std::to_string(s) + ")");
                    fail(socket, ack_id, "chat:history", "the history could not be read; try again");
                    return;
                }
                const bool more = entries.size() > limit;
                std::vector<std::string> messages;
                for (size_t i = 0; i < std::min(limit, entries.size()); ++i) {
                    if (entries[i].ts_ms < oldest_ts) continue;  // past retention, not trimmed yet
                    if (auto m = message_of(room, entries[i])) messages.push_back(std::move(*m));
                }
                if (!forward) std::reverse(messages.begin(), messages.end());
                std::string out = "[{\"ok\":true,\"room\":" + sb::json_string(room) + ",\"messages\":[";
                for (size_t i = 0; i < messages.size(); ++i) out += (i ? "," : "") + messages[i];
                out += std::string("],\"hasMore\":") + (more ? "true" : "false") + "}]";
                if (ack_id >= 0) host_.ack(socket, ack_id, out);
            });
        refuse_unqueued(queued, "chat:history");
    }

    // A storage call the host did not even queue.
    void refuse_unqueued(sb_status queued, const char* event) {
        if (queued == SB_OK) return;
        if (queued == SB_ERR_TOO_LARGE) throw sb::Refusal(std::string(event) + ": the message is too large to store", "INVALID");
        throw std::runtime_error(std::string(event) + ": storage refused the request (status " + std::to_string(queued) + ")");
    }

    // A failure after the hook returned, in the shape the host gives
    // failures: the ack when there is one, else an `error` event.
    void fail(sb_socket_id socket, int64_t ack_id, const char* event, const std::string& message) {
        const std::string error = "{\"code\":\"INTERNAL\",\"message\":" + sb::json_string(message);
        if (ack_id >= 0) host_.ack(socket, ack_id, "[{\"ok\":false,\"error\":" + error + "}}]");
        else host_.emit(socket, "error", "[" + error + ",\"event\":" + sb::json_string(event) + "}]");
    }

    sb::Host host_;
    Settings settings_;
    sb::Storage storage_;
    std::unordered_set<std::string> to_trim_;  // streams written or read since the last trim
    sb_timer_id trim_timer_ = 0;
};

}  // namespace
}  // namespace chat

SWITCHBOARD_MODULE(chat::Chat, "chat", "1.0.0")
