// Connected users and last-seen times (see online_users.h).
#include "online_users.h"

namespace presence {

bool OnlineUsers::connected(const std::string& user) {
    if (sockets_[user]++ > 0) return false;
    forget(user);
    return true;
}

bool OnlineUsers::disconnected(const std::string& user, uint64_t wall_ms) {
    auto it = sockets_.find(user);
    if (it == sockets_.end()) return false;
    if (--it->second > 0) return false;
    sockets_.erase(it);
    remember(user, wall_ms);
    return true;
}

OnlineUsers::Status OnlineUsers::status(const std::string& user, uint64_t wall_ms, uint64_t grace_ms) const {
    if (sockets_.count(user)) return {true, std::nullopt};
    auto it = seen_index_.find(std::string_view(user));
    if (it == seen_index_.end()) return {false, std::nullopt};
    const uint64_t seen = it->second->wall_ms;
    if (it->second->graced && wall_ms < seen + grace_ms) return {true, std::nullopt};  // within the grace period
    return {false, seen};
}

void OnlineUsers::merge(const std::string& user, uint64_t wall_ms, bool graced) {
    auto it = seen_index_.find(std::string_view(user));
    if (it != seen_index_.end() && it->second->wall_ms >= wall_ms) return;
    remember(user, wall_ms, graced);
}

void OnlineUsers::remember(const std::string& user, uint64_t wall_ms, bool graced) {
    forget(user);
    if (capacity_ == 0) return;
    while (seen_.size() >= capacity_) {
        seen_index_.erase(std::string_view(seen_.front().user));
        seen_.pop_front();
        ++evictions_;
    }
    seen_.push_back({user, wall_ms, graced});
    seen_index_.emplace(std::string_view(seen_.back().user), std::prev(seen_.end()));
}

void OnlineUsers::forget(const std::string& user) {
    auto it = seen_index_.find(std::string_view(user));
    if (it == seen_index_.end()) return;
    const auto node = it->second;
    seen_index_.erase(it);
    seen_.erase(node);
}

}  // namespace presence
