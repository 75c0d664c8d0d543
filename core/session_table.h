// The live Engine.IO sessions of this node, owned and found by sid.
//
// Every request of a polling client and every new WebSocket looks its session
// up here, and every connected client has an entry, so the entry is kept
// small: the set stores the session pointer alone and hashes the sid the
// session already holds (a map keyed by a view of it would store the view
// again and cost a larger heap block per client).
#pragma once

#include "engineio_session.h"

#include <functional>
#include <memory>
#include <string_view>
#include <unordered_set>

namespace sb {

class SessionTable {
public:
    SessionTable() = default;
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;
    ~SessionTable() {
        for (EngineSession* s : sessions_) delete s;
    }

    size_t size() const { return sessions_.size(); }
    bool empty() const { return sessions_.empty(); }
    EngineSession* any() const { return sessions_.empty() ? nullptr : *sessions_.begin(); }

    EngineSession* find(std::string_view sid) const {
        auto it = sessions_.find(sid);
        return it == sessions_.end() ? nullptr : *it;
    }

    // The session's sid must be set and stay as it is until erase().
    EngineSession* insert(std::unique_ptr<EngineSession> session) {
        EngineSession* s = session.release();
        sessions_.insert(s);
        return s;
    }

    // Destroys the session.
    void erase(EngineSession* s) {
        sessions_.erase(sessions_.find(std::string_view(s->sid)));
        delete s;
    }

    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (EngineSession* s : sessions_) fn(*s);
    }

private:
    struct BySid {
        using is_transparent = void;
        size_t operator()(std::string_view sid) const { return std::hash<std::string_view>{}(sid); }
        size_t operator()(const EngineSession* s) const { return (*this)(std::string_view(s->sid)); }
        bool operator()(std::string_view a, const EngineSession* b) const { return a == b->sid; }
        bool operator()(const EngineSession* a, std::string_view b) const { return a->sid == b; }
        bool operator()(const EngineSession* a, const EngineSession* b) const { return a == b; }
    };
    std::unordered_set<EngineSession*, BySid, BySid> sessions_;
};

}  // namespace sb
