// Timeouts for many connections on one libuv timer (see deadline_queue.h).
#include "deadline_queue.h"

namespace sb {

DeadlineQueue::DeadlineQueue(uv_loop_t* loop, ExpireFn on_expire)
    : loop_(loop), timer_(new uv_timer_t), on_expire_(std::move(on_expire)) {
    uv_timer_init(loop_, timer_);
    timer_->data = this;
}

DeadlineQueue::~DeadlineQueue() {
    while (head_) unlink(*head_);
    if (timer_) close();
}

void DeadlineQueue::close() {
    if (!timer_) return;
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
}

void DeadlineQueue::schedule(DeadlineEntry& e, uint64_t delay_ms) {
    if (e.queue) e.queue->unlink(e);
    e.deadline_ms = uv_now(loop_) + delay_ms;
    e.queue = this;
    // Deadlines of one queue share a delay, so they almost always go to the
    // tail; walk back only when a caller used a shorter delay.
    DeadlineEntry* after = tail_;
    while (after && after->deadline_ms > e.deadline_ms) after = after->prev;
    e.prev = after;
    e.next = after ? after->next : head_;
    if (e.next) e.next->prev = &e;
    else tail_ = &e;
    if (after) after->next = &e;
    else head_ = &e;
    if (head_ == &e) arm();
}

void DeadlineQueue::cancel(DeadlineEntry& e) {
    if (!e.queue) return;
    DeadlineQueue* q = e.queue;
    q->unlink(e);
    // An idle timer must not keep the loop alive (shutdown waits for it).
    if (!q->head_ && q->timer_) {
        uv_timer_stop(q->timer_);
        q->armed_for_ = UINT64_MAX;
    }
}

void DeadlineQueue::unlink(DeadlineEntry& e) {
    if (e.prev) e.prev->next = e.next;
    else head_ = e.next;
    if (e.next) e.next->prev = e.prev;
    else tail_ = e.prev;
    e.prev = e.next = nullptr;
    e.queue = nullptr;
}

void DeadlineQueue::arm() {
    if (!timer_) return;
    if (!head_) {
        uv_timer_stop(timer_);
        armed_for_ = UINT64_MAX;
        return;
    }
    if (armed_for_ == head_->deadline_ms && uv_is_active(reinterpret_cast<uv_handle_t*>(timer_))) return;
    uint64_t now = uv_now(loop_);
    armed_for_ = head_->deadline_ms;
    uv_timer_start(timer_, on_timer, head_->deadline_ms > now ? head_->deadline_ms - now : 0, 0);
}

void DeadlineQueue::on_timer(uv_timer_t* t) {
    auto* q = static_cast<DeadlineQueue*>(t->data);
    q->armed_for_ = UINT64_MAX;
    uint64_t now = uv_now(q->loop_);
    while (q->head_ && q->head_->deadline_ms <= now) {
        DeadlineEntry& e = *q->head_;
        q->unlink(e);
        q->on_expire_(e);  // may reschedule e or destroy its owner
    }
    q->arm();
}

}  // namespace sb
