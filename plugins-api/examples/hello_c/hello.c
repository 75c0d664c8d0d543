/* Example module in C: answers "hello" with a configurable greeting and
 * counts how many times it did, keeping the count across reloads.
 *
 *   cc -shared -fPIC $(pkg-config --cflags switchboard-module) hello.c -o hello.so
 *
 * Config keys: greeting (string, default "hello").
 * Event "hello" with an ack callback -> ack("<greeting>, <name>!", count)
 */
#include <switchboard/module.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hello {
    sb_module_ctx *ctx;
    const sb_host_api *host;
    char greeting[64];
    unsigned long count;
};

static const sb_config_key config_keys[] = {
    {"greeting", SB_CONFIG_STRING, 0, "the word to greet with"},
};

/* The host has already checked the keys and their types against config_keys,
 * so a plain scan for the one string value is enough here. */
static void read_greeting(const char *config_json, char *out, size_t size) {
    const char *p = strstr(config_json, "\"greeting\":\"");
    snprintf(out, size, "hello");
    if (!p) return;
    p += strlen("\"greeting\":\"");
    size_t n = 0;
    while (p[n] && p[n] != '"' && n + 1 < size) ++n;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void *create(sb_module_ctx *ctx, const sb_host_api *host, const char *config_json, sb_error *error) {
    (void)error;
    struct hello *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->ctx = ctx;
    h->host = host;
    read_greeting(config_json, h->greeting, sizeof h->greeting);
    return h;
}

static void destroy(void *state) { free(state); }

static sb_event_result on_event(void *state, sb_socket_id socket, const sb_event *ev, sb_error *error) {
    struct hello *h = state;
    if (strcmp(ev->name, "hello") != 0) return SB_EVENT_CONTINUE;
    if (ev->ack_id < 0) {
        sb_error_set(error, "INVALID", "hello needs an ack callback");
        return SB_EVENT_REJECT;
    }
    /* args_json is ["name"]: take the first string, refuse anything else. */
    char name[64] = "";
    if (sscanf(ev->args_json, "[\"%63[^\"]\"]", name) != 1) {
        sb_error_set(error, "INVALID", "hello takes one name");
        return SB_EVENT_REJECT;
    }
    char reply[256];
    int n = snprintf(reply, sizeof reply, "[\"%s, %s!\",%lu]", h->greeting, name, ++h->count);
    h->host->ack(h->ctx, socket, ev->ack_id, reply, (size_t)n, NULL, 0);
    return SB_EVENT_HANDLED;
}

static sb_status export_state(void *state, sb_state_writer *writer) {
    struct hello *h = state;
    char bytes[32];
    int n = snprintf(bytes, sizeof bytes, "hello/1 %lu", h->count);
    writer->write(writer, bytes, (size_t)n);
    return SB_OK;
}

static sb_status import_state(void *state, const uint8_t *data, size_t len, sb_error *error) {
    struct hello *h = state;
    char bytes[32];
    if (len >= sizeof bytes) len = sizeof bytes - 1;
    memcpy(bytes, data, len);
    bytes[len] = '\0';
    if (sscanf(bytes, "hello/1 %lu", &h->count) != 1) {
        sb_error_set(error, "INTERNAL", "unknown state format");
        return SB_ERR_INVALID;
    }
    return SB_OK;
}

static const sb_module_descriptor descriptor = {
    .struct_size = sizeof(sb_module_descriptor),
    .abi_major = SB_ABI_MAJOR,
    .abi_minor = SB_ABI_MINOR,
    .name = "hello",
    .version = "1.0.0",
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .export_state = export_state,
    .import_state = import_state,
    .config_keys = config_keys,
    .config_key_count = sizeof config_keys / sizeof config_keys[0],
};

SB_MODULE_EXPORT const sb_module_descriptor *switchboard_module_entry(void) { return &descriptor; }
