// One write per WebSocket per loop turn (see ws_batch_writer.h).
#include "transport/ws_batch_writer.h"

#include "frame.h"
#include "metrics.h"
#include "transport/lws_connection.h"

#include <libwebsockets.h>

#include <cstring>

namespace sb {
namespace {

// Bytes framed into one write. Larger batches gain nothing measurable, and
// whatever the kernel does not take is copied by libwebsockets. A frame that
// does not fit is written on its own, so batched frames need at most a
// 16-bit length.
constexpr size_t kBatchBytes = 32 * 1024;
static_assert(kBatchBytes < 65536);
constexpr size_t kMaxFrameHeader = 4;
// A frame is written in place: lws puts its header in the frame's headroom.
static_assert(LWS_PRE <= kFrameHeadroom);

// Server frames are unmasked: FIN + opcode, then a 7- or 16-bit length.
size_t put_frame_header(unsigned char* out, size_t len, bool binary) {
    out[0] = binary ? 0x82 : 0x81;
    if (len < 126) {
        out[1] = static_cast<unsigned char>(len);
        return 2;
    }
    out[1] = 126;
    out[2] = static_cast<unsigned char>(len >> 8);
    out[3] = static_cast<unsigned char>(len);
    return 4;
}

}  // namespace

WsBatchWriter::WsBatchWriter(uv_loop_t* loop, std::function<void(EngineSession&)> on_error)
    : check_(new uv_check_t), wake_(new uv_idle_t), on_error_(std::move(on_error)), buffer_(LWS_PRE + kBatchBytes) {
    uv_check_init(loop, check_);
    check_->data = this;
    uv_check_start(check_, on_check);
    uv_idle_init(loop, wake_);
    // Neither is what keeps the loop alive; the connections are.
    uv_unref(reinterpret_cast<uv_handle_t*>(check_));
    uv_unref(reinterpret_cast<uv_handle_t*>(wake_));
}

WsBatchWriter::~WsBatchWriter() { close(); }

void WsBatchWriter::close() {
    if (!check_) return;
    uv_check_stop(check_);
    uv_idle_stop(wake_);
    uv_close(reinterpret_cast<uv_handle_t*>(check_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
    uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
    check_ = nullptr;
    wake_ = nullptr;
}

void WsBatchWriter::mark(EngineSession& s) {
    if (s.write_slot) return;
    if (pending_.empty() && wake_) uv_idle_start(wake_, [](uv_idle_t*) {});
    pending_.push_back(&s);
    s.write_slot = static_cast<uint32_t>(pending_.size());
}

void WsBatchWriter::forget(EngineSession& s) {
    if (!s.write_slot) return;
    pending_[s.write_slot - 1] = nullptr;
    s.write_slot = 0;
}

void WsBatchWriter::on_check(uv_check_t* check) { static_cast<WsBatchWriter*>(check->data)->flush(); }

void WsBatchWriter::flush() {
    // By index: an error callback may forget sessions (their slots turn
    // null) or mark new ones (appended, written in this same pass).
    for (size_t i = 0; i < pending_.size(); i++) {
        EngineSession* s = pending_[i];
        if (!s) continue;
        s->write_slot = 0;
        pending_[i] = nullptr;
        if (s->ws && !write_queued(*s, LwsConnection::of(*s->ws).wsi)) on_error_(*s);
    }
    pending_.clear();
    if (wake_) uv_idle_stop(wake_);
}

bool WsBatchWriter::write_queued(EngineSession& s, lws* wsi) {
    while (s.has_queued()) {
        // Whatever libwebsockets still holds from a short write goes first.
        if (lws_partial_buffered(wsi)) {
            lws_callback_on_writable(wsi);
            return true;
        }
        if (s.queue.size() == 1 || s.queue.at(0).size() + kMaxFrameHeader > kBatchBytes) {
            FrameRef f = s.pop_front();
            if (lws_write(wsi, f->payload(), f->size(), f->binary() ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) <
                static_cast<int>(f->size()))
                return false;
            metrics().bytes_out_total += f->size();
            continue;
        }
        unsigned char* const start = buffer_.data() + LWS_PRE;
        unsigned char* out = start;
        while (s.has_queued()) {
            const Frame& f = s.queue.at(0);
            if (static_cast<size_t>(out - start) + f.size() + kMaxFrameHeader > kBatchBytes) break;
            out += put_frame_header(out, f.size(), f.binary());
            std::memcpy(out, f.payload(), f.size());
            out += f.size();
            metrics().bytes_out_total += f.size();
            s.pop_front();
        }
        const size_t len = static_cast<size_t>(out - start);
        if (lws_write(wsi, start, len, LWS_WRITE_RAW) < static_cast<int>(len)) return false;
    }
    return true;
}

}  // namespace sb
