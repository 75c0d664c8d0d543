// An outbound packet, encoded once and shared by every connection it goes to.
//
// A broadcast to ten thousand sockets must not copy or re-encode its bytes
// ten thousand times. A Frame holds the finished bytes of one Engine.IO
// packet (text "42[...]" or raw binary) behind a non-atomic reference count
// (everything runs on one loop thread), with libwebsockets' LWS_PRE headroom
// in front so it can be handed to lws_write() without a copy. Server frames
// are unmasked, so lws writing its header into the headroom never changes the
// payload another connection still has to send.
#pragma once

#include <libwebsockets.h>

#include <boost/intrusive_ptr.hpp>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace sb {

class Frame {
public:
    static boost::intrusive_ptr<Frame> make(std::string_view bytes, bool binary) {
        void* mem = std::malloc(sizeof(Frame) + LWS_PRE + bytes.size());
        if (!mem) throw std::bad_alloc();
        Frame* f = new (mem) Frame(bytes.size(), binary);
        if (!bytes.empty()) std::memcpy(f->payload(), bytes.data(), bytes.size());
        return boost::intrusive_ptr<Frame>(f);
    }

    unsigned char* payload() { return reinterpret_cast<unsigned char*>(this + 1) + LWS_PRE; }
    const unsigned char* payload() const { return reinterpret_cast<const unsigned char*>(this + 1) + LWS_PRE; }
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
