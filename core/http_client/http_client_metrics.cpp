// Counting and rendering outbound HTTP request metrics (see the header).
#include "http_client/http_client_metrics.h"

#include "metrics.h"

#include <curl/curl.h>

#include <cstdio>

namespace sb::http {

namespace {

std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') { out += "\\n"; continue; }
        out += c;
    }
    return out;
}

std::string origin_of(const std::string& url) {
    CURLU* u = curl_url();
    std::string origin = "invalid";
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
        char *scheme = nullptr, *host = nullptr, *port = nullptr;
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        if (scheme && host) origin = std::string(scheme) + "://" + host + (port ? std::string(":") + port : "");
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
    }
    curl_url_cleanup(u);
    return origin;
}

}  // namespace

std::string ClientMetrics::destination_of(const std::string& url) {
    std::string origin = origin_of(url);
    if (destinations_.count(origin) || destinations_.size() < kMaxDestinations) return origin;
    return "other";
}

void ClientMetrics::started(const std::string& destination) { destinations_[destination].in_flight++; }

void ClientMetrics::ended(const std::string& destination, Outcome outcome, uint64_t elapsed_us) {
    Destination& d = destinations_[destination];
    if (d.in_flight) d.in_flight--;
    d.by_outcome[static_cast<size_t>(outcome)]++;
    d.count++;
    d.sum_us += elapsed_us;
    const double seconds = static_cast<double>(elapsed_us) / 1e6;
    for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
        if (seconds <= kBucketsSeconds[i]) {
            d.buckets[i]++;
            break;
        }
    }
}

void ClientMetrics::refused(const std::string& destination, Outcome outcome) {
    destinations_[destination].by_outcome[static_cast<size_t>(outcome)]++;
}

std::string ClientMetrics::render() const {
    std::string out;
    if (destinations_.empty()) return out;
    append_header(out, "switchboard_http_client_requests_total", "counter",
                  "Outbound HTTP requests by destination and outcome.");
    for (const auto& [name, d] : destinations_) {
        for (size_t o = 0; o < d.by_outcome.size(); ++o) {
            if (!d.by_outcome[o]) continue;
            append_labelled(out, "switchboard_http_client_requests_total",
                            "destination=\"" + label_value(name) + "\",outcome=\"" +
                                outcome_name(static_cast<Outcome>(o)) + "\"",
                            d.by_outcome[o]);
        }
    }
    append_header(out, "switchboard_http_client_in_flight", "gauge", "Outbound HTTP requests not yet ended.");
    for (const auto& [name, d] : destinations_)
        append_labelled(out, "switchboard_http_client_in_flight", "destination=\"" + label_value(name) + "\"",
                        d.in_flight);
    append_header(out, "switchboard_http_client_request_duration_seconds", "histogram",
                  "Time from start to end of outbound HTTP requests that were started.");
    for (const auto& [name, d] : destinations_) {
        const std::string dest = "destination=\"" + label_value(name) + "\"";
        uint64_t cumulative = 0;
        char le[32];
        for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
            cumulative += d.buckets[i];
            std::snprintf(le, sizeof le, "%g", kBucketsSeconds[i]);
            append_labelled(out, "switchboard_http_client_request_duration_seconds_bucket",
                            dest + ",le=\"" + le + "\"", cumulative);
        }
        append_labelled(out, "switchboard_http_client_request_duration_seconds_bucket", dest + ",le=\"+Inf\"",
                        d.count);
        char sum[48];
        std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(d.sum_us) / 1e6);
        out += "switchboard_http_client_request_duration_seconds_sum{" + dest + "} " + sum + "\n";
        append_labelled(out, "switchboard_http_client_request_duration_seconds_count", dest, d.count);
    }
    return out;
}

}  // namespace sb::http
