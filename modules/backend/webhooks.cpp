// The webhook sender (see webhooks.h).
#include "webhooks.h"

#include "outbound.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace backend {
namespace {

// 64 random bits as hex: ids of events from different processes and
// instances never collide, whatever their sequence numbers.
std::string random_prefix() {
    std::random_device rd;
    const uint64_t n = (uint64_t(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(n));
    return buf;
}

}  // namespace

Webhooks::Webhooks(sb::Host host, sb::Fetch& fetch, const Settings& settings)
    : host_(host), fetch_(fetch), settings_(settings), id_prefix_(random_prefix()) {}

std::string Webhooks::next_id() { return id_prefix_ + "-" + std::to_string(next_seq_++); }

void Webhooks::count(const char* outcome, uint64_t n) {
    if (n == 0) return;
    const std::string labels = "outcome=\"" + std::string(outcome) + "\"";
    host_.api()->counter_add(host_.ctx(), "backend_webhook_events", labels.c_str(), n);
}

void Webhooks::add(std::string event_json) {
    const WebhookSettings& w = settings_.webhooks;
    if (queue_.size() + batch_.size() >= w.max_queue) {
        count("dropped", 1);
        if (!overflowing_) {
            overflowing_ = true;
            host_.log(SB_LOG_WARN, "webhook queue full (" + std::to_string(w.max_queue) +
                                       " events): dropping new events until the backend catches up");
        }
        return;
    }
    if (overflowing_) {
        overflowing_ = false;
        host_.log(SB_LOG_INFO, "webhook queue has room again");
    }
    queue_.push_back(std::move(event_json));
    if (sending_ || retry_timer_) return;
    if (queue_.size() >= w.batch_size) send();
    else schedule_flush(w.batch_delay_ms);
}

void Webhooks::schedule_flush(uint64_t delay_ms) {
    if (flush_timer_) return;
    flush_timer_ = host_.start_timer(std::max<uint64_t>(delay_ms, 1));
    if (!flush_timer_) send();  // no timer: send now rather than never
}

bool Webhooks::on_timer(sb_timer_id timer) {
    if (timer == flush_timer_) {
        flush_timer_ = 0;
        if (!sending_ && !retry_timer_) send();
        return true;
    }
    if (timer == retry_timer_) {
        retry_timer_ = 0;
        send();
        return true;
    }
    return false;
}

void Webhooks::send() {
    if (sending_) return;
    if (flush_timer_) {
        host_.stop_timer(flush_timer_);
        flush_timer_ = 0;
    }
    const WebhookSettings& w = settings_.webhooks;
    while (batch_.size() < w.batch_size && !queue_.empty()) {
        batch_.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    if (batch_.empty()) return;
    std::string body = "{\"type\":\"events\",\"events\":[";
    for (size_t i = 0; i < batch_.size(); ++i) body += (i ? "," : "") + batch_[i];
    body += "]}";
    const BackendSettings& b = settings_.backends[w.backend];
    sb_fetch_id id = 0;
    const sb_status st =
        fetch_.start(post_request(b, w.path, std::move(body), host_.now_ms()), [this](const sb::FetchResponse& r) { on_answer(r); }, &id);
    if (st != SB_OK) {
        failed("the request could not start (status " + std::to_string(st) + ")");
        return;
    }
    sending_ = true;
    batch_fetch_ = id;
}

void Webhooks::on_answer(const sb::FetchResponse& r) {
    sending_ = false;
    batch_fetch_ = 0;
    const std::string why = failure_of(settings_.backends[settings_.webhooks.backend], r);
    if (!why.empty()) {
        failed(why);
        return;
    }
    count("delivered", batch_.size());
    batch_.clear();
    backoff_ms_ = 0;
    if (failing_) {
        failing_ = false;
        host_.log(SB_LOG_INFO, "webhooks delivered again");
    }
    // What queued up meanwhile has waited long enough.
    if (!queue_.empty()) send();
}

void Webhooks::failed(const std::string& why) {
    const WebhookSettings& w = settings_.webhooks;
    backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, w.retry_max_ms) : w.retry_initial_ms;
    host_.api()->counter_add(host_.ctx(), "backend_webhook_retries", "", 1);
    if (!failing_) {
        failing_ = true;
        host_.log(SB_LOG_WARN, "webhook batch not delivered: " + why + "; retrying with backoff");
    }
    retry_timer_ = host_.start_timer(backoff_ms_);
}

WebhookHandover Webhooks::handover() const {
    WebhookHandover h;
    h.id_prefix = id_prefix_;
    h.next_seq = next_seq_;
    h.batch = batch_;
    h.batch_fetch = sending_ ? batch_fetch_ : 0;
    h.queue.assign(queue_.begin(), queue_.end());
    return h;
}

void Webhooks::take_over(WebhookHandover from) {
    if (!from.id_prefix.empty()) {
        id_prefix_ = std::move(from.id_prefix);
        next_seq_ = std::max(next_seq_, from.next_seq);
    }
    batch_ = std::move(from.batch);
    for (auto& e : from.queue) queue_.push_back(std::move(e));
    if (from.batch_fetch && fetch_.adopt(from.batch_fetch, [this](const sb::FetchResponse& r) { on_answer(r); }) == SB_OK) {
        sending_ = true;
        batch_fetch_ = from.batch_fetch;
        return;
    }
    // Sent again by this instance once the reload is done (a timer of an
    // instance whose reload fails never fires).
    if (!batch_.empty() || !queue_.empty()) schedule_flush(1);
}

}  // namespace backend
