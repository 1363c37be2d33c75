#include "streams/commit_notifier.h"

#include <atomic>

namespace kinesd::streams {

commit_notifier::commit_notifier(storage::log_store& store) : store_(store) {
    store_.set_commit_listener([this](storage::shard_log& shard) { on_commit(shard); });
}

commit_notifier::~commit_notifier() { store_.set_commit_listener(nullptr); }

commit_notifier::token commit_notifier::wait(storage::shard_log& shard, std::uint64_t counter,
                                             std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    shard.watchers.fetch_add(1, std::memory_order_relaxed);
    // Pairs with the writer's fence between publishing `committed` and
    // reading the watcher count (store::commit).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (shard.committed.load(std::memory_order_relaxed) >= counter) {
        shard.watchers.fetch_sub(1, std::memory_order_relaxed);
        return 0;
    }
    const token id = next_token_++;
    waiting_[&shard].push_back({id, counter, std::move(fn)});
    return id;
}

template <typename Due>
std::vector<std::function<void()>> commit_notifier::take(storage::shard_log& shard, Due due) {
    std::vector<std::function<void()>> fire;
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(&shard);
    if (it == waiting_.end()) return fire;
    auto& list = it->second;
    std::erase_if(list, [&](waiter& w) {
        if (!due(w)) return false;
        fire.push_back(std::move(w.fn));
        return true;
    });
    shard.watchers.fetch_sub(std::uint32_t(fire.size()), std::memory_order_relaxed);
    if (list.empty()) waiting_.erase(it);
    return fire;
}

void commit_notifier::cancel(storage::shard_log& shard, token t) {
    if (t == 0) return;
    take(shard, [t](const waiter& w) { return w.id == t; });
}

void commit_notifier::wake_all(storage::shard_log& shard) {
    for (auto& fn : take(shard, [](const waiter&) { return true; })) fn();
}

void commit_notifier::on_commit(storage::shard_log& shard) {
    const auto committed = shard.committed.load(std::memory_order_acquire);
    for (auto& fn : take(shard, [committed](const waiter& w) { return w.counter <= committed; })) fn();
}

}  // namespace kinesd::streams
