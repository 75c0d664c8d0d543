// Extra HTTP routes on the Engine.IO listener (see http_routes.h).
#include "transport/http_routes.h"

#include "lws_helpers.h"
#include "metrics.h"
#include "transport/http_response.h"

namespace sb {

namespace {

int answer(lws* wsi, int status, std::string_view content_type, std::string_view body) {
    size_t written = 0;
    const int rc = write_http_response(wsi, status, content_type, body, {}, &written);
    metrics().bytes_out_total += written;
    return rc;
}

}  // namespace

bool HttpRoutes::serve(lws* wsi, std::string_view path, bool is_get, bool is_post, int& rc) const {
    for (const auto& r : routes_) {
        if (r.path != path) continue;
        if ((r.method == "GET" && !is_get) || (r.method == "POST" && !is_post)) {
            rc = answer(wsi, 405, "application/json", "{\"code\":405,\"message\":\"Method not allowed\"}");
            return true;
        }
        std::string content_length = read_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (is_post && !content_length.empty() && content_length != "0") {
            answer(wsi, 400, "application/json", "{\"code\":400,\"message\":\"No request body expected\"}");
            rc = -1;
            return true;
        }
        int status = 200;
        std::string body = r.handle(read_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), status);
        rc = answer(wsi, status, r.content_type, body);
        return true;
    }
    return false;
}

}  // namespace sb
