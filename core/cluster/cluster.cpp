// Cluster membership and emit routing over Redis (see cluster.h).
#include "cluster/cluster.h"

#include "log.h"
#include "random_id.h"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace sb::cluster {
namespace {

constexpr uint64_t kTickMs = 1000;
constexpr size_t kBuriedRemembered = 10000;
// Emits waiting for Redis beyond this are dropped (and counted) rather than
// held: a Redis that accepts but falls behind must not grow this process.
constexpr size_t kMaxPendingBytes = 64 * 1024 * 1024;

// Renews (or, with mode "join", takes) this node's lease, forgets expired
// ones, and answers the nodes alive now; {-1} when our lease was found gone
// (the others have declared us dead). Redis' clock scores every lease, so
// nodes with skewed clocks agree on who expired.
//   KEYS: nodes (zset), addresses (hash tag -> host:port)
//   ARGV: node id, lease ms, session tag, address, "join" | "renew", previous id or ""
constexpr const char* kLeaseScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[5] == 'renew' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {-1} end
if ARGV[6] ~= '' then redis.call('ZREM', KEYS[1], ARGV[6]) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return redis.call('ZRANGE', KEYS[1], 0, -1)
)lua";

std::string tag_of(std::string_view node) { return std::string(node.substr(0, node.find('.'))); }

}  // namespace

Cluster::Cluster(uv_loop_t* loop, const ClusterConfig& config, Hooks hooks)
    : loop_(loop), config_(config), hooks_(std::move(hooks)),
      commands_(loop, config.redis, redis::RedisClient::Role::Commands, "cluster"),
      subscriber_(loop, config.redis, redis::RedisClient::Role::Subscriber, "cluster pub/sub"),
      ctl_channel_(config.prefix + ":ctl"), all_channel_(config.prefix + ":all"),
      module_channel_(config.prefix + ":m") {
    session_tag_ = random_id().substr(0, 6);
    new_identity();
}

Cluster::~Cluster() {
    if (tick_) {
        uv_close(reinterpret_cast<uv_handle_t*>(tick_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        tick_ = nullptr;
    }
}

std::string Cluster::room_channel(std::string_view ns, std::string_view room) const {
    std::string c = config_.prefix + ":r:";
    c.append(ns).append(":").append(room);
    return c;
}

std::string Cluster::user_channel(std::string_view user) const {
    std::string c = config_.prefix + ":u:";
    c.append(user);
    return c;
}

void Cluster::new_identity() {
    if (!node_id_.empty()) subscriber_.unsubscribe(node_channel(node_id_));
    node_id_ = session_tag_ + "." + std::to_string(++epoch_);
    subscriber_.subscribe(node_channel(node_id_));
}

void Cluster::start() {
    subscriber_.subscribe(ctl_channel_);
    subscriber_.subscribe(all_channel_);
    subscriber_.subscribe(module_channel_);
    subscriber_.set_message_handler([this](std::string_view c, std::string_view p) { on_message(c, p); });
    commands_.on_ready = commands_.on_lost = subscriber_.on_ready = subscriber_.on_lost = [this] { connections_changed(); };
    tick_ = new uv_timer_t;
    uv_timer_init(loop_, tick_);
    tick_->data = this;
    uv_timer_start(tick_, [](uv_timer_t* t) { static_cast<Cluster*>(t->data)->tick(); }, kTickMs, kTickMs);
    log::info("cluster", "node " + node_id_ + " joining through redis " + config_.redis.describe() + " (prefix '" +
                             config_.prefix + "', lease " + std::to_string(config_.node_lease_ms) + " ms)");
    commands_.start();
    subscriber_.start();
}

void Cluster::stop() {
    if (available()) {
        // Sent before the connections close: hiredis flushes its output
        // buffer when the loop turns, and stop() is followed by the drain.
        commands_.command({"ZREM", config_.prefix + ":nodes", node_id_}, nullptr);
        commands_.command({"PUBLISH", ctl_channel_, "bye " + node_id_}, nullptr);
    }
    registered_ = false;
    left_ = true;
}

void Cluster::connections_changed() {
    if (commands_.ready() && subscriber_.ready()) {
        if (!registered_ && !register_in_flight_) register_node();
        return;
    }
    if (!registered_) return;
    // Messages may have been missed while a connection was down, and by the
    // time Redis is back the others may have declared this node dead: come
    // back as a new node, whose state everyone takes afresh.
    registered_ = false;
    rejoin_needed_ = true;
    forget_peers();
    new_identity();
}

// This node may miss messages from now on. The other nodes are not
// reported down (most are alive, and saying so would take their users
// offline for nothing): once this node has rejoined, its modules get
// SB_CLUSTER_JOINED, then NODE_UP again for every live node, whose state
// follows; a node that died meanwhile is never reported up again.
void Cluster::forget_peers() {
    if (!alive_.empty())
        log::warn("cluster", "out of touch with " + std::to_string(alive_.size()) + " other node(s) until Redis is back");
    for (const auto& node : alive_) last_seq_.erase(node);
    alive_.clear();
}

void Cluster::register_node() {
    register_in_flight_ = true;
    const std::string previous = rejoin_needed_ ? session_tag_ + "." + std::to_string(epoch_ - 1) : "";
    const std::string lease = std::to_string(config_.node_lease_ms);
    const std::string me = node_id_;
    const bool sent = commands_.command(
        {"EVAL", kLeaseScript, "2", config_.prefix + ":nodes", config_.prefix + ":node-addr", me, lease, session_tag_,
         config_.advertise, "join", previous},
        [this, me, previous](const redisReply* r) {
            register_in_flight_ = false;
            if (me != node_id_ || !commands_.ready() || !subscriber_.ready()) return;  // superseded meanwhile
            if (!r || r->type != REDIS_REPLY_ARRAY) {
                log::warn("cluster", "could not register node " + me + ": " + redis::reply_error(r) + "; retrying");
                return;
            }
            registered_ = true;
            if (!previous.empty()) {
                ++stats_.rejoins;
                commands_.command({"PUBLISH", ctl_channel_, "bye " + previous}, nullptr);
                log::info("cluster", "rejoined as node " + me + " (was " + previous + ")");
            } else {
                log::info("cluster", "node " + me + " joined");
            }
            rejoin_needed_ = false;
            commands_.command({"PUBLISH", ctl_channel_, "hello " + me}, nullptr);
            if (hooks_.node_event) hooks_.node_event(NodeEvent::Joined, me);
            for (size_t i = 0; i < r->elements; ++i) {
                const redisReply* e = r->element[i];
                if (e->type == REDIS_REPLY_STRING) node_up(std::string(e->str, e->len));
            }
        });
    if (!sent) register_in_flight_ = false;
}

void Cluster::tick() {
    if (!commands_.ready() || !subscriber_.ready()) return;
    if (!registered_) {
        if (!register_in_flight_) register_node();
        return;
    }
    const std::string me = node_id_;
    commands_.command({"EVAL", kLeaseScript, "2", config_.prefix + ":nodes", config_.prefix + ":node-addr", me,
                       std::to_string(config_.node_lease_ms), session_tag_, config_.advertise, "renew", ""},
                      [this, me](const redisReply* r) {
                          if (me != node_id_ || !registered_) return;
                          if (!r || r->type != REDIS_REPLY_ARRAY) {
                              if (r) log::warn("cluster", "lease renewal failed: " + redis::reply_error(r));
                              return;
                          }
                          if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_INTEGER) {
                              log::warn("cluster", "node " + me +
                                                       " was declared gone by the cluster (its lease ran out); rejoining");
                              registered_ = false;
                              rejoin_needed_ = true;
                              forget_peers();
                              new_identity();
                              return;
                          }
                          std::set<std::string> now_alive;
                          for (size_t i = 0; i < r->elements; ++i) {
                              const redisReply* e = r->element[i];
                              if (e->type == REDIS_REPLY_STRING) now_alive.emplace(e->str, e->len);
                          }
                          std::vector<std::string> gone;
                          for (const auto& n : alive_)
                              if (!now_alive.count(n)) gone.push_back(n);
                          for (const auto& n : gone) node_down(n);
                          for (const auto& n : now_alive) node_up(n);
                      });
}

void Cluster::node_up(const std::string& node) {
    // Until this node is registered it cannot answer (cluster_send fails):
    // the member list that registration returns reports every live node.
    if (!registered_) return;
    if (node == node_id_ || tag_of(node) == session_tag_ || from_buried(node) || alive_.count(node)) return;
    alive_.insert(node);
    ++stats_.nodes_joined;
    log::info("cluster", "node " + node + " is up (" + std::to_string(alive_.size() + 1) + " nodes)");
    if (hooks_.node_event) hooks_.node_event(NodeEvent::Up, node);
}

void Cluster::node_down(const std::string& node) {
    if (tag_of(node) == session_tag_ || from_buried(node)) return;
    const bool was_alive = alive_.erase(node) > 0;
    buried_.insert(node);
    buried_order_.push_back(node);
    if (buried_order_.size() > kBuriedRemembered) {
        buried_.erase(buried_order_.front());
        buried_order_.pop_front();
    }
    last_seq_.erase(node);
    if (!was_alive) return;
    ++stats_.nodes_lost;
    log::warn("cluster", "node " + node + " is gone (" + std::to_string(alive_.size() + 1) + " nodes)");
    if (hooks_.node_event) hooks_.node_event(NodeEvent::Down, node);
}

void Cluster::watch_room(std::string_view ns, std::string_view room, bool on) {
    const std::string c = room_channel(ns, room);
    on ? subscriber_.subscribe(c) : subscriber_.unsubscribe(c);
}

void Cluster::watch_user(std::string_view user, bool on) {
    const std::string c = user_channel(user);
    on ? subscriber_.subscribe(c) : subscriber_.unsubscribe(c);
}

bool Cluster::publish(Delivery d) {
    if (!available() || commands_.pending_bytes() > kMaxPendingBytes) {
        ++stats_.publish_dropped;
        return false;
    }
    d.origin = node_id_;
    d.seq = ++seq_;
    const std::string bytes = encode(d);
    auto send = [&](const std::string& channel) {
        if (commands_.command({"PUBLISH", channel, bytes}, nullptr)) ++stats_.deliveries_published;
        else ++stats_.publish_dropped;
    };
    if (d.rooms.empty() && d.users.empty()) {
        send(all_channel_);
        return true;
    }
    for (const auto& room : d.rooms) send(room_channel(d.ns, room));
    for (const auto& user : d.users) send(user_channel(user));
    return true;
}

bool Cluster::publish_disconnect(DisconnectRequest r) {
    if (!available()) {
        ++stats_.publish_dropped;
        return false;
    }
    r.origin = node_id_;
    return commands_.command({"PUBLISH", r.user.empty() ? all_channel_ : user_channel(r.user), encode(r)}, nullptr);
}

bool Cluster::send_module_message(const std::string& module, std::string_view payload, const std::string& to_node) {
    if (!available()) return false;
    ModuleMessage m{node_id_, module, std::string(payload)};
    const bool sent = commands_.command({"PUBLISH", to_node.empty() ? module_channel_ : node_channel(to_node), encode(m)},
                                        nullptr);
    if (sent) ++stats_.module_messages_sent;
    return sent;
}

void Cluster::node_address(const std::string& tag, std::function<void(std::optional<std::string>)> done) {
    if (tag == session_tag_) return done(config_.advertise);
    if (auto it = addresses_.find(tag); it != addresses_.end()) return done(it->second);
    const bool sent = commands_.command({"HGET", config_.prefix + ":node-addr", tag}, [this, tag, done](const redisReply* r) {
        if (!r || r->type != REDIS_REPLY_STRING) return done(std::nullopt);
        std::string address(r->str, r->len);
        addresses_[tag] = address;
        done(std::move(address));
    });
    if (!sent) done(std::nullopt);
}

void Cluster::on_control(std::string_view payload) {
    const size_t space = payload.find(' ');
    if (space == std::string_view::npos) return;
    const std::string verb(payload.substr(0, space)), node(payload.substr(space + 1));
    if (verb == "hello") node_up(node);
    else if (verb == "bye") node_down(node);
}

void Cluster::on_message(std::string_view channel, std::string_view payload) {
    if (channel == ctl_channel_) return on_control(payload);
    switch (message_kind(payload)) {
    case 'D': {
        auto d = decode_delivery(payload);
        if (!d) break;
        if (!from_live_peer(d->origin)) return;
        uint64_t& last = last_seq_[d->origin];
        // One origin's messages reach us in the order it sent them, whatever
        // the channel, so an emit sent to two rooms we both watch arrives
        // twice in a row: the second copy is not newer than the first.
        if (d->seq <= last) {
            ++stats_.duplicates_dropped;
            return;
        }
        last = d->seq;
        ++stats_.deliveries_received;
        if (hooks_.deliver) hooks_.deliver(*d);
        return;
    }
    case 'M': {
        auto m = decode_module_message(payload);
        if (!m) break;
        // Only from nodes reported up: a module hears from a node after
        // NODE_UP and never after NODE_DOWN.
        if (!alive_.count(m->origin)) return;
        ++stats_.module_messages_received;
        if (hooks_.module_message) hooks_.module_message(*m);
        return;
    }
    case 'X': {
        auto x = decode_disconnect(payload);
        if (!x) break;
        if (!from_live_peer(x->origin)) return;
        if (hooks_.disconnect) hooks_.disconnect(*x);
        return;
    }
    default:
        if (channel == node_channel(node_id_) && on_node_message) return on_node_message(payload);
        break;
    }
    ++stats_.malformed_dropped;
}

}  // namespace sb::cluster
