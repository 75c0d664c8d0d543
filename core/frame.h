// An outbound packet, encoded once and shared by every connection it goes to.
//
// A broadcast to ten thousand sockets must not copy or re-encode its bytes
// ten thousand times. A Frame holds the finished bytes of one Engine.IO
// packet (text "42[...]" or raw binary) behind a non-atomic reference count
// (everything runs on one loop thread), with headroom in front for the
// transport's frame header, so a WebSocket transport can write it without a
// copy (libwebsockets' LWS_PRE: transport/ws_batch_writer.cpp checks that it
// fits). Server frames are unmasked, so a header written into the headroom
// never changes the payload another connection still has to send.
#pragma once

#include <boost/intrusive_ptr.hpp>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace sb {

// Bytes kept free in front of every frame's payload.
inline constexpr size_t kFrameHeadroom = 16;

class Frame {
public:
    static boost::intrusive_ptr<Frame> make(std::string_view bytes, bool binary) {
        void* mem = std::malloc(sizeof(Frame) + kFrameHeadroom + bytes.size());
        if (!mem) throw std::bad_alloc();
        Frame* f = new (mem) Frame(bytes.size(), binary);
        if (!bytes.empty()) std::memcpy(f->payload(), bytes.data(), bytes.size());
        return boost::intrusive_ptr<Frame>(f);
    }

    unsigned char* payload() { return reinterpret_cast<unsigned char*>(this + 1) + kFrameHeadroom; }
    const unsigned char* payload() const { return reinterpret_cast<const unsigned char*>(this + 1) + kFrameHeadroom; }
    std::string_view view() const { return {reinterpret_cast<const char*>(payload()), size_}; }
    size_t size() const { return size_; }
    bool binary() const { return binary_; }
    unsigned use_count() const { return refs_; }

    friend void intrusive_ptr_add_ref(Frame* f) { ++f->refs_; }
    friend void intrusive_ptr_release(Frame* f) {
        if (--f->refs_ == 0) {
            f->~Frame();
            std::free(f);
        }
    }

private:
    Frame(size_t size, bool binary) : size_(size), binary_(binary) {}
    size_t size_;
    unsigned refs_ = 0;
    bool binary_;
};

using FrameRef = boost::intrusive_ptr<Frame>;

}  // namespace sb
