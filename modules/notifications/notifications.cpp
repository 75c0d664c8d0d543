// Module "notifications": messages from backends to users that are stored
// before anything is promised, delivered live to every socket of the user,
// and waiting with an unread count when the user comes back.
//
//   POST <route> {userId | userIds, type, data?, idempotencyKey?}   (HTTP API, scope modules)
//        stored in each user's stream, then `notification:new` to every
//        socket of each user; answered 201 with the ids once all are durable
//   GET <route>?userId=&before=&limit=&unreadOnly=  a user's notifications
//   on connect          `notification:unread {count}`
//   "notification:list" {before?, limit?, unreadOnly?}   newest first, paged
//   "notification:mark_read" {ids} / "notification:mark_all_read" {}
//        acked {ok, ids, unread} once the read state is durable; the user's
//        other sockets get `notification:read {ids, unread}`
//
// Read state: see read_state.h. It is loaded per user on demand and every
// operation on a user runs after the load, in order, on the in-memory
// state, so two tabs marking at once never lose an update; writes of the
// state are issued in that same order and storage completes them in order.
// A user's state is dropped when their last socket leaves. See README.md.
#include "read_state.h"
#include "requests.h"
#include "settings.h"

#include <switchboard/module.hpp>
#include <switchboard/storage.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace notifications {
namespace {

std::string stream_of(const std::string& user) { return "inbox:" + user; }
std::string read_key(const std::string& user) { return "read:" + user; }

std::string ids_json(const std::vector<uint64_t>& ids) {
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
    return out + "]";
}

// {id, ts, read, type, data} from a stored {"type":...,"data":...}.
std::string item_of(const sb_stream_entry& e, bool read) {
    const std::string_view record = sb::entry_text(e);
    const std::string rest = record.size() > 2 && record.front() == '{' ? std::string(record.substr(1)) : "\"type\":null}";
    return "{\"id\":" + std::to_string(e.id) + ",\"ts\":" + std::to_string(e.ts_ms) +
           ",\"read\":" + (read ? "true" : "false") + "," + rest;
}

std::string error_json(const char* code, const std::string& message) {
    return "{\"code\":" + sb::json_string(code) + ",\"message\":" + sb::json_string(message) + "}";
}

class Notifications {
public:
    static constexpr sb_config_key config_keys[] = {
        {"retention_count", SB_CONFIG_INTEGER, 0, "notifications kept per user, 1 to 1000 (default 200)"},
        {"retention_age", SB_CONFIG_ANY, 0, "notifications older than this are dropped, 0 for no limit (default 0)"},
        {"trim_interval", SB_CONFIG_ANY, 0, "how often users who got notifications are trimmed by age (default 60s)"},
        {"max_recipients", SB_CONFIG_INTEGER, 0, "userIds per create call (default 1000)"},
        {"max_type_length", SB_CONFIG_INTEGER, 0, "longest type in bytes (default 128)"},
        {"max_data_bytes", SB_CONFIG_INTEGER, 0, "largest data as JSON in bytes (default 65536)"},
        {"default_page", SB_CONFIG_INTEGER, 0, "notifications per list without a limit (default 20)"},
        {"max_page", SB_CONFIG_INTEGER, 0, "largest list limit (default 100)"},
        {"route", SB_CONFIG_STRING, 0, "the HTTP API path served (default /api/v1/notifications)"},
    };

    Notifications(sb::Host host, std::string_view config_json)
        : host_(host), settings_(parse_settings(config_json)), storage_(host) {
        if (!sb::host_has_storage(host) ||
            host.api()->struct_size < offsetof(sb_host_api, http_respond) + sizeof(host.api()->http_respond))
            throw std::runtime_error("notifications needs a host with storage and HTTP routes (ABI 1.1)");
        // `switchboard -t` creates modules without storage or an API
        // listener: both are logged, not refused.
        if (storage_.get("probe", [](sb_status, std::string_view) {}) == SB_ERR_UNAVAILABLE)
            host_.log(SB_LOG_ERROR, "no storage (expected under switchboard -t): notifications needs a `storage:` section in the configuration");
        for (const char* method : {"POST", "GET"}) {
            const sb_status s = host.api()->http_route(host.ctx(), method, settings_.route.c_str());
            if (s == SB_ERR_INVALID)
                throw std::runtime_error(std::string(method) + " " + settings_.route + " is already served by the core or another module");
            if (s == SB_ERR_UNAVAILABLE) {
                host_.log(SB_LOG_WARN, "the HTTP API is off (no api.keys): backends cannot create notifications");
                break;
            }
        }
        trim_timer_ = host_.start_timer(settings_.trim_interval_ms, settings_.trim_interval_ms);
        if (!trim_timer_) throw std::runtime_error("cannot start the retention timer");
    }

    void on_connect(sb_socket_id socket, const sb_connect_info&) {
        const char* id = host_.user_of(socket);
        if (!id) return;
        const std::string user = id;
        socket_users_[socket] = user;
        ++users_[user].holds;
        // The greeting must follow the CONNECT answer, so it waits for a
        // storage round trip even when the state is in memory.
        storage_.get(read_key(user), [this, socket, user](sb_status, std::string_view) {
            with_user(user, [this, socket](ReadState* state) {
                if (state) host_.emit(socket, "notification:unread", "[{\"count\":" + std::to_string(unread(*state)) + "}]");
            });
        });
    }

    void on_disconnect(sb_socket_id socket, std::string_view) {
        auto it = socket_users_.find(socket);
        if (it == socket_users_.end()) return;
        const std::string user = std::move(it->second);
        socket_users_.erase(it);
        unhold(user);
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        if (name != "notification:list" && name != "notification:mark_read" && name != "notification:mark_all_read")
            return false;
        auto it = socket_users_.find(socket);
        if (it == socket_users_.end()) {
            // Connected before a reload brought this instance: adopted now.
            const char* id = host_.user_of(socket);
            if (!id) throw sb::Refusal(std::string(ev.name) + " needs an authenticated user", "FORBIDDEN");
            it = socket_users_.emplace(socket, id).first;
            ++users_[id].holds;
        }
        const std::string user = it->second;
        const int64_t ack_id = ev.ack_id;
        const std::string event(name);
        if (name == "notification:list") {
            const ListRequest list = parse_list(ev, settings_);
            with_user(user, [this, socket, ack_id, user, list, event](ReadState* state) {
                if (!state) return fail(socket, ack_id, event, "the notifications could not be read; try again");
                page(user, list, [this, socket, ack_id, event](std::optional<std::string> members) {
                    if (!members) return fail(socket, ack_id, event, "the notifications could not be read; try again");
                    if (ack_id >= 0) host_.ack(socket, ack_id, "[{\"ok\":true," + *members + "}]");
                });
            });
        } else {
            std::optional<std::vector<uint64_t>> ids;
            if (name == "notification:mark_read") ids = parse_mark_read(ev);
            with_user(user, [this, socket, ack_id, user, ids, event](ReadState* state) {
                if (!state) return fail(socket, ack_id, event, "the read state could not be loaded; try again");
                mark(socket, ack_id, user, *state, ids ? state->mark(*ids) : state->mark_all(), event);
            });
        }
        return true;
    }

    void on_http(const sb_http_request& request, sb_http_response* response) {
        const std::string_view method = request.method;
        try {
            if (request.path != settings_.route) {
                respond(response, 404, "{\"error\":" + error_json("NOT_FOUND", "no such route") + "}");
            } else if (method == "POST") {
                create(parse_create(std::string_view(request.body, request.body_len), settings_), response);
            } else if (method == "GET") {
                list_for_backend(parse_user_list(request.query, settings_), response);
            } else {
                respond(response, 405, "{\"error\":" + error_json("METHOD_NOT_ALLOWED", "use GET or POST") + "}");
            }
        } catch (const BadRequest& e) {
            respond(response, 400, "{\"error\":" + error_json("INVALID", e.what()) + "}");
        } catch (const std::exception& e) {
            host_.log(SB_LOG_ERROR, std::string("HTTP request failed: ") + e.what());
            respond(response, 500, "{\"error\":" + error_json("INTERNAL", "internal error") + "}");
        }
    }

    void on_timer(sb_timer_id timer, void*) {
        if (timer != trim_timer_) return;
        for (const auto& user : to_trim_)
            storage_.trim(stream_of(user), 0, settings_.retention_age_ms, [this](sb_status s) { trimmed(s); });
        to_trim_.clear();
    }

    // Nothing to hand over on a reload: notifications and read state live
    // in storage; the new instance loads each user again when needed, and
    // adopts a socket connected across the reload on its first request.

private:
    using Op = std::function<void(ReadState*)>;  // nullptr: the state could not be loaded

    struct User {
        std::optional<ReadState> state;  // set once loaded
        std::vector<Op> waiting;         // operations until then, in order
        size_t holds = 0;                // connected sockets and requests being served
    };

    // Runs `op` on the user's state, loading it first if needed.
    void with_user(const std::string& user, Op op) {
        User& u = users_[user];
        if (u.state) return op(&*u.state);
        u.waiting.push_back(std::move(op));
        if (u.waiting.size() == 1) load(user);
    }

    void load(const std::string& user) {
        auto persisted = std::make_shared<std::string>();
        auto failed = std::make_shared<bool>(false);
        sb_status queued = storage_.get(read_key(user), [persisted, failed](sb_status s, std::string_view value) {
            if (s == SB_OK) *persisted = value;
            else if (s != SB_ERR_NOT_FOUND) *failed = true;
        });
        const sb_stream_query newest{sizeof(sb_stream_query), 0, 0, settings_.retention_count, 1};
        if (queued == SB_OK)
            queued = storage_.read(stream_of(user), newest,
                                   [this, user, persisted, failed](sb_status s, std::span<const sb_stream_entry> entries) {
                                       loaded(user, s == SB_OK && !*failed ? std::optional<ReadState>(ReadState::load(*persisted, entries))
                                                                          : std::nullopt);
                                   });
        if (queued != SB_OK) loaded(user, std::nullopt);
    }

    void loaded(const std::string& user, std::optional<ReadState> state) {
        auto it = users_.find(user);
        if (it == users_.end()) return;
        if (!state) host_.log(SB_LOG_ERROR, "loading the notifications of a user failed");
        std::vector<Op> waiting = std::move(it->second.waiting);
        it->second.waiting.clear();
        it->second.state = std::move(state);
        for (auto& op : waiting) {
            auto u = users_.find(user);
            op(u != users_.end() && u->second.state ? &*u->second.state : nullptr);
        }
        release(user);
    }

    void unhold(const std::string& user) {
        auto it = users_.find(user);
        if (it != users_.end() && it->second.holds) --it->second.holds;
        release(user);
    }

    void release(const std::string& user) {
        auto it = users_.find(user);
        if (it != users_.end() && it->second.holds == 0 && it->second.waiting.empty()) users_.erase(it);
    }

    size_t unread(ReadState& state) const {
        if (settings_.retention_age_ms) state.forget_older(oldest_ts());
        return state.unread_count();
    }

    uint64_t oldest_ts() const {
        const uint64_t now = host_.now_ms();
        return settings_.retention_age_ms ? now - std::min(now, settings_.retention_age_ms) : 0;
    }

    // One page of the user's notifications (loaded state), newest first:
    // the members "notifications":[...],"hasMore":b,"unread":n, or nullopt.
    void page(const std::string& user, const ListRequest& list, std::function<void(std::optional<std::string>)> done) {
        const size_t wanted = list.unread_only ? settings_.retention_count : list.limit + 1;
        const sb_stream_query query{sizeof(sb_stream_query), 0, list.before, wanted, 1};
        const sb_status queued = storage_.read(
            stream_of(user), query, [this, user, list, done](sb_status s, std::span<const sb_stream_entry> entries) {
                auto it = users_.find(user);
                if (s != SB_OK || it == users_.end() || !it->second.state) return done(std::nullopt);
                ReadState& state = *it->second.state;
                const uint64_t oldest = oldest_ts();
                std::string items;
                size_t taken = 0;
                bool more = false;
                for (const auto& e : entries) {
                    if (e.ts_ms < oldest || (list.unread_only && state.is_read(e.id))) continue;
                    if (taken == list.limit) {
                        more = true;
                        break;
                    }
                    items += (taken++ ? "," : "") + item_of(e, state.is_read(e.id));
                }
                done("\"notifications\":[" + items + "],\"hasMore\":" + (more ? "true" : "false") +
                     ",\"unread\":" + std::to_string(unread(state)));
            });
        if (queued != SB_OK) done(std::nullopt);
    }

    // Persists the state after `newly` were marked read, then acks and tells
    // the user's other sockets.
    void mark(sb_socket_id socket, int64_t ack_id, const std::string& user, ReadState& state, std::vector<uint64_t> newly,
              const std::string& event) {
        const std::string body = "{\"ids\":" + ids_json(newly) + ",\"unread\":" + std::to_string(unread(state)) + "}";
        auto tell = [this, socket, ack_id, user, body, any = !newly.empty()]() {
            if (ack_id >= 0) host_.ack(socket, ack_id, "[{\"ok\":true," + body.substr(1) + "]");
            const std::string args = "[" + body + "]";
            if (any)
                host_.api()->emit_to_user(host_.ctx(), nullptr, user.c_str(), socket, "notification:read", args.data(), args.size());
        };
        if (newly.empty()) return tell();
        const sb_status queued = storage_.set(read_key(user), state.encode(), [this, socket, ack_id, event, tell](sb_status s) {
            if (s != SB_OK) return fail(socket, ack_id, event, "the read state could not be stored; try again");
            tell();
        });
        if (queued != SB_OK) fail(socket, ack_id, event, "the read state could not be stored; try again");
    }

    // A notification for each user; answered once every append completed.
    void create(const CreateRequest& request, sb_http_response* response) {
        struct Batch {
            sb_http_response* response;
            size_t remaining;
            size_t failed = 0;
            std::vector<std::string> created;  // per user, "" when it failed
        };
        auto batch = std::make_shared<Batch>(Batch{response, request.users.size(), 0, std::vector<std::string>(request.users.size())});
        const std::string record = "{\"type\":" + sb::json_string(request.type) + ",\"data\":" + request.data_json + "}";
        auto settle = [this, batch](size_t i, const std::string& user, const sb_stream_entry* e) {
            if (e) {
                batch->created[i] = "{\"userId\":" + sb::json_string(user) + ",\"id\":" + std::to_string(e->id) +
                                    ",\"ts\":" + std::to_string(e->ts_ms) + "}";
            } else {
                ++batch->failed;
            }
            if (--batch->remaining == 0) answer_create(*batch->response, batch->failed, batch->created);
        };
        for (size_t i = 0; i < request.users.size(); ++i) {
            const std::string& user = request.users[i];
            const std::string* key = request.idempotency_key ? &*request.idempotency_key : nullptr;
            const sb_status queued = storage_.append(
                stream_of(user), key, record, [this, i, user, settle](sb_status s, const sb_stream_entry* e, bool duplicate) {
                    if (s != SB_OK || !e) {
                        host_.log(SB_LOG_ERROR, "storing a notification failed (status " + std::to_string(s) + ")");
                        return settle(i, user, nullptr);
                    }
                    if (!duplicate) deliver(user, *e);  // a retry: delivered when first stored
                    settle(i, user, e);
                });
            if (queued != SB_OK) settle(i, user, nullptr);
        }
    }

    void answer_create(sb_http_response& response, size_t failed, const std::vector<std::string>& created) {
        std::string list = "[";
        for (const auto& c : created)
            if (!c.empty()) list += (list.size() > 1 ? "," : "") + c;
        list += "]";
        if (!failed) return respond(&response, 201, "{\"notifications\":" + list + "}");
        respond(&response, 500,
                "{\"error\":" + error_json("INTERNAL", std::to_string(failed) + " of " + std::to_string(created.size()) +
                                                           " notifications could not be stored") +
                    ",\"notifications\":" + list + "}");
    }

    // A stored notification goes to every socket of the user now.
    void deliver(const std::string& user, const sb_stream_entry& e) {
        const std::string args = "[" + item_of(e, false) + "]";
        host_.api()->emit_to_user(host_.ctx(), nullptr, user.c_str(), 0, "notification:new", args.data(), args.size());
        // By count at once (cheap, and every later read sees it), by age
        // from the sweep.
        storage_.trim(stream_of(user), settings_.retention_count, 0, [this](sb_status s) { trimmed(s); });
        if (settings_.retention_age_ms) to_trim_.insert(user);
        if (users_.count(user))
            with_user(user, [this, id = e.id, ts = e.ts_ms](ReadState* state) {
                if (state) state->add(id, ts, settings_.retention_count);
            });
    }

    void trimmed(sb_status s) {
        if (s != SB_OK) host_.log(SB_LOG_WARN, "trimming a user's notifications failed (status " + std::to_string(s) + ")");
    }

    void list_for_backend(const UserListRequest& request, sb_http_response* response) {
        const std::string user = request.user;
        ++users_[user].holds;
        with_user(user, [this, user, list = request.list, response](ReadState* state) {
            if (!state) {
                respond(response, 500, "{\"error\":" + error_json("INTERNAL", "the notifications could not be read") + "}");
                return unhold(user);
            }
            page(user, list, [this, user, response](std::optional<std::string> members) {
                if (members) respond(response, 200, "{\"userId\":" + sb::json_string(user) + "," + *members + "}");
                else respond(response, 500, "{\"error\":" + error_json("INTERNAL", "the notifications could not be read") + "}");
                unhold(user);
            });
        });
    }

    void respond(sb_http_response* response, int status, const std::string& body) {
        host_.api()->http_respond(host_.ctx(), response, status, body.data(), body.size());
    }

    // A failure after the hook returned, shaped as the host shapes failures.
    void fail(sb_socket_id socket, int64_t ack_id, const std::string& event, const std::string& message) {
        const std::string error = error_json("INTERNAL", message);
        if (ack_id >= 0) host_.ack(socket, ack_id, "[{\"ok\":false,\"error\":" + error + "}]");
        else host_.emit(socket, "error", "[" + error.substr(0, error.size() - 1) + ",\"event\":" + sb::json_string(event) + "}]");
    }

    sb::Host host_;
    Settings settings_;
    sb::Storage storage_;
    std::unordered_map<std::string, User> users_;                // loaded or loading
    std::unordered_map<sb_socket_id, std::string> socket_users_;  // authenticated sockets
    std::unordered_set<std::string> to_trim_;                     // users to trim by age at the next sweep
    sb_timer_id trim_timer_ = 0;
};

}  // namespace
}  // namespace notifications

SWITCHBOARD_MODULE(notifications::Notifications, "notifications", "1.0.0")
