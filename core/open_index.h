// A hash index of objects that carry their own key: this node's sockets by
// id, its Engine.IO sessions by sid.
//
// Every connected client has an entry in both, and both are looked up on hot
// paths (modules name sockets by id in nearly every host call; every polling
// request names its session). An open-addressing table of pointers, the key
// read from the object itself, costs 11-21 bytes per entry and no heap block
// of its own, where a node-based hash map costs a 32- or 48-byte block plus
// its bucket. Linear probing; removal shifts the following entries back
// instead of leaving tombstones, so lookups stay short however many entries
// come and go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sb {

// Traits: `static Key key(const T*)`, the object's key, which must not
// change while it is indexed; `static uint64_t hash(Key)`.
template <typename T, typename Traits>
class OpenIndex {
public:
    using Key = decltype(Traits::key(static_cast<const T*>(nullptr)));

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    T* find(Key key) const {
        if (size_ == 0) return nullptr;
        for (size_t i = home(key);; i = next(i)) {
            T* s = slots_[i];
            if (!s) return nullptr;
            if (Traits::key(s) == key) return s;
        }
    }

    // The key must not be in the index already.
    void insert(T* item) {
        if ((size_ + 1) * 4 > slots_.size() * 3) resize(slots_.empty() ? kMinSlots : slots_.size() * 2);
        place(item);
        size_++;
    }

    void erase(Key key) {
        if (size_ == 0) return;
        size_t hole = home(key);
        while (slots_[hole] && Traits::key(slots_[hole]) != key) hole = next(hole);
        if (!slots_[hole]) return;
        slots_[hole] = nullptr;
        size_--;
        // Move back every following entry whose probe sequence passed the
        // hole, so a lookup never stops early at it.
        for (size_t i = next(hole); slots_[i]; i = next(i)) {
            const size_t want = home(Traits::key(slots_[i]));
            const bool passed_hole = hole < i ? (want <= hole || want > i) : (want <= hole && want > i);
            if (passed_hole) {
                slots_[hole] = slots_[i];
                slots_[i] = nullptr;
                hole = i;
            }
        }
        if (slots_.size() > kMinSlots && size_ * 8 < slots_.size()) resize(slots_.size() / 2);
    }

    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (T* s : slots_)
            if (s) fn(s);
    }

private:
    static constexpr size_t kMinSlots = 16;

    // Fibonacci hashing: sequential ids spread over the whole table.
    size_t home(Key key) const { return static_cast<size_t>((Traits::hash(key) * 0x9E3779B97F4A7C15ull) >> shift_); }
    size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

    void place(T* item) {
        size_t i = home(Traits::key(item));
        while (slots_[i]) i = next(i);
        slots_[i] = item;
    }

    void resize(size_t slots) {
        std::vector<T*> old(slots, nullptr);
        old.swap(slots_);
        shift_ = 64;
        for (size_t n = slots; n > 1; n >>= 1) shift_--;
        for (T* s : old)
            if (s) place(s);
    }

    std::vector<T*> slots_;
    unsigned shift_ = 64;
    size_t size_ = 0;
};

}  // namespace sb
