// One HTTP/1.1 exchange with another node of the cluster, on the libuv loop.
//
// Forwarded long-polling requests go to the node that owns the session. The
// answers are our own server's (a status line, a few headers, a
// Content-Length body, then the connection closes), so a small client over
// a plain TCP connection is enough and keeps every step (resolve, connect,
// write, read) non-blocking and abortable. Each exchange opens its own
// connection ("Connection: close"): forwarding is the rare path, taken only
// by requests a load balancer sent to the wrong node.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sb::cluster {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct RelayRequest {
    std::string method;  // "GET" or "POST"
    std::string target;  // path and query, already percent-encoded
    HeaderList headers;
    std::string body;
};

struct RelayAnswer {
    // Empty when the exchange succeeded; otherwise what went wrong.
    std::string error;
    bool unreachable = false;  // nothing was sent: resolving or connecting failed
    int status = 0;
    HeaderList headers;  // names lowercased
    std::string body;

    const std::string* header(std::string_view name) const;
};

// An exchange in flight. It frees itself once finished; abort() ends it
// without calling `done` (the caller has given up, e.g. on a timeout).
class HttpRelay {
public:
    using Done = std::function<void(RelayAnswer)>;
    // `address` is host:port or [v6]:port. `max_answer` bounds what is read.
    static HttpRelay* start(uv_loop_t* loop, const std::string& address, RelayRequest request, size_t max_answer,
                            Done done);
    void abort();

private:
    HttpRelay(uv_loop_t* loop, size_t max_answer, Done done) : loop_(loop), max_answer_(max_answer), done_(std::move(done)) {}
    void connect_to(const sockaddr* addr);
    void send_request();
    void on_read(const char* data, size_t n);
    void on_eof();
    bool parse_head();
    void finish(RelayAnswer answer);
    void close_and_free();

    uv_loop_t* loop_;
    size_t max_answer_;
    Done done_;
    std::string host_, port_;
    std::string request_bytes_;
    uv_getaddrinfo_t resolve_{};
    uv_tcp_t tcp_{};
    uv_connect_t connect_req_{};
    uv_write_t write_req_{};
    bool resolving_ = false;
    bool tcp_open_ = false;
    bool closing_ = false;
    std::string in_;
    bool head_done_ = false;
    size_t body_start_ = 0;
    long long content_length_ = -1;
    RelayAnswer answer_;
};

}  // namespace sb::cluster
