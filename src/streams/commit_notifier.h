#pragma once
// Wakes readers when a shard commits: the push behind enhanced fan-out. A
// subscription that has read a shard to its end registers here once, and is
// called back (on the storage writer's thread: the callback must only post
// work) as soon as a commit makes its next record visible. Nothing polls.
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "storage/log_store.h"

namespace kinesd::streams {

class commit_notifier {
public:
    // Installs itself as the store's commit listener; the store must outlive
    // it, and the destructor removes the listener again.
    explicit commit_notifier(storage::log_store& store);
    ~commit_notifier();
    commit_notifier(const commit_notifier&) = delete;
    commit_notifier& operator=(const commit_notifier&) = delete;

    using token = std::uint64_t;
    // Calls `fn` once, from the writer, when a commit takes the shard's
    // committed counter to `counter` or beyond, and returns a token for
    // cancel(). Returns 0 without calling fn when the counter is already
    // there: the caller has records to read.
    token wait(storage::shard_log& shard, std::uint64_t counter, std::function<void()> fn);
    // Forgets a wait that has not fired; harmless when it has.
    void cancel(storage::shard_log& shard, token t);
    // Fires every wait on the shard now (it was closed or dropped, and its
    // readers must look again).
    void wake_all(storage::shard_log& shard);

private:
    struct waiter {
        token id;
        std::uint64_t counter;
        std::function<void()> fn;
    };
    void on_commit(storage::shard_log& shard);
    // Removes the waiters on `shard` that `due` accepts; returns their callbacks.
    template <typename Due>
    std::vector<std::function<void()>> take(storage::shard_log& shard, Due due);

    storage::log_store& store_;
    std::mutex mutex_;
    std::unordered_map<storage::shard_log*, std::vector<waiter>> waiting_;
    token next_token_ = 1;
};

}  // namespace kinesd::streams
