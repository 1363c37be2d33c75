#pragma once
// Delivers one shard of a mapping's source stream to the function, on a
// thread of its own (so a failing function holds back only this shard, and
// never an I/O or worker thread).
//
// The loop: wait until the shard's parents are delivered to their ends
// (children after parents), pick the start (checkpoint, else the mapping's
// StartingPosition), then read a batch, drop what the filters refuse, hand
// the rest to batch_delivery, and save the checkpoint only once the function
// took the batch. A crash repeats at most the batch in flight; nothing is
// skipped. With a tumbling window the checkpoint stays at the window's first
// record until the window's final invocation, since the state built so far
// lives only in memory.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "delivery/s3_client.h"
#include "lambda/esm_metrics.h"
#include "lambda/invoke.h"
#include "lambda/kinesis_event.h"
#include "lambda/mapping_registry.h"
#include "storage/log_store.h"
#include "streams/commit_notifier.h"
#include "streams/stream_registry.h"

namespace kinesd::lambda {

struct poller_options {
    delivery::s3_config s3;           // for S3 on-failure destinations
    std::int64_t idle_poll_ms = 5;    // between looks at a quiet shard without a commit notifier
    std::int64_t refresh_ms = 200;    // mappings, shards and parents are reread this often
    std::int64_t initial_backoff_ms = 100;
    std::int64_t max_backoff_ms = 2000;
    // Data per batch: Lambda's payload limit is 6 MB, and base64 and the
    // event's JSON add to the data's size.
    std::size_t max_batch_bytes = 4u << 20;
};

// The mapping as a lane sees it: swapped by the poller when it changes.
class mapping_source {
public:
    explicit mapping_source(mapping_snapshot m) : current_(std::move(m)) {}
    mapping_snapshot get() const {
        std::lock_guard lock(mutex_);
        return current_;
    }
    void set(mapping_snapshot m) {
        std::lock_guard lock(mutex_);
        current_ = std::move(m);
    }
    std::shared_ptr<esm_counters> counters;

private:
    mutable std::mutex mutex_;
    mapping_snapshot current_;
};

struct lane_context {
    mapping_registry& registry;
    streams::stream_registry& streams;
    storage::log_store& store;
    const kinesd::clock& clock;
    const invoke_function& invoke;
    delivery::s3_client* s3;  // null: failures to S3 cannot be written
    const poller_options& options;
    streams::commit_notifier* notifier;  // null: quiet shards are polled every idle_poll_ms
};

class shard_lane {
public:
    shard_lane(lane_context ctx, std::shared_ptr<mapping_source> source, std::string stream_key,
               std::uint64_t stream_uid, std::uint32_t shard_index);
    ~shard_lane();
    shard_lane(const shard_lane&) = delete;
    shard_lane& operator=(const shard_lane&) = delete;

    void start();
    void request_stop();
    void join();
    // Read and delivered to the end of a closed shard (or the stream is gone).
    bool finished() const { return finished_.load(); }

private:
    void run();
    bool sleep_ms(std::int64_t ms);  // false when asked to stop
    bool parents_done(const streams::stream_state& s) const;
    bool refresh_stream();
    void choose_start(const mapping& m);
    // One round: read, filter, deliver, checkpoint. False when idle.
    bool step(const mapping_snapshot& m);
    void save(std::uint64_t next);
    bool deliver_window_end(const mapping_snapshot& m, std::int64_t now);

    lane_context ctx_;
    std::shared_ptr<mapping_source> source_;
    std::string stream_key_;
    std::uint64_t stream_uid_;
    std::uint32_t index_;
    event_context event_;
    storage::shard_ref log_;
    std::uint64_t created_s_ = 0;
    std::optional<std::int64_t> closed_ms_;
    std::optional<std::uint32_t> parent_, adjacent_parent_;
    std::shared_ptr<streams::consumer_metrics> consumer_metrics_;  // null: not through a consumer, or metrics off
    std::int64_t refreshed_ms_ = 0;
    bool parents_ok_ = false;
    bool started_ = false;
    std::uint64_t next_ = 0;  // first counter not yet handed over
    std::int64_t pending_since_ms_ = 0;  // batching window: when records first waited

    // Tumbling window in progress.
    struct window_state {
        std::int64_t start_ms = 0;
        std::uint64_t first_counter = 0;  // checkpoint while the window is open
        nlohmann::json state = nlohmann::json::object();
    };
    std::optional<window_state> window_;

    // What wakes the lane: a stop, or the storage writer committing the
    // record the lane waits for. Shared, since a commit callback may still
    // run after the lane has cancelled its wait.
    struct wake_state {
        std::mutex mutex;
        std::condition_variable cv;
        bool stop = false;
        bool committed = false;
    };
    // Waits for the shard to commit counter `from` (or for `ms`).
    bool wait_for_records(std::uint64_t from, std::int64_t ms);

    std::atomic<bool> stop_{false};
    std::atomic<bool> finished_{false};
    std::shared_ptr<wake_state> wake_ = std::make_shared<wake_state>();
    std::thread thread_;
};

}  // namespace kinesd::lambda
