#pragma once
// Removes records older than their stream's retention period, and finishes
// stream deletions whose delay has passed. Runs on its own thread so that
// range deletes and compactions never hold up requests. Readers already skip
// expired records, so how often this runs decides only when disk space comes
// back, never what a client can see.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "streams/stream_registry.h"

namespace kinesd::streams {

class expiry_worker {
public:
    expiry_worker(stream_registry& registry, std::int64_t interval_ms);
    ~expiry_worker();
    void start();
    void stop();
    // One pass over every stream; returns the number of records trimmed.
    std::uint64_t run_once();

private:
    void loop();
    stream_registry& registry_;
    std::int64_t interval_ms_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kinesd::streams
