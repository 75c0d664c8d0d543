// Outbound HTTP/1.1 requests on the server's libuv loop, through libcurl.
//
// Modules call the application's own backend (RPC and connect proxies,
// webhooks) from hooks that must never block the loop. libcurl's multi
// interface does the protocol work — keep-alive connection reuse per
// origin, TLS with certificate verification, proxies, timeouts — and asks
// us, through its socket and timer callbacks, to watch sockets and a timer
// on our own loop; curl_multi_socket_action then runs it forward. So there
// is no thread, no lock and no hand-written HTTP parser here.
//
// A request ends exactly once: its callback runs on the loop with the
// status, headers and body, or with an outcome that says precisely what
// went wrong (refused, timeout, TLS, too large, ...). A cancelled request's
// callback never runs; neither does any callback once the client is gone.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace sb::http {

enum class Outcome {
    ok,          // a response arrived (any status)
    refused,     // the connection was refused or could not be made
    dns,         // the host name did not resolve
    timeout,     // connect or total timeout
    tls,         // TLS handshake or certificate verification failed
    too_large,   // the response body was over max_response_bytes
    overloaded,  // over the client's max_in_flight (never started)
    invalid,     // the request itself is not valid (URL, scheme, method)
    failed,      // anything else; `error` says what
    cancelled,   // ended by cancel() (counted only: no callback runs)
};
const char* outcome_name(Outcome o);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "GET";
    std::string url;  // http:// or https:// only
    Headers headers;
    std::string body;
    uint64_t connect_timeout_ms = 2000;
    uint64_t timeout_ms = 10000;  // the whole request, connect included
    size_t max_response_bytes = 1 << 20;
    // Certificate verification is on unless a destination is configured
    // explicitly to skip it.
    bool verify_tls = true;
    std::string ca_file;  // empty: the client's, else the system's
    std::string ca_dir;
    std::string proxy;    // empty: the client's (never the environment's)
};

struct Response {
    Outcome outcome = Outcome::failed;
    int status = 0;
    Headers headers;  // names as sent; look up case-insensitively
    std::string body;
    std::string error;  // empty when outcome is ok
    uint64_t elapsed_us = 0;

    // The first header called `name` (case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
};

using RequestId = uint64_t;
using Callback = std::function<void(Response&&)>;

struct ClientOptions {
    size_t max_in_flight = 1024;       // requests started and not ended
    long max_connections_per_host = 64;
    long max_idle_connections = 256;   // the keep-alive cache
    std::string ca_file;               // defaults for requests that name none
    std::string ca_dir;
    std::string proxy;
};

class ClientMetrics;

class Client {
public:
    Client(uv_loop_t* loop, ClientOptions options);
    ~Client();  // ends every request without running its callback
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts a request. Returns its id, or 0 with `error` set when it could
    // not start (overloaded, invalid); then `done` is never called.
    RequestId start(Request request, Callback done, Outcome* refused = nullptr, std::string* error = nullptr);
    // Ends a request; its callback will not run. False if it already ended.
    bool cancel(RequestId id);

    size_t in_flight() const { return transfers_.size(); }
    // Prometheus text: requests by destination and outcome, latency
    // histogram, in flight.
    std::string render_metrics() const;

private:
    struct Transfer;
    struct SocketWatch;

    static size_t on_body(char* data, size_t size, size_t count, void* transfer);
    static size_t on_header(char* data, size_t size, size_t count, void* transfer);
    static int on_socket(void* easy, int fd, int what, void* client, void* socket_data);
    static int on_timer_change(void* multi, long timeout_ms, void* client);
    static void on_poll(uv_poll_t* handle, int status, int events);
    static void on_timeout(uv_timer_t* handle);
    static void close_watch(SocketWatch* watch);
    void drive(int fd, int flags);
    void finish_done_transfers();
    void end(Transfer* t, int curl_code);

    uv_loop_t* loop_;
    ClientOptions options_;
    void* multi_ = nullptr;  // CURLM*
    uv_timer_t* timer_ = nullptr;
    RequestId next_id_ = 1;
    std::unordered_map<RequestId, std::unique_ptr<Transfer>> transfers_;
    std::unordered_set<SocketWatch*> watches_;
    std::unique_ptr<ClientMetrics> metrics_;
};

}  // namespace sb::http
