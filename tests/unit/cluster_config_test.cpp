// The `cluster:` section and storage.redis: what a valid file gives, and
// that each mistake is refused naming the file, the line and the key.
#include "config.h"

#include <gtest/gtest.h>

namespace {

const std::string kPath = "/etc/switchboard/cluster.yaml";
const std::string kNamespaces = "namespaces:\n  /: {}\n";

sb::Config parse(const std::string& yaml) { return sb::parse_config(yaml + kNamespaces, kPath); }

std::string error_of(const std::string& yaml) {
    try {
        parse(yaml);
    } catch (const sb::ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ClusterConfig, OffWithoutSection) {
    const auto c = parse("");
    EXPECT_FALSE(c.cluster.enabled);
}

TEST(ClusterConfig, Defaults) {
    const auto c = parse("listen:\n  - port: 3100\ncluster: {}\n");
    EXPECT_TRUE(c.cluster.enabled);
    EXPECT_EQ(c.cluster.redis.host, "127.0.0.1");
    EXPECT_EQ(c.cluster.redis.port, 6379);
    EXPECT_EQ(c.cluster.prefix, "switchboard");
    EXPECT_EQ(c.cluster.node_lease_ms, 10000u);
    EXPECT_EQ(c.cluster.advertise, "127.0.0.1:3100");  // 0.0.0.0 is not an address others can reach
}

TEST(ClusterConfig, FullSection) {
    const auto c = parse(
        "listen:\n  - address: 10.0.0.5\n    port: 3000\n"
        "cluster:\n"
        "  redis:\n    address: redis.internal:6380\n    username: sb\n    password: s3cret\n    db: 2\n"
        "    command_timeout: 2s\n"
        "  prefix: prod-eu\n  node_lease: 15s\n");
    EXPECT_EQ(c.cluster.redis.host, "redis.internal");
    EXPECT_EQ(c.cluster.redis.port, 6380);
    EXPECT_EQ(c.cluster.redis.username, "sb");
    EXPECT_EQ(c.cluster.redis.password, "s3cret");
    EXPECT_EQ(c.cluster.redis.db, 2);
    EXPECT_EQ(c.cluster.redis.command_timeout_ms, 2000u);
    EXPECT_EQ(c.cluster.prefix, "prod-eu");
    EXPECT_EQ(c.cluster.node_lease_ms, 15000u);
    EXPECT_EQ(c.cluster.advertise, "10.0.0.5:3000");
}

TEST(ClusterConfig, AddressForms) {
    EXPECT_EQ(parse("cluster:\n  redis: unix:/run/redis/redis.sock\n").cluster.redis.unix_path, "/run/redis/redis.sock");
    EXPECT_EQ(parse("cluster:\n  redis: /run/redis.sock\n").cluster.redis.unix_path, "/run/redis.sock");
    const auto v6 = parse("cluster:\n  redis: \"[::1]:7000\"\n");
    EXPECT_EQ(v6.cluster.redis.host, "::1");
    EXPECT_EQ(v6.cluster.redis.port, 7000);
    EXPECT_EQ(parse("cluster:\n  redis: cache\n").cluster.redis.port, 6379);
}

TEST(ClusterConfig, StorageRedisFallsBackToTheClusterRedis) {
    const auto c = parse("cluster:\n  redis: 10.1.1.1:6390\nstorage:\n  backend: redis\n");
    EXPECT_EQ(c.storage.backend, "redis");
    EXPECT_EQ(c.storage.redis.host, "10.1.1.1");
    EXPECT_EQ(c.storage.redis.port, 6390);
}

TEST(ClusterConfigErrors, EachMistakeNamesLineAndKey) {
    EXPECT_EQ(error_of("cluster:\n  redis: \"host:99999\"\n"),
              kPath + ":2: cluster.redis: expected a port between 1 and 65535 after ':', got 'host:99999'");
    EXPECT_EQ(error_of("cluster:\n  redis:\n    adress: x\n"),
              kPath + ":3: cluster.redis.adress: unknown key (known keys: address, command_timeout, db, password, "
                      "password_file, username)");
    EXPECT_EQ(error_of("cluster:\n  node_lease: 100ms\n"),
              kPath + ":2: cluster.node_lease: must be between 1000ms and 3600000ms");
    EXPECT_EQ(error_of("cluster:\n  prefix: \"a b\"\n"),
              kPath + ":2: cluster.prefix: expected a non-empty name without spaces or braces, got 'a b'");
    EXPECT_EQ(error_of("cluster:\n  advertise: nowhere\n"),
              kPath + ":2: cluster.advertise: expected host:port where other nodes reach this one, got 'nowhere'");
    EXPECT_EQ(error_of("cluster:\n  redis:\n    password_file: /nonexistent/redis.pass\n").rfind(
                  kPath + ":3: cluster.redis.password_file: ", 0),
              0u);
    EXPECT_EQ(error_of("storage:\n  backend: redis\n"),
              kPath + ":2: storage.backend: redis needs storage.redis or a cluster.redis section saying where Redis is");
    EXPECT_EQ(error_of("storage:\n  backend: mysql\n"),
              kPath + ":2: storage.backend: unknown backend 'mysql' (expected sqlite or redis)");
}

}  // namespace
