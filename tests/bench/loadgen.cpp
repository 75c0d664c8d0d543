// Load generator for the Switchboard benchmark suite.
//
// Off-the-shelf Socket.IO load tools are Node programs that saturate a core
// long before a C++ server does, so the suite drives servers with this one:
// a single libuv loop holding up to ~19,000 client connections that speak
// WebSocket (client side: upgrade handshake with Sec-WebSocket-Key, masked
// frames, ping/close handling), Engine.IO v4 (answers the server's "2" with
// "3") and Socket.IO v5 (CONNECT with an optional auth payload, events and
// acks). For the physical-limit baselines it speaks instead the trivial
// record protocol of raw_server.cpp over plain TCP.
//
// One process runs one scenario (idle, echo, fanout-sub, fanout-pub, storm)
// and prints JSON lines on stdout: {"event":"ready",...} once its
// connections are established, then one {"event":"report",...} line, so a
// driver can start several generators (spread over 127.0.0.x source
// addresses, one process may open at most ~20,000 files) and merge them.
// Latencies are recorded in log-linear buckets (latency_histogram.h) that
// are printed sparsely so percentiles can be merged across processes.
//
// Efficiency rules: every connection's buffers are allocated once and keep
// their capacity; reads land in one shared buffer and only the tail of a
// partial frame is copied; frames produced while handling one read are
// flushed with a single write; timestamps are taken once per read.
//
// Stopping: every run is bounded by --duration (and --timeout as a hard
// cap); SIGUSR1/SIGTERM/SIGINT end it early with a report; SIGUSR2 makes a
// --slow subscriber resume reading and find out whether it was dropped.
#include "latency_histogram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <uv.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

using bench::LatencyHistogram;

enum class Scenario { Idle, Echo, FanoutSub, FanoutPub, Storm };
enum class Protocol { SocketIO, Raw, Http };

const char* scenario_name(Scenario s) {
    switch (s) {
        case Scenario::Idle: return "idle";
        case Scenario::Echo: return "echo";
        case Scenario::FanoutSub: return "fanout-sub";
        case Scenario::FanoutPub: return "fanout-pub";
        case Scenario::Storm: return "storm";
    }
    return "?";
}

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::vector<uint32_t> source_ips;  // host byte order; empty: let the kernel choose
    uint32_t connections = 1;
    Scenario scenario = Scenario::Idle;
    Protocol protocol = Protocol::SocketIO;
    uint32_t in_flight = 1;
    double duration = 10;  // measured window (echo, fanout-pub) or longest hold (idle, fanout-sub)
    double warmup = 0;
    double rate = 0;  // fanout-pub: publishes per second; echo: messages per second, all connections; 0 = closed loop
    std::string event;  // echo: send this event with an ack instead of "message" -> "message-back" (RPCs)
    std::string http_path = "/rpc";  // echo over --protocol http: POST target
    bool slow = false;
    int rcvbuf = 0;
    std::string jwt;
    std::string jwt_secret;
    bool json = true;
    uint32_t concurrency = 200;  // connections being set up at once
    double connect_timeout = 15;
    double timeout = 0;  // hard cap on the whole run; 0 = derived
    double drain = 30;   // fanout-pub: longest wait for outstanding acks after the window
    int server_pid = 0;
    int phase = 1;
    uint32_t pad = 0;
    uint32_t raw_size = 48;
    bool raw_per_message = false;  // raw echo: ask raw_server for one write per message
    std::vector<std::string> rooms{"bench"};  // subscribers join all; a publisher targets the first
    std::string path = "/socket.io/";
    std::string label;
};

// Connection states, in the order a connection goes through them.
enum class St : uint8_t { NotStarted, Connecting, Upgrading, WaitOpen, WaitSioConnect, WaitJoin, Ready, Closed };

bool in_setup(St s) { return s >= St::Connecting && s <= St::WaitJoin; }

struct Conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    std::string out;        // frames produced, not yet handed to the kernel
    std::string inflight;   // bytes owned by the uv_write in progress
    std::string carry;      // partial inbound frame / record / HTTP response
    std::string fragments;  // fragmented WebSocket message being reassembled
    std::vector<uint64_t> ring;  // echo: send times of the messages in flight, oldest first;
                                 // with --event, by ack slot (ack id = slot + 1, 0 = free)
    uint64_t t_start = 0;
    uint32_t ring_head = 0;
    uint32_t ring_count = 0;
    uint32_t last_seq = 0;
    uint32_t join_ack = 0;
    uint32_t raw_partial = 0;
    St state = St::NotStarted;
    bool handle_open = false;
    bool writing = false;
    bool closing = false;
    uint8_t frag_opcode = 0;
    char ws_key[32] = {0};
};

struct ProcSample {
    bool ok = false;
    double cpu_s = 0;
    long rss_kb = 0;
};

struct PhaseStats {
    uint64_t deliveries = 0;
    uint64_t gaps = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    LatencyHistogram hist;
};

constexpr size_t kReadBuffer = 256 * 1024;
constexpr size_t kScratch = 72 * 1024;
constexpr uint32_t kMaxPad = 60000;
constexpr uint32_t kPubRing = 4096;
constexpr int kPhases = 16;
constexpr uint32_t kRawRecord = 64;

struct Gen {
    Options o;
    uv_loop_t* loop = nullptr;
    sockaddr_in dest{};
    std::unique_ptr<Conn[]> conns;
    std::vector<char> rxbuf;
    std::vector<char> scratch;
    uint64_t now = 0;
    uint32_t rng = 0x9e3779b9u;

    // connection set-up
    uint32_t next_to_start = 0;
    uint32_t outstanding = 0;
    uint32_t ready = 0;
    uint32_t failed = 0;
    uint32_t disconnected = 0;
    bool pumping = false;
    bool all_ready_done = false;
    uint64_t t_first_start = 0;
    uint64_t t_last_ready = 0;
    std::map<std::string, uint64_t> connect_errors;
    std::map<std::string, uint64_t> disconnect_reasons;
    LatencyHistogram connect_hist;

    // measured window
    bool measuring = false;
    bool sending = true;
    uint64_t measure_start_ns = 0;
    uint64_t measure_end_ns = 0;
    ProcSample srv_start, srv_end;
    double gen_cpu_start = 0, gen_cpu_end = 0;
    uint64_t sent = 0, received = 0, sent_measured = 0, received_measured = 0, unexpected = 0;
    LatencyHistogram hist;  // echo round trips, or publish -> ack

    // publisher
    uint32_t pub_seq = 0;
    uint32_t pub_acked = 0;  // raw: acks arrive in order
    uint32_t pub_outstanding = 0;
    uint64_t pub_next_due = 0;
    uint64_t pub_skipped = 0;
    uint64_t echo_skipped = 0;
    uint64_t rpc_failed = 0;  // acks that are not {"ok":true,...}  // rated echo: sends due while every slot was busy
    uint32_t echo_next_conn = 0;
    std::vector<uint64_t> pub_times;
    std::string pad;

    // subscribers
    std::vector<PhaseStats> phases;

    // slow subscriber
    bool slow_resumed = false;
    uint64_t slow_drained = 0;
    uint64_t slow_ticks_after_resume = 0;
    uint32_t slow_probe = 0;
    std::string slow_result = "not-resumed";
    std::string slow_how;

    std::string jwt;
    std::string upgrade_request_head;
    bool timed_out = false;
    bool draining = false;
    uint64_t drain_done_ns = 0;

    uv_timer_t scan_timer{}, phase_timer{}, hard_timer{}, rate_timer{}, resume_timer{};
    uv_signal_t sig_usr1{}, sig_usr2{}, sig_term{}, sig_int{};
};

Gen* g = nullptr;

// ---- small utilities ----------------------------------------------------------

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t next_rand() {
    uint32_t x = g->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return g->rng = x;
}

__attribute__((format(printf, 2, 3))) void appendf(std::string& out, const char* fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<size_t>(n) < sizeof tmp) {
        out.append(tmp, static_cast<size_t>(n));
        return;
    }
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.resize(static_cast<size_t>(n));
    out += big;
}

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            appendf(out, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
}

std::string base64(const unsigned char* data, size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(len > 0 ? static_cast<size_t>(len) : 0);
    return out;
}

std::string base64url(std::string_view data) {
    std::string s = base64(reinterpret_cast<const unsigned char*>(data.data()), data.size());
    for (char& ch : s) {
        if (ch == '+') ch = '-';
        else if (ch == '/') ch = '_';
    }
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
}

// An HS256 JSON Web Token signed with `secret` (OpenSSL HMAC-SHA256).
std::string make_jwt(const std::string& secret) {
    const long iat = static_cast<long>(std::time(nullptr));
    std::string header = R"({"alg":"HS256","typ":"JWT"})";
    std::string payload;
    appendf(payload, R"({"sub":"bench-user","name":"switchboard bench","iat":%ld,"exp":%ld})", iat, iat + 3600);
    std::string signing = base64url(header) + "." + base64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &mac_len)) {
        std::fprintf(stderr, "loadgen: HMAC failed\n");
        std::exit(2);
    }
    return signing + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

std::string websocket_accept_for(const char* key) {
    std::string in = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(in.data(), in.size(), md, &md_len, EVP_sha1(), nullptr)) return {};
    return base64(md, md_len);
}

ProcSample sample_proc(int pid) {
    ProcSample s;
    if (pid <= 0) return s;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) return s;
    char buf[2048];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    if (!p) return s;
    p += 2;  // field 3 (state) starts here
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && *p; ++field) {
        if (field == 14) utime = std::strtoull(p, nullptr, 10);
        if (field == 15) stime = std::strtoull(p, nullptr, 10);
        while (*p && *p != ' ') ++p;
        while (*p == ' ') ++p;
    }
    const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_s = static_cast<double>(utime + stime) / hz;
    std::snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = std::fopen(path, "r");
    if (!f) return s;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmRSS:", 6) == 0) s.rss_kb = std::strtol(line + 6, nullptr, 10);
    }
    std::fclose(f);
    s.ok = true;
    return s;
}

double self_cpu_s() {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Parses the unsigned number following `key` in [p, end); false when absent.
bool number_after(const char* p, const char* end, std::string_view key, uint64_t& value) {
    const void* hit = memmem(p, static_cast<size_t>(end - p), key.data(), key.size());
    if (!hit) return false;
    const char* q = static_cast<const char*>(hit) + key.size();
    uint64_t v = 0;
    const char* start = q;
    while (q < end && *q >= '0' && *q <= '9') v = v * 10 + static_cast<uint64_t>(*q++ - '0');
    if (q == start) return false;
    value = v;
    return true;
}

// ---- reporting ------------------------------------------------------------------

void append_errors(std::string& out, const char* name, const std::map<std::string, uint64_t>& m) {
    appendf(out, ",\"%s\":{", name);
    bool first = true;
    for (const auto& [k, v] : m) {
        if (!first) out.push_back(',');
        append_json_string(out, k);
        appendf(out, ":%llu", static_cast<unsigned long long>(v));
        first = false;
    }
    out.push_back('}');
}

void emit_line(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void emit_ready() {
    std::string out = "{\"event\":\"ready\"";
    appendf(out, ",\"scenario\":\"%s\",\"pid\":%d,\"connections\":%u,\"connected\":%u,\"failed\":%u",
            scenario_name(g->o.scenario), static_cast<int>(getpid()), g->o.connections, g->ready, g->failed);
    appendf(out, ",\"t_first_start_ns\":%llu,\"t_last_ready_ns\":%llu", static_cast<unsigned long long>(g->t_first_start),
            static_cast<unsigned long long>(g->t_last_ready));
    append_errors(out, "connect_errors", g->connect_errors);
    out += "}";
    emit_line(out);
}

[[noreturn]] void finish(const char* why) {
    const uint64_t t_end = now_ns();
    if (g->measure_start_ns && !g->measure_end_ns) {
        g->measure_end_ns = t_end;
        g->srv_end = sample_proc(g->o.server_pid);
        g->gen_cpu_end = self_cpu_s();
    }
    const Options& o = g->o;
    std::string out = "{\"event\":\"report\"";
    appendf(out, ",\"scenario\":\"%s\",\"protocol\":\"%s\",\"label\":", scenario_name(o.scenario),
            o.protocol == Protocol::Raw ? "raw" : o.protocol == Protocol::Http ? "http" : "socketio");
    append_json_string(out, o.label);
    appendf(out, ",\"pid\":%d,\"end_reason\":\"%s\",\"timed_out\":%s", static_cast<int>(getpid()), why,
            g->timed_out ? "true" : "false");
    appendf(out, ",\"connections\":%u,\"connected\":%u,\"failed\":%u,\"disconnected\":%u,\"not_started\":%u",
            o.connections, g->ready, g->failed, g->disconnected, o.connections - g->next_to_start);
    append_errors(out, "connect_errors", g->connect_errors);
    append_errors(out, "disconnect_reasons", g->disconnect_reasons);
    appendf(out, ",\"t_first_start_ns\":%llu,\"t_last_ready_ns\":%llu,\"t_end_ns\":%llu",
            static_cast<unsigned long long>(g->t_first_start), static_cast<unsigned long long>(g->t_last_ready),
            static_cast<unsigned long long>(t_end));
    out += ",\"connect_latency\":";
    g->connect_hist.append_json(out);
    if (!o.jwt.empty() || !o.jwt_secret.empty())
        out += ",\"jwt\":\"HS256 token sent in CONNECT auth {token}\"";

    const bool windowed = g->measure_start_ns != 0;
    const double window = windowed ? static_cast<double>(g->measure_end_ns - g->measure_start_ns) / 1e9 : 0.0;
    appendf(out, ",\"measure_start_ns\":%llu,\"measure_end_ns\":%llu,\"window_s\":%.6f",
            static_cast<unsigned long long>(g->measure_start_ns), static_cast<unsigned long long>(g->measure_end_ns),
            window);
    appendf(out, ",\"sent\":%llu,\"received\":%llu,\"sent_measured\":%llu,\"received_measured\":%llu,\"unexpected\":%llu",
            static_cast<unsigned long long>(g->sent), static_cast<unsigned long long>(g->received),
            static_cast<unsigned long long>(g->sent_measured), static_cast<unsigned long long>(g->received_measured),
            static_cast<unsigned long long>(g->unexpected));
    if (windowed && window > 0) {
        appendf(out, ",\"rate\":%.3f", static_cast<double>(g->received_measured) / window);
        appendf(out, ",\"send_rate\":%.3f", static_cast<double>(g->sent_measured) / window);
    }
    if (o.scenario == Scenario::Echo || o.scenario == Scenario::FanoutPub) {
        out += ",\"latency\":";
        g->hist.append_json(out);
    }
    if (o.scenario == Scenario::Echo && o.rate > 0)
        appendf(out, ",\"skipped\":%llu,\"in_flight_at_end\":%llu", static_cast<unsigned long long>(g->echo_skipped),
                static_cast<unsigned long long>(g->sent - g->received));
    if (!o.event.empty()) appendf(out, ",\"rpc_failed\":%llu", static_cast<unsigned long long>(g->rpc_failed));
    if (o.scenario == Scenario::FanoutPub)
        appendf(out, ",\"skipped\":%llu,\"unacked\":%u,\"drain_s\":%.3f", static_cast<unsigned long long>(g->pub_skipped),
                g->pub_outstanding,
                g->drain_done_ns > g->measure_end_ns ? static_cast<double>(g->drain_done_ns - g->measure_end_ns) / 1e9 : 0.0);
    if (windowed) {
        appendf(out, ",\"generator\":{\"cpu_s\":%.3f,\"util\":%.3f}", g->gen_cpu_end - g->gen_cpu_start,
                window > 0 ? (g->gen_cpu_end - g->gen_cpu_start) / window : 0.0);
        if (g->srv_start.ok && g->srv_end.ok)
            appendf(out,
                    ",\"server\":{\"pid\":%d,\"cpu_s\":%.3f,\"util\":%.3f,\"cpu_start_s\":%.3f,\"cpu_end_s\":%.3f,"
                    "\"rss_start_kb\":%ld,\"rss_end_kb\":%ld}",
                    o.server_pid, g->srv_end.cpu_s - g->srv_start.cpu_s,
                    window > 0 ? (g->srv_end.cpu_s - g->srv_start.cpu_s) / window : 0.0, g->srv_start.cpu_s,
                    g->srv_end.cpu_s, g->srv_start.rss_kb, g->srv_end.rss_kb);
    } else {
        appendf(out, ",\"generator\":{\"cpu_s\":%.3f}", self_cpu_s());
    }
    if (o.scenario == Scenario::FanoutSub) {
        out += ",\"phases\":{";
        bool first = true;
        for (int i = 0; i < kPhases; ++i) {
            const PhaseStats& p = g->phases[static_cast<size_t>(i)];
            if (!p.deliveries) continue;
            appendf(out, "%s\"%d\":{\"deliveries\":%llu,\"gaps\":%llu,\"first_ns\":%llu,\"last_ns\":%llu,\"latency\":",
                    first ? "" : ",", i, static_cast<unsigned long long>(p.deliveries),
                    static_cast<unsigned long long>(p.gaps), static_cast<unsigned long long>(p.first_ns),
                    static_cast<unsigned long long>(p.last_ns));
            p.hist.append_json(out);
            out += "}";
            first = false;
        }
        out += "}";
        if (o.slow) {
            appendf(out, ",\"slow\":{\"resumed\":%s,\"result\":\"%s\",\"how\":", g->slow_resumed ? "true" : "false",
                    g->slow_result.c_str());
            append_json_string(out, g->slow_how);
            appendf(out, ",\"drained_bytes\":%llu,\"ticks_after_resume\":%llu}",
                    static_cast<unsigned long long>(g->slow_drained),
                    static_cast<unsigned long long>(g->slow_ticks_after_resume));
        }
    }
    out += "}";
    emit_line(out);
    std::fflush(stderr);
    _exit(0);
}

// ---- writing ---------------------------------------------------------------------

void fail(Conn* c, const std::string& reason);
void flush(Conn* c);

void on_write_done(uv_write_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->handle->data);
    c->writing = false;
    c->inflight.clear();
    if (c->closing) return;
    if (status < 0) {
        fail(c, uv_err_name(status));
        return;
    }
    flush(c);
}

// Hands `out` to the kernel: one non-blocking write, the rest (if any) with
// one uv_write whose buffer is kept until it completes.
void flush(Conn* c) {
    if (c->writing || c->out.empty() || c->closing || !c->handle_open) return;
    uv_buf_t b = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
        fail(c, uv_err_name(n));
        return;
    }
    if (static_cast<size_t>(n) == c->out.size()) {
        c->out.clear();
        return;
    }
    c->inflight.assign(c->out.data() + n, c->out.size() - static_cast<size_t>(n));
    c->out.clear();
    c->writing = true;
    uv_buf_t rest = uv_buf_init(c->inflight.data(), static_cast<unsigned>(c->inflight.size()));
    int r = uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), &rest, 1, on_write_done);
    if (r < 0) {
        c->writing = false;
        fail(c, uv_err_name(r));
    }
}

// Appends one masked client frame (RFC 6455 §5.3) to the connection's output.
void ws_frame(Conn* c, uint8_t opcode, const char* data, size_t n) {
    std::string& o = c->out;
    const size_t hdr = 2 + (n < 126 ? 0 : n < 65536 ? 2 : 8) + 4;
    const size_t base = o.size();
    o.resize(base + hdr + n);
    auto* p = reinterpret_cast<uint8_t*>(o.data() + base);
    *p++ = static_cast<uint8_t>(0x80 | opcode);
    if (n < 126) {
        *p++ = static_cast<uint8_t>(0x80 | n);
    } else if (n < 65536) {
        *p++ = 0x80 | 126;
        *p++ = static_cast<uint8_t>(n >> 8);
        *p++ = static_cast<uint8_t>(n);
    } else {
        *p++ = 0x80 | 127;
        for (int i = 7; i >= 0; --i) *p++ = static_cast<uint8_t>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff);
    }
    uint8_t mask[4];
    const uint32_t m = next_rand();
    std::memcpy(mask, &m, 4);
    std::memcpy(p, mask, 4);
    p += 4;
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(data[i]) ^ mask[i & 3];
}

void ws_text(Conn* c, const char* data, size_t n) { ws_frame(c, 0x1, data, n); }

// ---- connection lifecycle ------------------------------------------------------------

void pump();
void all_ready();

void conn_setup_done(bool ok) {
    g->outstanding--;
    if (ok) g->ready++;
    else g->failed++;
    pump();
    if (!g->all_ready_done && g->ready + g->failed == g->o.connections) all_ready();
}

void on_closed(uv_handle_t*) {}

void slow_outcome(const char* result, const std::string& how) {
    g->slow_result = result;
    g->slow_how = how;
    finish("slow-subscriber-resolved");
}

void fail(Conn* c, const std::string& reason) {
    if (c->closing || c->state == St::Closed) return;
    const St prev = c->state;
    c->closing = true;
    c->state = St::Closed;
    if (c->handle_open) uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_closed);
    if (in_setup(prev)) {
        g->connect_errors[reason]++;
        conn_setup_done(false);
        return;
    }
    g->disconnected++;
    g->disconnect_reasons[reason]++;
    if (g->o.slow && g->slow_resumed) slow_outcome("disconnected", reason);
    if (g->o.scenario == Scenario::FanoutPub) finish("publisher-disconnected");
}

void mark_ready(Conn* c) {
    c->state = St::Ready;
    const uint64_t t = now_ns();
    g->connect_hist.record(t - c->t_start);
    g->t_last_ready = t;
    if (g->o.slow) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    conn_setup_done(true);
}

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(g->rxbuf.data(), static_cast<unsigned>(g->rxbuf.size()));
}

void on_data(Conn* c, const char* p, size_t n);

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
    Conn* c = static_cast<Conn*>(s->data);
    if (nread > 0) {
        g->now = now_ns();
        if (g->slow_resumed) g->slow_drained += static_cast<uint64_t>(nread);
        on_data(c, g->rxbuf.data(), static_cast<size_t>(nread));
        if (!c->closing) flush(c);
        return;
    }
    if (nread < 0) fail(c, nread == UV_EOF ? "eof" : uv_err_name(static_cast<int>(nread)));
}

void on_connect(uv_connect_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->handle->data);
    if (c->closing) return;
    if (status < 0) {
        fail(c, uv_err_name(status));
        return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
    if (g->o.protocol == Protocol::Http) {
        mark_ready(c);
        return;
    }
    if (g->o.protocol == Protocol::Raw) {
        const char mode = g->o.scenario == Scenario::Echo        ? (g->o.raw_per_message ? 'M' : 'E')
                          : g->o.scenario == Scenario::FanoutPub ? 'P'
                                                                  : 'S';
        c->out.push_back(mode);
        if (mode == 'M') {
            c->out.push_back(static_cast<char>((g->o.raw_size >> 8) & 0xff));
            c->out.push_back(static_cast<char>(g->o.raw_size & 0xff));
        }
        c->state = St::WaitJoin;
    } else {
        unsigned char key[16];
        for (int i = 0; i < 16; i += 4) {
            uint32_t r = next_rand();
            std::memcpy(key + i, &r, 4);
        }
        std::string k = base64(key, sizeof key);
        std::snprintf(c->ws_key, sizeof c->ws_key, "%s", k.c_str());
        c->out += g->upgrade_request_head;
        c->out += "Sec-WebSocket-Key: ";
        c->out += c->ws_key;
        c->out += "\r\n\r\n";
        c->state = St::Upgrading;
    }
    flush(c);
}

void start_conn(Conn* c, uint32_t index) {
    c->state = St::Connecting;
    c->t_start = now_ns();
    if (!g->t_first_start) g->t_first_start = c->t_start;
    g->outstanding++;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(c, std::string("socket:") + uv_err_name(-errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (g->o.rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &g->o.rcvbuf, sizeof g->o.rcvbuf);
    if (!g->o.source_ips.empty()) {
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_port = 0;
        src.sin_addr.s_addr = htonl(g->o.source_ips[index % g->o.source_ips.size()]);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
            int e = errno;
            ::close(fd);
            fail(c, std::string("bind:") + uv_err_name(-e));
            return;
        }
    }
    uv_tcp_init(g->loop, &c->tcp);
    c->tcp.data = c;
    c->handle_open = true;
    int r = uv_tcp_open(&c->tcp, fd);
    if (r < 0) {
        ::close(fd);
        fail(c, std::string("open:") + uv_err_name(r));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    r = uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(&g->dest), on_connect);
    if (r < 0) fail(c, uv_err_name(r));
}

void pump() {
    if (g->pumping) return;
    g->pumping = true;
    while (g->outstanding < g->o.concurrency && g->next_to_start < g->o.connections) {
        uint32_t i = g->next_to_start++;
        start_conn(&g->conns[i], i);
    }
    g->pumping = false;
}

void on_scan(uv_timer_t*) {
    const uint64_t t = now_ns();
    const auto limit = static_cast<uint64_t>(g->o.connect_timeout * 1e9);
    for (uint32_t i = 0; i < g->next_to_start; ++i) {
        Conn* c = &g->conns[i];
        if (in_setup(c->state) && !c->closing && t - c->t_start > limit) fail(c, "timeout");
    }
    if (g->all_ready_done) uv_timer_stop(&g->scan_timer);
}

// ---- scenario traffic ----------------------------------------------------------------

// The body the backend module POSTs for one RPC, so the direct HTTP run
// sends the backend the same bytes (give or take the socket id).
constexpr const char* kRpcBody =
    "{\"type\":\"rpc\",\"event\":\"rpc:echo\",\"args\":[{\"n\":%llu,\"text\":\"switchboard bench payload\"}],"
    "\"socket\":{\"id\":\"bench0000000000000000\",\"namespace\":\"/\",\"remoteAddress\":\"127.0.0.1\",\"data\":{}}}";

// An acked event (--event): each in-flight message owns a slot of the ring
// and its ack id names the slot, because a server that forwards RPCs may
// answer them out of order.
void rpc_send(Conn* c) {
    uint32_t slot = 0;
    while (slot < g->o.in_flight && c->ring[slot] != 0) ++slot;
    if (slot == g->o.in_flight) return;
    c->ring[slot] = g->now ? g->now : 1;
    c->ring_count++;
    g->sent++;
    if (g->measuring) g->sent_measured++;
    int n = std::snprintf(g->scratch.data(), g->scratch.size(),
                          "42%u[\"%s\",{\"n\":%llu,\"text\":\"switchboard bench payload\"}]", slot + 1,
                          g->o.event.c_str(), static_cast<unsigned long long>(g->sent));
    ws_text(c, g->scratch.data(), static_cast<size_t>(n));
}

void echo_send(Conn* c) {
    const uint32_t k = g->o.in_flight;
    if (!g->o.event.empty()) {
        rpc_send(c);
        return;
    }
    c->ring[(c->ring_head + c->ring_count) % k] = g->now;
    c->ring_count++;
    g->sent++;
    if (g->measuring) g->sent_measured++;
    if (g->o.protocol == Protocol::Http) {
        char body[512];
        const int blen = std::snprintf(body, sizeof body, kRpcBody, static_cast<unsigned long long>(g->sent));
        appendf(c->out,
                "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                g->o.http_path.c_str(), g->o.host.c_str(), g->o.port, blen);
        c->out.append(body, static_cast<size_t>(blen));
        return;
    }
    if (g->o.protocol == Protocol::Raw) {
        const size_t base = c->out.size();
        c->out.resize(base + g->o.raw_size, 'x');
        c->out.back() = '\n';
        return;
    }
    int n = std::snprintf(g->scratch.data(), g->scratch.size(),
                          "42[\"message\",{\"n\":%llu,\"text\":\"switchboard bench payload\"}]",
                          static_cast<unsigned long long>(g->sent));
    ws_text(c, g->scratch.data(), static_cast<size_t>(n));
}

void echo_response(Conn* c) {
    if (c->ring_count == 0) {
        g->unexpected++;
        return;
    }
    const uint64_t t0 = c->ring[c->ring_head];
    c->ring_head = (c->ring_head + 1) % g->o.in_flight;
    c->ring_count--;
    g->received++;
    if (g->measuring) {
        g->received_measured++;
        g->hist.record(g->now - t0);
    }
    if (g->sending && g->o.rate <= 0) echo_send(c);
}

void rpc_ack(Conn* c, uint32_t id) {
    if (id == 0 || id > g->o.in_flight || c->ring[id - 1] == 0) {
        g->unexpected++;
        return;
    }
    const uint64_t t0 = c->ring[id - 1];
    c->ring[id - 1] = 0;
    c->ring_count--;
    g->received++;
    if (g->measuring) {
        g->received_measured++;
        g->hist.record(g->now - t0);
    }
    if (g->sending && g->o.rate <= 0) rpc_send(c);
}

// HTTP/1.1 responses from the backend, in order on a connection: each
// complete one (head plus Content-Length bytes) answers the oldest request.
void http_data(Conn* c, const char* p, size_t n) {
    c->carry.append(p, n);
    size_t at = 0;
    for (;;) {
        const size_t head_end = c->carry.find("\r\n\r\n", at);
        if (head_end == std::string::npos) break;
        size_t len = 0;
        for (size_t h = at; h < head_end;) {
            const size_t eol = c->carry.find("\r\n", h);
            if (eol - h > 15 && strncasecmp(c->carry.data() + h, "content-length:", 15) == 0)
                len = std::strtoul(c->carry.data() + h + 15, nullptr, 10);
            h = eol + 2;
        }
        if (c->carry.size() < head_end + 4 + len) break;
        if (c->carry.compare(at, 12, "HTTP/1.1 200") != 0) {
            fail(c, "http_status");
            return;
        }
        at = head_end + 4 + len;
        echo_response(c);
    }
    c->carry.erase(0, at);
}

void publish(Conn* c) {
    const uint32_t seq = ++g->pub_seq;
    const int m = g->measuring ? g->o.phase : 0;
    const uint64_t t = now_ns();
    g->now = t;
    g->pub_times[seq % kPubRing] = t;
    g->pub_outstanding++;
    g->sent++;
    if (g->measuring) g->sent_measured++;
    if (g->o.protocol == Protocol::Raw) {
        char rec[kRawRecord + 1];
        std::snprintf(rec, sizeof rec, "T%020llu %010u %02d", static_cast<unsigned long long>(t), seq, m);
        const size_t base = c->out.size();
        c->out.append(rec, std::strlen(rec));
        c->out.resize(base + kRawRecord, ' ');
        c->out.back() = '\n';
        return;
    }
    int n = std::snprintf(g->scratch.data(), g->scratch.size(),
                          "42%u[\"broadcast\",{\"rooms\":[\"%s\"],\"event\":\"tick\",\"data\":{\"t\":%llu,\"seq\":%u,"
                          "\"m\":%d%s%s%s}}]",
                          seq, g->o.rooms[0].c_str(), static_cast<unsigned long long>(t), seq, m,
                          g->pad.empty() ? "" : ",\"p\":\"", g->pad.c_str(), g->pad.empty() ? "" : "\"");
    ws_text(c, g->scratch.data(), static_cast<size_t>(n));
}

void publish_ack(Conn* c, uint32_t id) {
    if (g->pub_outstanding == 0) {
        g->unexpected++;
        return;
    }
    g->pub_outstanding--;
    g->received++;
    if (g->measuring) {
        g->received_measured++;
        g->hist.record(g->now - g->pub_times[id % kPubRing]);
    }
    if (g->sending && g->o.rate <= 0) publish(c);
    if (g->draining && g->pub_outstanding == 0) {
        g->drain_done_ns = now_ns();
        finish("duration");
    }
}

void on_tick(Conn* c, uint64_t t, uint64_t seq, uint64_t m) {
    if (m >= static_cast<uint64_t>(kPhases)) m = 0;
    PhaseStats& p = g->phases[m];
    p.deliveries++;
    p.hist.record(g->now > t ? g->now - t : 0);
    if (!p.first_ns) p.first_ns = g->now;
    p.last_ns = g->now;
    const auto s = static_cast<uint32_t>(seq);
    if (c->last_seq && s > c->last_seq + 1) p.gaps += s - c->last_seq - 1;
    c->last_seq = s;
    if (g->slow_resumed) g->slow_ticks_after_resume++;
}

// ---- Socket.IO / Engine.IO ----------------------------------------------------------

void send_sio_connect(Conn* c) {
    if (g->jwt.empty()) {
        ws_text(c, "40", 2);
        return;
    }
    int n = std::snprintf(g->scratch.data(), g->scratch.size(), "40{\"token\":\"%s\"}", g->jwt.c_str());
    ws_text(c, g->scratch.data(), static_cast<size_t>(n));
}

// Joins the subscriber's next room (ack id = 1 + room index); ready after the last.
void join_next(Conn* c) {
    if (c->join_ack >= g->o.rooms.size()) {
        mark_ready(c);
        return;
    }
    const std::string& room = g->o.rooms[c->join_ack];
    c->join_ack++;
    int n = std::snprintf(g->scratch.data(), g->scratch.size(), "42%u[\"join\",\"%s\"]", c->join_ack, room.c_str());
    ws_text(c, g->scratch.data(), static_cast<size_t>(n));
    c->state = St::WaitJoin;
}

void on_sio_connected(Conn* c) {
    if (g->o.scenario == Scenario::FanoutSub) {
        join_next(c);
        return;
    }
    mark_ready(c);
}

void on_sio(Conn* c, const char* d, size_t n) {
    if (n == 0) return;
    const char* end = d + n;
    switch (d[0]) {
        case '0':
            if (c->state == St::WaitSioConnect) on_sio_connected(c);
            return;
        case '4':
            fail(c, "connect_error");
            return;
        case '1':
            fail(c, "sio_disconnect");
            return;
        case '2': {
            std::string_view ev(d + 1, n - 1);
            if (ev.starts_with("[\"message-back\"")) {
                if (c->state == St::Ready) echo_response(c);
            } else if (ev.starts_with("[\"tick\"")) {
                uint64_t t = 0, seq = 0, m = 0;
                const char* scan_end = std::min(end, d + 96);
                if (number_after(d, scan_end, "\"t\":", t)) {
                    number_after(d, scan_end, "\"seq\":", seq);
                    number_after(d, scan_end, "\"m\":", m);
                    on_tick(c, t, seq, m);
                }
            }
            return;
        }
        case '3': {
            uint32_t id = 0;
            const char* p = d + 1;
            while (p < end && *p >= '0' && *p <= '9') id = id * 10 + static_cast<uint32_t>(*p++ - '0');
            if (c->state == St::WaitJoin && id == c->join_ack) {
                join_next(c);
            } else if (g->slow_resumed && id == g->slow_probe) {
                slow_outcome("alive", "probe acknowledged after draining");
            } else if (g->o.scenario == Scenario::FanoutPub) {
                publish_ack(c, id);
            } else if (g->o.scenario == Scenario::Echo && !g->o.event.empty() && c->state == St::Ready) {
                const std::string_view rest(p, static_cast<size_t>(std::min<ptrdiff_t>(end - p, 64)));
                if (rest.find("\"ok\":true") == std::string_view::npos) g->rpc_failed++;
                rpc_ack(c, id);
            }
            return;
        }
        default:
            return;
    }
}

void on_engineio(Conn* c, const char* d, size_t n) {
    if (n == 0) {
        fail(c, "empty_packet");
        return;
    }
    switch (d[0]) {
        case '0':
            if (c->state == St::WaitOpen) {
                send_sio_connect(c);
                c->state = St::WaitSioConnect;
            }
            return;
        case '2':
            ws_text(c, "3", 1);
            return;
        case '1':
            fail(c, "engineio_close");
            return;
        case '4':
            on_sio(c, d + 1, n - 1);
            return;
        default:
            return;  // '3' pong, '6' noop
    }
}

void on_ws_message(Conn* c, uint8_t opcode, const char* d, size_t n) {
    switch (opcode) {
        case 0x1:
            on_engineio(c, d, n);
            return;
        case 0x8:
            fail(c, "close_frame");
            return;
        case 0x9:
            ws_frame(c, 0xA, d, n);
            return;
        default:
            return;  // binary, pong
    }
}

void on_ws_frame(Conn* c, const uint8_t* f, size_t hdr, size_t total) {
    const bool fin = f[0] & 0x80;
    const uint8_t opcode = f[0] & 0x0f;
    if (f[1] & 0x80) {
        fail(c, "masked_server_frame");
        return;
    }
    const char* payload = reinterpret_cast<const char*>(f + hdr);
    const size_t len = total - hdr;
    if (opcode >= 0x8) {
        on_ws_message(c, opcode, payload, len);
        return;
    }
    if (opcode != 0) {
        if (fin) {
            on_ws_message(c, opcode, payload, len);
            return;
        }
        c->frag_opcode = opcode;
        c->fragments.assign(payload, len);
        return;
    }
    c->fragments.append(payload, len);
    if (fin) {
        std::string whole;
        whole.swap(c->fragments);
        on_ws_message(c, c->frag_opcode, whole.data(), whole.size());
    }
}

// Bytes of the frame header given its first two bytes (payload length and mask bit).
size_t header_size(const uint8_t* p) {
    const size_t len7 = p[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
}

uint64_t payload_size(const uint8_t* p) {
    const size_t len7 = p[1] & 0x7f;
    if (len7 < 126) return len7;
    if (len7 == 126) return (static_cast<uint64_t>(p[2]) << 8) | p[3];
    uint64_t v = 0;
    for (int i = 2; i < 10; ++i) v = (v << 8) | p[i];
    return v;
}

void feed_frames(Conn* c, const char* data, size_t n) {
    auto* p = reinterpret_cast<const uint8_t*>(data);
    while (n > 0 && !c->closing) {
        if (!c->carry.empty()) {
            // Complete the partial frame without ever taking bytes of the next one.
            auto* cp = reinterpret_cast<const uint8_t*>(c->carry.data());
            size_t want;
            if (c->carry.size() < 2) {
                want = 2;
            } else if (c->carry.size() < header_size(cp)) {
                want = header_size(cp);
            } else {
                const uint64_t total = header_size(cp) + payload_size(cp);
                if (total > 64ull * 1024 * 1024) {
                    fail(c, "frame_too_large");
                    return;
                }
                want = static_cast<size_t>(total);
            }
            const size_t take = std::min(n, want - c->carry.size());
            c->carry.append(reinterpret_cast<const char*>(p), take);
            p += take;
            n -= take;
            cp = reinterpret_cast<const uint8_t*>(c->carry.data());
            if (c->carry.size() >= 2 && c->carry.size() >= header_size(cp)) {
                const size_t hdr = header_size(cp);
                const uint64_t total = hdr + payload_size(cp);
                if (c->carry.size() == total) {
                    std::string frame;
                    frame.swap(c->carry);
                    on_ws_frame(c, reinterpret_cast<const uint8_t*>(frame.data()), hdr, frame.size());
                    if (c->carry.empty()) {
                        frame.clear();
                        c->carry.swap(frame);  // keep the capacity
                    }
                }
            }
            continue;
        }
        if (n < 2 || n < header_size(p)) {
            c->carry.assign(reinterpret_cast<const char*>(p), n);
            return;
        }
        const size_t hdr = header_size(p);
        const uint64_t total = hdr + payload_size(p);
        if (total > n) {
            c->carry.assign(reinterpret_cast<const char*>(p), n);
            return;
        }
        on_ws_frame(c, p, hdr, static_cast<size_t>(total));
        p += total;
        n -= static_cast<size_t>(total);
    }
}

bool check_upgrade(Conn* c, size_t head_len) {
    std::string head = c->carry.substr(0, head_len);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) {
        fail(c, "http_bad_response");
        return false;
    }
    const size_t sp = head.find(' ');
    const int code = sp == std::string::npos ? 0 : std::atoi(head.c_str() + sp + 1);
    if (code != 101) {
        fail(c, "http_" + std::to_string(code));
        return false;
    }
    for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const size_t at = head.find("\r\nsec-websocket-accept:");
    if (at == std::string::npos) {
        fail(c, "no_accept_header");
        return false;
    }
    size_t v = at + 23;
    while (v < head_len && c->carry[v] == ' ') ++v;
    size_t e = v;
    while (e < head_len && c->carry[e] != '\r' && c->carry[e] != ' ') ++e;
    if (c->carry.compare(v, e - v, websocket_accept_for(c->ws_key)) != 0) {
        fail(c, "bad_accept_header");
        return false;
    }
    return true;
}

// ---- raw TCP record protocol ---------------------------------------------------------

void raw_record(Conn* c, const char* r) {
    // "T<20 digits t> <10 digits seq> <2 digits phase>" padded to 64 bytes
    uint64_t t = std::strtoull(r + 1, nullptr, 10);
    uint64_t seq = std::strtoull(r + 22, nullptr, 10);
    uint64_t m = std::strtoull(r + 33, nullptr, 10);
    on_tick(c, t, seq, m);
}

void raw_data(Conn* c, const char* p, size_t n) {
    if (c->state == St::WaitJoin) {
        if (p[0] != 'K') {
            fail(c, "raw_bad_hello");
            return;
        }
        ++p;
        --n;
        mark_ready(c);
        if (c->closing) return;
    }
    switch (g->o.scenario) {
        case Scenario::Echo: {
            c->raw_partial += static_cast<uint32_t>(n % g->o.raw_size);
            size_t whole = n / g->o.raw_size;
            if (c->raw_partial >= g->o.raw_size) {
                c->raw_partial -= g->o.raw_size;
                ++whole;
            }
            for (size_t i = 0; i < whole; ++i) echo_response(c);
            return;
        }
        case Scenario::FanoutPub:
            for (size_t i = 0; i < n; ++i)
                if (p[i] == 'A') publish_ack(c, ++g->pub_acked);
            return;
        case Scenario::FanoutSub: {
            if (!c->carry.empty()) {
                const size_t take = std::min(n, kRawRecord - c->carry.size());
                c->carry.append(p, take);
                p += take;
                n -= take;
                if (c->carry.size() < kRawRecord) return;
                raw_record(c, c->carry.data());
                c->carry.clear();
            }
            while (n >= kRawRecord) {
                raw_record(c, p);
                p += kRawRecord;
                n -= kRawRecord;
            }
            if (n) c->carry.assign(p, n);
            return;
        }
        default:
            return;
    }
}

void on_data(Conn* c, const char* p, size_t n) {
    if (g->o.protocol == Protocol::Http) {
        http_data(c, p, n);
        return;
    }
    if (g->o.protocol == Protocol::Raw) {
        raw_data(c, p, n);
        return;
    }
    if (c->state == St::Upgrading) {
        c->carry.append(p, n);
        const size_t pos = c->carry.find("\r\n\r\n");
        if (pos == std::string::npos) {
            if (c->carry.size() > 16384) fail(c, "http_response_too_large");
            return;
        }
        if (!check_upgrade(c, pos + 2)) return;
        std::string rest = c->carry.substr(pos + 4);
        c->carry.clear();
        c->state = St::WaitOpen;
        if (!rest.empty()) feed_frames(c, rest.data(), rest.size());
        return;
    }
    feed_frames(c, p, n);
}

// ---- phases ----------------------------------------------------------------------------

void drain_timeout(uv_timer_t*) { finish("drain-timeout"); }

void measure_end(uv_timer_t*) {
    g->measure_end_ns = now_ns();
    g->srv_end = sample_proc(g->o.server_pid);
    g->gen_cpu_end = self_cpu_s();
    g->measuring = false;
    g->sending = false;
    if (g->o.scenario == Scenario::FanoutPub && g->pub_outstanding > 0) {
        // Publishes the server has not acknowledged yet are still being
        // fanned out: wait for them so the next phase starts on a quiet server.
        g->draining = true;
        uv_timer_start(&g->phase_timer, drain_timeout, static_cast<uint64_t>(g->o.drain * 1000), 0);
        return;
    }
    finish("duration");
}

void measure_start(uv_timer_t*) {
    g->measuring = true;
    g->hist.reset();
    g->sent_measured = g->received_measured = 0;
    g->srv_start = sample_proc(g->o.server_pid);
    g->gen_cpu_start = self_cpu_s();
    g->measure_start_ns = now_ns();
    uv_timer_start(&g->phase_timer, measure_end, static_cast<uint64_t>(g->o.duration * 1000), 0);
}

// Rated echo (open loop): what is due goes to the next connection with a free
// slot, round-robin; a send due while every slot is busy is skipped and
// counted, so a server that falls behind shows as skips, not as a slower rate.
void on_echo_rate_timer(uv_timer_t*) {
    if (!g->sending) return;
    const uint64_t t = now_ns();
    g->now = t;
    const auto period = static_cast<uint64_t>(1e9 / g->o.rate);
    const uint32_t n = g->o.connections;
    while (g->pub_next_due <= t) {
        g->pub_next_due += period;
        bool sent = false;
        for (uint32_t tries = 0; tries < n && !sent; ++tries) {
            Conn* c = &g->conns[g->echo_next_conn];
            g->echo_next_conn = (g->echo_next_conn + 1) % n;
            if (c->state == St::Ready && c->ring_count < g->o.in_flight) {
                echo_send(c);
                sent = true;
            }
        }
        if (!sent) g->echo_skipped++;
    }
    for (uint32_t i = 0; i < n; ++i)
        if (!g->conns[i].out.empty() && g->conns[i].state == St::Ready) flush(&g->conns[i]);
}

void on_rate_timer(uv_timer_t*) {
    Conn* c = &g->conns[0];
    if (c->state != St::Ready || !g->sending) return;
    const uint64_t t = now_ns();
    const auto period = static_cast<uint64_t>(1e9 / g->o.rate);
    while (g->pub_next_due <= t) {
        if (g->pub_outstanding >= kPubRing - 16) {
            g->pub_skipped++;
        } else {
            publish(c);
        }
        g->pub_next_due += period;
    }
    flush(c);
}

void hold_done(uv_timer_t*) { finish("duration"); }

void all_ready() {
    g->all_ready_done = true;
    emit_ready();
    g->now = now_ns();
    const auto warmup_ms = static_cast<uint64_t>(g->o.warmup * 1000);
    switch (g->o.scenario) {
        case Scenario::Storm:
            finish("all-connected");
        case Scenario::Idle:
        case Scenario::FanoutSub:
            uv_timer_start(&g->phase_timer, hold_done, static_cast<uint64_t>(g->o.duration * 1000), 0);
            return;
        case Scenario::Echo:
            if (g->ready == 0) finish("no-connections");
            if (g->o.rate > 0) {
                g->pub_next_due = now_ns();
                uv_timer_start(&g->rate_timer, on_echo_rate_timer, 0, 1);
                uv_timer_start(&g->phase_timer, measure_start, warmup_ms, 0);
                return;
            }
            for (uint32_t i = 0; i < g->o.connections; ++i) {
                Conn* c = &g->conns[i];
                if (c->state != St::Ready) continue;
                for (uint32_t k = 0; k < g->o.in_flight; ++k) echo_send(c);
                flush(c);
            }
            uv_timer_start(&g->phase_timer, measure_start, warmup_ms, 0);
            return;
        case Scenario::FanoutPub: {
            if (g->ready == 0) finish("no-connections");
            Conn* c = &g->conns[0];
            if (g->o.rate > 0) {
                g->pub_next_due = now_ns();
                const double period_ms = 1000.0 / g->o.rate;
                const auto repeat = static_cast<uint64_t>(std::max(1.0, std::min(period_ms / 4, 50.0)));
                uv_timer_start(&g->rate_timer, on_rate_timer, 0, repeat);
            } else {
                for (uint32_t k = 0; k < g->o.in_flight; ++k) publish(c);
                flush(c);
            }
            uv_timer_start(&g->phase_timer, measure_start, warmup_ms, 0);
            return;
        }
    }
}

void on_resume_timeout(uv_timer_t*) { slow_outcome("unknown", "no answer within 10 s of resuming"); }

void on_signal(uv_signal_t* h, int signum) {
    if (signum == SIGUSR2 && h == &g->sig_usr2) {
        if (!g->o.slow || g->slow_resumed) return;
        g->slow_resumed = true;
        Conn* c = &g->conns[0];
        if (c->state != St::Ready) {
            slow_outcome("disconnected", "closed before resuming");
        }
        g->now = now_ns();
        uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
        g->slow_probe = 777777;
        int n = std::snprintf(g->scratch.data(), g->scratch.size(), "42%u[\"message-with-ack\",\"probe\"]",
                              g->slow_probe);
        ws_text(c, g->scratch.data(), static_cast<size_t>(n));
        flush(c);
        uv_timer_start(&g->resume_timer, on_resume_timeout, 10000, 0);
        return;
    }
    finish(signum == SIGUSR1 ? "signal-usr1" : "signal");
}

void on_hard_timeout(uv_timer_t*) {
    g->timed_out = true;
    finish("timeout");
}

// ---- command line ----------------------------------------------------------------------

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "loadgen: %s\n", msg);
    std::fprintf(stderr,
                 "usage: loadgen --port N --scenario idle|echo|fanout-sub|fanout-pub|storm [options]\n"
                 "  --host 127.0.0.1            server address (IPv4)\n"
                 "  --source-ips A[-B][,C...]   bind each client to these addresses, round-robin\n"
                 "  --connections N             client connections (default 1)\n"
                 "  --concurrency M             connections being set up at once (default 200)\n"
                 "  --in-flight K               echo: messages in flight per connection; fanout-pub:\n"
                 "                              publishes in flight in closed loop (default 1)\n"
                 "  --warmup S --duration S     unmeasured then measured seconds (echo, fanout-pub);\n"
                 "                              longest hold after connecting (idle, fanout-sub)\n"
                 "  --rate R                    fanout-pub: publishes per second; echo: messages per second\n"
                 "                              over all connections, open loop (0 = closed loop)\n"
                 "  --phase N                   fanout-pub: tag of measured publishes (1..15)\n"
                 "  --pad BYTES                 fanout-pub: extra payload bytes per publish\n"
                 "  --room A[,B...]             fanout rooms: a subscriber joins all, a publisher\n"
                 "                              broadcasts to the first (default bench)\n"
                 "  --slow                      fanout-sub: stop reading once joined (SIGUSR2 resumes)\n"
                 "  --rcvbuf BYTES              SO_RCVBUF for the client sockets\n"
                 "  --jwt TOKEN | --jwt-secret S  CONNECT auth {\"token\":...}; S: sign an HS256 token\n"
                 "  --server-pid PID            sample that process's CPU time and RSS over the window\n"
                 "  --protocol socketio|raw|http raw: the raw_server record protocol (baselines);\n"
                 "                              http: echo as keep-alive POSTs of an RPC body (--http-path,\n"
                 "                              default /rpc) straight to a backend, one in flight\n"
                 "  --event NAME                echo: emit NAME with an ack (an RPC) instead of \"message\";\n"
                 "                              the ack answers it\n"
                 "  --raw-size BYTES            raw echo message size (default 48)\n"
                 "  --raw-per-message           raw echo: the server writes each message separately\n"
                 "  --connect-timeout S         per connection set-up limit (default 15)\n"
                 "  --timeout S                 hard limit on the whole run\n"
                 "  --drain S                   fanout-pub: wait up to S for outstanding acks (30)\n"
                 "  --label TEXT --report json  label copied into the report; JSON lines (only format)\n");
    std::exit(2);
}

uint32_t parse_ipv4(const std::string& s) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) usage(("bad IPv4 address: " + s).c_str());
    return ntohl(a.s_addr);
}

std::vector<uint32_t> parse_ips(const std::string& spec) {
    std::vector<uint32_t> out;
    size_t pos = 0;
    while (pos <= spec.size()) {
        size_t comma = spec.find(',', pos);
        std::string part = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!part.empty()) {
            size_t dash = part.find('-');
            if (dash == std::string::npos) {
                out.push_back(parse_ipv4(part));
            } else {
                uint32_t a = parse_ipv4(part.substr(0, dash)), b = parse_ipv4(part.substr(dash + 1));
                if (b < a || b - a > 65536) usage("bad address range");
                for (uint32_t ip = a; ip <= b; ++ip) out.push_back(ip);
            }
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--host") o.host = val();
        else if (a == "--port") o.port = std::atoi(val().c_str());
        else if (a == "--source-ips") o.source_ips = parse_ips(val());
        else if (a == "--connections") o.connections = static_cast<uint32_t>(std::strtoul(val().c_str(), nullptr, 10));
        else if (a == "--concurrency") o.concurrency = static_cast<uint32_t>(std::strtoul(val().c_str(), nullptr, 10));
        else if (a == "--in-flight") o.in_flight = static_cast<uint32_t>(std::strtoul(val().c_str(), nullptr, 10));
        else if (a == "--duration") o.duration = std::atof(val().c_str());
        else if (a == "--warmup") o.warmup = std::atof(val().c_str());
        else if (a == "--rate") o.rate = std::atof(val().c_str());
        else if (a == "--phase") o.phase = std::atoi(val().c_str());
        else if (a == "--pad") o.pad = static_cast<uint32_t>(std::strtoul(val().c_str(), nullptr, 10));
        else if (a == "--room" || a == "--rooms") {
            o.rooms.clear();
            std::string list = val();
            size_t pos = 0;
            while (pos <= list.size()) {
                size_t comma = list.find(',', pos);
                std::string r = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
                if (!r.empty()) o.rooms.push_back(r);
                if (comma == std::string::npos) break;
                pos = comma + 1;
            }
            if (o.rooms.empty()) usage("--room needs a name");
        }
        else if (a == "--slow") o.slow = true;
        else if (a == "--rcvbuf") o.rcvbuf = std::atoi(val().c_str());
        else if (a == "--jwt") o.jwt = val();
        else if (a == "--jwt-secret") o.jwt_secret = val();
        else if (a == "--server-pid") o.server_pid = std::atoi(val().c_str());
        else if (a == "--raw-size") o.raw_size = static_cast<uint32_t>(std::strtoul(val().c_str(), nullptr, 10));
        else if (a == "--raw-per-message") o.raw_per_message = true;
        else if (a == "--connect-timeout") o.connect_timeout = std::atof(val().c_str());
        else if (a == "--timeout") o.timeout = std::atof(val().c_str());
        else if (a == "--drain") o.drain = std::atof(val().c_str());
        else if (a == "--path") o.path = val();
        else if (a == "--label") o.label = val();
        else if (a == "--event") o.event = val();
        else if (a == "--http-path") o.http_path = val();
        else if (a == "--report") {
            if (val() != "json") usage("--report: only json is supported");
        } else if (a == "--protocol") {
            std::string p = val();
            if (p == "socketio" || p == "sio") o.protocol = Protocol::SocketIO;
            else if (p == "raw") o.protocol = Protocol::Raw;
            else if (p == "http") o.protocol = Protocol::Http;
            else usage("--protocol must be socketio, raw or http");
        } else if (a == "--scenario") {
            std::string s = val();
            if (s == "idle") o.scenario = Scenario::Idle;
            else if (s == "echo") o.scenario = Scenario::Echo;
            else if (s == "fanout-sub") o.scenario = Scenario::FanoutSub;
            else if (s == "fanout-pub") o.scenario = Scenario::FanoutPub;
            else if (s == "storm") o.scenario = Scenario::Storm;
            else usage("unknown scenario");
        } else if (a == "-h" || a == "--help") {
            usage(nullptr);
        } else {
            usage(("unknown option " + a).c_str());
        }
    }
    if (o.port <= 0 || o.port > 65535) usage("--port is required");
    if (o.connections == 0) usage("--connections must be > 0");
    if (o.in_flight == 0 || o.in_flight > 1024) usage("--in-flight must be 1..1024");
    if (o.concurrency == 0) o.concurrency = 1;
    if (o.phase < 1 || o.phase >= kPhases) usage("--phase must be 1..15");
    if (o.pad > kMaxPad) usage("--pad is at most 60000");
    if (o.raw_size < 2 || o.raw_size > 65535) usage("--raw-size must be 2..65535");
    if (o.duration <= 0) usage("--duration must be > 0");
    if (o.scenario == Scenario::FanoutPub) o.connections = 1;
    if (o.slow && o.scenario != Scenario::FanoutSub) usage("--slow is for fanout-sub");
    if (o.slow && o.protocol == Protocol::Raw) usage("--slow needs the socketio protocol");
    if (o.protocol == Protocol::Raw && (o.scenario == Scenario::Idle || o.scenario == Scenario::Storm))
        usage("the raw protocol has echo, fanout-sub and fanout-pub only");
    if (o.protocol == Protocol::Http && o.scenario != Scenario::Echo) usage("the http protocol has echo only");
    if (o.protocol == Protocol::Http && o.in_flight != 1) usage("the http protocol sends one request at a time (--in-flight 1)");
    if (!o.event.empty() && (o.scenario != Scenario::Echo || o.protocol != Protocol::SocketIO))
        usage("--event is for the socketio echo");
    if (o.event.size() > 100 || o.event.find_first_of("\"\\") != std::string::npos) usage("--event: a short plain name");
    if (o.slow && o.rcvbuf == 0) o.rcvbuf = 4096;
    if (o.timeout <= 0) o.timeout = o.warmup + o.duration + o.connect_timeout + o.drain + 120;
    return o;
}

void raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    static Gen gen;
    g = &gen;
    g->o = parse_args(argc, argv);
    const Options& o = g->o;
    g->rng ^= static_cast<uint32_t>(getpid()) * 2654435761u ^ static_cast<uint32_t>(now_ns());
    if (!g->rng) g->rng = 1;
    g->loop = uv_default_loop();
    g->rxbuf.resize(kReadBuffer);
    g->scratch.resize(kScratch);
    g->dest.sin_family = AF_INET;
    g->dest.sin_port = htons(static_cast<uint16_t>(o.port));
    g->dest.sin_addr.s_addr = htonl(parse_ipv4(o.host));
    if (!o.jwt.empty()) g->jwt = o.jwt;
    else if (!o.jwt_secret.empty()) g->jwt = make_jwt(o.jwt_secret);
    if (o.pad) g->pad.assign(o.pad, 'x');
    if (o.scenario == Scenario::FanoutPub) g->pub_times.assign(kPubRing, 0);
    if (o.scenario == Scenario::FanoutSub) g->phases.resize(kPhases);

    char host_header[128];
    std::snprintf(host_header, sizeof host_header, "%s:%d", o.host.c_str(), o.port);
    g->upgrade_request_head = "GET " + o.path + "?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + host_header +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";

    g->conns.reset(new Conn[o.connections]);
    for (uint32_t i = 0; i < o.connections; ++i) {
        Conn* c = &g->conns[i];
        c->out.reserve(o.scenario == Scenario::FanoutPub ? 2 * (o.pad + 256) * o.in_flight : 256);
        if (o.scenario == Scenario::Echo) c->ring.assign(o.in_flight, 0);
    }

    uv_timer_init(g->loop, &g->scan_timer);
    uv_timer_init(g->loop, &g->phase_timer);
    uv_timer_init(g->loop, &g->hard_timer);
    uv_timer_init(g->loop, &g->rate_timer);
    uv_timer_init(g->loop, &g->resume_timer);
    uv_signal_init(g->loop, &g->sig_usr1);
    uv_signal_init(g->loop, &g->sig_usr2);
    uv_signal_init(g->loop, &g->sig_term);
    uv_signal_init(g->loop, &g->sig_int);
    uv_signal_start(&g->sig_usr1, on_signal, SIGUSR1);
    uv_signal_start(&g->sig_usr2, on_signal, SIGUSR2);
    uv_signal_start(&g->sig_term, on_signal, SIGTERM);
    uv_signal_start(&g->sig_int, on_signal, SIGINT);
    uv_timer_start(&g->hard_timer, on_hard_timeout, static_cast<uint64_t>(o.timeout * 1000), 0);
    uv_timer_start(&g->scan_timer, on_scan, 250, 250);

    pump();
    uv_run(g->loop, UV_RUN_DEFAULT);
    finish("loop-ended");
}
