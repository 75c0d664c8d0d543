// The outbound frames of one session, oldest first.
//
// Every connected client has one, so its size is paid ten thousand times over
// on a busy node. Between loop turns nearly every session holds no frame or
// one (a broadcast, an ack, a ping): that one sits inline, and an idle session
// owns no heap memory for its queue at all. Only a session with several
// frames waiting (a burst, a slow reader) uses a ring on the heap, released
// once it drains. The queue holds references to shared frames (see frame.h).
#pragma once

#include "frame.h"

#include <cstdint>
#include <cstdlib>
#include <new>

namespace sb {

class FrameQueue {
public:
    FrameQueue() = default;
    FrameQueue(const FrameQueue&) = delete;
    FrameQueue& operator=(const FrameQueue&) = delete;
    ~FrameQueue() { clear(); }

    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    // Payload bytes of the queued frames, counted in 32 bits: the owner keeps
    // them below 4 GiB (a session's limits.max_send_queue is at most 2 GiB).
    size_t bytes() const { return bytes_; }

    // The i-th frame from the front; i < size().
    const Frame& at(size_t i) const { return *slot(i); }

    void push_back(FrameRef frame) {
        if (count_ == capacity()) grow();
        bytes_ += static_cast<uint32_t>(frame->size());
        slot_ref(count_++) = frame.detach();
    }

    FrameRef pop_front() {
        Frame* f = slot(0);
        bytes_ -= static_cast<uint32_t>(f->size());
        count_--;
        if (ring_capacity_ == 0) {
            one_ = nullptr;
        } else if (count_ == 0) {
            release_ring();
        } else {
            head_ = static_cast<uint32_t>(ring_index(1));
        }
        return FrameRef(f, false);  // takes over the queue's reference
    }

    void clear() {
        while (!empty()) pop_front();
    }

private:
    static constexpr uint32_t kFirstRing = 4;  // rings grow by doubling: always a power of two

    uint32_t capacity() const { return ring_capacity_ == 0 ? 1 : ring_capacity_; }
    size_t ring_index(size_t i) const { return (head_ + i) & (ring_capacity_ - 1); }
    Frame* slot(size_t i) const { return ring_capacity_ == 0 ? one_ : ring_[ring_index(i)]; }
    Frame*& slot_ref(size_t i) { return ring_capacity_ == 0 ? one_ : ring_[ring_index(i)]; }

    void grow() {
        const uint32_t capacity = ring_capacity_ == 0 ? kFirstRing : ring_capacity_ * 2;
        auto** ring = static_cast<Frame**>(std::malloc(sizeof(Frame*) * capacity));
        if (!ring) throw std::bad_alloc();
        for (uint32_t i = 0; i < count_; i++) ring[i] = slot(i);
        if (ring_capacity_ != 0) std::free(ring_);
        ring_ = ring;
        ring_capacity_ = capacity;
        head_ = 0;
    }

    void release_ring() {
        std::free(ring_);
        one_ = nullptr;
        ring_capacity_ = 0;
        head_ = 0;
    }

    union {
        Frame* one_ = nullptr;  // while ring_capacity_ == 0
        Frame** ring_;
    };
    uint32_t head_ = 0;
    uint32_t count_ = 0;
    uint32_t ring_capacity_ = 0;
    uint32_t bytes_ = 0;
};

}  // namespace sb
