// The outbound HTTP client against a small HTTP server on the same libuv
// loop: responses, keep-alive reuse, request bodies and headers, and every
// way a request can fail (refused, timeout, too large, cancelled, over the
// in-flight cap, an unsupported scheme, TLS against a plain server).
#include "http_client/http_client.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using sb::http::Client;
using sb::http::ClientOptions;
using sb::http::Outcome;
using sb::http::Request;
using sb::http::Response;

// Answers each request through `respond(method, path, headers+body)`; an
// empty answer leaves the request unanswered (a hanging backend). Counts
// connections, so keep-alive reuse can be asserted.
class TestServer {
public:
    using Responder = std::function<std::string(const std::string& request_head, const std::string& body)>;

    TestServer(uv_loop_t* loop, Responder respond) : loop_(loop), respond_(std::move(respond)) {
        uv_tcp_init(loop, &listener_);
        listener_.data = this;
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", 0, &addr);
        uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
        uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &TestServer::on_connection);
        sockaddr_storage bound{};
        int len = sizeof bound;
        uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }

    // libuv may touch a closing handle until its close callback ran: run
    // the loop that far before the memory goes.
    ~TestServer() {
        close();
        uv_run(loop_, UV_RUN_NOWAIT);
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        for (auto* c : connections_)
            if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
                uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
    }

    int port() const { return port_; }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    int connections_accepted = 0;
    std::vector<std::string> heads;   // every request head seen
    std::vector<std::string> bodies;  // and its body

private:
    struct Conn {
        uv_tcp_t tcp;
        TestServer* server;
        std::string buffer;
    };

    static void on_connection(uv_stream_t* listener, int status) {
        if (status < 0) return;
        auto* self = static_cast<TestServer*>(listener->data);
        auto* c = new Conn{};
        c->server = self;
        uv_tcp_init(listener->loop, &c->tcp);
        c->tcp.data = c;
        uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp));
        self->connections_accepted++;
        self->connections_.push_back(c);
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
                buf->base = new char[suggested];
                buf->len = suggested;
            },
            &TestServer::on_read);
    }

    static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(stream->data);
        if (n > 0) c->buffer.append(buf->base, static_cast<size_t>(n));
        delete[] buf->base;
        if (n < 0) {
            uv_read_stop(stream);
            return;
        }
        for (;;) {
            const size_t end = c->buffer.find("\r\n\r\n");
            if (end == std::string::npos) return;
            const std::string head = c->buffer.substr(0, end);
            size_t length = 0;
            const size_t cl = head.find("Content-Length: ");
            if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
            if (c->buffer.size() < end + 4 + length) return;
            const std::string body = c->buffer.substr(end + 4, length);
            c->buffer.erase(0, end + 4 + length);
            c->server->heads.push_back(head);
            c->server->bodies.push_back(body);
            std::string answer = c->server->respond_(head, body);
            if (answer.empty()) continue;
            auto* req = new uv_write_t;
            auto* data = new std::string(std::move(answer));
            req->data = data;
            uv_buf_t out = uv_buf_init(data->data(), static_cast<unsigned>(data->size()));
            uv_write(req, stream, &out, 1, [](uv_write_t* r, int) {
                delete static_cast<std::string*>(r->data);
                delete r;
            });
        }
    }

    uv_loop_t* loop_;
    uv_tcp_t listener_;
    bool closed_ = false;
    int port_ = 0;
    Responder respond_;
    std::vector<Conn*> connections_;
};

std::string ok_response(const std::string& body, const std::string& extra_headers = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra_headers + "\r\n" + body;
}

class HttpClientTest : public ::testing::Test {
protected:
    void SetUp() override { uv_loop_init(&loop_); }
    void TearDown() override {
        uv_walk(&loop_, [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
        }, nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }
    // Runs the loop until `done` is true or 5 s passed.
    void run_until(const std::function<bool()>& done) {
        const uint64_t deadline = uv_now(&loop_) + 5000;
        while (!done() && uv_now(&loop_) < deadline) uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_loop_t loop_{};
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBodyAndReusesTheConnection) {
    TestServer server(&loop_, [](const std::string&, const std::string&) {
        return ok_response(R"({"ok":true})", "X-Answer: 42\r\n");
    });
    {
        Client client(&loop_, {});
        std::vector<Response> answers;
        Request r;
        r.url = server.url("/a");
        ASSERT_NE(client.start(r, [&](Response&& resp) { answers.push_back(std::move(resp)); }), 0u);
        run_until([&] { return answers.size() == 1; });
        r.url = server.url("/b");
        ASSERT_NE(client.start(r, [&](Response&& resp) { answers.push_back(std::move(resp)); }), 0u);
        run_until([&] { return answers.size() == 2; });
        ASSERT_EQ(answers.size(), 2u);
        for (const Response& a : answers) {
            EXPECT_EQ(a.outcome, Outcome::ok);
            EXPECT_EQ(a.status, 200);
            EXPECT_EQ(a.body, R"({"ok":true})");
            ASSERT_NE(a.header("x-answer"), nullptr);
            EXPECT_EQ(*a.header("x-answer"), "42");
            EXPECT_TRUE(a.error.empty());
        }
        EXPECT_EQ(server.connections_accepted, 1) << "the second request should reuse the kept-alive connection";
        EXPECT_EQ(client.in_flight(), 0u);
        const std::string metrics = client.render_metrics();
        const std::string dest = "destination=\"http://127.0.0.1:" + std::to_string(server.port()) + "\"";
        EXPECT_NE(metrics.find("switchboard_http_client_requests_total{" + dest + ",outcome=\"ok\"} 2"),
                  std::string::npos) << metrics;
        EXPECT_NE(metrics.find("switchboard_http_client_in_flight{" + dest + "} 0"), std::string::npos);
        EXPECT_NE(metrics.find("switchboard_http_client_request_duration_seconds_count{" + dest + "} 2"),
                  std::string::npos);
    }
    server.close();
}

TEST_F(HttpClientTest, PostSendsBodyAndHeadersWithoutExpectContinue) {
    TestServer server(&loop_, [](const std::string&, const std::string& body) { return ok_response(body); });
    {
        Client client(&loop_, {});
        std::optional<Response> answer;
        Request r;
        r.method = "POST";
        r.url = server.url("/rpc");
        r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer k"}};
        r.body = std::string(4000, 'x');  // over curl's Expect: 100-continue threshold
        client.start(r, [&](Response&& resp) { answer = std::move(resp); });
        run_until([&] { return answer.has_value(); });
        ASSERT_TRUE(answer);
        EXPECT_EQ(answer->status, 200);
        EXPECT_EQ(answer->body, r.body);
        ASSERT_EQ(server.heads.size(), 1u);
        EXPECT_EQ(server.heads[0].rfind("POST /rpc HTTP/1.1", 0), 0u);
        EXPECT_NE(server.heads[0].find("Authorization: Bearer k"), std::string::npos);
        EXPECT_EQ(server.heads[0].find("Expect:"), std::string::npos);
    }
    server.close();
}

TEST_F(HttpClientTest, RefusedConnectionIsReportedAsRefused) {
    // A port that was just free: bind a server, learn its port, close it.
    int port = 0;
    {
        TestServer gone(&loop_, [](const std::string&, const std::string&) { return std::string(); });
        port = gone.port();
    }
    Client client(&loop_, {});
    std::optional<Response> answer;
    Request r;
    r.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    client.start(r, [&](Response&& resp) { answer = std::move(resp); });
    run_until([&] { return answer.has_value(); });
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->outcome, Outcome::refused);
    EXPECT_FALSE(answer->error.empty());
    EXPECT_EQ(client.in_flight(), 0u);
}

TEST_F(HttpClientTest, HangingServerTimesOut) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return std::string(); });
    {
        Client client(&loop_, {});
        std::optional<Response> answer;
        Request r;
        r.url = server.url("/slow");
        r.timeout_ms = 200;
        const uint64_t started = uv_now(&loop_);
        client.start(r, [&](Response&& resp) { answer = std::move(resp); });
        run_until([&] { return answer.has_value(); });
        ASSERT_TRUE(answer);
        EXPECT_EQ(answer->outcome, Outcome::timeout);
        EXPECT_GE(uv_now(&loop_) - started, 190u);
        EXPECT_LT(uv_now(&loop_) - started, 2000u);
        EXPECT_NE(client.render_metrics().find("outcome=\"timeout\"} 1"), std::string::npos);
    }
    server.close();
}

TEST_F(HttpClientTest, ResponseOverTheCapIsTooLarge) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return ok_response(std::string(100000, 'y')); });
    {
        Client client(&loop_, {});
        std::optional<Response> answer;
        Request r;
        r.url = server.url("/big");
        r.max_response_bytes = 1000;
        client.start(r, [&](Response&& resp) { answer = std::move(resp); });
        run_until([&] { return answer.has_value(); });
        ASSERT_TRUE(answer);
        EXPECT_EQ(answer->outcome, Outcome::too_large);
        EXPECT_TRUE(answer->body.empty());
        EXPECT_NE(answer->error.find("1000"), std::string::npos) << answer->error;
    }
    server.close();
}

TEST_F(HttpClientTest, CancelledRequestNeverCallsBack) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return std::string(); });
    {
        Client client(&loop_, {});
        bool called = false;
        Request r;
        r.url = server.url("/never");
        const auto id = client.start(r, [&](Response&&) { called = true; });
        run_until([&] { return !server.heads.empty(); });
        EXPECT_TRUE(client.cancel(id));
        EXPECT_FALSE(client.cancel(id));
        EXPECT_EQ(client.in_flight(), 0u);
        // Let the loop turn a while: nothing may arrive.
        uv_timer_t wait;
        uv_timer_init(&loop_, &wait);
        bool waited = false;
        wait.data = &waited;
        uv_timer_start(&wait, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 100, 0);
        run_until([&] { return waited; });
        EXPECT_FALSE(called);
        EXPECT_NE(client.render_metrics().find("outcome=\"cancelled\"} 1"), std::string::npos);
    }
    server.close();
}

TEST_F(HttpClientTest, DestroyingTheClientDropsPendingCallbacks) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return std::string(); });
    bool called = false;
    {
        Client client(&loop_, {});
        Request r;
        r.url = server.url("/pending");
        client.start(r, [&](Response&&) { called = true; });
        run_until([&] { return !server.heads.empty(); });
    }
    uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_FALSE(called);
    server.close();
}

TEST_F(HttpClientTest, OverTheInFlightCapIsRefusedAtOnce) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return std::string(); });
    {
        ClientOptions options;
        options.max_in_flight = 1;
        Client client(&loop_, options);
        Request r;
        r.url = server.url("/x");
        EXPECT_NE(client.start(r, [](Response&&) {}), 0u);
        Outcome why{};
        std::string error;
        bool called = false;
        EXPECT_EQ(client.start(r, [&](Response&&) { called = true; }, &why, &error), 0u);
        EXPECT_EQ(why, Outcome::overloaded);
        EXPECT_NE(error.find("in flight"), std::string::npos);
        EXPECT_FALSE(called);
    }
    server.close();
}

TEST_F(HttpClientTest, OnlyHttpAndHttpsUrlsAreAccepted) {
    Client client(&loop_, {});
    Request r;
    r.url = "file:///etc/passwd";
    Outcome why{};
    std::string error;
    EXPECT_EQ(client.start(r, [](Response&&) {}, &why, &error), 0u);
    EXPECT_EQ(why, Outcome::invalid);
    EXPECT_NE(error.find("file:///etc/passwd"), std::string::npos);
}

TEST_F(HttpClientTest, HttpsToAPlainServerIsATlsFailure) {
    TestServer server(&loop_, [](const std::string&, const std::string&) { return std::string(); });
    {
        Client client(&loop_, {});
        std::optional<Response> answer;
        Request r;
        r.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
        r.timeout_ms = 2000;
        client.start(r, [&](Response&& resp) { answer = std::move(resp); });
        // The plain server never answers the ClientHello: close the
        // connection so the handshake fails rather than times out.
        run_until([&] { return server.connections_accepted > 0; });
        server.close();
        run_until([&] { return answer.has_value(); });
        ASSERT_TRUE(answer);
        EXPECT_EQ(answer->outcome, Outcome::tls) << answer->error;
    }
}

}  // namespace
