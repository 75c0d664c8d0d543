// Fixed-bucket latency histogram for the benchmark load generator.
//
// Percentiles over millions of samples must cost nothing per sample and be
// mergeable across generator processes, so values (nanoseconds) go into
// log-linear buckets in the manner of HdrHistogram: exact below 128 ns, then
// 64 buckets per power of two, i.e. a relative bucket width of at most 1/64
// (~1.6%). Recording is one count-leading-zeros and an increment; no
// allocation after construction. The bucket index scheme is mirrored by the
// driver (tests/bench/run), which merges the sparse bucket lists that each
// generator prints and computes the reported percentiles from them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

class LatencyHistogram {
public:
    static constexpr int kSubBits = 6;                          // 64 sub-buckets per power of two
    static constexpr uint64_t kLinear = uint64_t{1} << (kSubBits + 1);  // exact below 128
    static constexpr size_t kBuckets = (41 - kSubBits) * 64 + 128;       // values up to 2^41 ns (~36 min)

    LatencyHistogram() : counts_(kBuckets, 0) {}

    static size_t index_of(uint64_t v) {
        if (v < kLinear) return static_cast<size_t>(v);
        const int msb = 63 - __builtin_clzll(v);
        const int shift = msb - kSubBits;
        const size_t idx = static_cast<size_t>(shift) * 64 + static_cast<size_t>(v >> shift);
        return idx < kBuckets ? idx : kBuckets - 1;
    }
    static uint64_t lower_of(size_t idx) {
        if (idx < kLinear) return idx;
        const size_t shift = idx / 64 - 1;
        return static_cast<uint64_t>(idx - shift * 64) << shift;
    }
    static uint64_t width_of(size_t idx) { return idx < kLinear ? 1 : uint64_t{1} << (idx / 64 - 1); }

    void record(uint64_t v) {
        counts_[index_of(v)]++;
        total_++;
        if (v > max_) max_ = v;
    }
    void reset() {
        std::fill(counts_.begin(), counts_.end(), 0);
        total_ = 0;
        max_ = 0;
    }
    uint64_t count() const { return total_; }
    uint64_t max() const { return max_; }

    // Midpoint of the bucket holding the q-quantile (0 when empty).
    uint64_t quantile(double q) const {
        if (total_ == 0) return 0;
        uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
        if (rank >= total_) rank = total_ - 1;
        uint64_t seen = 0;
        for (size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen > rank) return std::min(lower_of(i) + width_of(i) / 2, max_);
        }
        return max_;
    }

    // {"count":N,"p50_us":..,"p99_us":..,"p999_us":..,"max_us":..,"buckets":[[idx,count],...]}
    void append_json(std::string& out) const {
        char tmp[256];
        std::snprintf(tmp, sizeof tmp,
                      "{\"count\":%llu,\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f,\"buckets\":[",
                      static_cast<unsigned long long>(total_), static_cast<double>(quantile(0.5)) / 1e3,
                      static_cast<double>(quantile(0.99)) / 1e3, static_cast<double>(quantile(0.999)) / 1e3,
                      static_cast<double>(max_) / 1e3);
        out += tmp;
        bool first = true;
        for (size_t i = 0; i < kBuckets; ++i) {
            if (!counts_[i]) continue;
            std::snprintf(tmp, sizeof tmp, "%s[%zu,%llu]", first ? "" : ",", i,
                          static_cast<unsigned long long>(counts_[i]));
            out += tmp;
            first = false;
        }
        out += "]}";
    }

private:
    std::vector<uint64_t> counts_;
    uint64_t total_ = 0;
    uint64_t max_ = 0;
};

}  // namespace bench
