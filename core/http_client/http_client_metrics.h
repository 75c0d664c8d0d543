// Per-destination numbers for outbound HTTP requests, for /metrics.
//
// An operator whose backend slows down or fails wants to see it by
// destination before clients complain: requests by outcome, a latency
// histogram and how many are in flight. A destination is the request's
// origin (scheme://host:port); a module may call any URL, so the label set
// is capped and further origins are counted under "other".
#pragma once

#include "http_client/http_client.h"

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace sb::http {

class ClientMetrics {
public:
    static constexpr size_t kMaxDestinations = 64;
    static constexpr std::array<double, 12> kBucketsSeconds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1,   0.25,   0.5,   1,    2.5,   10};

    struct Destination {
        std::array<uint64_t, 10> by_outcome{};  // indexed by Outcome
        std::array<uint64_t, kBucketsSeconds.size()> buckets{};  // not cumulative
        uint64_t count = 0;
        uint64_t sum_us = 0;
        uint64_t in_flight = 0;
    };

    // The label for a URL's origin (capped: "other" past kMaxDestinations).
    std::string destination_of(const std::string& url);
    void started(const std::string& destination);
    void ended(const std::string& destination, Outcome outcome, uint64_t elapsed_us);
    // A request refused before it started (it was never in flight).
    void refused(const std::string& destination, Outcome outcome);
    std::string render() const;

private:
    std::map<std::string, Destination> destinations_;
};

}  // namespace sb::http
