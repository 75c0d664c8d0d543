// The live Engine.IO sessions of this node, owned and found by sid.
//
// Every request of a polling client and every new WebSocket looks its session
// up here, and every connected client has an entry: an open-addressing index
// of session pointers hashed by the sid each session holds (see
// open_index.h), rather than a map keyed by a second copy or view of it.
#pragma once

#include "engineio/engineio_session.h"
#include "open_index.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

class SessionTable {
public:
    SessionTable() = default;
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;
    ~SessionTable() {
        sessions_.for_each([](EngineSession* s) { delete s; });
    }

    size_t size() const { return sessions_.size(); }
    bool empty() const { return sessions_.empty(); }

    EngineSession* find(std::string_view sid) const { return sessions_.find(sid); }

    // The session's sid must be set and stay as it is until erase().
    EngineSession* insert(std::unique_ptr<EngineSession> session) {
        EngineSession* s = session.release();
        sessions_.insert(s);
        return s;
    }

    // Destroys the session.
    void erase(EngineSession* s) {
        sessions_.erase(std::string_view(s->sid));
        delete s;
    }

    // A copy: closing one session can destroy others.
    std::vector<std::string> sids() const {
        std::vector<std::string> out;
        out.reserve(sessions_.size());
        sessions_.for_each([&](const EngineSession* s) { out.push_back(s->sid); });
        return out;
    }

private:
    struct BySid {
        static std::string_view key(const EngineSession* s) { return s->sid; }
        static uint64_t hash(std::string_view sid) { return std::hash<std::string_view>{}(sid); }
    };
    OpenIndex<EngineSession, BySid> sessions_;
};

}  // namespace sb
