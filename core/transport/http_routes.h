// Extra HTTP routes served on the Engine.IO listener: health, metrics and
// the admin reload. The server registers them; the listener's request
// handler only asks this list whether a path is one of them.
#pragma once

#include <libwebsockets.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct HttpRoute {
    std::string method;  // "GET" or "POST" (POST routes take no body)
    std::string path;
    std::string content_type;
    // Returns the body; `status` defaults to 200.
    std::function<std::string(const std::string& authorization, int& status)> handle;
};

class HttpRoutes {
public:
    void add(HttpRoute route) { routes_.push_back(std::move(route)); }
    // Serves the request on `wsi` if `path` is a route; false if it is not.
    // `rc` is then what the lws callback returns.
    bool serve(lws* wsi, std::string_view path, bool is_get, bool is_post, int& rc) const;

private:
    std::vector<HttpRoute> routes_;
};

}  // namespace sb
