// libcurl's multi interface driven by the libuv loop (see the header).
//
// The wiring follows libcurl's own multi-uv example: curl tells us which
// sockets to watch (on_socket) and when to wake it (on_timer_change); a
// uv_poll_t per socket and one uv_timer_t call curl_multi_socket_action,
// after which finished transfers are collected and their callbacks run.
#include "http_client/http_client.h"

#include "http_client/http_client_metrics.h"

#include <curl/curl.h>

#include <strings.h>

#include <stdexcept>

namespace sb::http {

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::ok: return "ok";
        case Outcome::refused: return "refused";
        case Outcome::dns: return "dns";
        case Outcome::timeout: return "timeout";
        case Outcome::tls: return "tls";
        case Outcome::too_large: return "too_large";
        case Outcome::overloaded: return "overloaded";
        case Outcome::invalid: return "invalid";
        case Outcome::failed: return "failed";
        case Outcome::cancelled: return "cancelled";
    }
    return "failed";
}

const std::string* Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
    return nullptr;
}

struct Client::Transfer {
    RequestId id = 0;
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    Request request;  // owns the body and strings curl points at
    Response response;
    Callback done;
    std::string destination;
    uint64_t started_ns = 0;
    bool over_size = false;
    char error[CURL_ERROR_SIZE] = "";

    ~Transfer() {
        if (easy) curl_easy_cleanup(easy);
        if (header_list) curl_slist_free_all(header_list);
    }
};

// One watched socket. Freed in the poll handle's close callback: libuv may
// still touch the handle until then.
struct Client::SocketWatch {
    uv_poll_t poll;
    Client* client;
    curl_socket_t fd;
};

namespace {

// libcurl's global state is set up once per process, before any thread
// could race for it (the host creates clients on the loop thread).
void global_init_once() {
    static const bool done = [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
        return true;
    }();
    (void)done;
}

}  // namespace

size_t Client::on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (t->response.body.size() + n > t->request.max_response_bytes) {
        t->over_size = true;
        return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, n);
    return n;
}

size_t Client::on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {
        t->response.headers.clear();  // a new response (after 1xx): keep the final one's headers
        return n;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    t->response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    return n;
}

namespace {

Outcome outcome_of(CURLcode code, bool over_size) {
    switch (code) {
        case CURLE_OK: return Outcome::ok;
        case CURLE_COULDNT_CONNECT: return Outcome::refused;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return Outcome::dns;
        case CURLE_OPERATION_TIMEDOUT: return Outcome::timeout;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS: return Outcome::tls;
        case CURLE_WRITE_ERROR: return over_size ? Outcome::too_large : Outcome::failed;
        case CURLE_FILESIZE_EXCEEDED: return Outcome::too_large;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT: return Outcome::invalid;
        default: return Outcome::failed;
    }
}

}  // namespace

Client::Client(uv_loop_t* loop, ClientOptions options)
    : loop_(loop), options_(std::move(options)), metrics_(std::make_unique<ClientMetrics>()) {
    global_init_once();
    multi_ = curl_multi_init();
    if (!multi_) throw std::runtime_error("curl_multi_init failed");
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    CURLM* m = static_cast<CURLM*>(multi_);
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &Client::on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &Client::on_timer_change);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_connections_per_host);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, options_.max_idle_connections);
}

Client::~Client() {
    CURLM* m = static_cast<CURLM*>(multi_);
    for (auto& [id, t] : transfers_) curl_multi_remove_handle(m, t->easy);
    transfers_.clear();
    // Closes the cached connections; their sockets are reported through
    // on_socket (CURL_POLL_REMOVE) and their watches closed there.
    curl_multi_cleanup(m);
    for (SocketWatch* w : watches_) close_watch(w);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

RequestId Client::start(Request request, Callback done, Outcome* refused, std::string* error) {
    const std::string destination = metrics_->destination_of(request.url);
    auto refuse = [&](Outcome o, std::string why) -> RequestId {
        metrics_->refused(destination, o);
        if (refused) *refused = o;
        if (error) *error = std::move(why);
        return 0;
    };
    if (transfers_.size() >= options_.max_in_flight)
        return refuse(Outcome::overloaded,
                      "too many outbound HTTP requests in flight (" + std::to_string(options_.max_in_flight) + ")");
    if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0)
        return refuse(Outcome::invalid, "only http:// and https:// URLs are supported, got '" + request.url + "'");

    auto t = std::make_unique<Transfer>();
    t->id = next_id_++;
    t->request = std::move(request);
    t->done = std::move(done);
    t->destination = destination;
    t->easy = curl_easy_init();
    if (!t->easy) return refuse(Outcome::failed, "curl_easy_init failed");
    CURL* e = t->easy;
    const Request& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Client::on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Client::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_response_bytes));
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
    // An empty proxy turns off the environment's http_proxy: outbound
    // routes are decided by configuration alone.
    const std::string& proxy = r.proxy.empty() ? options_.proxy : r.proxy;
    curl_easy_setopt(e, CURLOPT_PROXY, proxy.c_str());
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.verify_tls ? 2L : 0L);
    const std::string& ca_file = r.ca_file.empty() ? options_.ca_file : r.ca_file;
    const std::string& ca_dir = r.ca_dir.empty() ? options_.ca_dir : r.ca_dir;
    if (!ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file.c_str());
    if (!ca_dir.empty()) curl_easy_setopt(e, CURLOPT_CAPATH, ca_dir.c_str());
    if (r.method == "GET") {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
        if (r.method == "POST" || !r.body.empty()) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        }
    }
    for (const auto& [k, v] : r.headers) t->header_list = curl_slist_append(t->header_list, (k + ": " + v).c_str());
    // No "Expect: 100-continue" round trip before a body: backends answer
    // small JSON bodies, and the wait would add a round trip per request.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list);

    t->started_ns = uv_hrtime();
    if (curl_multi_add_handle(static_cast<CURLM*>(multi_), e) != CURLM_OK)
        return refuse(Outcome::failed, "curl_multi_add_handle failed");
    metrics_->started(destination);
    const RequestId id = t->id;
    transfers_.emplace(id, std::move(t));
    return id;
}

bool Client::cancel(RequestId id) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return false;
    Transfer* t = it->second.get();
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
    metrics_->ended(t->destination, Outcome::cancelled, (uv_hrtime() - t->started_ns) / 1000);
    transfers_.erase(it);
    return true;
}

std::string Client::render_metrics() const { return metrics_->render(); }

void Client::close_watch(SocketWatch* watch) {
    uv_poll_stop(&watch->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
             [](uv_handle_t* h) { delete static_cast<SocketWatch*>(h->data); });
}

int Client::on_socket(void*, int fd, int what, void* client, void* socket_data) {
    auto* self = static_cast<Client*>(client);
    auto* watch = static_cast<SocketWatch*>(socket_data);
    CURLM* m = static_cast<CURLM*>(self->multi_);
    if (what == CURL_POLL_REMOVE) {
        if (watch) {
            self->watches_.erase(watch);
            close_watch(watch);
            curl_multi_assign(m, fd, nullptr);
        }
        return 0;
    }
    if (!watch) {
        watch = new SocketWatch{};
        watch->client = self;
        watch->fd = fd;
        if (uv_poll_init_socket(self->loop_, &watch->poll, fd) != 0) {
            delete watch;
            return -1;  // curl fails the transfer
        }
        watch->poll.data = watch;
        self->watches_.insert(watch);
        curl_multi_assign(m, fd, watch);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&watch->poll, events, &Client::on_poll);
    return 0;
}

int Client::on_timer_change(void*, long timeout_ms, void* client) {
    auto* self = static_cast<Client*>(client);
    if (timeout_ms < 0) {
        uv_timer_stop(self->timer_);
    } else {
        // 0 means "as soon as possible": not from inside this callback,
        // which curl may call while it is itself running.
        uv_timer_start(self->timer_, &Client::on_timeout, static_cast<uint64_t>(timeout_ms), 0);
    }
    return 0;
}

void Client::on_poll(uv_poll_t* handle, int status, int events) {
    auto* watch = static_cast<SocketWatch*>(handle->data);
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    watch->client->drive(watch->fd, flags);
}

void Client::on_timeout(uv_timer_t* handle) {
    static_cast<Client*>(handle->data)->drive(CURL_SOCKET_TIMEOUT, 0);
}

void Client::drive(int fd, int flags) {
    int running = 0;
    curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, flags, &running);
    finish_done_transfers();
}

void Client::finish_done_transfers() {
    CURLM* m = static_cast<CURLM*>(multi_);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
        if (t) end(t, msg->data.result);
    }
}

void Client::end(Transfer* t, int curl_code) {
    const auto code = static_cast<CURLcode>(curl_code);
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
    auto node = transfers_.extract(t->id);
    Response response = std::move(t->response);
    response.outcome = outcome_of(code, t->over_size);
    response.elapsed_us = (uv_hrtime() - t->started_ns) / 1000;
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        response.status = static_cast<int>(status);
    } else if (response.outcome == Outcome::too_large) {
        response.error = "response body over " + std::to_string(t->request.max_response_bytes) + " bytes";
        response.body.clear();
    } else {
        response.error = t->error[0] ? t->error : curl_easy_strerror(code);
        response.body.clear();
    }
    metrics_->ended(t->destination, response.outcome, response.elapsed_us);
    Callback done = std::move(t->done);
    node.mapped().reset();  // the transfer is gone before user code runs
    if (done) done(std::move(response));
}

}  // namespace sb::http
