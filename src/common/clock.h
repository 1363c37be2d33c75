#pragma once
// The server's notion of "now". Retention, iterator expiry, arrival times and
// Firehose buffering deadlines all read it, never the system clock directly,
// so that a test can start the server with its clock moved (--clock-offset)
// and watch a day of retention pass without waiting a day.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace kinesd {

class clock {
public:
    explicit clock(std::int64_t offset_ms = 0) : offset_ms_(offset_ms) {}

    std::int64_t now_ms() const {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() +
               offset_ms_.load(std::memory_order_relaxed);
    }
    std::chrono::system_clock::time_point now() const {
        return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms()));
    }
    std::int64_t offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }
    void set_offset_ms(std::int64_t ms) { offset_ms_.store(ms, std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> offset_ms_;
};

}  // namespace kinesd
