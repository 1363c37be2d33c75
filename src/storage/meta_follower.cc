#include "storage/meta_follower.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kinesd::storage {

meta_follower::meta_follower(log_store& store) : store_(store) {}

meta_follower::~meta_follower() { stop(); }

void meta_follower::follow(std::string prefix, handler fn) { handlers_.emplace_back(std::move(prefix), std::move(fn)); }

void meta_follower::start() {
    thread_ = std::thread([this] { loop(); });
    watch_ = store_.watch_meta("", [this](std::string_view key, const std::string* value, std::uint64_t revision) {
        change c{std::string(key), value ? std::optional<std::string>(*value) : std::nullopt, revision};
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(c));
        }
        cv_.notify_one();
    });
    // The watch hands on changes from its start: what came before is in the
    // registries' loaded state, so the follower starts caught up to here.
    const auto point = store_.meta_sync_point();
    std::lock_guard lock(mutex_);
    handled_ = std::max(handled_, point);
}

void meta_follower::stop() {
    if (watch_) store_.unwatch_meta(watch_);
    watch_ = 0;
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void meta_follower::drain() {
    std::unique_lock lock(mutex_);
    idle_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
}

bool meta_follower::catch_up(std::chrono::milliseconds limit) {
    const auto point = store_.meta_sync_point();
    if (point == 0) return true;
    std::unique_lock lock(mutex_);
    return idle_cv_.wait_for(lock, limit, [&] { return stop_ || handled_ >= point; });
}

void meta_follower::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        auto c = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        for (auto& [prefix, fn] : handlers_) {
            if (!c.key.starts_with(prefix)) continue;
            try {
                fn(c.key, c.value, c.revision);
            } catch (const std::exception& e) {
                spdlog::error("following metadata {}: {}", c.key, e.what());
            }
        }
        lock.lock();
        busy_ = false;
        handled_ = std::max(handled_, c.revision);
        idle_cv_.notify_all();
    }
    idle_cv_.notify_all();
}

}  // namespace kinesd::storage
