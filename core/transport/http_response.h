// Writing one whole HTTP answer on a libwebsockets connection.
//
// The Engine.IO listener (its polling answers, CORS preflights, health,
// metrics and admin routes) and the HTTP API listener answer the same way:
// a status, a content type, a few extra headers, a body in one final write,
// then the end of the transaction, after which lws keeps the connection for
// the next request or closes it (HTTP/1.0, or "Connection: close").
#pragma once

#include <libwebsockets.h>

#include <cstddef>
#include <span>
#include <string_view>

namespace sb {

struct HeaderField {
    const char* name;  // lowercase, with the trailing ':' (as lws takes it)
    std::string_view value;
};

// Writes the answer and ends the transaction. Returns 0, or -1 when the
// connection is to be closed (a write failed, or the transaction's end says
// so): the caller returns that from its lws callback. `body_written` is set
// to the body's size once it has gone out (for the byte counters).
int write_http_response(lws* wsi, int status, std::string_view content_type, std::string_view body,
                        std::span<const HeaderField> headers = {}, size_t* body_written = nullptr);

}  // namespace sb
