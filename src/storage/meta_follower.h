#pragma once
// Keeps in-memory registries in step with metadata other front ends write.
// It watches prefixes of the metadata store and hands each change, in the
// order the store made them, to that prefix's handler on one thread of its
// own: the backend's watch thread only queues, so a handler may read the
// store (open shards, reload a value) without holding that thread up.
//
// One watch covers the whole store, so that the revisions handled tell how
// far this front end has caught up (catch_up).
//
// Handlers see this process's own writes too (the store cannot tell them
// apart); registries recognise those by the revision they wrote and skip
// them.
#include <chrono>
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
    // Waits (up to `limit`) until every change committed anywhere before the
    // call has been handled: a front end behind a load balancer answers a
    // client's next call with what the client just did through another one.
    // Does I/O: worker threads only. False when it gave up waiting.
    bool catch_up(std::chrono::milliseconds limit);

private:
    struct change {
        std::string key;
        std::optional<std::string> value;
        std::uint64_t revision = 0;
    };
    void loop();

    log_store& store_;
    std::vector<std::pair<std::string, handler>> handlers_;
    std::uint64_t watch_ = 0;
    // The newest revision handled (changes of keys no handler follows count
    // too: they come through the same watch, in the store's order).
    std::uint64_t handled_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<change> queue_;
    bool busy_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace kinesd::storage
