// The switchboard command: parse the command line, validate the
// configuration, raise the open-file limit, run the server until a signal
// stops it.
//
// Exit codes: 0 after a clean shutdown or a successful -t, 1 for a
// configuration or startup error (with a message naming the cause), 2 for a
// usage error.
#include "config.h"
#include "log.h"
#include "module_host.h"
#include "server.h"
#include "storage/storage_service.h"

#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.0.0"
#endif
#ifndef SWITCHBOARD_DEFAULT_CONFIG
#define SWITCHBOARD_DEFAULT_CONFIG "/etc/switchboard/switchboard.yaml"
#endif
#ifndef SWITCHBOARD_MODULES_DIR
#define SWITCHBOARD_MODULES_DIR "/usr/lib/switchboard/modules"
#endif

namespace {

struct Options {
    std::string config_path = SWITCHBOARD_DEFAULT_CONFIG;
    std::string modules_path;
    std::string signal;  // -s reload|stop
    bool test_only = false;
};

void usage(std::FILE* out) {
    std::fprintf(out,
                 "Usage: switchboard [options]\n"
                 "  -c, --config FILE        configuration file (default %s)\n"
                 "  -t, --test               validate the configuration and modules, then exit\n"
                 "      --modules-path DIR   directory of module .so files (overrides modules_path)\n"
                 "  -s reload|stop           signal the running server (found through pid_file)\n"
                 "  -v, --version            print the version and exit\n"
                 "  -h, --help               print this help and exit\n",
                 SWITCHBOARD_DEFAULT_CONFIG);
}

// Returns -1 to continue, otherwise the exit code.
int parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const char* name) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "switchboard: %s needs a value\n", name);
                return nullptr;
            }
            return argv[++i];
        };
        if (a == "-c" || a == "--config") {
            const char* v = value("--config");
            if (!v) return 2;
            o.config_path = v;
        } else if (a.rfind("--config=", 0) == 0) {
            o.config_path = a.substr(9);
        } else if (a == "--modules-path") {
            const char* v = value("--modules-path");
            if (!v) return 2;
            o.modules_path = v;
        } else if (a.rfind("--modules-path=", 0) == 0) {
            o.modules_path = a.substr(15);
        } else if (a == "-s" || a == "--signal") {
            const char* v = value("-s");
            if (!v) return 2;
            o.signal = v;
            if (o.signal != "reload" && o.signal != "stop") {
                std::fprintf(stderr, "switchboard: -s takes reload or stop, not '%s'\n", v);
                return 2;
            }
        } else if (a == "-t" || a == "--test") {
            o.test_only = true;
        } else if (a == "-v" || a == "--version") {
            std::printf("switchboard %s (module ABI %d.%d)\n", SWITCHBOARD_VERSION, SB_ABI_MAJOR, SB_ABI_MINOR);
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "switchboard: unknown option '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

// The kernel default soft limit (1024) would cap us at about a thousand
// clients, so the soft limit is set to what limits.max_connections needs plus
// headroom (held polls, module files), within the hard limit the operator (or
// systemd's LimitNOFILE) allows. Not higher: libwebsockets sizes its fd
// tables by this limit and, as Debian builds it, checks a whole table on
// every accept and close, so a limit of a million would cost each connection
// a scan of 8 MB.
constexpr uint64_t kSpareFileDescriptors = 1024;

uint64_t set_open_file_limit(uint64_t max_connections) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    const uint64_t wanted = max_connections + kSpareFileDescriptors;
    rlimit next = rl;
    next.rlim_cur = rl.rlim_max == RLIM_INFINITY ? wanted : std::min<uint64_t>(wanted, rl.rlim_max);
    if (next.rlim_cur != rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &next) == 0) rl = next;
    return rl.rlim_cur;
}

// -s: find the running server through the config's pid_file and signal it.
int send_signal(const sb::Config& config, const std::string& what) {
    if (config.pid_file.empty()) {
        std::fprintf(stderr, "switchboard: %s sets no pid_file, so the running server cannot be found\n",
                     config.source_path.c_str());
        return 1;
    }
    std::FILE* f = std::fopen(config.pid_file.c_str(), "r");
    long pid = 0;
    if (!f || std::fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
        std::fprintf(stderr, "switchboard: cannot read a pid from %s (is the server running?)\n", config.pid_file.c_str());
        if (f) std::fclose(f);
        return 1;
    }
    std::fclose(f);
    const int sig = what == "reload" ? SIGHUP : SIGTERM;
    if (kill(static_cast<pid_t>(pid), sig) != 0) {
        std::fprintf(stderr, "switchboard: cannot signal pid %ld from %s: %s\n", pid, config.pid_file.c_str(),
                     std::strerror(errno));
        return 1;
    }
    std::printf("switchboard: sent %s to pid %ld\n", sig == SIGHUP ? "SIGHUP (reload)" : "SIGTERM (stop)", pid);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (int rc = parse_args(argc, argv, options); rc >= 0) return rc;

    sb::Config config;
    try {
        config = sb::load_config(options.config_path);
    } catch (const sb::ConfigError& e) {
        std::fprintf(stderr, "switchboard: configuration error: %s\n", e.what());
        return 1;
    }
    sb::log::set_level(config.log_level);
    if (!options.signal.empty()) return send_signal(config, options.signal);

    if (options.test_only) {
        if (!options.modules_path.empty()) config.modules_path = options.modules_path;
        if (config.modules_path.empty()) config.modules_path = SWITCHBOARD_MODULES_DIR;
        uv_loop_t loop;
        uv_loop_init(&loop);
        int rc = 0;
        try {
            if (config.storage.enabled) sb::storage::check_storage(config.storage);
            const sb::HostServices none;  // a config check loads and unloads modules: nothing runs
            sb::ModuleHost host(&loop, config.modules_path, none);
            host.load_all(config.modules, config.source_path);
            host.unload_all();
        } catch (const sb::storage::StorageError& e) {
            std::fprintf(stderr, "switchboard: storage error: %s\n", e.what());
            rc = 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "switchboard: configuration error: %s\n", e.what());
            rc = 1;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        if (rc == 0) std::printf("switchboard: configuration file %s test is successful\n", options.config_path.c_str());
        return rc;
    }

    std::signal(SIGPIPE, SIG_IGN);
    const uint64_t nofile = set_open_file_limit(config.max_connections);
    sb::log::info("server", "switchboard " SWITCHBOARD_VERSION " starting with " + options.config_path +
                                "; open file limit " + std::to_string(nofile) + " (room for about " +
                                std::to_string(nofile > 64 ? nofile - 64 : 0) + " connections)");
    if (nofile > 64 && config.max_connections > nofile - 64)
        sb::log::warn("server", "limits.max_connections (" + std::to_string(config.max_connections) +
                                    ") exceeds what the open file limit allows; raise LimitNOFILE / ulimit -n");

    uv_loop_t loop;
    uv_loop_init(&loop);
    int rc = 0;
    {
        sb::Server server(&loop, config, options.modules_path, SWITCHBOARD_MODULES_DIR);
        uv_signal_t sigterm, sigint, sighup;
        uv_signal_t* signals[] = {&sigterm, &sigint, &sighup};
        for (auto* s : signals) {
            uv_signal_init(&loop, s);
            s->data = &server;
        }
        uv_signal_start(&sigterm, [](uv_signal_t* s, int) { static_cast<sb::Server*>(s->data)->shutdown("SIGTERM"); }, SIGTERM);
        uv_signal_start(&sigint, [](uv_signal_t* s, int) { static_cast<sb::Server*>(s->data)->shutdown("SIGINT"); }, SIGINT);
        uv_signal_start(&sighup, [](uv_signal_t* s, int) { static_cast<sb::Server*>(s->data)->reload("SIGHUP"); }, SIGHUP);
        server.on_stopped = [&] {
            for (auto* s : signals) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
        };
        try {
            server.start();
            sb::log::info("server", "ready");
            uv_run(&loop, UV_RUN_DEFAULT);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "switchboard: cannot start: %s\n", e.what());
            rc = 1;
            for (auto* s : signals) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // let closed handles finish
    uv_loop_close(&loop);
    return rc;
}
