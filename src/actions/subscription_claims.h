#pragma once
// SubscribeToShard's rule for one consumer and shard (a second subscription
// is refused within five seconds of the first, and takes over after that),
// kept in the metadata store when several front ends share it: a client
// behind a load balancer reaches any of them, and the rule must hold across
// all. Each subscription writes a claim "<id> <started ms>" under
// "subscription/<stream uid>/<shard index>/<consumer>" by compare-and-swap;
// the front end whose subscription lost its claim learns of it from the
// metadata watch (subscription_hub::claim_changed) and ends that
// subscription with ResourceInUseException, as AWS ends the older one.
//
// A claim left by a front end that died is simply older than five seconds
// for the next subscription. Calls do metadata I/O: worker threads only.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "storage/log_store.h"

namespace kinesd::actions {

class subscription_claims {
public:
    subscription_claims(storage::log_store& store, std::string owner) : store_(store), owner_(std::move(owner)) {}

    static constexpr std::string_view prefix = "subscription/";
    static std::string key(std::uint64_t stream_uid, std::uint32_t shard_index, std::string_view consumer);

    // A new id for a subscription of this front end.
    std::string next_id();
    // Claims `key` for the subscription `id` started at now_ms. False when
    // another subscription claimed it less than window_ms before now_ms.
    bool claim(const std::string& key, const std::string& id, std::int64_t now_ms, std::int64_t window_ms);
    // Deletes the claim if it is still `id`'s (the subscription ended).
    void release(const std::string& key, const std::string& id);

    // The id in a stored claim.
    static std::string_view id_of(std::string_view value);

private:
    storage::log_store& store_;
    const std::string owner_;
    std::uint64_t next_ = 0;
    std::mutex mutex_;
};

}  // namespace kinesd::actions
