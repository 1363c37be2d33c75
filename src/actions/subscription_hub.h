#pragma once
// The live SubscribeToShard subscriptions, one per consumer and shard, and
// what they share: the commit notifier, the timers' executor and the
// heartbeat and lifetime settings. It applies AWS's rule for a second
// subscription to the same consumer and shard (refused within five seconds
// of the first, a takeover after that) and tells subscriptions when their
// consumer, stream or shard changed so they end or move on at once. With
// front ends sharing a store the rule also holds across them
// (subscription_claims.h).
#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "actions/subscription_claims.h"
#include "streams/commit_notifier.h"

namespace kinesd::actions {

class subscription;
struct subscription_target;

struct subscription_settings {
    // An event at least this often while nothing new arrives.
    std::int64_t heartbeat_ms = 5000;
    // A subscription ends this long after it started (AWS: five minutes).
    std::int64_t lifetime_ms = 300000;
    // A second subscription for the same consumer and shard is refused this
    // soon after the first started, while the first still runs.
    std::int64_t takeover_after_ms = 5000;
};

class subscription_hub {
public:
    subscription_hub(streams::commit_notifier& notifier, boost::asio::any_io_executor timers,
                     subscription_settings settings, std::string account_id)
        : notifier_(notifier), timers_(std::move(timers)), settings_(settings), account_id_(std::move(account_id)) {}

    streams::commit_notifier& notifier() { return notifier_; }
    const boost::asio::any_io_executor& timers() const { return timers_; }
    const subscription_settings& settings() const { return settings_; }

    // Before any subscription: keep the rule in the shared store too.
    void use_claims(subscription_claims* claims) { claims_ = claims; }
    // Registers a new subscription (a worker thread: with claims it writes
    // to the store). Throws ResourceInUseException when a running one for
    // the same consumer and shard started less than takeover_after_ms ago,
    // here or, with claims, on another front end; an older one is superseded.
    void admit(const std::shared_ptr<subscription>& sub, std::int64_t now_ms);
    // A claim changed in the store (the metadata follower's thread): a
    // subscription here whose claim another took is superseded.
    void claim_changed(const std::string& key, const std::string* value);
    void remove(const subscription& sub);

    // The consumer was deregistered, the stream deleted or resharded: its
    // subscriptions look again now and end or move on.
    void stream_changed(std::uint64_t stream_uid);
    // Ends every subscription (server shutdown); later admissions are refused.
    void stop_all();
    std::size_t size() const;
    // AWS's text for a second subscription to the same consumer and shard,
    // refused or taken over.
    std::string in_use_message(const subscription_target& t) const;

private:
    using key = std::tuple<std::uint64_t, std::string, std::uint32_t>;  // stream uid, consumer, shard
    struct entry {
        std::weak_ptr<subscription> sub;
        std::string claim_key, claim_id;  // with claims
    };
    std::vector<std::shared_ptr<subscription>> of_stream(std::uint64_t stream_uid) const;

    streams::commit_notifier& notifier_;
    boost::asio::any_io_executor timers_;
    subscription_settings settings_;
    std::string account_id_;
    mutable std::mutex mutex_;
    std::map<key, entry> live_;
    subscription_claims* claims_ = nullptr;
    bool stopped_ = false;
};

}  // namespace kinesd::actions
