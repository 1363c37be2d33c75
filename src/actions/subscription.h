#pragma once
// One SubscribeToShard answer: an event stream that pushes a shard's records
// to one consumer as they commit, for up to the subscription lifetime (five
// minutes on AWS), then ends so the client subscribes again.
//
// Threads: the connection pulls on its strand (body_stream). Reading the
// shard and encoding an event run as one step on the worker pool, one step
// at a time. A step runs when the client has taken the last event and there
// is reason to look: a commit on the shard (commit_notifier, called from the
// storage writer), the heartbeat or lifetime timer, or a change the hub
// reports (takeover, consumer or stream gone, reshard, shutdown). At most
// one event waits for the client, so a subscriber that stops reading holds
// one event's memory and costs no reads.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actions/body_stream.h"
#include "codec/codec.h"
#include "storage/log_store.h"
#include "streams/commit_notifier.h"

namespace kinesd::actions {

class service;
class subscription_hub;

struct subscription_target {
    std::string stream_name;
    std::uint64_t stream_uid = 0;
    std::uint32_t shard_index = 0;
    std::uint64_t shard_created_s = 0;
    storage::shard_ref log;
    std::string consumer_name;
    std::int64_t consumer_created_ms = 0;
    std::string consumer_arn;
    // First counter to deliver.
    std::uint64_t next_counter = 1;
};

// Where a subscription's events stop: at most this many records, and the
// record that crosses this many data bytes is the last of an event.
inline constexpr std::size_t event_max_records = 10000;
inline constexpr std::size_t event_max_bytes = 1u << 20;

class subscription : public body_stream, public std::enable_shared_from_this<subscription> {
public:
    subscription(service& svc, subscription_hub& hub, codec::wire_format format, subscription_target target,
                 std::int64_t started_ms);
    ~subscription() override;

    const subscription_target& target() const { return target_; }
    std::int64_t started_ms() const { return started_ms_; }

    const char* content_type() const override { return "application/vnd.amazon.eventstream"; }
    void start(std::function<void()> wake) override;
    pulled pull(std::string& out) override;
    void cancel() override;

    // Ends the stream with a ResourceInUseException event: a newer
    // subscription for the same consumer and shard took over.
    void supersede();
    // Ends the stream after what is ready (server shutdown).
    void stop();
    // Looks again now (a reshard, a deregistration, a deletion).
    void kick();

private:
    // Reads the shard and encodes the next event, on a worker thread.
    void step();
    // What step() decided: bytes to hand out and whether they end the stream.
    struct outcome {
        std::string bytes;
        bool end = false;
    };
    outcome next_event(std::int64_t now_ms);
    // A SubscribeToShardEvent around `count` records already encoded in the
    // request's format; no continuation at the end of a closed shard.
    void records_event(outcome& out, const std::string& continuation, std::int64_t behind, std::string_view records,
                       std::size_t count, const nlohmann::json* children);
    void exception_event(outcome& out, std::string_view type, const std::string& message);
    std::string continuation_of(std::uint64_t counter);
    // Under mutex_: waits for the next commit and arms the timer. False when
    // the next record is already committed: step again instead.
    bool wait_locked(std::int64_t now_ms);

    service& svc_;
    subscription_hub& hub_;
    const codec::wire_format format_;
    subscription_target target_;
    const std::int64_t started_ms_;

    std::mutex mutex_;
    std::function<void()> wake_;
    std::string ready_;  // the bytes the client has not pulled yet
    bool ended_ = false;  // nothing after ready_
    bool stepping_ = false;
    bool cancelled_ = false;
    bool superseded_ = false;
    bool stopping_ = false;
    bool first_event_sent_ = false;
    streams::commit_notifier::token wait_token_ = 0;
    boost::asio::steady_timer timer_;

    // step() only (steps never overlap)
    std::int64_t last_event_ms_ = 0;
    std::uint64_t last_counter_ = 0;  // of the last record delivered, 0 if none
    std::string last_sequence_;
};

}  // namespace kinesd::actions
