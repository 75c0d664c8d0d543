// One HTTP/1.1 exchange with another node (see http_relay.h).
#include "cluster/http_relay.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace sb::cluster {

namespace {

constexpr size_t kMaxHead = 16 * 1024;

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

RelayAnswer failure(std::string error, bool unreachable) {
    RelayAnswer a;
    a.error = std::move(error);
    a.unreachable = unreachable;
    return a;
}

}  // namespace

const std::string* RelayAnswer::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k == name) return &v;
    return nullptr;
}

HttpRelay* HttpRelay::start(uv_loop_t* loop, const std::string& address, RelayRequest request, size_t max_answer,
                            Done done) {
    auto* self = new HttpRelay(loop, max_answer, std::move(done));
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
        self->finish(failure("bad node address '" + address + "'", true));
        return nullptr;
    }
    self->host_ = address.substr(0, colon);
    self->port_ = address.substr(colon + 1);
    if (self->host_.size() > 2 && self->host_.front() == '[' && self->host_.back() == ']')
        self->host_ = self->host_.substr(1, self->host_.size() - 2);

    std::string& r = self->request_bytes_;
    r = request.method + " " + request.target + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : request.headers) r += name + ": " + value + "\r\n";
    if (request.method == "POST") r += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
    r += "\r\n";
    r += request.body;

    const int port = std::atoi(self->port_.c_str());
    sockaddr_storage addr{};
    if (uv_ip4_addr(self->host_.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
        uv_ip6_addr(self->host_.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
        self->connect_to(reinterpret_cast<const sockaddr*>(&addr));
        return self->closing_ ? nullptr : self;  // finished already: done has run
    }
    // A name: resolved on libuv's thread pool, never on the loop.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    self->resolve_.data = self;
    self->resolving_ = true;
    const int rc = uv_getaddrinfo(
        loop, &self->resolve_,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
            auto* relay = static_cast<HttpRelay*>(req->data);
            relay->resolving_ = false;
            if (relay->closing_) {
                if (res) uv_freeaddrinfo(res);
                delete relay;
                return;
            }
            if (status < 0 || !res) {
                if (res) uv_freeaddrinfo(res);
                relay->finish(failure("cannot resolve " + relay->host_ + ": " + uv_strerror(status), true));
                return;
            }
            relay->connect_to(res->ai_addr);
            uv_freeaddrinfo(res);
        },
        self->host_.c_str(), self->port_.c_str(), &hints);
    if (rc < 0) {
        self->resolving_ = false;
        self->finish(failure("cannot resolve " + self->host_ + ": " + uv_strerror(rc), true));
        return nullptr;
    }
    return self;
}

void HttpRelay::connect_to(const sockaddr* addr) {
    uv_tcp_init(loop_, &tcp_);
    tcp_open_ = true;
    tcp_.data = this;
    connect_req_.data = this;
    const int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, [](uv_connect_t* req, int status) {
        auto* relay = static_cast<HttpRelay*>(req->data);
        if (relay->closing_) return;
        if (status < 0) return relay->finish(failure(std::string("cannot connect: ") + uv_strerror(status), true));
        relay->send_request();
    });
    if (rc < 0) finish(failure(std::string("cannot connect: ") + uv_strerror(rc), true));
}

void HttpRelay::send_request() {
    uv_buf_t buf = uv_buf_init(request_bytes_.data(), static_cast<unsigned>(request_bytes_.size()));
    write_req_.data = this;
    int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
        auto* relay = static_cast<HttpRelay*>(req->data);
        if (relay->closing_ || status >= 0) return;
        relay->finish(failure(std::string("cannot send: ") + uv_strerror(status), false));
    });
    if (rc < 0) return finish(failure(std::string("cannot send: ") + uv_strerror(rc), false));
    rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp_),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
            static char chunk[64 * 1024];  // one loop, and each read is consumed before the next
            *b = uv_buf_init(chunk, sizeof chunk);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
            auto* relay = static_cast<HttpRelay*>(s->data);
            if (relay->closing_) return;
            if (n == UV_EOF) return relay->on_eof();
            if (n < 0) return relay->finish(failure(std::string("cannot read: ") + uv_strerror(static_cast<int>(n)), false));
            relay->on_read(b->base, static_cast<size_t>(n));
        });
    if (rc < 0) finish(failure(std::string("cannot read: ") + uv_strerror(rc), false));
}

void HttpRelay::on_read(const char* data, size_t n) {
    in_.append(data, n);
    if (in_.size() > max_answer_ + kMaxHead) return finish(failure("answer too large", false));
    if (!head_done_ && !parse_head()) return;
    if (!head_done_ || content_length_ < 0) return;
    if (in_.size() - body_start_ < static_cast<size_t>(content_length_)) return;
    answer_.body = in_.substr(body_start_, static_cast<size_t>(content_length_));
    finish(std::move(answer_));
}

void HttpRelay::on_eof() {
    if (head_done_ && content_length_ < 0) {
        answer_.body = in_.substr(body_start_);
        return finish(std::move(answer_));
    }
    finish(failure("connection closed before the answer was complete", false));
}

// False once finish() has been called on a malformed head.
bool HttpRelay::parse_head() {
    const size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (in_.size() > kMaxHead) return finish(failure("answer head too large", false)), false;
        return true;
    }
    std::string_view head(in_.data(), end);
    size_t line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        !std::isdigit(static_cast<unsigned char>(status_line[9])))
        return finish(failure("malformed status line", false)), false;
    answer_.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    while (line_end != std::string_view::npos) {
        const size_t next = head.find("\r\n", line_end + 2);
        std::string_view line = head.substr(line_end + 2, next == std::string_view::npos ? std::string_view::npos
                                                                                         : next - line_end - 2);
        line_end = next;
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return finish(failure("malformed header line", false)), false;
        answer_.headers.emplace_back(lowercase(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    if (const std::string* te = answer_.header("transfer-encoding"); te && lowercase(*te) != "identity")
        return finish(failure("unexpected transfer-encoding " + *te, false)), false;
    if (const std::string* cl = answer_.header("content-length")) {
        char* stop = nullptr;
        const long long v = std::strtoll(cl->c_str(), &stop, 10);
        if (cl->empty() || *stop || v < 0 || static_cast<unsigned long long>(v) > max_answer_)
            return finish(failure("bad content-length " + *cl, false)), false;
        content_length_ = v;
    }
    head_done_ = true;
    body_start_ = end + 4;
    return true;
}

void HttpRelay::finish(RelayAnswer answer) {
    if (closing_) return;
    Done done = std::move(done_);
    done_ = nullptr;
    close_and_free();  // frees `this` now or later: nothing of it is used below
    if (done) done(std::move(answer));
}

void HttpRelay::abort() {
    done_ = nullptr;
    if (!closing_) close_and_free();
}

void HttpRelay::close_and_free() {
    closing_ = true;
    if (resolving_) {
        uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));  // its callback frees us
        return;
    }
    if (tcp_open_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) { delete static_cast<HttpRelay*>(h->data); });
        return;
    }
    delete this;
}

}  // namespace sb::cluster
