// switchboard/module.hpp — an optional, header-only C++20 layer over
// module.h for module authors.
//
// Why it exists: the ABI is C so that no C++ type, exception or allocator
// crosses the boundary. Writing the descriptor and its trampolines by hand
// is repetitive and easy to get wrong (an exception escaping a hook would
// take the whole server down). This header generates them from a class:
//
//   class Greeter {
//   public:
//       static constexpr sb_config_key config_keys[] = {{"greeting", SB_CONFIG_STRING, 0, "..."}};
//       Greeter(sb::Host host, std::string_view config_json);        // throw to refuse the config
//       bool on_event(sb_socket_id socket, const sb_event& event);   // true = handled
//       // optional: on_handshake, on_connect, on_disconnect, on_timer, on_room, on_http, on_cluster,
//       //           export_state, import_state
//   };
//   SWITCHBOARD_MODULE(Greeter, "greeter", "1.0.0")
//
// The hooks a class may define, and the descriptor hook each becomes:
//   void on_handshake(const sb_handshake_info&)                   throw sb::Refusal to refuse (HTTP status())
//   void on_connect(sb_socket_id, const sb_connect_info&)         throw sb::Refusal to refuse
//   bool on_event(sb_socket_id, const sb_event&)                  true = handled, false = next module
//   (on_handshake, on_connect and on_event may return an sb::Verdict instead,
//   to refuse without throwing; on_connect may return sb::Verdict::pending()
//   and decide later with Host::connect_decide)
//   void on_disconnect(sb_socket_id, std::string_view reason)
//   void on_timer(sb_timer_id, void* user_data)
//   void on_room(sb_socket_id, std::string_view room, bool joined)
//   void on_http(const sb_http_request&, sb_http_response*)       answers every request itself
//   void on_cluster(const sb_cluster_event&)
//   std::string export_state()                                    the bytes handed to the next version
//   void import_state(std::string_view bytes)                     throw to cancel the reload
//
// Every hook is wrapped: sb::Refusal rejects (the client gets its code,
// message and details), any other exception is a failure (logged, counted,
// answered with INTERNAL; a handshake with HTTP 500), and nothing propagates
// into the host.
#ifndef SWITCHBOARD_MODULE_HPP
#define SWITCHBOARD_MODULE_HPP

#include <switchboard/module.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sb {

// Throw from a hook (or return it as a Verdict, below) to refuse a
// handshake, a connection or an event with a client-visible code
// ("FORBIDDEN", "INVALID", "RATE_LIMITED", ...) and message.
//
// `details_json`, a JSON object such as {"retryAfterMs":120}, goes into
// sb_error's details buffer: the host adds its members to the error object
// a refused event is answered with ({code, message, retryAfterMs}). It is
// left out when the host's sb_error has no details buffer or too small a
// one (hosts hand out 256 bytes). Connections and handshakes are answered
// with the message alone.
//
// A refused handshake (on_handshake) is answered with HTTP status() and the
// body {"code":4,"message":...}: 403 unless with_status() says otherwise
// (429 for a flood, say; the host turns anything outside 400..599 into 403).
class Refusal : public std::runtime_error {
public:
    explicit Refusal(std::string message, std::string code = "FORBIDDEN", std::string details_json = {})
        : std::runtime_error(std::move(message)), code_(std::move(code)), details_json_(std::move(details_json)) {}
    const std::string& code() const { return code_; }
    const std::string& details_json() const { return details_json_; }
    int status() const { return status_; }
    // throw sb::Refusal("too many new connections", "RATE_LIMITED").with_status(429);
    Refusal& with_status(int http_status) {
        status_ = http_status;
        return *this;
    }

private:
    std::string code_;
    std::string details_json_;
    int status_ = 403;
};

// What on_handshake, on_connect or on_event decides, returned rather than
// thrown: a hook may return a Verdict instead of void (or bool). For hooks
// that refuse often, a rate limiter under a flood above all: a thrown
// refusal costs microseconds of unwinding, a returned one only its strings.
//
//   sb::Verdict on_event(sb_socket_id socket, const sb_event& event) {
//       if (over_limit(socket)) return sb::Refusal("rate limited", "RATE_LIMITED");
//       return sb::Verdict::pass();
//   }
class Verdict {
public:
    // on_event: the next module of the chain gets the event; on_handshake
    // and on_connect: admitted.
    static Verdict pass() { return Verdict(); }
    // on_event only: handled, the chain stops (elsewhere the same as pass).
    static Verdict handled() {
        Verdict v;
        v.handled_ = true;
        return v;
    }
    // on_connect only (ABI 1.3): not decided yet; the module decides later
    // with Host::connect_decide. Return it only when
    // Host::has_connect_decide() (an older host takes it as a rejection).
    static Verdict pending() {
        Verdict v;
        v.pending_ = true;
        return v;
    }
    // Refused, as if `refusal` had been thrown. Implicit, so that a hook
    // can `return sb::Refusal(...)`.
    Verdict(Refusal refusal) : refusal_(std::move(refusal)) {}

    bool is_handled() const { return handled_; }
    bool is_pending() const { return pending_; }
    const Refusal* refusal() const { return refusal_ ? &*refusal_ : nullptr; }

private:
    Verdict() = default;
    bool handled_ = false;
    bool pending_ = false;
    std::optional<Refusal> refusal_;
};

// The host's function table bound to this module's context.
class Host {
public:
    Host(sb_module_ctx* ctx, const sb_host_api* api) : ctx_(ctx), api_(api) {}

    void log(sb_log_level level, const std::string& message) const { api_->log(ctx_, level, message.c_str()); }
    sb_status emit(sb_socket_id socket, const std::string& name, std::string_view args_json = "[]") const {
        return api_->emit(ctx_, socket, name.c_str(), args_json.data(), args_json.size(), nullptr, 0);
    }
    sb_status ack(sb_socket_id socket, int64_t ack_id, std::string_view args_json = "[]") const {
        return api_->ack(ctx_, socket, ack_id, args_json.data(), args_json.size(), nullptr, 0);
    }
    sb_status broadcast(const std::string& namespace_name, const std::vector<std::string>& rooms, const std::string& name,
                        std::string_view args_json, sb_socket_id except_socket = 0) const {
        std::vector<const char*> room_ptrs;
        for (const auto& r : rooms) room_ptrs.push_back(r.c_str());
        sb_target target{sizeof(sb_target), namespace_name.c_str(), room_ptrs.data(), room_ptrs.size(), nullptr, 0,
                         except_socket};
        return api_->broadcast(ctx_, &target, name.c_str(), args_json.data(), args_json.size(), nullptr, 0);
    }
    sb_status join(sb_socket_id socket, const std::string& room) const { return api_->join(ctx_, socket, room.c_str()); }
    sb_status leave(sb_socket_id socket, const std::string& room) const { return api_->leave(ctx_, socket, room.c_str()); }
    sb_status disconnect(sb_socket_id socket) const { return api_->disconnect(ctx_, socket); }
    sb_status set(sb_socket_id socket, const std::string& key, const std::string& value) const {
        return api_->socket_set(ctx_, socket, key.c_str(), value.c_str());
    }
    // Empty when unset.
    std::string get(sb_socket_id socket, const std::string& key) const {
        const char* v = api_->socket_get(ctx_, socket, key.c_str());
        return v ? std::string(v) : std::string();
    }
    sb_timer_id start_timer(uint64_t delay_ms, uint64_t repeat_ms = 0, void* user_data = nullptr) const {
        return api_->timer_start(ctx_, delay_ms, repeat_ms, user_data);
    }
    sb_status stop_timer(sb_timer_id timer) const { return api_->timer_stop(ctx_, timer); }
    uint64_t now_ms() const { return api_->now_ms(ctx_); }

    // Whether the socket is in `room` of its namespace, whichever module
    // joined it there.
    bool in_room(sb_socket_id socket, std::string_view room) const {
        const size_t count = api_->rooms_of(ctx_, socket, nullptr, 0);
        std::vector<const char*> rooms(count);
        const size_t listed = std::min(count, api_->rooms_of(ctx_, socket, rooms.data(), rooms.size()));
        return std::any_of(rooms.begin(), rooms.begin() + static_cast<std::ptrdiff_t>(listed),
                           [&](const char* r) { return r && room == r; });
    }
    // The socket's user id, NULL when anonymous; borrowed until the next host call.
    const char* user_of(sb_socket_id socket) const { return api_->user_of(ctx_, socket); }
    // The socket's claims as a JSON object ("{}" when none).
    std::string claims_of(sb_socket_id socket) const {
        const char* claims = api_->claims_of(ctx_, socket);
        return claims ? std::string(claims) : std::string("{}");
    }
    // The peer address of the socket's connection, "" when unknown (or NULL
    // from a host that does not know it); borrowed until the next host call.
    const char* remote_address_of(sb_socket_id socket) const { return api_->remote_address_of(ctx_, socket); }
    // Adds `delta` to the counter switchboard_<name>_total{module="<module>",<labels>}
    // at /metrics; `labels` is "" or Prometheus pairs such as kind="event".
    sb_status counter_add(const char* name, const char* labels = "", uint64_t delta = 1) const {
        return api_->counter_add(ctx_, name, labels, delta);
    }

    // Whether the host takes pending connects (ABI 1.3: SB_CONNECT_PENDING
    // and connect_decide).
    bool has_connect_decide() const {
        return api_->struct_size >= offsetof(sb_host_api, connect_decide) + sizeof api_->connect_decide;
    }
    // Decides a connect on_connect left pending (see connect_decide in
    // module.h): accepted, or refused with `message` for the client.
    // SB_ERR_NOT_FOUND when it is not pending on this module (any more);
    // SB_ERR_UNAVAILABLE from a host older than ABI 1.3.
    sb_status connect_decide(sb_socket_id socket, bool accept, const std::string& message = {}) const {
        if (!has_connect_decide()) return SB_ERR_UNAVAILABLE;
        return api_->connect_decide(ctx_, socket, accept ? 1 : 0, message.c_str());
    }

    sb_module_ctx* ctx() const { return ctx_; }
    const sb_host_api* api() const { return api_; }

private:
    sb_module_ctx* ctx_;
    const sb_host_api* api_;
};

// A JSON string literal (with quotes) for `s`, for building args_json.
inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

// The body of state handed over by a reload, which starts with `tag`
// (e.g. "rooms/1\n"). Throws for any other format, cancelling the reload.
inline std::string_view state_body(std::string_view bytes, std::string_view tag) {
    if (bytes.substr(0, tag.size()) != tag)
        throw std::runtime_error("unrecognised state (expected format " +
                                 std::string(tag.substr(0, tag.find_last_not_of('\n') + 1)) + ")");
    return bytes.substr(tag.size());
}

namespace detail {

template <typename T>
T& self(void* state) {
    return *static_cast<T*>(state);
}

inline void fill(sb_error* error, const char* code, const char* message) { sb_error_set(error, code, message); }

// Structs grow at the end (module.h), so the details buffer is written only
// when the host's sb_error is large enough to have one.
inline void fill_details(sb_error* error, std::string_view json) {
    if (json.empty() || !error) return;
    if (error->struct_size < offsetof(sb_error, details_capacity) + sizeof error->details_capacity) return;
    if (!error->details_json || error->details_capacity <= json.size()) return;
    std::memcpy(error->details_json, json.data(), json.size());
    error->details_json[json.size()] = '\0';
}

inline void fill(sb_error* error, const Refusal& r) {
    fill(error, r.code().c_str(), r.what());
    fill_details(error, r.details_json());
}

template <typename T>
void* create(sb_module_ctx* ctx, const sb_host_api* api, const char* config_json, sb_error* error) {
    try {
        return new T(Host(ctx, api), std::string_view(config_json ? config_json : "{}"));
    } catch (const std::exception& e) {
        fill(error, "INVALID", e.what());
    } catch (...) {
        fill(error, "INVALID", "unknown error");
    }
    return nullptr;
}

template <typename T>
void destroy(void* state) {
    delete static_cast<T*>(state);
}

// A failing handshake hook refuses the session (HTTP 500) rather than
// admitting it unchecked, as a failing on_connect refuses the connection. A
// module that prefers to admit on failure catches its own exceptions.
template <typename T>
int on_handshake(void* state, const sb_handshake_info* info, sb_error* error) {
    try {
        if constexpr (std::is_same_v<decltype(self<T>(state).on_handshake(*info)), Verdict>) {
            const Verdict v = self<T>(state).on_handshake(*info);
            if (const Refusal* r = v.refusal()) {
                fill(error, *r);
                return r->status();
            }
        } else {
            self<T>(state).on_handshake(*info);
        }
        return 0;
    } catch (const Refusal& r) {
        fill(error, r);
        return r.status();
    } catch (const std::exception& e) {
        fill(error, "INTERNAL", e.what());
    } catch (...) {
        fill(error, "INTERNAL", "unknown error");
    }
    return 500;
}

template <typename T>
sb_connect_result on_connect(void* state, sb_socket_id socket, const sb_connect_info* info, sb_error* error) {
    try {
        if constexpr (std::is_same_v<decltype(self<T>(state).on_connect(socket, *info)), Verdict>) {
            const Verdict v = self<T>(state).on_connect(socket, *info);
            if (const Refusal* r = v.refusal()) {
                fill(error, *r);
                return SB_CONNECT_REJECT;
            }
            if (v.is_pending()) return SB_CONNECT_PENDING;
        } else {
            self<T>(state).on_connect(socket, *info);
        }
        return SB_CONNECT_ACCEPT;
    } catch (const Refusal& r) {
        fill(error, r);
    } catch (const std::exception& e) {
        fill(error, "INTERNAL", e.what());
    } catch (...) {
        fill(error, "INTERNAL", "unknown error");
    }
    return SB_CONNECT_REJECT;
}

template <typename T>
sb_event_result on_event(void* state, sb_socket_id socket, const sb_event* event, sb_error* error) {
    try {
        if constexpr (std::is_same_v<decltype(self<T>(state).on_event(socket, *event)), Verdict>) {
            const Verdict v = self<T>(state).on_event(socket, *event);
            if (const Refusal* r = v.refusal()) {
                fill(error, *r);
                return SB_EVENT_REJECT;
            }
            return v.is_handled() ? SB_EVENT_HANDLED : SB_EVENT_CONTINUE;
        } else {
            return self<T>(state).on_event(socket, *event) ? SB_EVENT_HANDLED : SB_EVENT_CONTINUE;
        }
    } catch (const Refusal& r) {
        fill(error, r);
        return SB_EVENT_REJECT;
    } catch (const std::exception& e) {
        fill(error, "INTERNAL", e.what());
    } catch (...) {
        fill(error, "INTERNAL", "unknown error");
    }
    return SB_EVENT_FAILED;
}

template <typename T>
void on_disconnect(void* state, sb_socket_id socket, const char* reason) {
    try {
        self<T>(state).on_disconnect(socket, std::string_view(reason));
    } catch (...) {
    }
}

template <typename T>
void on_timer(void* state, sb_timer_id timer, void* user_data) {
    try {
        self<T>(state).on_timer(timer, user_data);
    } catch (...) {
    }
}

template <typename T>
void on_room(void* state, sb_socket_id socket, const char* room, int joined) {
    try {
        self<T>(state).on_room(socket, std::string_view(room ? room : ""), joined != 0);
    } catch (...) {
    }
}

// A module's on_http answers every request itself (host->http_respond),
// also when it fails; an exception that still escapes is contained here and
// the host answers the request 504 when api.request_timeout passes.
template <typename T>
void on_http(void* state, const sb_http_request* request, sb_http_response* response) {
    try {
        self<T>(state).on_http(*request, response);
    } catch (...) {
    }
}

template <typename T>
void on_cluster(void* state, const sb_cluster_event* event) {
    try {
        self<T>(state).on_cluster(*event);
    } catch (...) {
    }
}

template <typename T>
sb_status export_state(void* state, sb_state_writer* writer) {
    try {
        std::string bytes = self<T>(state).export_state();
        writer->write(writer, bytes.data(), bytes.size());
        return SB_OK;
    } catch (...) {
        return SB_ERR_INTERNAL;
    }
}

template <typename T>
sb_status import_state(void* state, const uint8_t* data, size_t len, sb_error* error) {
    try {
        self<T>(state).import_state(std::string_view(reinterpret_cast<const char*>(data), len));
        return SB_OK;
    } catch (const std::exception& e) {
        fill(error, "INTERNAL", e.what());
    } catch (...) {
        fill(error, "INTERNAL", "unknown error");
    }
    return SB_ERR_INVALID;
}

}  // namespace detail

// Builds the descriptor for class T; hooks T does not define stay NULL.
template <typename T>
constexpr sb_module_descriptor describe(const char* name, const char* version) {
    sb_module_descriptor d{};
    d.struct_size = sizeof(sb_module_descriptor);
    d.abi_major = SB_ABI_MAJOR;
    d.abi_minor = SB_ABI_MINOR;
    d.name = name;
    d.version = version;
    d.create = &detail::create<T>;
    d.destroy = &detail::destroy<T>;
    if constexpr (requires(T& t, const sb_handshake_info& i) { t.on_handshake(i); })
        d.on_handshake = &detail::on_handshake<T>;
    if constexpr (requires(T& t, sb_socket_id s, const sb_connect_info& i) { t.on_connect(s, i); })
        d.on_connect = &detail::on_connect<T>;
    if constexpr (requires(T& t, sb_socket_id s, const sb_event& e) { t.on_event(s, e); })
        d.on_event = &detail::on_event<T>;
    if constexpr (requires(T& t, sb_socket_id s, std::string_view r) { t.on_disconnect(s, r); })
        d.on_disconnect = &detail::on_disconnect<T>;
    if constexpr (requires(T& t, sb_timer_id id, void* u) { t.on_timer(id, u); })
        d.on_timer = &detail::on_timer<T>;
    if constexpr (requires(T& t, sb_socket_id s, std::string_view r, bool joined) { t.on_room(s, r, joined); })
        d.on_room = &detail::on_room<T>;
    if constexpr (requires(T& t, const sb_http_request& q, sb_http_response* r) { t.on_http(q, r); })
        d.on_http = &detail::on_http<T>;
    if constexpr (requires(T& t, const sb_cluster_event& e) { t.on_cluster(e); })
        d.on_cluster = &detail::on_cluster<T>;
    if constexpr (requires(T& t) { t.export_state(); }) d.export_state = &detail::export_state<T>;
    if constexpr (requires(T& t, std::string_view b) { t.import_state(b); }) d.import_state = &detail::import_state<T>;
    if constexpr (requires { T::config_keys; }) {
        d.config_keys = T::config_keys;
        d.config_key_count = sizeof(T::config_keys) / sizeof(T::config_keys[0]);
    }
    return d;
}

}  // namespace sb

// Exports the module's entry symbol for class TYPE.
#define SWITCHBOARD_MODULE(TYPE, NAME, VERSION)                                                   \
    extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) {      \
        static const sb_module_descriptor descriptor = sb::describe<TYPE>(NAME, VERSION);         \
        return &descriptor;                                                                       \
    }

#endif  // SWITCHBOARD_MODULE_HPP
