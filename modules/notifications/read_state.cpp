// The read state of one user's notifications (see read_state.h).
#include "read_state.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <unordered_set>

namespace notifications {

ReadState ReadState::load(std::string_view persisted, std::span<const sb_stream_entry> entries) {
    ReadState s;
    std::unordered_set<uint64_t> listed;
    if (!persisted.empty()) {
        rapidjson::Document d;
        d.Parse(persisted.data(), persisted.size());
        if (!d.HasParseError() && d.IsObject()) {
            if (d.HasMember("upTo") && d["upTo"].IsUint64()) s.up_to_ = d["upTo"].GetUint64();
            if (d.HasMember("unread") && d["unread"].IsArray())
                for (const auto& id : d["unread"].GetArray())
                    if (id.IsUint64()) listed.insert(id.GetUint64());
        }
    }
    for (const auto& e : entries)
        if (e.id > s.up_to_ || listed.count(e.id)) s.unread_.emplace(e.id, e.ts_ms);
    return s;
}

std::string ReadState::encode() const {
    std::string out = "{\"upTo\":" + std::to_string(up_to_) + ",\"unread\":[";
    bool first = true;
    for (const auto& [id, ts] : unread_) {
        if (id > up_to_) break;
        out += (first ? "" : ",") + std::to_string(id);
        first = false;
    }
    return out + "]}";
}

std::vector<uint64_t> ReadState::mark(const std::vector<uint64_t>& ids) {
    std::vector<uint64_t> out;
    for (uint64_t id : ids) {
        if (unread_.erase(id) == 0) continue;
        out.push_back(id);
        up_to_ = std::max(up_to_, id);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<uint64_t> ReadState::mark_all() {
    std::vector<uint64_t> out;
    for (const auto& [id, ts] : unread_) out.push_back(id);
    if (!out.empty()) up_to_ = std::max(up_to_, out.back());
    unread_.clear();
    return out;
}

void ReadState::add(uint64_t id, uint64_t ts_ms, size_t keep) {
    unread_.emplace(id, ts_ms);
    while (unread_.size() > keep) unread_.erase(unread_.begin());
}

void ReadState::forget_older(uint64_t oldest_ts_ms) {
    std::erase_if(unread_, [&](const auto& kv) { return kv.second < oldest_ts_ms; });
}

std::vector<uint64_t> ReadState::unread_before(uint64_t before) const {
    std::vector<uint64_t> out;
    for (auto it = unread_.rbegin(); it != unread_.rend(); ++it)
        if (!before || it->first < before) out.push_back(it->first);
    return out;
}

}  // namespace notifications
