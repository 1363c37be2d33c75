#pragma once
// The counters the request paths move: plain relaxed atomics, so that a put
// or a read pays one uncontended add per figure and never a lock or a map
// lookup. They live in the objects those paths already hold (a stream's
// state, a delivery stream, a consumer); the collector (collector.h) reads
// them when /metrics is scraped and builds the Prometheus families there.
//
// Header-only and free of Prometheus on purpose: streams/ and delivery/
// include it without linking the metrics layer.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace kinesd::metrics {

class counter {
public:
    void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// A value that is set, not summed (a lag, an age).
class gauge {
public:
    void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
    std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> value_{0};
};

// Request latencies in milliseconds, CloudWatch's unit for Latency. Fixed
// upper bounds; one observation is two adds and one bucket add. The counts
// kept here are per bucket; the collector makes them cumulative.
class latency_histogram {
public:
    static constexpr std::array<double, 14> bounds_ms = {0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000,
                                                         2500, 5000};

    void observe_us(std::int64_t us) {
        if (us < 0) us = 0;
        const double ms = double(us) / 1000.0;
        std::size_t i = 0;
        while (i < bounds_ms.size() && ms > bounds_ms[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        sum_us_.fetch_add(std::uint64_t(us), std::memory_order_relaxed);
    }
    void observe_since(std::chrono::steady_clock::time_point start) {
        observe_us(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
                       .count());
    }

    struct snapshot {
        std::array<std::uint64_t, bounds_ms.size() + 1> buckets{};  // the last one: above every bound
        std::uint64_t count = 0;
        double sum_ms = 0;
    };
    snapshot read() const {
        snapshot s;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
            s.count += s.buckets[i];
        }
        s.sum_ms = double(sum_us_.load(std::memory_order_relaxed)) / 1000.0;
        return s;
    }

private:
    std::array<std::atomic<std::uint64_t>, bounds_ms.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace kinesd::metrics
