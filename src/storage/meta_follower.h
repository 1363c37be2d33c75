#pragma once
// Keeps in-memory registries in step with metadata other front ends write.
// It watches prefixes of the metadata store and hands each change, in the
// order the store made them, to that prefix's handler on one thread of its
// own: the backend's watch thread only queues, so a handler may read the
// store (open shards, reload a value) without holding that thread up.
//
// Handlers see this process's own writes too (the store cannot tell them
// apart); registries recognise those by the revision they wrote and skip
// them.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/log_store.h"

namespace kinesd::storage {

class meta_follower {
public:
    using handler = std::function<void(const std::string& key, const std::optional<std::string>& value,
                                       std::uint64_t revision)>;

    explicit meta_follower(log_store& store);
    ~meta_follower();
    meta_follower(const meta_follower&) = delete;
    meta_follower& operator=(const meta_follower&) = delete;

    // Before start().
    void follow(std::string prefix, handler fn);
    void start();
    void stop();
    // Returns once every change queued before the call has been handled
    // (tests, and a clean stop).
    void drain();

private:
    struct change {
        std::size_t handler = 0;
        std::string key;
        std::optional<std::string> value;
        std::uint64_t revision = 0;
    };
    void loop();

    log_store& store_;
    std::vector<std::pair<std::string, handler>> handlers_;
    std::vector<std::uint64_t> watches_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<change> queue_;
    bool busy_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace kinesd::storage
