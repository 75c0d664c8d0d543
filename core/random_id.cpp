// Unguessable identifiers (see random_id.h).
#include "random_id.h"

#include <sys/random.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace sb {

std::string random_id() {
    static std::array<uint8_t, 4096> pool;
    static size_t used = pool.size();
    constexpr size_t kBytes = 12;  // 96 bits read, 90 used: 15 characters
    if (used + kBytes > pool.size()) {
        size_t got = 0;
        while (got < pool.size()) {
            ssize_t n = getrandom(pool.data() + got, pool.size() - got, 0);
            if (n < 0) throw std::runtime_error("getrandom failed");
            got += static_cast<size_t>(n);
        }
        used = 0;
    }
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Built in a local buffer: 16 characters pushed into the string would
    // outgrow its inline buffer and leave a heap block behind every id.
    char out[16];
    const uint8_t* p = pool.data() + used;
    for (size_t i = 0, o = 0; i < kBytes; i += 3, o += 4) {
        uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
        out[o] = kAlphabet[(v >> 18) & 63];
        out[o + 1] = kAlphabet[(v >> 12) & 63];
        out[o + 2] = kAlphabet[(v >> 6) & 63];
        out[o + 3] = kAlphabet[v & 63];
    }
    used += kBytes;
    return std::string(out, 15);
}

}  // namespace sb
