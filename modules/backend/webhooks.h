// Webhooks: connect, disconnect, join and leave notifications POSTed to a
// backend in batches, at least once and in arrival order.
//
// Why it looks like this: order and at-least-once delivery are simplest to
// get right with one batch in flight at a time. A batch that fails (no
// answer, or a non-2xx status) is sent again, same events and same ids,
// after an exponential backoff, and nothing behind it overtakes it. Events
// wait in one bounded queue meanwhile; when it is full new events are
// dropped and counted, and the overflow is logged once per episode. A
// partial batch waits `batch_delay` for company on one module timer, never
// a timer per connection. Each event's id (a random per-instance prefix and
// a sequence number) lets the backend deduplicate the retries.
#ifndef SWITCHBOARD_BACKEND_WEBHOOKS_H
#define SWITCHBOARD_BACKEND_WEBHOOKS_H

#include "settings.h"

#include <switchboard/fetch.hpp>
#include <switchboard/module.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace backend {

// What a reload hands from one webhook sender to the next.
struct WebhookHandover {
    std::string id_prefix;
    uint64_t next_seq = 1;
    std::vector<std::string> batch;  // sent (or to be sent again) first
    sb_fetch_id batch_fetch = 0;     // the batch's request in flight; 0 when none
    std::vector<std::string> queue;
};

class Webhooks {
public:
    Webhooks(sb::Host host, sb::Fetch& fetch, const Settings& settings);
    Webhooks(const Webhooks&) = delete;
    Webhooks& operator=(const Webhooks&) = delete;

    bool enabled() const { return settings_.webhooks.enabled; }
    const WebhookSettings& config() const { return settings_.webhooks; }

    // A fresh id for an event about to be added.
    std::string next_id();
    // Queues one event (its JSON object text); dropped and counted when full.
    void add(std::string event_json);
    // True when `timer` was one of the sender's.
    bool on_timer(sb_timer_id timer);

    WebhookHandover handover() const;
    // During import_state: continues where the previous instance stopped.
    void take_over(WebhookHandover from);

private:
    void schedule_flush(uint64_t delay_ms);
    void send();
    void on_answer(const sb::FetchResponse& r);
    void failed(const std::string& why);
    void count(const char* outcome, uint64_t n);

    sb::Host host_;
    sb::Fetch& fetch_;
    const Settings& settings_;
    std::string id_prefix_;
    uint64_t next_seq_ = 1;
    std::deque<std::string> queue_;
    std::vector<std::string> batch_;
    sb_fetch_id batch_fetch_ = 0;
    bool sending_ = false;
    sb_timer_id flush_timer_ = 0;
    sb_timer_id retry_timer_ = 0;
    uint64_t backoff_ms_ = 0;
    bool overflowing_ = false;  // dropping since the last logged overflow
    bool failing_ = false;      // the backend has failed since the last delivery
};

}  // namespace backend

#endif
