// The Engine.IO engine on libwebsockets (see engine_lws.h).
#include "transport/engine_lws.h"

#include "engineio/engineio_packet.h"
#include "lws_helpers.h"
#include "metrics.h"
#include "transport/http_response.h"

#include <array>
#include <cstdlib>

namespace sb {

namespace {

// A POST body far beyond max_payload is cut off instead of read to its end.
constexpr uint32_t kMaxDiscard = 16 * 1024 * 1024;

// The values the engine routes on, and the rest of the query string.
EngineRequest read_request(lws* wsi, HttpMethod method) {
    EngineRequest r;
    r.method = method;
    char buf[1024];
    for (int i = 0;; ++i) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        std::string_view arg(buf, static_cast<size_t>(n));
        auto eq = arg.find('=');
        std::string_view key = arg.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : arg.substr(eq + 1);
        if (key == "EIO") r.eio.assign(value);
        else if (key == "transport") r.transport.assign(value);
        else if (key == "sid") r.sid.assign(value);
        else if (key != "t") {
            if (!r.rest.empty()) r.rest.push_back('&');
            r.rest.append(arg);
        }
    }
    return r;
}

// Marks a request one node forwarded to another (see engine_lws_forward.cpp).
constexpr char kForwardedHeader[] = "x-switchboard-forwarded:";

class LwsRequestDetails final : public RequestDetails {
public:
    explicit LwsRequestDetails(lws* wsi) : wsi_(wsi) {}
    std::string peer_address() override {
        char buf[64];
        const char* p = lws_get_peer_simple(wsi_, buf, sizeof buf);
        return p ? std::string(p) : std::string();
    }
    std::string authorization() override { return read_header(wsi_, WSI_TOKEN_HTTP_AUTHORIZATION); }
    std::string cookie() override { return read_header(wsi_, WSI_TOKEN_HTTP_COOKIE); }
    bool arrived_forwarded() override {
        return lws_hdr_custom_length(wsi_, kForwardedHeader, static_cast<int>(sizeof kForwardedHeader - 1)) > 0;
    }

private:
    lws* wsi_;
};

void set_close_reason(lws* wsi, lws_close_status status, std::string_view reason) {
    std::string text(reason);
    lws_close_reason(wsi, status, reinterpret_cast<unsigned char*>(text.data()), text.size());
}

}  // namespace

EngineLws::EngineLws(uv_loop_t* loop, const Config& config, EngineServer& engine)
    : config_(config), engine_(engine), ws_writer_(loop, [this](EngineSession& s) { engine_.on_ws_write_failed(s); }) {
    static_assert(sizeof(LwsConnection) <= kPerConnectionDataSize);
    engine_.set_transport(this);
}

EngineLws::~EngineLws() {
    engine_.set_sessions_elsewhere(nullptr);
    ws_writer_.close();
}

int EngineLws::handle_lws_event(lws* wsi, int reason_int, void* user, void* in, size_t len) {
    auto reason = static_cast<lws_callback_reasons>(reason_int);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
        case LWS_CALLBACK_HTTP_BODY:
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        case LWS_CALLBACK_HTTP_WRITEABLE:
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        case LWS_CALLBACK_ESTABLISHED:
        case LWS_CALLBACK_RECEIVE:
        case LWS_CALLBACK_SERVER_WRITEABLE:
        case LWS_CALLBACK_CLOSED:
            break;
        default:
            // Not a connection's event: for some (TLS set-up) `user` is not
            // per-connection memory at all.
            return 0;
    }
    LwsConnection& c = LwsConnection::attach(user, wsi);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return on_http_request(c, std::string_view(static_cast<const char*>(in), len));
        case LWS_CALLBACK_HTTP_BODY:
            return on_http_body(c, std::string_view(static_cast<const char*>(in), len));
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return on_http_body_complete(c);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            if (c.stage == LwsConnection::Stage::Forwarding) return write_forward_answer(c);
            return engine_.on_poll_writable(c);
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            on_http_closed(c);
            return 0;
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return on_ws_filter(c);
        case LWS_CALLBACK_ESTABLISHED: {
            c.inbound.reset();
            LwsRequestDetails details(wsi);
            return engine_.on_ws_open(c, read_request(wsi, HttpMethod::Get).rest, details) ? 0 : -1;
        }
        case LWS_CALLBACK_RECEIVE:
            return on_ws_receive(c, in, len);
        case LWS_CALLBACK_SERVER_WRITEABLE:
            switch (engine_.on_ws_writable(c)) {
                case WsVerdict::Keep:
                    return 0;
                case WsVerdict::DropNormal:
                    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
                    return -1;
                default:
                    return -1;
            }
        case LWS_CALLBACK_CLOSED:
            c.inbound.reset();
            engine_.on_ws_closed(c);
            return 0;
        default:
            return 0;
    }
}

int EngineLws::on_http_request(LwsConnection& c, std::string_view path) {
    c.role = ConnRole::None;
    c.session = nullptr;
    end_request(c);
    lws* wsi = c.wsi;
    const bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    const bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    const bool is_options = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;

    std::string_view eio_path = config_.engineio_path;  // ends with '/'
    const bool engineio = path == eio_path || path == eio_path.substr(0, eio_path.size() - 1);
    if (!engineio) {
        int rc = 0;
        if (routes_.serve(wsi, path, is_get, is_post, rc)) return rc;
        return respond(c, 404, "application/json", "{\"code\":404,\"message\":\"Not found\"}");
    }

    c.cors_origin = std::make_unique<std::string>(cors_origin_for(wsi));
    if (is_options) return answer_preflight(c);

    LwsRequestDetails details(wsi);
    request_path_ = path;
    const int rc = engine_.on_poll_request(
        c, read_request(wsi, is_get ? HttpMethod::Get : is_post ? HttpMethod::Post : HttpMethod::Other), details);
    request_path_ = {};
    if (rc == 0 && c.role == ConnRole::PollPost) return start_body(c);
    return rc;
}

// CORS preflight, answered as the reference server's cors middleware does.
int EngineLws::answer_preflight(LwsConnection& c) {
    std::array<HeaderField, 5> headers;
    size_t n = 0;
    std::string requested;
    const std::string& origin = *c.cors_origin;
    if (!origin.empty()) {
        headers[n++] = {"access-control-allow-origin:", origin};
        if (config_.cors_credentials) headers[n++] = {"access-control-allow-credentials:", "true"};
        headers[n++] = {"access-control-allow-methods:", "GET,HEAD,PUT,PATCH,POST,DELETE"};
        requested = read_header(c.wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS);
        if (!requested.empty()) headers[n++] = {"access-control-allow-headers:", requested};
        headers[n++] = {"vary:", "Origin, Access-Control-Request-Headers"};
    }
    const int rc = write_http_response(c.wsi, 204, "text/plain", "", std::span(headers.data(), n));
    end_request(c);
    return rc;
}

// Readies `c` for a POST body: buffered up to max_payload, discarded beyond
// (a declared length already over it is discarded from the first byte).
int EngineLws::start_body(LwsConnection& c) {
    const std::string content_length = read_header(c.wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (!c.inbound) c.inbound = std::make_unique<LwsConnection::Inbound>();
    c.inbound->discarding = false;
    c.inbound->discarded = 0;
    if (!content_length.empty() && std::strtoull(content_length.c_str(), nullptr, 10) > config_.max_payload)
        start_discarding(c);
    if (content_length == "0") return on_http_body_complete(c);
    return 0;
}

void EngineLws::start_discarding(LwsConnection& c) {
    c.inbound->discarding = true;
    std::string().swap(c.inbound->data);
    engine_.on_post_over_limit(c);
}

int EngineLws::on_http_body(LwsConnection& c, std::string_view chunk) {
    const bool forward_post = c.stage == LwsConnection::Stage::ForwardPost;
    if ((c.role != ConnRole::PollPost && !forward_post) || !c.inbound) return -1;
    LwsConnection::Inbound& in = *c.inbound;
    if (!in.discarding && in.data.size() + chunk.size() > config_.max_payload) start_discarding(c);
    if (in.discarding) {
        in.discarded += static_cast<uint32_t>(std::min<size_t>(chunk.size(), UINT32_MAX - in.discarded));
        return in.discarded > kMaxDiscard ? -1 : 0;
    }
    in.data.append(chunk);
    return 0;
}

int EngineLws::on_http_body_complete(LwsConnection& c) {
    if (c.stage == LwsConnection::Stage::ForwardPost) {
        if (c.inbound && c.inbound->discarding) return respond(c, 413, "text/plain", "");
        if (!c.inbound || !c.inbound->forward || !remote_) return engine_.refuse(c, 1, "Session ID unknown");
        c.inbound->forward->request.body = std::move(c.inbound->data);
        send_forward(c);
        return 0;
    }
    if (c.role != ConnRole::PollPost || !c.inbound) return -1;
    if (c.inbound->discarding) return engine_.on_post_body_refused(c);
    const std::string body = std::move(c.inbound->data);
    c.inbound.reset();
    return engine_.on_post_body(c, body);
}

void EngineLws::on_http_closed(LwsConnection& c) {
    engine_.on_http_closed(c);
    end_request(c);
}

int EngineLws::on_ws_filter(LwsConnection& c) {
    lws* wsi = c.wsi;
    end_request(c);  // refusals here carry no CORS headers
    std::string uri = read_header(wsi, WSI_TOKEN_GET_URI);
    std::string_view eio_path = config_.engineio_path;
    if (uri != eio_path && uri != eio_path.substr(0, eio_path.size() - 1))
        return respond(c, 404, "application/json", "{\"code\":404,\"message\":\"Not found\"}"), -1;
    // RFC 6455: the key is 16 random bytes in base64; lws does not check it.
    auto raw_key = eio::base64_decode(read_header(wsi, WSI_TOKEN_KEY));
    if (!raw_key || raw_key->size() != 16) return engine_.refuse(c, 3, "Bad request"), -1;
    LwsRequestDetails details(wsi);
    return engine_.on_ws_handshake(c, read_request(wsi, HttpMethod::Get), details);
}

int EngineLws::on_ws_receive(LwsConnection& c, const void* in, size_t len) {
    if (!c.session) return -1;
    lws* wsi = c.wsi;
    const bool complete = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    std::string_view chunk(static_cast<const char*>(in), len);
    if (lws_is_first_fragment(wsi) && !c.inbound) c.binary_message = lws_frame_is_binary(wsi);
    const size_t total = (c.inbound ? c.inbound->data.size() : 0) + len;
    if (total > config_.max_payload) {
        set_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "max payload exceeded");
        c.inbound.reset();
        engine_.on_ws_over_limit(c);
        return -1;
    }
    if (!complete) {
        if (!c.inbound) c.inbound = std::make_unique<LwsConnection::Inbound>();
        c.inbound->data.append(chunk);
        return 0;
    }
    std::unique_ptr<LwsConnection::Inbound> assembled = std::move(c.inbound);
    if (assembled) {
        assembled->data.append(chunk);
        chunk = assembled->data;
    }
    switch (engine_.on_ws_message(c, chunk, c.binary_message)) {
        case WsVerdict::Keep:
            return 0;
        case WsVerdict::DropProtocolError:
            set_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "protocol error");
            return -1;
        default:
            return -1;
    }
}

bool EngineLws::write_frame(EngineConn& c, const Frame& f) {
    auto* payload = const_cast<unsigned char*>(f.payload());
    return lws_write(LwsConnection::of(c).wsi, payload, f.size(), f.binary() ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) >=
           static_cast<int>(f.size());
}

void EngineLws::hold(EngineConn& c) {
    // Everything needed to answer (the CORS origin) is already copied: the
    // header buffer goes back to the pool.
    lws* wsi = LwsConnection::of(c).wsi;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    lws_http_headers_detach(wsi);
}

std::string EngineLws::cors_origin_for(lws* wsi) const {
    if (config_.cors_origins.empty()) return {};
    std::string origin = read_header(wsi, WSI_TOKEN_ORIGIN);
    for (const auto& allowed : config_.cors_origins) {
        if (allowed == "*") {
            // With credentials a browser refuses "*", so reflect the origin.
            if (config_.cors_credentials && !origin.empty()) return origin;
            return "*";
        }
        if (!origin.empty() && allowed == origin) return origin;
    }
    return {};
}

int EngineLws::respond(EngineConn& c, int status, std::string_view content_type, std::string_view body) {
    return respond_with(LwsConnection::of(c), status, content_type, body, nullptr);
}

int EngineLws::respond_with(LwsConnection& c, int status, std::string_view content_type, std::string_view body,
                            const std::vector<std::pair<std::string, std::string>>* relayed_cors) {
    std::vector<std::string> relayed_names;
    std::vector<HeaderField> relayed;
    std::array<HeaderField, 3> ours;
    std::span<const HeaderField> headers;
    if (relayed_cors) {
        relayed_names.reserve(relayed_cors->size());
        for (const auto& [name, value] : *relayed_cors) {
            relayed_names.push_back(name + ":");
            relayed.push_back({relayed_names.back().c_str(), value});
        }
        headers = relayed;
    } else if (c.cors_origin && !c.cors_origin->empty()) {
        const std::string& o = *c.cors_origin;
        size_t n = 0;
        ours[n++] = {"access-control-allow-origin:", o};
        if (config_.cors_credentials) ours[n++] = {"access-control-allow-credentials:", "true"};
        if (o != "*") ours[n++] = {"vary:", "Origin"};
        headers = std::span<const HeaderField>(ours.data(), n);
    }
    size_t written = 0;
    const int rc = write_http_response(c.wsi, status, content_type, body, headers, &written);
    metrics().bytes_out_total += written;
    end_request(c);
    return rc;
}

void EngineLws::end_request(LwsConnection& c) {
    drop_forward(c);
    c.end_request();
}

}  // namespace sb
