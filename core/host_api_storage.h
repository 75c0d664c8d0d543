// The storage entries of the host API (sb_host_api in module.h): validate
// what the module passes, scope names by the module's name, and hand the
// request to the backend; the module's callback runs on the loop thread
// unless the calling instance was destroyed in between.
#pragma once

#include <switchboard/module.h>

namespace sb::storage {

sb_status api_stream_append(sb_module_ctx* ctx, const char* stream, const char* idempotency_key, const void* data,
                            size_t len, sb_append_cb cb, void* user_data);
sb_status api_stream_read(sb_module_ctx* ctx, const char* stream, const sb_stream_query* query, sb_entries_cb cb,
                          void* user_data);
sb_status api_stream_trim(sb_module_ctx* ctx, const char* stream, uint64_t max_count, uint64_t max_age_ms,
                          sb_done_cb cb, void* user_data);
sb_status api_kv_get(sb_module_ctx* ctx, const char* key, sb_value_cb cb, void* user_data);
sb_status api_kv_set(sb_module_ctx* ctx, const char* key, const void* value, size_t len, uint64_t ttl_ms,
                     sb_done_cb cb, void* user_data);
sb_status api_kv_delete(sb_module_ctx* ctx, const char* key, sb_done_cb cb, void* user_data);
sb_status api_kv_scan(sb_module_ctx* ctx, const char* prefix, const char* after_key, size_t limit,
                      sb_kv_entries_cb cb, void* user_data);

}  // namespace sb::storage
