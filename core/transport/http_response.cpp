// Writing one whole HTTP answer (see http_response.h).
#include "transport/http_response.h"

#include <cstring>
#include <string>

namespace sb {

int write_http_response(lws* wsi, int status, std::string_view content_type, std::string_view body,
                        std::span<const HeaderField> headers, size_t* body_written) {
    unsigned char head[LWS_PRE + 1024];
    unsigned char *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(status), std::string(content_type).c_str(), body.size(),
                                    &p, end))
        return -1;
    for (const HeaderField& h : headers)
        if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(h.name),
                                        reinterpret_cast<const unsigned char*>(h.value.data()),
                                        static_cast<int>(h.value.size()), &p, end))
            return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (!body.empty()) {
        std::string out(LWS_PRE + body.size(), '\0');
        std::memcpy(out.data() + LWS_PRE, body.data(), body.size());
        auto* payload = reinterpret_cast<unsigned char*>(out.data() + LWS_PRE);
        if (lws_write(wsi, payload, body.size(), LWS_WRITE_HTTP_FINAL) < static_cast<int>(body.size())) return -1;
        if (body_written) *body_written = body.size();
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

}  // namespace sb
