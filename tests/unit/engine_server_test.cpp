// The Engine.IO engine driven through a fake transport: no sockets and no
// libwebsockets, only the engine's own rules. Each test plays what the
// libwebsockets adapter would report (a handshake, a held GET, a POST body,
// WebSocket messages) and checks the bytes and statuses the engine answers,
// which are the reference server's.
#include "engineio/engine_server.h"
#include "metrics.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace sb {
namespace {

struct Answer {
    int status;
    std::string content_type;
    std::string body;
};

// One connection as the fake transport keeps it.
struct FakeConn : EngineConn {
    std::vector<Answer> answers;
    std::vector<std::string> ws_frames;  // WebSocket frames written, in order
    int write_requests = 0;              // want_write calls not yet served
    bool held = false;
};

class FakeTransport final : public EngineTransport {
public:
    int respond(EngineConn& c, int status, std::string_view content_type, std::string_view body) override {
        static_cast<FakeConn&>(c).answers.push_back({status, std::string(content_type), std::string(body)});
        return 0;
    }
    void want_write(EngineConn& c) override { static_cast<FakeConn&>(c).write_requests++; }
    void hold(EngineConn& c) override { static_cast<FakeConn&>(c).held = true; }
    void queue_write(EngineSession& s) override { queued.push_back(&s); }
    bool write_queued(EngineSession& s, EngineConn& c) override {
        while (s.has_queued()) static_cast<FakeConn&>(c).ws_frames.emplace_back(s.pop_front()->view());
        return true;
    }
    void forget(EngineSession& s) override { std::erase(queued, &s); }
    bool write_frame(EngineConn& c, const Frame& f) override {
        static_cast<FakeConn&>(c).ws_frames.emplace_back(f.view());
        return true;
    }
    // What the end of a loop turn does: write every queued WebSocket session.
    void flush() {
        std::vector<EngineSession*> now;
        now.swap(queued);
        for (EngineSession* s : now)
            if (s->ws) write_queued(*s, *s->ws);
    }
    std::vector<EngineSession*> queued;
};

class FakeDetails final : public RequestDetails {
public:
    std::string peer_address() override { return "192.0.2.7"; }
    std::string authorization() override { return ""; }
    std::string cookie() override { return cookie_header; }
    bool arrived_forwarded() override { return false; }
    std::string cookie_header;
};

class RecordingListener final : public SessionListener {
public:
    void on_session_open(EngineSession& s) override { opened.push_back(s.sid); }
    void on_session_message(EngineSession&, std::string_view data, bool binary) override {
        messages.push_back((binary ? "binary:" : "") + std::string(data));
    }
    void on_session_close(EngineSession&, std::string_view reason) override { closed.emplace_back(reason); }
    std::vector<std::string> opened, messages, closed;
};

EngineRequest polling(HttpMethod method, std::string sid = "") {
    EngineRequest r;
    r.method = method;
    r.eio = "4";
    r.transport = "polling";
    r.sid = std::move(sid);
    return r;
}

constexpr char kPollType[] = "text/plain; charset=UTF-8";
constexpr char kBadRequest[] = "{\"code\":3,\"message\":\"Bad request\"}";

class EngineServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(uv_loop_init(&loop_), 0);
        config_.ping_interval_ms = 300;
        config_.ping_timeout_ms = 200;
        config_.max_payload = 1000;
        make_engine();
    }

    void TearDown() override {
        engine_.reset();
        uv_run(&loop_, UV_RUN_DEFAULT);
        EXPECT_EQ(uv_loop_close(&loop_), 0);
    }

    void make_engine() {
        engine_ = std::make_unique<EngineServer>(&loop_, config_);
        engine_->set_listener(&listener_);
        engine_->set_transport(&transport_);
    }

    FakeConn& conn() { return conns_.emplace_back(); }

    // A polling handshake; returns the new session's id.
    std::string handshake() {
        FakeConn& c = conn();
        EXPECT_EQ(engine_->on_poll_request(c, polling(HttpMethod::Get), details_), 0);
        EXPECT_EQ(c.answers.size(), 1u);
        return listener_.opened.empty() ? std::string() : listener_.opened.back();
    }

    // Runs the loop until `done` holds, at most `max_ms`.
    bool run_until(const std::function<bool()>& done, uint64_t max_ms) {
        uv_timer_t tick;
        uv_timer_init(&loop_, &tick);
        uv_timer_start(&tick, [](uv_timer_t*) {}, 5, 5);
        uv_update_time(&loop_);
        const uint64_t until = uv_now(&loop_) + max_ms;
        while (!done() && uv_now(&loop_) < until) uv_run(&loop_, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);
        return done();
    }

    uv_loop_t loop_{};
    Config config_;
    FakeTransport transport_;
    FakeDetails details_;
    RecordingListener listener_;
    std::deque<FakeConn> conns_;  // stable addresses
    std::unique_ptr<EngineServer> engine_;
};

TEST_F(EngineServerTest, HandshakeAnswersTheOpenPacketAtOnce) {
    FakeConn& c = conn();
    EngineRequest r = polling(HttpMethod::Get);
    r.rest = "token=abc";
    ASSERT_EQ(engine_->on_poll_request(c, r, details_), 0);
    ASSERT_EQ(listener_.opened.size(), 1u);
    const std::string sid = listener_.opened[0];
    EXPECT_EQ(sid.size(), 15u);
    ASSERT_EQ(c.answers.size(), 1u);
    EXPECT_EQ(c.answers[0].status, 200);
    EXPECT_EQ(c.answers[0].content_type, kPollType);
    EXPECT_EQ(c.answers[0].body, "0{\"sid\":\"" + sid +
                                     "\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,\"pingTimeout\":200,"
                                     "\"maxPayload\":1000}");
    EXPECT_FALSE(c.held);
    EngineSession* s = engine_->find_session(sid);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->query(), "token=abc");
    EXPECT_EQ(s->remote_address, "192.0.2.7");
    EXPECT_EQ(engine_->session_count(), 1u);
}

TEST_F(EngineServerTest, OpenPacketOffersNoUpgradeWithoutWebSocket) {
    config_.allow_websocket = false;
    const std::string sid = handshake();
    EXPECT_NE(conns_[0].answers[0].body.find("\"upgrades\":[]"), std::string::npos) << conns_[0].answers[0].body;
}

TEST_F(EngineServerTest, RefusesWhatTheReferenceServerRefuses) {
    FakeConn& post_handshake = conn();
    engine_->on_poll_request(post_handshake, polling(HttpMethod::Post), details_);
    FakeConn& old_protocol = conn();
    EngineRequest v3 = polling(HttpMethod::Get);
    v3.eio = "3";
    engine_->on_poll_request(old_protocol, v3, details_);
    FakeConn& unknown = conn();
    engine_->on_poll_request(unknown, polling(HttpMethod::Get, "AAAAAAAAAAAAAAA"), details_);
    EXPECT_EQ(post_handshake.answers.at(0).body, "{\"code\":2,\"message\":\"Bad handshake method\"}");
    EXPECT_EQ(old_protocol.answers.at(0).body, "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
    EXPECT_EQ(unknown.answers.at(0).body, "{\"code\":1,\"message\":\"Session ID unknown\"}");
    for (const FakeConn* c : {&post_handshake, &old_protocol, &unknown}) {
        EXPECT_EQ(c->answers[0].status, 400);
        EXPECT_EQ(c->answers[0].content_type, "application/json");
    }
    EXPECT_EQ(engine_->session_count(), 0u);
}

TEST_F(EngineServerTest, HeldGetCarriesWhatIsSentThenAPostIsDelivered) {
    const std::string sid = handshake();
    FakeConn& get = conn();
    ASSERT_EQ(engine_->on_poll_request(get, polling(HttpMethod::Get, sid), details_), 0);
    EXPECT_TRUE(get.held);
    EXPECT_TRUE(get.answers.empty());
    engine_->send(*engine_->find_session(sid), Frame::make("4hello", false));
    engine_->send(*engine_->find_session(sid), Frame::make("\x01\x02", true));
    EXPECT_EQ(get.write_requests, 2);
    ASSERT_EQ(engine_->on_poll_writable(get), 0);
    ASSERT_EQ(get.answers.size(), 1u);
    EXPECT_EQ(get.answers[0].body, "4hello\x1e" "bAQI=");

    FakeConn& post = conn();
    ASSERT_EQ(engine_->on_poll_request(post, polling(HttpMethod::Post, sid), details_), 0);
    EXPECT_EQ(post.role, ConnRole::PollPost);
    EXPECT_TRUE(post.answers.empty());
    ASSERT_EQ(engine_->on_post_body(post, "4one\x1e" "4two\x1e" "bAQI="), 0);
    ASSERT_EQ(post.answers.size(), 1u);
    EXPECT_EQ(post.answers[0].status, 200);
    EXPECT_EQ(post.answers[0].content_type, "text/html");
    EXPECT_EQ(post.answers[0].body, "ok");
    EXPECT_EQ(listener_.messages, (std::vector<std::string>{"one", "two", "binary:\x01\x02"}));
}

TEST_F(EngineServerTest, PingTimeoutClosesTheSession) {
    const uint64_t timeouts_before = metrics().ping_timeouts_total;
    const std::string sid = handshake();
    FakeConn& get = conn();
    engine_->on_poll_request(get, polling(HttpMethod::Get, sid), details_);
    ASSERT_TRUE(get.held);
    // The ping goes out after ping_interval; no pong comes back.
    ASSERT_TRUE(run_until([&] { return !listener_.closed.empty(); }, 3000));
    EXPECT_EQ(listener_.closed, (std::vector<std::string>{"ping timeout"}));
    EXPECT_EQ(metrics().ping_timeouts_total, timeouts_before + 1);
    // The held GET carries the ping and then the close packet; the session goes with it.
    ASSERT_EQ(engine_->on_poll_writable(get), 0);
    ASSERT_EQ(get.answers.size(), 1u);
    EXPECT_EQ(get.answers[0].body, "2\x1e" "1");
    EXPECT_EQ(engine_->find_session(sid), nullptr);
    EXPECT_EQ(engine_->session_count(), 0u);
}

TEST_F(EngineServerTest, PongKeepsTheSessionOpen) {
    const std::string sid = handshake();
    FakeConn& get = conn();
    engine_->on_poll_request(get, polling(HttpMethod::Get, sid), details_);
    ASSERT_TRUE(run_until([&] { return get.write_requests > 0; }, 3000));
    engine_->on_poll_writable(get);
    ASSERT_EQ(get.answers.at(0).body, "2");
    FakeConn& post = conn();
    engine_->on_poll_request(post, polling(HttpMethod::Post, sid), details_);
    engine_->on_post_body(post, "3");
    // Past the moment the ping would have timed out without the pong.
    run_until([] { return false; }, 350);
    EXPECT_TRUE(listener_.closed.empty());
    EXPECT_NE(engine_->find_session(sid), nullptr);
}

TEST_F(EngineServerTest, SecondConcurrentGetIsRefusedAndClosesTheSession) {
    const std::string sid = handshake();
    FakeConn& first = conn();
    engine_->on_poll_request(first, polling(HttpMethod::Get, sid), details_);
    ASSERT_TRUE(first.held);
    FakeConn& second = conn();
    ASSERT_EQ(engine_->on_poll_request(second, polling(HttpMethod::Get, sid), details_), 0);
    ASSERT_EQ(second.answers.size(), 1u);
    EXPECT_EQ(second.answers[0].status, 400);
    EXPECT_EQ(second.answers[0].body, kBadRequest);
    EXPECT_EQ(listener_.closed, (std::vector<std::string>{"transport error"}));
    // The first GET is woken to carry the close packet.
    EXPECT_GT(first.write_requests, 0);
    engine_->on_poll_writable(first);
    ASSERT_EQ(first.answers.size(), 1u);
    EXPECT_EQ(first.answers[0].body, "1");
    EXPECT_EQ(engine_->session_count(), 0u);
}

TEST_F(EngineServerTest, OversizePostIsRefusedWith413AndClosesTheSession) {
    const uint64_t refused_before = metrics().handshake_failures_total[6];
    const std::string sid = handshake();
    FakeConn& post = conn();
    ASSERT_EQ(engine_->on_poll_request(post, polling(HttpMethod::Post, sid), details_), 0);
    ASSERT_EQ(post.role, ConnRole::PollPost);
    // The transport found the body over max_payload: the session closes at
    // once, the 413 goes out once the body has been read to its end.
    engine_->on_post_over_limit(post);
    EXPECT_EQ(listener_.closed, (std::vector<std::string>{"payload too large"}));
    EXPECT_TRUE(post.answers.empty());
    ASSERT_EQ(engine_->on_post_body_refused(post), 0);
    ASSERT_EQ(post.answers.size(), 1u);
    EXPECT_EQ(post.answers[0].status, 413);
    EXPECT_EQ(post.answers[0].content_type, "text/plain");
    EXPECT_EQ(post.answers[0].body, "");
    EXPECT_EQ(metrics().handshake_failures_total[6], refused_before + 1);
    EXPECT_TRUE(listener_.messages.empty());
}

TEST_F(EngineServerTest, SecondConcurrentPostIsRefused) {
    const std::string sid = handshake();
    FakeConn& first = conn();
    engine_->on_poll_request(first, polling(HttpMethod::Post, sid), details_);
    FakeConn& second = conn();
    engine_->on_poll_request(second, polling(HttpMethod::Post, sid), details_);
    ASSERT_EQ(second.answers.size(), 1u);
    EXPECT_EQ(second.answers[0].body, kBadRequest);
    EXPECT_EQ(listener_.closed, (std::vector<std::string>{"transport error"}));
}

TEST_F(EngineServerTest, UpgradeProbeReleasesTheHeldGetAndMovesTheQueue) {
    const uint64_t upgrades_before = metrics().upgrades_total;
    const std::string sid = handshake();
    FakeConn& get = conn();
    engine_->on_poll_request(get, polling(HttpMethod::Get, sid), details_);
    ASSERT_TRUE(get.held);

    FakeConn& ws = conn();
    EngineRequest r = polling(HttpMethod::Get, sid);
    r.transport = "websocket";
    ASSERT_EQ(engine_->on_ws_handshake(ws, r, details_), 0);
    ASSERT_TRUE(engine_->on_ws_open(ws, "", details_));
    EXPECT_EQ(ws.role, ConnRole::WebSocket);

    // "2probe": answered with "3probe" on the WebSocket, and the held GET is
    // let go with a noop so the client's polling pauses.
    EXPECT_EQ(engine_->on_ws_message(ws, "2probe", false), WsVerdict::Keep);
    EXPECT_GT(ws.write_requests, 0);
    EXPECT_GT(get.write_requests, 0);
    EXPECT_EQ(engine_->on_ws_writable(ws), WsVerdict::Keep);
    EXPECT_EQ(ws.ws_frames, (std::vector<std::string>{"3probe"}));
    engine_->on_poll_writable(get);
    ASSERT_EQ(get.answers.size(), 1u);
    EXPECT_EQ(get.answers[0].body, "6");

    // Frames sent meanwhile wait in the session's queue.
    engine_->send(*engine_->find_session(sid), Frame::make("4during", false));
    // "5": the WebSocket carries the session from now on, queue included.
    EXPECT_EQ(engine_->on_ws_message(ws, "5", false), WsVerdict::Keep);
    EXPECT_EQ(metrics().upgrades_total, upgrades_before + 1);
    EXPECT_EQ(engine_->find_session(sid)->transport, TransportKind::WebSocket);
    EXPECT_EQ(engine_->on_ws_writable(ws), WsVerdict::Keep);
    engine_->send(*engine_->find_session(sid), Frame::make("4after", false));
    transport_.flush();
    EXPECT_EQ(ws.ws_frames, (std::vector<std::string>{"3probe", "4during", "4after"}));
    EXPECT_EQ(engine_->on_ws_message(ws, "4up", false), WsVerdict::Keep);
    EXPECT_EQ(listener_.messages, (std::vector<std::string>{"up"}));

    // Polling is over for this session.
    FakeConn& late = conn();
    engine_->on_poll_request(late, polling(HttpMethod::Get, sid), details_);
    ASSERT_EQ(late.answers.size(), 1u);
    EXPECT_EQ(late.answers[0].body, kBadRequest);
}

TEST_F(EngineServerTest, ProbeWithAnythingButAPingEndsOnlyTheProbe) {
    const std::string sid = handshake();
    FakeConn& ws = conn();
    EngineRequest r = polling(HttpMethod::Get, sid);
    r.transport = "websocket";
    ASSERT_EQ(engine_->on_ws_handshake(ws, r, details_), 0);
    ASSERT_TRUE(engine_->on_ws_open(ws, "", details_));
    EXPECT_EQ(engine_->on_ws_message(ws, "4hello", false), WsVerdict::Drop);
    EXPECT_EQ(ws.session, nullptr);
    EXPECT_TRUE(listener_.closed.empty());
    EXPECT_EQ(engine_->find_session(sid)->probe_ws, nullptr);
}

TEST_F(EngineServerTest, WebSocketSessionClosesOnAProtocolError) {
    FakeConn& ws = conn();
    EngineRequest r = polling(HttpMethod::Get);
    r.transport = "websocket";
    ASSERT_EQ(engine_->on_ws_handshake(ws, r, details_), 0);
    ASSERT_TRUE(engine_->on_ws_open(ws, "", details_));
    transport_.flush();
    ASSERT_EQ(ws.ws_frames.size(), 1u);
    EXPECT_EQ(ws.ws_frames[0].substr(0, 9), "0{\"sid\":\"");
    EXPECT_NE(ws.ws_frames[0].find("\"upgrades\":[]"), std::string::npos);
    EXPECT_EQ(engine_->on_ws_message(ws, "9junk", false), WsVerdict::DropProtocolError);
    EXPECT_EQ(listener_.closed, (std::vector<std::string>{"parse error"}));
    EXPECT_EQ(engine_->session_count(), 0u);
}

// The handshake's Cookie header is kept for the Socket.IO layer's
// connect_info, out of line and only when the client sent one.
TEST_F(EngineServerTest, HandshakeKeepsTheCookieHeaderOnlyWhenSent) {
    const std::string plain = handshake();
    const EngineSession* without = engine_->find_session(plain);
    ASSERT_NE(without, nullptr);
    EXPECT_EQ(without->extras, nullptr);
    EXPECT_EQ(without->cookie(), "");

    details_.cookie_header = "session=abc; theme=dark";
    const std::string with_cookie = handshake();
    const EngineSession* with = engine_->find_session(with_cookie);
    ASSERT_NE(with, nullptr);
    ASSERT_NE(with->extras, nullptr);
    EXPECT_EQ(with->cookie(), "session=abc; theme=dark");
    EXPECT_EQ(with->authorization(), "");
    EXPECT_EQ(with->query(), "");
}

}  // namespace
}  // namespace sb
