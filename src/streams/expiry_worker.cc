#include "streams/expiry_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kinesd::streams {

expiry_worker::expiry_worker(stream_registry& registry, std::int64_t interval_ms)
    : registry_(registry), interval_ms_(std::max<std::int64_t>(interval_ms, 10)) {}

expiry_worker::~expiry_worker() { stop(); }

void expiry_worker::start() { thread_ = std::thread([this] { loop(); }); }

void expiry_worker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void expiry_worker::loop() {
    // Deletions are checked often (their delay is short); expiry at its own pace.
    const std::int64_t tick_ms = 100;
    std::int64_t since_expiry = interval_ms_;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            registry_.sweep();
            if (since_expiry >= interval_ms_) {
                run_once();
                since_expiry = 0;
            }
        } catch (const std::exception& e) {
            spdlog::error("background maintenance failed: {}", e.what());
        }
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(tick_ms), [this] { return stopping_; });
        since_expiry += tick_ms;
    }
}

std::uint64_t expiry_worker::run_once() {
    auto& store = registry_.store();
    std::int64_t now = registry_.clock().now_ms();
    std::uint64_t trimmed = 0;
    for (auto& stream : registry_.list()) {
        std::int64_t horizon = now - stream->retention_ms();
        for (auto& shard : stream->shards) {
            if (!shard.log || shard.log->dropped) continue;
            auto& log = *shard.log;
            std::uint64_t before = log.trimmed_below.load();
            std::uint64_t below = store.counter_at_time(log, horizon);
            if (below <= before) continue;
            auto status = store.trim(log, below);
            if (!status.ok()) {
                spdlog::error("expiring records of {} failed: {}", log.name, status.to_string());
                continue;
            }
            trimmed += below - before;
            // Give the space back now rather than whenever compaction would
            // get to the range tombstone.
            store.compact(log);
        }
    }
    if (trimmed) spdlog::info("expired {} records past retention", trimmed);
    return trimmed;
}

}  // namespace kinesd::streams
