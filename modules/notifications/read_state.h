// Which of one user's notifications are read, kept in memory while the
// user is connected (or a request about them is served) and persisted in
// one kv value per user.
//
// Persisted form: {"upTo": L, "unread": [ids <= L that are still unread]}.
// Every id above L is unread (new notifications need no write), every id
// up to L is read unless listed. L only grows (to the highest id ever
// marked read), and the list holds only ids still in the user's stream, so
// its size is bounded by the per-user retention. In memory the state is the
// set of unread ids with their timestamps, rebuilt from the persisted value
// and the stream when the user is loaded; the unread count is its size.
#ifndef SWITCHBOARD_NOTIFICATIONS_READ_STATE_H
#define SWITCHBOARD_NOTIFICATIONS_READ_STATE_H

#include <switchboard/module.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace notifications {

class ReadState {
public:
    // From the persisted value ("" when none) and the user's retained
    // entries (in any order).
    static ReadState load(std::string_view persisted, std::span<const sb_stream_entry> entries);
    std::string encode() const;

    // Mark these ids read; returns those that were unread, ascending.
    std::vector<uint64_t> mark(const std::vector<uint64_t>& ids);
    std::vector<uint64_t> mark_all();
    // A notification stored after the state was loaded; at most `keep`
    // unread ones are remembered (the oldest go, as retention trims them).
    void add(uint64_t id, uint64_t ts_ms, size_t keep);
    // Forget unread notifications older than `oldest_ts_ms` (retention by age).
    void forget_older(uint64_t oldest_ts_ms);

    bool is_read(uint64_t id) const { return !unread_.count(id); }
    size_t unread_count() const { return unread_.size(); }
    // Unread ids below `before` (0: no bound), newest first.
    std::vector<uint64_t> unread_before(uint64_t before) const;

private:
    uint64_t up_to_ = 0;
    std::map<uint64_t, uint64_t> unread_;  // id -> ts_ms
};

}  // namespace notifications

#endif
