// Small libwebsockets helpers (see lws_helpers.h).
#include "lws_helpers.h"

#include "errors.h"

namespace sb {

std::string create_listening_vhost(lws_context* context, const ListenConfig& l, lws_context_creation_info& vi,
                                   const std::string& what) {
    const bool any = l.address.empty() || l.address == "0.0.0.0" || l.address == "::" || l.address == "*";
    const bool v6 = l.address.find(':') != std::string::npos;
    vi.port = l.port;
    vi.iface = any ? nullptr : l.address.c_str();
    if (!v6) vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (!l.tls_certificate.empty()) {
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = l.tls_certificate.c_str();
        vi.ssl_private_key_filepath = l.tls_key.c_str();
    }
    lws_vhost* vh = lws_create_vhost(context, &vi);
    if (!vh)
        throw StartupError(what + "cannot listen on " + l.address + ":" + std::to_string(l.port) +
                           " (address in use, not local, or permission denied" +
                           (l.tls_certificate.empty() ? std::string(")") : std::string(", or a bad certificate/key)")));
    return std::string(l.tls_certificate.empty() ? "http" : "https") + "://" + (v6 ? "[" + l.address + "]" : l.address) +
           ":" + std::to_string(lws_get_vhost_listen_port(vh));
}

std::string read_header(lws* wsi, lws_token_indexes token) {
    int n = lws_hdr_total_length(wsi, token);
    if (n <= 0) return {};
    std::string v(static_cast<size_t>(n) + 1, '\0');
    int got = lws_hdr_copy(wsi, v.data(), n + 1, token);
    v.resize(got > 0 ? static_cast<size_t>(got) : 0);
    return v;
}

}  // namespace sb
