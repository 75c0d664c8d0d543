// Raw TCP baseline server for the Switchboard benchmark suite.
//
// Ratios against Node say how much better we are than the incumbent; this
// program says how far we are from the machine. It is the least a server can
// do for the same traffic: a single-threaded, level-triggered epoll loop with
// no protocol beyond a one-byte hello, so the numbers it reaches with the same
// load generator (loadgen --protocol raw) are the physical limit of this host
// for the echo and fan-out scenarios.
//
// Protocol: a client's first byte picks its role and is answered with 'K'.
//   'E' echo        every byte received is written back (as read: one write
//                   returns everything a read brought, however many messages)
//   'M' <u16 size>  per-message echo: every `size`-byte message is written back
//                   with its own write(), as a server that frames each message
//                   separately does
//   'S' subscriber  receives every record published, one write() per record
//   'P' publisher   sends 64-byte records; each is written to every subscriber
//                   (one write() per delivery, as a server without batching
//                   across sockets must), then acknowledged with one 'A'
// A subscriber that cannot take a record (socket buffer full) gets the rest
// queued, up to 1 MiB; beyond that it is closed, like a bounded send queue.
//
// Usage: raw_server --port N [--host 127.0.0.1]; prints "listening <port>".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kRecord = 64;
constexpr size_t kMaxQueue = 1024 * 1024;

enum class Role : uint8_t { None, Echo, EchoPerMessage, Subscriber, Publisher };

struct Client {
    int fd = -1;
    Role role = Role::None;
    bool want_out = false;
    bool paused_in = false;
    std::string out;    // bytes the kernel did not take yet
    std::string carry;  // publisher: partial record
    size_t sub_index = 0;
    size_t message_size = 0;  // EchoPerMessage
};

int ep = -1;
std::vector<Client> clients;    // indexed by fd
std::vector<int> subscribers;   // fds
volatile sig_atomic_t stop = 0;

void on_signal(int) { stop = 1; }

void update_events(Client& c) {
    epoll_event ev{};
    ev.events = (c.paused_in ? 0u : static_cast<uint32_t>(EPOLLIN)) | (c.want_out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.fd = c.fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void close_client(Client& c) {
    if (c.fd < 0) return;
    if (c.role == Role::Subscriber) {
        // swap-remove from the subscriber list
        const size_t i = c.sub_index;
        const int last = subscribers.back();
        subscribers[i] = last;
        clients[static_cast<size_t>(last)].sub_index = i;
        subscribers.pop_back();
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.role = Role::None;
    c.want_out = c.paused_in = false;
    std::string().swap(c.out);
    std::string().swap(c.carry);
}

// Writes `data`, queueing what the kernel does not take. False: client closed.
bool send_bytes(Client& c, const char* data, size_t n) {
    if (!c.out.empty()) {
        if (c.out.size() + n > kMaxQueue) {
            close_client(c);
            return false;
        }
        c.out.append(data, n);
        return true;
    }
    ssize_t w = ::write(c.fd, data, n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            close_client(c);
            return false;
        }
        w = 0;
    }
    if (static_cast<size_t>(w) < n) {
        c.out.append(data + w, n - static_cast<size_t>(w));
        c.want_out = true;
        if (c.role == Role::Echo || c.role == Role::EchoPerMessage)
            c.paused_in = true;  // backpressure: stop reading until drained
        update_events(c);
    }
    return true;
}

void flush_out(Client& c) {
    while (!c.out.empty()) {
        ssize_t w = ::write(c.fd, c.out.data(), c.out.size());
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            close_client(c);
            return;
        }
        c.out.erase(0, static_cast<size_t>(w));
    }
    c.want_out = false;
    c.paused_in = false;
    update_events(c);
}

void publish(Client& pub, const char* rec) {
    // Iterate over a snapshot of the count: closing a subscriber swap-removes it.
    for (size_t i = 0; i < subscribers.size();) {
        Client& s = clients[static_cast<size_t>(subscribers[i])];
        if (send_bytes(s, rec, kRecord)) ++i;
    }
    (void)pub;
}

void on_readable(Client& c, char* buf, size_t cap) {
    ssize_t n = ::read(c.fd, buf, cap);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_client(c);
        return;
    }
    if (n < 0) return;
    size_t len = static_cast<size_t>(n);
    const char* p = buf;
    if (c.role == Role::None) {
        const char mode = p[0];
        ++p;
        --len;
        if (mode == 'E') c.role = Role::Echo;
        else if (mode == 'M' && len >= 2) {
            c.role = Role::EchoPerMessage;
            c.message_size = (static_cast<size_t>(static_cast<uint8_t>(p[0])) << 8) | static_cast<uint8_t>(p[1]);
            p += 2;
            len -= 2;
            if (c.message_size == 0) {
                close_client(c);
                return;
            }
        } else if (mode == 'S') c.role = Role::Subscriber;
        else if (mode == 'P') c.role = Role::Publisher;
        else {
            close_client(c);
            return;
        }
        if (c.role == Role::Subscriber) {
            c.sub_index = subscribers.size();
            subscribers.push_back(c.fd);
        }
        if (!send_bytes(c, "K", 1)) return;
    }
    switch (c.role) {
        case Role::Echo:
            if (len) send_bytes(c, p, len);
            return;
        case Role::EchoPerMessage: {
            const size_t m = c.message_size;
            if (!c.carry.empty()) {
                const size_t take = std::min(len, m - c.carry.size());
                c.carry.append(p, take);
                p += take;
                len -= take;
                if (c.carry.size() < m) return;
                std::string one;
                one.swap(c.carry);
                if (!send_bytes(c, one.data(), m)) return;
            }
            while (len >= m) {
                if (!send_bytes(c, p, m)) return;
                p += m;
                len -= m;
            }
            if (len) c.carry.assign(p, len);
            return;
        }
        case Role::Publisher: {
            size_t acks = 0;
            if (!c.carry.empty()) {
                const size_t take = std::min(len, kRecord - c.carry.size());
                c.carry.append(p, take);
                p += take;
                len -= take;
                if (c.carry.size() == kRecord) {
                    publish(c, c.carry.data());
                    c.carry.clear();
                    ++acks;
                }
            }
            while (len >= kRecord) {
                publish(c, p);
                p += kRecord;
                len -= kRecord;
                ++acks;
            }
            if (len) c.carry.assign(p, len);
            if (acks) {
                std::string a(acks, 'A');
                send_bytes(c, a.data(), a.size());
            }
            return;
        }
        default:
            return;  // subscribers send nothing after their hello
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (a == "--host" && i + 1 < argc) host = argv[++i];
        else {
            std::fprintf(stderr, "usage: raw_server --port N [--host 127.0.0.1]\n");
            return 2;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        clients.resize(static_cast<size_t>(rl.rlim_cur) + 16);
    } else {
        clients.resize(65536);
    }

    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
        ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 4096) != 0) {
        std::perror("raw_server: listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    std::printf("listening %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);

    std::vector<char> buf(256 * 1024);
    std::vector<epoll_event> events(1024);
    while (!stop) {
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 500);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<size_t>(i)].data.fd;
            const uint32_t ev = events[static_cast<size_t>(i)].events;
            if (fd == lfd) {
                for (;;) {
                    int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) break;
                    if (static_cast<size_t>(cfd) >= clients.size()) {
                        ::close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    Client& c = clients[static_cast<size_t>(cfd)];
                    c = Client{};
                    c.fd = cfd;
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = cfd;
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            Client& c = clients[static_cast<size_t>(fd)];
            if (c.fd < 0) continue;
            if (ev & (EPOLLERR | EPOLLHUP)) {
                close_client(c);
                continue;
            }
            if (ev & EPOLLOUT) flush_out(c);
            if (c.fd >= 0 && (ev & EPOLLIN)) on_readable(c, buf.data(), buf.size());
        }
    }
    return 0;
}
