// Timeouts for many connections on one libuv timer.
//
// Every session needs a ping deadline, a pong deadline and a connect
// deadline, but a timer per connection costs memory and a heap operation on
// every reset. All sessions share the same intervals, so deadlines arrive in
// the order they were set: a FIFO intrusive list per kind of timeout, with a
// single timer armed for the head, gives O(1) schedule, cancel and expiry.
// That holds while a queue is used with one delay: give each delay its own
// queue, since an entry with a shorter delay than the tail's walks back to
// its place.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace sb {

class DeadlineQueue;

// Embedded in the object that owns the deadline; `owner` points back to it.
struct DeadlineEntry {
    DeadlineEntry* prev = nullptr;
    DeadlineEntry* next = nullptr;
    DeadlineQueue* queue = nullptr;
    uint64_t deadline_ms = 0;
    void* owner = nullptr;

    bool scheduled() const { return queue != nullptr; }
};

class DeadlineQueue {
public:
    using ExpireFn = std::function<void(DeadlineEntry&)>;

    DeadlineQueue(uv_loop_t* loop, ExpireFn on_expire);
    ~DeadlineQueue();
    DeadlineQueue(const DeadlineQueue&) = delete;
    DeadlineQueue& operator=(const DeadlineQueue&) = delete;

    // (Re)schedules `e` to expire `delay_ms` from now, removing it from any
    // queue it is in.
    void schedule(DeadlineEntry& e, uint64_t delay_ms);
    static void cancel(DeadlineEntry& e);
    // Stops the timer and lets libuv close it; the queue must outlive the
    // loop iteration that runs the close callback.
    void close();

private:
    void unlink(DeadlineEntry& e);
    void arm();
    static void on_timer(uv_timer_t* t);

    uv_loop_t* loop_;
    uv_timer_t* timer_;
    ExpireFn on_expire_;
    DeadlineEntry* head_ = nullptr;
    DeadlineEntry* tail_ = nullptr;
    uint64_t armed_for_ = UINT64_MAX;
};

// A deadline that few owners have at a time (a polling session upgrading, a
// client that has not sent CONNECT yet): its entry lives here, allocated
// while it runs, instead of in every owner for the owner's whole life.
template <typename Owner>
class SparseDeadlines {
public:
    // `on_expire` runs after the owner's entry is gone: it may schedule again.
    SparseDeadlines(uv_loop_t* loop, std::function<void(Owner*)> on_expire)
        : on_expire_(std::move(on_expire)), queue_(loop, [this](DeadlineEntry& e) {
              auto* owner = static_cast<Owner*>(e.owner);
              entries_.erase(owner);
              on_expire_(owner);
          }) {}

    void schedule(Owner* owner, uint64_t delay_ms) {
        DeadlineEntry& e = entries_[owner];
        e.owner = owner;
        queue_.schedule(e, delay_ms);
    }
    void cancel(Owner* owner) {
        auto it = entries_.find(owner);
        if (it == entries_.end()) return;
        DeadlineQueue::cancel(it->second);
        entries_.erase(it);
    }
    void close() { queue_.close(); }

private:
    std::function<void(Owner*)> on_expire_;
    std::unordered_map<Owner*, DeadlineEntry> entries_;
    DeadlineQueue queue_;
};

}  // namespace sb
