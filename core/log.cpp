// Process-wide logging to stderr (see log.h).
#include "log.h"

#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>

namespace sb::log {
namespace {
Level g_level = Level::Info;
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
bool enabled(Level level) { return level >= g_level; }

void write(Level level, std::string_view component, std::string_view message) {
    if (!enabled(level)) return;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm tm_utc{};
    gmtime_r(&ts.tv_sec, &tm_utc);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm_utc);
    std::string line;
    line.reserve(64 + component.size() + message.size());
    line.append(stamp);
    char ms[24];
    snprintf(ms, sizeof ms, ".%03ldZ", ts.tv_nsec / 1000000);
    line.append(ms);
    line.push_back(' ');
    line.append(kNames[static_cast<int>(level)]);
    line.append(" [");
    line.append(component);
    line.append("] ");
    line.append(message);
    line.push_back('\n');
    // One write per line so concurrent writers (other processes on the same
    // journal) never interleave within a line.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

}  // namespace sb::log
