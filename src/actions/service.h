#pragma once
// Everything an action handler may use, in one object handed to each call.
#include <cstdint>
#include <functional>
#include <string>

#include "common/clock.h"
#include "storage/log_store.h"
#include "streams/stream_registry.h"
#include "streams/throughput_limiter.h"

namespace kinesd::delivery {
class firehose_registry;
}

namespace kinesd::actions {

class subscription_hub;

struct service_settings {
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    std::uint32_t shard_limit = 500;          // DescribeLimits, LimitExceededException
    std::uint32_t on_demand_stream_limit = 50;
    std::uint32_t on_demand_shard_count = 4;  // shards an ON_DEMAND stream starts with
    std::int64_t iterator_ttl_ms = 300000;    // AWS: 5 minutes
};

class service {
public:
    service(service_settings settings, storage::log_store& store, streams::stream_registry& streams,
            const kinesd::clock& clock, std::string secret)
        : settings_(std::move(settings)), store_(store), streams_(streams), clock_(clock), secret_(std::move(secret)) {}

    const service_settings& settings() const { return settings_; }
    storage::log_store& store() { return store_; }
    streams::stream_registry& streams() { return streams_; }
    const kinesd::clock& clock() const { return clock_; }
    // HMAC key for shard iterators and paging tokens; lives in the data
    // directory so iterators stay valid across restarts.
    const std::string& secret() const { return secret_; }
    // Delivery streams (Firehose); null when the server runs without them.
    delivery::firehose_registry* firehose() const { return firehose_; }
    void set_firehose(delivery::firehose_registry* registry) { firehose_ = registry; }
    // Runs work on the action worker pool (set by main). Used to resume a
    // request from a thread that must not block, such as the storage writer.
    void post(std::function<void()> work) const {
        if (post_) post_(std::move(work));
    }
    void set_post(std::function<void(std::function<void()>)> post) { post_ = std::move(post); }
    // Before an action that names resources: catches up with the changes
    // other front ends on the same store made, so that a client's next call
    // sees what its last one did wherever each landed. Worker threads only.
    void catch_up() const {
        if (catch_up_) catch_up_();
    }
    void set_catch_up(std::function<void()> fn) { catch_up_ = std::move(fn); }
    // The stream kept under `key`; when it is not known here, after catching
    // up once (it may have been created through another front end a moment
    // ago). Worker threads only.
    streams::stream_snapshot find_stream_caught_up(std::string_view key) const {
        auto s = streams_.find(key);
        if (!s && catch_up_) {
            catch_up_();
            s = streams_.find(key);
        }
        return s;
    }
    // Per-shard throughput limits; null (the default) enforces none.
    streams::throughput_limiter* limiter() const { return limiter_; }
    void set_limiter(streams::throughput_limiter* limiter) { limiter_ = limiter; }

    // Enhanced fan-out subscriptions; null when the server runs without them.
    subscription_hub* subscriptions() const { return subscriptions_; }
    void set_subscriptions(subscription_hub* hub) { subscriptions_ = hub; }

    // Streams and delivery streams belong to accounts. The default
    // account's keep their plain names as registry and storage keys, so data
    // directories from before accounts keep working; another account's are
    // kept under "<account>/<name>", which no name can clash with since
    // names cannot hold '/'.
    std::string resource_key(std::string_view account, std::string_view name) const {
        if (account.empty() || account == settings_.account_id) return std::string(name);
        std::string key(account);
        key += '/';
        key += name;
        return key;
    }
    static std::string_view name_of_key(std::string_view key) {
        auto slash = key.find('/');
        return slash == std::string_view::npos ? key : key.substr(slash + 1);
    }
    std::string_view account_of_key(std::string_view key) const {
        auto slash = key.find('/');
        return slash == std::string_view::npos ? std::string_view(settings_.account_id) : key.substr(0, slash);
    }

    // The ARN of the stream kept under `key` (see resource_key).
    std::string stream_arn(std::string_view key) const {
        std::string arn = "arn:aws:kinesis:" + settings_.region + ":";
        arn += account_of_key(key);
        arn += ":stream/";
        arn += name_of_key(key);
        return arn;
    }

private:
    service_settings settings_;
    storage::log_store& store_;
    streams::stream_registry& streams_;
    const kinesd::clock& clock_;
    std::string secret_;
    delivery::firehose_registry* firehose_ = nullptr;
    streams::throughput_limiter* limiter_ = nullptr;
    subscription_hub* subscriptions_ = nullptr;
    std::function<void(std::function<void()>)> post_;
    std::function<void()> catch_up_;
};

}  // namespace kinesd::actions
