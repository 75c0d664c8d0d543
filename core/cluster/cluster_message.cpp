// Byte layout of cluster messages (see cluster_message.h):
//   'D' 1  str origin  u64 seq  str ns  list rooms  list users  list except_rooms
//          list except_users  u32 n  n × (u8 binary, str bytes)
//   'M' 1  str origin  str module  str payload
//   'X' 1  str origin  str ns  str user  str sid
// where str is a u32 length and the bytes, a list a u32 count and that many
// str, and integers are little-endian.
#include "cluster/cluster_message.h"

#include <cstring>

namespace sb::cluster {
namespace {

constexpr char kVersion = 1;

class Writer {
public:
    explicit Writer(char kind) { out_ += kind, out_ += kVersion; }
    void u8(uint8_t v) { out_ += static_cast<char>(v); }
    void u32(uint32_t v) { raw(&v, sizeof v); }
    void u64(uint64_t v) { raw(&v, sizeof v); }
    void str(std::string_view s) {
        u32(static_cast<uint32_t>(s.size()));
        out_.append(s);
    }
    void list(const std::vector<std::string>& v) {
        u32(static_cast<uint32_t>(v.size()));
        for (const auto& s : v) str(s);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
    void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
};

class Reader {
public:
    Reader(std::string_view in, char kind) : in_(in) {
        ok_ = in_.size() >= 2 && in_[0] == kind && in_[1] == kVersion;
        at_ = 2;
    }
    bool ok() const { return ok_; }
    bool done() const { return ok_ && at_ == in_.size(); }
    uint8_t u8() {
        uint8_t v = 0;
        raw(&v, 1);
        return v;
    }
    uint32_t u32() {
        uint32_t v = 0;
        raw(&v, sizeof v);
        return v;
    }
    uint64_t u64() {
        uint64_t v = 0;
        raw(&v, sizeof v);
        return v;
    }
    std::string str() {
        const uint32_t n = u32();
        if (!ok_ || in_.size() - at_ < n) return fail();
        std::string s(in_.substr(at_, n));
        at_ += n;
        return s;
    }
    std::vector<std::string> list() {
        const uint32_t n = u32();
        std::vector<std::string> v;
        // Each entry takes at least 4 bytes: a bogus count cannot make us reserve gigabytes.
        if (!ok_ || n > (in_.size() - at_) / 4) {
            fail();
            return v;
        }
        v.reserve(n);
        for (uint32_t i = 0; i < n && ok_; ++i) v.push_back(str());
        return v;
    }
    size_t left() const { return in_.size() - at_; }

private:
    std::string_view in_;
    size_t at_ = 0;
    bool ok_ = false;
    std::string fail() {
        ok_ = false;
        return {};
    }
    void raw(void* p, size_t n) {
        if (!ok_ || in_.size() - at_ < n) {
            ok_ = false;
            return;
        }
        std::memcpy(p, in_.data() + at_, n);
        at_ += n;
    }
};

}  // namespace

std::string encode(const Delivery& d) {
    Writer w('D');
    w.str(d.origin);
    w.u64(d.seq);
    w.str(d.ns);
    w.list(d.rooms);
    w.list(d.users);
    w.list(d.except_rooms);
    w.list(d.except_users);
    w.u32(static_cast<uint32_t>(d.frames.size()));
    for (const auto& f : d.frames) {
        w.u8(f.binary ? 1 : 0);
        w.str(f.bytes);
    }
    return w.take();
}

std::string encode(const ModuleMessage& m) {
    Writer w('M');
    w.str(m.origin);
    w.str(m.module);
    w.str(m.payload);
    return w.take();
}

std::string encode(const DisconnectRequest& r) {
    Writer w('X');
    w.str(r.origin);
    w.str(r.ns);
    w.str(r.user);
    w.str(r.sid);
    return w.take();
}

char message_kind(std::string_view bytes) {
    if (bytes.size() < 2 || bytes[1] != kVersion) return 0;
    return bytes[0] == 'D' || bytes[0] == 'M' || bytes[0] == 'X' ? bytes[0] : 0;
}

std::optional<Delivery> decode_delivery(std::string_view bytes) {
    Reader r(bytes, 'D');
    Delivery d;
    d.origin = r.str();
    d.seq = r.u64();
    d.ns = r.str();
    d.rooms = r.list();
    d.users = r.list();
    d.except_rooms = r.list();
    d.except_users = r.list();
    const uint32_t n = r.u32();
    if (!r.ok() || n > r.left() / 5) return std::nullopt;
    d.frames.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        WireFrame f;
        f.binary = r.u8() != 0;
        f.bytes = r.str();
        d.frames.push_back(std::move(f));
    }
    if (!r.done() || d.frames.empty()) return std::nullopt;
    return d;
}

std::optional<ModuleMessage> decode_module_message(std::string_view bytes) {
    Reader r(bytes, 'M');
    ModuleMessage m;
    m.origin = r.str();
    m.module = r.str();
    m.payload = r.str();
    if (!r.done()) return std::nullopt;
    return m;
}

std::optional<DisconnectRequest> decode_disconnect(std::string_view bytes) {
    Reader r(bytes, 'X');
    DisconnectRequest d;
    d.origin = r.str();
    d.ns = r.str();
    d.user = r.str();
    d.sid = r.str();
    if (!r.done()) return std::nullopt;
    return d;
}

}  // namespace sb::cluster
