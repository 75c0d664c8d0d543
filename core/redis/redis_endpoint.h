// Where a Redis server is and how to log in to it: plain data, so the
// configuration can hold it without pulling in hiredis or libuv.
#pragma once

#include <cstdint>
#include <string>

namespace sb::redis {

// Where Redis is and how to log in (config: cluster.redis, storage.redis).
struct RedisEndpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string unix_path;  // set: connect to this unix socket instead of host:port
    std::string username;   // ACL user (Redis 6+); empty: AUTH with the password alone
    std::string password;   // empty: no AUTH
    int db = 0;
    uint64_t command_timeout_ms = 5000;  // no answer to a PING for this long: reconnect

    // "127.0.0.1:6379" or "unix:/run/redis.sock", plus "/db" when not 0.
    std::string describe() const;
};

}  // namespace sb::redis
