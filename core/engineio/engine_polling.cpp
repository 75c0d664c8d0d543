// The long-polling side of the Engine.IO engine (see engine_server.h): the
// handshake over HTTP, a GET held until there is something to send, a POST
// body of packets, and the reference server's answers to requests a
// session cannot take (a second GET, a second POST, a body over the limit).
#include "engineio/engine_server.h"

#include "engineio/engineio_packet.h"
#include "metrics.h"

#include <cstdio>
#include <vector>

namespace sb {

int EngineServer::on_poll_request(EngineConn& c, const EngineRequest& r, RequestDetails& details) {
    const bool is_get = r.method == HttpMethod::Get;
    const bool is_post = r.method == HttpMethod::Post;
    if (r.transport != "polling" || !config_.allow_polling) {
        // A WebSocket transport over a plain GET (no Upgrade header) is a bad
        // request; anything else is an unknown transport.
        if (r.transport == "websocket" && config_.allow_websocket) return refuse(c, 3, "Bad request");
        return refuse(c, 0, "Transport unknown");
    }
    if (r.sid.empty()) {
        if (!is_get) return refuse(c, 2, "Bad handshake method");
        if (r.eio != "4") return refuse(c, 5, "Unsupported protocol version");
        bool refused = false;
        int rc = refuse_new_session(c, r.rest, "polling", details, &refused);
        if (refused) return rc;
        EngineSession* s = create_session(r.rest, c, TransportKind::Polling, details);
        // The first GET returns the open packet (and anything queued with it) at once.
        s->poll_get = &c;
        c.session = s;
        c.role = ConnRole::PollGet;
        return on_poll_writable(c);
    }

    EngineSession* found = sessions_.find(r.sid);
    if (!found) {
        if (elsewhere_ && (is_get || is_post) && elsewhere_->owned_elsewhere(r.sid) && !details.arrived_forwarded())
            return elsewhere_->take_over(c, r.sid, is_post);
        return refuse(c, 1, "Session ID unknown");
    }
    EngineSession& s = *found;
    if (s.transport != TransportKind::Polling) return refuse(c, 3, "Bad request");

    if (is_get) {
        if (s.poll_get) {
            // Two concurrent GETs: the reference server refuses the second and
            // closes the session (a client that does this is broken or hostile).
            int rc = refuse(c, 3, "Bad request");
            metrics().protocol_errors_total++;
            close(s, "transport error");
            return rc;
        }
        s.poll_get = &c;
        c.session = &s;
        c.role = ConnRole::PollGet;
        if (s.has_queued() || s.state == SessionState::Closing || s.release_poll) return on_poll_writable(c);
        // Held until there is something to send; our heartbeat bounds the wait.
        transport_->hold(c);
        return 0;
    }
    if (is_post) {
        if (s.post_in_flight) {
            int rc = refuse(c, 3, "Bad request");
            metrics().protocol_errors_total++;
            close(s, "transport error");
            return rc;
        }
        s.post_in_flight = true;
        c.role = ConnRole::PollPost;
        c.session = nullptr;  // looked up again by sid when the body is complete
        std::snprintf(c.sid, sizeof c.sid, "%s", s.sid.c_str());
        return 0;
    }
    return refuse(c, 3, "Bad request");
}

// A body over max_payload closes the session at once, but the request is
// read to its end before the 413 goes out: closing a socket with unread
// input resets it, and the client would never see the status.
void EngineServer::on_post_over_limit(EngineConn& c) {
    metrics().handshake_failures_total[6]++;
    EngineSession* found = sessions_.find(c.sid);
    if (found) close(*found, "payload too large");
}

void EngineServer::post_ended(EngineConn& c) {
    EngineSession* found = sessions_.find(c.sid);
    if (found) found->post_in_flight = false;
}

int EngineServer::on_post_body_refused(EngineConn& c) {
    if (c.role != ConnRole::PollPost) return -1;
    post_ended(c);
    return answer(c, 413, "text/plain", "");
}

int EngineServer::on_post_body(EngineConn& c, std::string_view body) {
    if (c.role != ConnRole::PollPost) return -1;
    EngineSession* found = sessions_.find(c.sid);
    if (!found) return refuse(c, 1, "Session ID unknown");
    EngineSession& s = *found;
    s.post_in_flight = false;
    metrics().bytes_in_total += body.size();
    if (s.state != SessionState::Open) return answer(c, 200, "text/html", "ok");
    std::vector<eio::Packet> packets;
    if (!eio::decode_polling_payload(body, packets)) {
        metrics().protocol_errors_total++;
        int rc = refuse(c, 3, "Bad request");
        close(s, "parse error");
        return rc;
    }
    // Answer first: handling a packet may close the session.
    int rc = answer(c, 200, "text/html", "ok");
    std::string sid = s.sid;
    for (auto& p : packets) {
        EngineSession* again = sessions_.find(sid);
        if (!again || again->state != SessionState::Open) break;
        std::string framed = p.binary ? p.data : eio::encode_text_packet(p.type, p.data);
        if (handle_packet(*again, nullptr, framed, p.binary) != 0) {
            close(*again, "parse error");
            break;
        }
    }
    return rc;
}

int EngineServer::on_poll_writable(EngineConn& c) {
    if (c.role != ConnRole::PollGet) return 0;
    EngineSession* s = c.session;
    if (!s) return answer(c, 200, "text/plain; charset=UTF-8", "1");
    if (s->transport != TransportKind::Polling) {
        // Upgraded while this GET was held: end it with a noop; the queue
        // now belongs to the WebSocket.
        s->poll_get = nullptr;
        s->release_poll = false;
        c.session = nullptr;
        return answer(c, 200, "text/plain; charset=UTF-8", "6");
    }
    std::string body;
    while (s->has_queued()) {
        FrameRef f = s->pop_front();
        eio::append_polling_packet(body, f->binary(), f->view());
    }
    const bool closing = s->state == SessionState::Closing;
    if (closing) eio::append_polling_packet(body, false, "1");
    if (body.empty() && s->release_poll) body.push_back('6');
    if (body.empty()) return 0;  // spurious wake-up: keep holding
    s->release_poll = s->probe_ws != nullptr;  // still upgrading: the next GET is released too
    s->poll_get = nullptr;
    c.session = nullptr;
    int rc = answer(c, 200, "text/plain; charset=UTF-8", body);
    if (closing) destroy(s);
    return rc;
}

void EngineServer::on_http_closed(EngineConn& c) {
    if (c.session && c.role == ConnRole::PollGet && c.session->poll_get == &c) {
        // The client went away while its GET was held: the session stays,
        // the heartbeat decides its fate.
        c.session->poll_get = nullptr;
    }
    if (c.role == ConnRole::PollPost) post_ended(c);
    c.session = nullptr;
    c.role = ConnRole::None;
}

}  // namespace sb
