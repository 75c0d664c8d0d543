// The outbound HTTP entries of the host API (fetch, fetch_cancel,
// fetch_adopt in module.h) and the bookkeeping that makes them safe across
// reloads.
//
// A module's callback is a function pointer into its shared object. Every
// request therefore remembers which instance started it (through the
// instance's liveness token, as storage does): once that instance is gone,
// the answer is dropped instead of calling into unmapped code. A reload
// that wants the answers anyway (a module with RPCs in flight whose
// clients are waiting for their acks) adopts the requests in import_state,
// re-pointing them at the new instance.
#pragma once

#include "config.h"
#include "http_client/http_client.h"

#include <switchboard/module.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace sb {
struct ModuleInstance;
class HookDispatcher;
}

namespace sb::http {

class FetchService {
public:
    FetchService(uv_loop_t* loop, const HttpClientConfig& config);
    Client& client() { return client_; }

    sb_status start(sb_module_ctx* ctx, const sb_fetch_request* request, sb_fetch_cb cb, void* user_data,
                    sb_fetch_id* id);
    sb_status cancel(sb_module_ctx* ctx, sb_fetch_id id);
    sb_status adopt(sb_module_ctx* ctx, sb_fetch_id id, sb_fetch_cb cb, void* user_data);

private:
    struct Waiter {
        ModuleInstance* instance;
        HookDispatcher* hooks;
        std::weak_ptr<const bool> alive;
        std::string module;
        sb_fetch_cb cb;
        void* user_data;
    };
    void deliver(sb_fetch_id id, Response&& response);

    Client client_;
    std::unordered_map<sb_fetch_id, Waiter> waiters_;
};

sb_status api_fetch(sb_module_ctx* ctx, const sb_fetch_request* request, sb_fetch_cb cb, void* user_data,
                    sb_fetch_id* id);
sb_status api_fetch_cancel(sb_module_ctx* ctx, sb_fetch_id id);
sb_status api_fetch_adopt(sb_module_ctx* ctx, sb_fetch_id id, sb_fetch_cb cb, void* user_data);

}  // namespace sb::http
