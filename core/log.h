// Process-wide logging to stderr.
//
// An operator reads these lines at 3 a.m., often through journald, so each
// line is one event with a level and the component that produced it, and the
// level threshold comes from the config. Nothing here allocates when a line
// is filtered out by level.
#pragma once

#include <string_view>

namespace sb::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void set_level(Level level);
Level level();
bool enabled(Level level);
void write(Level level, std::string_view component, std::string_view message);

inline void debug(std::string_view component, std::string_view m) {
    if (enabled(Level::Debug)) write(Level::Debug, component, m);
}
inline void info(std::string_view component, std::string_view m) { write(Level::Info, component, m); }
inline void warn(std::string_view component, std::string_view m) { write(Level::Warn, component, m); }
inline void error(std::string_view component, std::string_view m) { write(Level::Error, component, m); }

}  // namespace sb::log
