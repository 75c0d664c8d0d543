/*
 * switchboard/module.h — the public contract between the Switchboard host and
 * its modules.
 *
 * Why this file exists: every feature of Switchboard (auth, rooms, chat, ...)
 * is a shared object written against this header alone. Only C types cross
 * the boundary, so a module may be written in C, C++ or anything that speaks
 * the C ABI, and a module built against an older minor version keeps loading
 * in a newer host.
 *
 * Rules that hold for every function below:
 * - Threading: the host calls every hook on its single event-loop thread, and
 *   every host function must be called from that thread (inside a hook or a
 *   timer). Modules never need locks.
 * - Ownership: pointers the host passes into a hook are borrowed for the
 *   duration of that call only; copy what you keep. Buffers a module passes to
 *   a host function are copied by the host before it returns.
 * - Identifiers: sockets and timers are opaque 64-bit ids, never pointers. An
 *   id of a socket that has gone is simply ignored by host functions (they
 *   return SB_ERR_NOT_FOUND), so a stale id is never a crash.
 * - Strings are UTF-8 and NUL-terminated unless a length is given alongside.
 * - Lifecycle: create (configure) -> hooks -> destroy. On a reload the host
 *   may create a second instance of the same module (new code or new
 *   configuration) while the old one still exists, hand the old one's state
 *   to the new one (export_state/import_state), then destroy the old one and
 *   unload its code. Keep all state in the object `create` returns: no
 *   globals, no thread_local with destructors, no threads left running after
 *   destroy, or the old code cannot be unloaded.
 * - Failure: a hook reports failure through its return value and sb_error;
 *   the host logs it with the module's name, counts it, answers the client,
 *   and carries on. A hook must not throw (C++) or abort.
 * - Versioning: structs start with their own size and only ever grow at the
 *   end. The host refuses a module whose abi_major differs from its own and
 *   accepts any abi_minor; a module must check `host->struct_size` before
 *   using a function added in a later minor version.
 */
#ifndef SWITCHBOARD_MODULE_H
#define SWITCHBOARD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 3 /* ABI 1.3: SB_TARGET_VOLATILE, fetch, pending connects, handshake cookie */

/* The one symbol every module exports. It returns a pointer to a static,
 * constant descriptor; the host calls it once per load. */
#define SB_MODULE_ENTRY_SYMBOL "switchboard_module_entry"

#if defined(__GNUC__)
#define SB_MODULE_EXPORT __attribute__((visibility("default")))
#else
#define SB_MODULE_EXPORT
#endif

typedef uint64_t sb_socket_id;
typedef uint64_t sb_timer_id;

/* Opaque handle that identifies one loaded module instance to the host.
 * Pass it back as the first argument of every host function. */
typedef struct sb_module_ctx sb_module_ctx;

/* Result codes returned by host functions and some hooks. */
typedef enum sb_status {
    SB_OK = 0,
    SB_ERR_NOT_FOUND = -1,   /* socket/timer/room unknown (or already gone) */
    SB_ERR_INVALID = -2,     /* malformed argument (e.g. args_json not a JSON array) */
    SB_ERR_TOO_LARGE = -3,   /* payload exceeds the configured limit */
    SB_ERR_INTERNAL = -4,
    SB_ERR_UNAVAILABLE = -5  /* (1.1) the service is not configured or not reachable (e.g. storage) */
} sb_status;

/* What an event hook tells the host to do with the event next. */
typedef enum sb_event_result {
    SB_EVENT_CONTINUE = 0, /* not mine: pass the event to the next module of the chain */
    SB_EVENT_HANDLED = 1,  /* handled: stop the chain */
    SB_EVENT_REJECT = 2,   /* refuse: stop the chain; the host reports `error` to the client */
    SB_EVENT_FAILED = 3    /* the module failed: logged and counted, client gets an error */
} sb_event_result;

/* What a connect hook decides. */
typedef enum sb_connect_result {
    SB_CONNECT_ACCEPT = 0,
    SB_CONNECT_REJECT = 1, /* CONNECT_ERROR with the message written to `error` */
    /* ABI 1.3: decided later with host->connect_decide (see there). Only
     * return it after checking that host->struct_size covers connect_decide:
     * an older host takes any value but ACCEPT as a rejection. */
    SB_CONNECT_PENDING = 2
} sb_connect_result;

typedef enum sb_log_level {
    SB_LOG_DEBUG = 0,
    SB_LOG_INFO = 1,
    SB_LOG_WARN = 2,
    SB_LOG_ERROR = 3
} sb_log_level;

/* A borrowed byte buffer (a binary attachment). */
typedef struct sb_bytes {
    const uint8_t *data;
    size_t len;
} sb_bytes;

/* Where a hook explains a refusal or a failure. The host provides the
 * buffers; write with sb_error_set() (below) or snprintf into them.
 * `code` is a short stable code the client sees (e.g. "FORBIDDEN",
 * "INVALID", "NOT_MEMBER", "RATE_LIMITED", "NOT_FOUND", "INTERNAL"); when
 * left empty the host uses "FORBIDDEN" for a rejection and "INTERNAL" for a
 * failure. `message` is a human-readable sentence. */
typedef struct sb_error {
    size_t struct_size;
    char *message;
    size_t message_capacity; /* bytes, including the terminating NUL */
    char *code;
    size_t code_capacity;
    /* Optional JSON object whose members are added to the error the client
     * receives, e.g. {"retryAfterMs":120}. Ignored unless a valid object. */
    char *details_json;
    size_t details_capacity;
} sb_error;

/* Copies `code` (may be NULL) and `message` into `error`, truncating safely. */
static inline void sb_error_set(sb_error *error, const char *code, const char *message) {
    size_t i;
    if (!error) return;
    if (code && error->code && error->code_capacity) {
        for (i = 0; code[i] && i + 1 < error->code_capacity; ++i) error->code[i] = code[i];
        error->code[i] = '\0';
    }
    if (message && error->message && error->message_capacity) {
        for (i = 0; message[i] && i + 1 < error->message_capacity; ++i) error->message[i] = message[i];
        error->message[i] = '\0';
    }
}

/* The kinds of value a configuration key may hold (see sb_config_key). */
typedef enum sb_config_type {
    SB_CONFIG_STRING = 1,
    SB_CONFIG_INTEGER = 2, /* a JSON number without fraction */
    SB_CONFIG_NUMBER = 3,
    SB_CONFIG_BOOLEAN = 4,
    SB_CONFIG_OBJECT = 5,
    SB_CONFIG_ARRAY = 6,
    SB_CONFIG_ANY = 7
} sb_config_type;

/* One key of the module's `config:` mapping. A module lists all its keys in
 * one table (sb_module_descriptor.config_keys); before `create` runs, the
 * host refuses unknown keys, values of the wrong type and missing required
 * keys, naming the config file, the line and the key. */
typedef struct sb_config_key {
    const char *name;
    sb_config_type type;
    int required; /* non-zero: the key must be present */
    const char *description;
} sb_config_key;

/* Where export_state writes: call write() as often as needed; the host
 * concatenates the bytes and hands them to the new version's import_state. */
typedef struct sb_state_writer {
    void (*write)(struct sb_state_writer *writer, const void *data, size_t len);
    void *host_data; /* the host's; do not touch */
} sb_state_writer;

/* What the host knows about a connecting socket (borrowed for the call). */
typedef struct sb_connect_info {
    size_t struct_size;
    const char *namespace_name; /* "/" or "/admin" */
    const char *socket_sid;     /* the Socket.IO socket id sent to the client */
    const char *auth_json;      /* CONNECT payload as JSON text; "{}" when none */
    const char *remote_address; /* peer IP as text */
    const char *query;          /* handshake query parameters ("a=1&b=2"), without EIO, transport, sid and t */
    const char *authorization;  /* handshake Authorization header; "" when none */
    /* ABI 1.3 (read only when struct_size covers it) */
    const char *cookie;         /* handshake Cookie header; "" when none */
} sb_connect_info;

/* A new Engine.IO session is being opened (before any namespace), offered
 * to every loaded module's on_handshake. Borrowed for the call. */
typedef struct sb_handshake_info {
    size_t struct_size;
    const char *remote_address;
    const char *transport;      /* "polling" or "websocket" */
    const char *query;
    const char *authorization;  /* "" when none */
} sb_handshake_info;

/* One event received from a client (borrowed for the call).
 * args_json is a JSON array of the arguments after the event name; binary
 * arguments appear as {"_placeholder":true,"num":N} and their bytes are in
 * attachments[N]. */
typedef struct sb_event {
    size_t struct_size;
    const char *namespace_name;
    const char *name;       /* event name */
    const char *args_json;  /* JSON array text */
    size_t args_json_len;
    const sb_bytes *attachments;
    size_t attachment_count;
    int64_t ack_id;         /* -1 when the client expects no ack */
} sb_event;

/* Where a broadcast goes: every socket of `namespace_name` that is in any of
 * `rooms` (all sockets of the namespace when room_count is 0), minus sockets
 * in any of `except_rooms` and minus `except_socket` (0 = none). In a
 * cluster the broadcast reaches those sockets on every node, unless `flags`
 * has SB_TARGET_LOCAL. */
typedef struct sb_target {
    size_t struct_size;
    const char *namespace_name;
    const char *const *rooms;
    size_t room_count;
    const char *const *except_rooms;
    size_t except_room_count;
    sb_socket_id except_socket;
    /* ABI 1.2 (read only when struct_size covers it) */
    uint32_t flags;
} sb_target;

/* This node's sockets only: for a module that runs on every node of a
 * cluster and reaches its own sockets itself (see on_cluster). */
#define SB_TARGET_LOCAL 1u
/* ABI 1.3: a volatile broadcast, like Socket.IO's `socket.volatile.emit`:
 * a recipient whose connection still holds output it could not send yet (a
 * slow consumer) does not get it, instead of having it queued behind the
 * rest. For data that the next message supersedes (cursor positions). Drops
 * are counted in switchboard_volatile_dropped_total. Honoured by the node
 * the broadcast is made on; other nodes of a cluster deliver it to their
 * sockets as an ordinary broadcast. A host older than 1.3 ignores the flag. */
#define SB_TARGET_VOLATILE 2u

/* ---- Cluster (ABI 1.2) -----------------------------------------------------
 * Nodes of a cluster (config `cluster:`) share emits through Redis without
 * any module doing anything: broadcasts, emit_to_user and the HTTP API reach
 * sockets on every node. A module whose own state must be cluster-wide
 * (who is online, say) talks to its peers on the other nodes: cluster_send
 * reaches the same module on other nodes, and on_cluster reports messages
 * and nodes coming and going. Messages from one node arrive in the order
 * sent, at most once; none arrive while Redis is unavailable, which is why
 * a node that lost Redis comes back under a new id (SB_CLUSTER_JOINED) and
 * the others see it as new (SB_CLUSTER_NODE_UP). */
typedef enum sb_cluster_event_kind {
    /* This node joined the cluster, or rejoined under a new id after losing
     * Redis: whatever it told the others before is forgotten there; announce
     * your state to every node. After a rejoin, what you hold from other
     * nodes may be stale (messages were missed): every live node is then
     * reported with SB_CLUSTER_NODE_UP again and sends its state; a node
     * that is not reported again within a few seconds has gone. */
    SB_CLUSTER_JOINED = 1,
    /* Node `node` appeared (or is live again after this node rejoined): it
     * knows nothing from this node yet. Messages from a node only arrive
     * after its NODE_UP. */
    SB_CLUSTER_NODE_UP = 2,
    /* Node `node` is gone (its lease ran out, or it left): forget what it
     * told you. No message from that node id arrives after this. */
    SB_CLUSTER_NODE_DOWN = 3,
    /* `data`/`len` from this module on node `node`. */
    SB_CLUSTER_MESSAGE = 4
} sb_cluster_event_kind;

typedef struct sb_cluster_event {
    size_t struct_size;
    sb_cluster_event_kind kind;
    const char *node;  /* JOINED: this node's new id; otherwise the other node */
    const void *data;  /* MESSAGE only; borrowed for the call */
    size_t len;
} sb_cluster_event;

/* ---- Storage (ABI 1.1) ------------------------------------------------------
 * Durable data the host keeps for modules, in the backend the operator
 * configured (SQLite in the state directory on a single node, or Redis
 * shared by the nodes of a cluster): ordered streams (chat history,
 * notification lists) and a key-value map.
 * - Names of streams and keys are private to the calling module (the host
 *   scopes them by module name); 1 to 512 bytes of UTF-8.
 * - Every call is asynchronous. It returns SB_OK once the request is queued,
 *   or an error at once (and then the callback is never called). The callback
 *   runs later on the loop thread, exactly once, unless the calling instance
 *   is destroyed first (its pending callbacks are dropped; requests already
 *   made still complete). A module's requests complete in the order made.
 * - A write whose callback reports SB_OK is durable: it survives a crash of
 *   the process (kill -9) and a restart (with Redis: as far as Redis
 *   persists it). SB_ERR_UNAVAILABLE in a callback: the backend was not
 *   reachable; a write may still have been applied, so retry appends with
 *   the same idempotency key.
 * - Pointers passed to a callback are borrowed for the duration of the call. */
typedef struct sb_stream_entry {
    uint64_t id;    /* assigned by the host; increasing within a stream, never reused */
    uint64_t ts_ms; /* wall-clock time of the append, ms since the Unix epoch */
    const uint8_t *data;
    size_t len;
} sb_stream_entry;

typedef struct sb_kv_entry {
    const char *key; /* without the module's scope */
    const uint8_t *value;
    size_t len;
} sb_kv_entry;

/* Which entries of a stream to read. */
typedef struct sb_stream_query {
    size_t struct_size;
    uint64_t after_id;  /* only entries with id > after_id (0: no lower bound) */
    uint64_t before_id; /* only entries with id < before_id (0: no upper bound) */
    size_t limit;       /* at most this many; 0 or more than 1000 means 1000 */
    int newest_first;   /* 0: the oldest matching entries, oldest first; 1: the newest, newest first */
} sb_stream_query;

/* `entry` is the stored entry. `duplicate` != 0: an entry with the same
 * idempotency key was stored before; `entry` is that earlier one and
 * nothing was added. */
typedef void (*sb_append_cb)(void *user_data, sb_status status, const sb_stream_entry *entry, int duplicate);
typedef void (*sb_entries_cb)(void *user_data, sb_status status, const sb_stream_entry *entries, size_t count);
/* SB_ERR_NOT_FOUND when the key is absent or has expired. */
typedef void (*sb_value_cb)(void *user_data, sb_status status, const uint8_t *value, size_t len);
typedef void (*sb_done_cb)(void *user_data, sb_status status);
typedef void (*sb_kv_entries_cb)(void *user_data, sb_status status, const sb_kv_entry *entries, size_t count);

/* ---- HTTP API routes (ABI 1.1) ------------------------------------------------
 * Backends call the server over its HTTP API listener (authenticated with API
 * keys by the host before a module sees anything). A module serves routes
 * it registers with host->http_route; requests arrive in on_http. */
typedef struct sb_http_request {
    size_t struct_size;
    const char *method;       /* "GET", "POST", "PUT", "DELETE" */
    const char *path;         /* e.g. "/api/v1/notifications" */
    const char *query;        /* the query string without '?', "" when none */
    const char *body;         /* request body (JSON text), "" when none */
    size_t body_len;
    const char *api_key_name; /* the name of the API key that authenticated the call */
} sb_http_request;

/* A request waiting for its answer (opaque). Answered exactly once with
 * host->http_respond, during on_http or later (e.g. from a storage
 * callback). If the module instance is destroyed first, the host answers
 * 503 itself. */
typedef struct sb_http_response sb_http_response;

/* ---- Outbound HTTP (ABI 1.3) -----------------------------------------------
 * A module calls other HTTP services (the application's backend, a
 * webhook receiver) with fetch(). The request runs on the server's event
 * loop (libcurl underneath: keep-alive connections per origin, TLS with
 * certificate verification, the server's `http_client:` settings for CA
 * files, proxy and concurrency); the callback runs on the loop exactly once
 * with the response or a precise outcome, unless the request was
 * cancelled or the instance that started it is gone (unloaded, or replaced
 * by a reload that did not adopt it): then it never runs. */
typedef struct sb_fetch_header {
    const char *name;
    const char *value;
} sb_fetch_header;

typedef struct sb_fetch_request {
    size_t struct_size;
    const char *method;  /* "GET", "POST", ...; NULL: GET */
    const char *url;     /* http:// or https:// */
    const sb_fetch_header *headers;
    size_t header_count;
    const char *body;    /* copied; may hold NULs */
    size_t body_len;
    uint64_t connect_timeout_ms;  /* 0: 2000 */
    uint64_t timeout_ms;          /* the whole request; 0: 10000 */
    size_t max_response_bytes;    /* 0: 1 MiB; a larger body ends as SB_FETCH_TOO_LARGE */
    const char *ca_file;          /* NULL: the server's http_client.ca_file, else the system's */
    int insecure_skip_verify;     /* 1: do not verify the server's certificate (only by explicit config!) */
} sb_fetch_request;

typedef enum sb_fetch_outcome {
    SB_FETCH_OK = 0,        /* a response arrived: see `status` (any HTTP status) */
    SB_FETCH_REFUSED = 1,   /* the connection could not be made */
    SB_FETCH_DNS = 2,       /* the host name did not resolve */
    SB_FETCH_TIMEOUT = 3,   /* connect or total timeout */
    SB_FETCH_TLS = 4,       /* TLS handshake or certificate verification failed */
    SB_FETCH_TOO_LARGE = 5, /* the response body was over max_response_bytes */
    SB_FETCH_FAILED = 6     /* anything else: see `error` */
} sb_fetch_outcome;

typedef struct sb_fetch_response {
    size_t struct_size;
    sb_fetch_outcome outcome;
    int status;  /* HTTP status when outcome is SB_FETCH_OK, else 0 */
    const sb_fetch_header *headers;  /* the final response's headers */
    size_t header_count;
    const char *body;
    size_t body_len;
    const char *error;    /* "" when SB_FETCH_OK */
    uint64_t elapsed_us;  /* from fetch() to the end */
} sb_fetch_response;

/* Everything in `response` is borrowed for the callback only. */
typedef void (*sb_fetch_cb)(void *user_data, const sb_fetch_response *response);
typedef uint64_t sb_fetch_id;

/* Functions the host offers to modules. Grows only at the end. */
typedef struct sb_host_api {
    size_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;

    /* Log a line attributed to the calling module. */
    void (*log)(sb_module_ctx *ctx, sb_log_level level, const char *message);

    /* Send event `name` with `args_json` (a JSON array, may hold binary
     * placeholders numbered into `attachments`) to one socket. */
    sb_status (*emit)(sb_module_ctx *ctx, sb_socket_id socket, const char *name,
                      const char *args_json, size_t args_json_len,
                      const sb_bytes *attachments, size_t attachment_count);

    /* Send event `name` to every socket selected by `target`. The packet is
     * encoded once and the same bytes are queued to every recipient. */
    sb_status (*broadcast)(sb_module_ctx *ctx, const sb_target *target, const char *name,
                           const char *args_json, size_t args_json_len,
                           const sb_bytes *attachments, size_t attachment_count);

    /* Answer the client's ack `ack_id` with `args_json` (a JSON array). */
    sb_status (*ack)(sb_module_ctx *ctx, sb_socket_id socket, int64_t ack_id,
                     const char *args_json, size_t args_json_len,
                     const sb_bytes *attachments, size_t attachment_count);

    sb_status (*join)(sb_module_ctx *ctx, sb_socket_id socket, const char *room);
    sb_status (*leave)(sb_module_ctx *ctx, sb_socket_id socket, const char *room);

    /* Writes up to `capacity` room names (borrowed until the next host call)
     * into `rooms`; returns how many rooms the socket is in. */
    size_t (*rooms_of)(sb_module_ctx *ctx, sb_socket_id socket, const char **rooms,
                       size_t capacity);

    /* Disconnect the socket from its namespace (sends DISCONNECT). */
    sb_status (*disconnect)(sb_module_ctx *ctx, sb_socket_id socket);

    /* Per-socket key/value strings, shared by all modules of the chain. The
     * value returned by get is borrowed until the next host call; NULL when
     * unset. */
    sb_status (*socket_set)(sb_module_ctx *ctx, sb_socket_id socket, const char *key,
                            const char *value);
    const char *(*socket_get)(sb_module_ctx *ctx, sb_socket_id socket, const char *key);

    /* Start a timer: fires after delay_ms, then every repeat_ms (0 = once).
     * The host owns it and stops it when the module unloads. Returns 0 on
     * failure. */
    sb_timer_id (*timer_start)(sb_module_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms,
                               void *user_data);
    sb_status (*timer_stop)(sb_module_ctx *ctx, sb_timer_id timer);

    /* Milliseconds since the Unix epoch (wall clock). */
    uint64_t (*now_ms)(sb_module_ctx *ctx);

    /* Identity, set by an authentication module (typically in on_connect)
     * and read by every other module: `user_id` (NULL clears it) and
     * `claims_json`, a JSON object of claims other modules may use (NULL or
     * "{}" for none; refused with SB_ERR_INVALID unless a JSON object). */
    sb_status (*set_identity)(sb_module_ctx *ctx, sb_socket_id socket, const char *user_id, const char *claims_json);
    /* The socket's user id, or NULL when anonymous. Borrowed until the next host call. */
    const char *(*user_of)(sb_module_ctx *ctx, sb_socket_id socket);
    /* The socket's claims as a JSON object ("{}" when none). Borrowed until the next host call. */
    const char *(*claims_of)(sb_module_ctx *ctx, sb_socket_id socket);
    /* The peer address of the socket's connection ("" when unknown). Borrowed until the next host call. */
    const char *(*remote_address_of)(sb_module_ctx *ctx, sb_socket_id socket);

    /* Adds `delta` to a counter exported at /metrics as
     * switchboard_<name>_total{module="<module>",<labels>}. `name` is
     * [a-z0-9_]+; `labels` is "" or Prometheus label pairs such as
     * reason="expired" (no newlines). */
    sb_status (*counter_add)(sb_module_ctx *ctx, const char *name, const char *labels, uint64_t delta);

    /* ---- ABI 1.1: check host->struct_size before using what follows ---- */

    /* The namespace of a connected socket ("/", "/chat"), or NULL.
     * Borrowed until the next host call. */
    const char *(*namespace_of)(sb_module_ctx *ctx, sb_socket_id socket);
    /* Send event `name` to every socket whose user id (set_identity) is
     * `user_id`, in namespace `namespace_name` (NULL: every namespace whose
     * chain holds the calling module), except `except_socket` (0: none).
     * Encoded once. SB_OK also when the user has no socket. */
    sb_status (*emit_to_user)(sb_module_ctx *ctx, const char *namespace_name, const char *user_id,
                              sb_socket_id except_socket, const char *name, const char *args_json,
                              size_t args_json_len);

    /* Storage (see "Storage" above). `idempotency_key` (NULL: none): an
     * append repeating the key of an entry still in the stream adds nothing
     * and reports that entry as a duplicate. */
    sb_status (*stream_append)(sb_module_ctx *ctx, const char *stream, const char *idempotency_key,
                               const void *data, size_t len, sb_append_cb cb, void *user_data);
    sb_status (*stream_read)(sb_module_ctx *ctx, const char *stream, const sb_stream_query *query,
                             sb_entries_cb cb, void *user_data);
    /* Drops the oldest entries beyond `max_count` and those older than
     * `max_age_ms` (0: no limit of that kind). */
    sb_status (*stream_trim)(sb_module_ctx *ctx, const char *stream, uint64_t max_count, uint64_t max_age_ms,
                             sb_done_cb cb, void *user_data);
    sb_status (*kv_get)(sb_module_ctx *ctx, const char *key, sb_value_cb cb, void *user_data);
    /* `ttl_ms` 0: the key never expires. */
    sb_status (*kv_set)(sb_module_ctx *ctx, const char *key, const void *value, size_t len, uint64_t ttl_ms,
                        sb_done_cb cb, void *user_data);
    /* Deleting an absent key is SB_OK. */
    sb_status (*kv_delete)(sb_module_ctx *ctx, const char *key, sb_done_cb cb, void *user_data);
    /* Keys starting with `prefix` in key order, after `after_key` (NULL or
     * "": from the first), at most `limit` (0 or more than 1000: 1000). */
    sb_status (*kv_scan)(sb_module_ctx *ctx, const char *prefix, const char *after_key, size_t limit,
                         sb_kv_entries_cb cb, void *user_data);

    /* Serve `method` on `path` on the HTTP API listener: an exact path, or
     * every path under it when it ends in '/'. Paths start with "/api/".
     * SB_ERR_INVALID when malformed or already served by the core or
     * another module. A reload re-registers (routes go with the instance). */
    sb_status (*http_route)(sb_module_ctx *ctx, const char *method, const char *path);
    /* Answer `response` with an HTTP status and a JSON body (copied). */
    sb_status (*http_respond)(sb_module_ctx *ctx, sb_http_response *response, int status, const char *json_body,
                              size_t json_body_len);

    /* ---- ABI 1.2: check host->struct_size before using what follows ---- */

    /* This node's id in the cluster; "" when the server runs alone or has
     * not joined yet. Borrowed until the next host call. */
    const char *(*node_id)(sb_module_ctx *ctx);
    /* Send `data` (copied) to this module on node `to_node`, or on every
     * other node when NULL; it arrives there as SB_CLUSTER_MESSAGE.
     * SB_ERR_UNAVAILABLE when the server runs alone or Redis is unavailable
     * (nothing is queued: the module resends its state on the next
     * SB_CLUSTER_JOINED). */
    sb_status (*cluster_send)(sb_module_ctx *ctx, const char *to_node, const void *data, size_t len);

    /* ---- ABI 1.3: check host->struct_size before using what follows ---- */

    /* Starts an outbound HTTP request (see "Outbound HTTP"). SB_OK and its
     * id in `*id` (may be NULL) once started; SB_ERR_INVALID for a bad
     * method or URL (not http/https); SB_ERR_UNAVAILABLE when the server's
     * http_client.max_in_flight requests are already running. On an error
     * `cb` is never called. */
    sb_status (*fetch)(sb_module_ctx *ctx, const sb_fetch_request *request, sb_fetch_cb cb, void *user_data,
                       sb_fetch_id *id);
    /* Ends a request this module started; its callback will not run.
     * SB_ERR_NOT_FOUND when it already ended. */
    sb_status (*fetch_cancel)(sb_module_ctx *ctx, sb_fetch_id id);
    /* During import_state of a reload: takes over request `id`, started by
     * the instance being replaced (same module name), so its answer reaches
     * the new instance's `cb` instead of being dropped with the old one.
     * SB_ERR_NOT_FOUND when it already ended or belongs to another module. */
    sb_status (*fetch_adopt)(sb_module_ctx *ctx, sb_fetch_id id, sb_fetch_cb cb, void *user_data);

    /* Decides a connect this module's on_connect left pending
     * (SB_CONNECT_PENDING), typically from a fetch callback. While pending,
     * the namespace's chain is paused at this module: the socket exists for
     * host functions (set_identity, join, socket_set, emit — output is held
     * back), but it is not connected: the client has no answer yet, and a
     * packet it sends for that namespace closes its connection, as for a
     * namespace it has not joined.
     * accept != 0: the chain resumes at the next module, then the client
     * gets the CONNECT answer (with any output held back). accept == 0: the
     * client gets CONNECT_ERROR with `message` (NULL or "": "Connection
     * rejected"); the modules before this one hear on_disconnect
     * "connect rejected" after the socket leaves its rooms, as for a
     * rejection returned by on_connect. Either way the chain runs before this
     * returns, so the socket may be gone by then.
     * SB_ERR_NOT_FOUND when the socket has no connect pending on this
     * module: decided already, or it ended first. A pending connect ends
     * without a decision when the connection closes (on_disconnect with the
     * close reason), after socketio.connect_timeout (the client gets
     * CONNECT_ERROR "connect timeout"; on_disconnect "connect timeout"), or
     * when a module disconnects the socket; this module and the ones before
     * it hear on_disconnect then. On a reload that replaces this module, the
     * connect waits for the new instance when state was handed over
     * (export_state/import_state: hand your pending connects over), else
     * the new instance's on_connect is asked again; a reload that takes the
     * module out of the namespace's chain rejects the connect with
     * "connect aborted by a reload". */
    sb_status (*connect_decide)(sb_module_ctx *ctx, sb_socket_id socket, int accept, const char *message);
} sb_host_api;

/* The module's descriptor. NULL hooks are not used. Fields are only ever
 * added at the end; the host reads a field only if struct_size covers it. */
typedef struct sb_module_descriptor {
    size_t struct_size;
    uint32_t abi_major; /* SB_ABI_MAJOR the module was built against */
    uint32_t abi_minor; /* SB_ABI_MINOR the module was built against */
    const char *name;
    const char *version;
    uint64_t flags; /* reserved, 0 */

    /* Create the module's state from its configuration subtree (JSON object
     * text). Return NULL and fill `error` to refuse the configuration: the
     * host reports the message with the module's name and does not start. */
    void *(*create)(sb_module_ctx *ctx, const sb_host_api *host, const char *config_json,
                    sb_error *error);
    /* Free the state. Timers are already stopped. */
    void (*destroy)(void *state);

    /* A client connects to a namespace whose chain holds this module.
     * SB_CONNECT_PENDING (ABI 1.3): decided later with host->connect_decide. */
    sb_connect_result (*on_connect)(void *state, sb_socket_id socket,
                                    const sb_connect_info *info, sb_error *error);
    /* A client event arrives; see sb_event_result. */
    sb_event_result (*on_event)(void *state, sb_socket_id socket, const sb_event *event,
                                sb_error *error);
    /* The socket left its namespace; `reason` is e.g. "client namespace disconnect",
     * "transport close", "ping timeout", "server shutting down". */
    void (*on_disconnect)(void *state, sb_socket_id socket, const char *reason);
    /* A timer started by this module fired. */
    void (*on_timer)(void *state, sb_timer_id timer, void *user_data);

    /* Reload handover. When a running module is replaced (new code or new
     * configuration), the host creates the new instance, asks the old one to
     * export its state, and gives the bytes to the new one's import_state,
     * all within one loop iteration: no event runs in between. The format is
     * the module's own; version it, since the importer may be newer or older
     * than the exporter. Returning an error from either keeps the old
     * instance running and the reload fails with the message. */
    sb_status (*export_state)(void *state, sb_state_writer *writer);
    sb_status (*import_state)(void *state, const uint8_t *data, size_t len, sb_error *error);

    /* The module's configuration keys (see sb_config_key). NULL: the host
     * passes the config through unchecked and the module validates it. */
    const sb_config_key *config_keys;
    size_t config_key_count;

    /* A client opens a new Engine.IO session (every loaded module is asked,
     * whatever its namespaces). Return 0 to admit it, or an HTTP status
     * (e.g. 429) to refuse it; `error` carries the reason sent back as
     * {"code":4,"message":...}. Runs for both transports. */
    int (*on_handshake)(void *state, const sb_handshake_info *info, sb_error *error);

    /* The socket joined (joined != 0) or left a room of its namespace,
     * whichever module caused it. Modules of the socket's namespace chain
     * are told. When a socket disconnects it leaves each of its rooms (these
     * calls come before on_disconnect). */
    void (*on_room)(void *state, sb_socket_id socket, const char *room, int joined);

    /* ---- ABI 1.1 ---- */
    /* A request to a route this module registered (host->http_route). */
    void (*on_http)(void *state, const sb_http_request *request, sb_http_response *response);

    /* ---- ABI 1.2 ---- */
    /* Cluster news (see "Cluster" above); never called on a server that runs alone. */
    void (*on_cluster)(void *state, const sb_cluster_event *event);
} sb_module_descriptor;

typedef const sb_module_descriptor *(*sb_module_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_MODULE_H */
