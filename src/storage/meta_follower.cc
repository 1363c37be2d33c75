#include "storage/meta_follower.h"

#include <spdlog/spdlog.h>

namespace kinesd::storage {

meta_follower::meta_follower(log_store& store) : store_(store) {}

meta_follower::~meta_follower() { stop(); }

void meta_follower::follow(std::string prefix, handler fn) { handlers_.emplace_back(std::move(prefix), std::move(fn)); }

void meta_follower::start() {
    thread_ = std::thread([this] { loop(); });
    for (std::size_t i = 0; i < handlers_.size(); ++i)
        watches_.push_back(store_.watch_meta(
            handlers_[i].first, [this, i](std::string_view key, const std::string* value, std::uint64_t revision) {
                change c{i, std::string(key), value ? std::optional<std::string>(*value) : std::nullopt, revision};
                {
                    std::lock_guard lock(mutex_);
                    queue_.push_back(std::move(c));
                }
                cv_.notify_one();
            }));
}

void meta_follower::stop() {
    for (auto id : watches_) store_.unwatch_meta(id);
    watches_.clear();
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

void meta_follower::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        auto c = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        try {
            handlers_[c.handler].second(c.key, c.value, c.revision);
        } catch (const std::exception& e) {
            spdlog::error("following metadata {}: {}", c.key, e.what());
        }
        lock.lock();
        busy_ = false;
        if (queue_.empty()) idle_cv_.notify_all();
    }
    idle_cv_.notify_all();
}

}  // namespace kinesd::storage
