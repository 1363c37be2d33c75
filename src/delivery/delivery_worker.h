#pragma once
// Delivers one delivery stream to its destination (delivery/destination.h).
//
// Its thread reads records from the stream's shard logs (its own DirectPut
// log, or every shard of the source Kinesis stream), runs them through the
// processors (record_processing.h) into open buffers (one, or one per
// partition with dynamic partitioning: partition_buffers.h), seals a buffer
// into a batch when the buffering hints say so (delivery_worker_seal.cc), and
// hands the batch to the upload pool, which delivers it to the destination
// (destination.h), after a Lambda transformation when the stream has one
// (transformed_delivery.h). Checkpoints move only after the destination
// acknowledged: batches leave in_flight_ in seal order, and a lane's
// checkpoint never passes the first record of a buffer or batch not yet
// acknowledged (partition_buffers.h says why). So a crash at any moment
// re-delivers what was not acknowledged (duplicates possible) and loses
// nothing.
//
// Failed deliveries are retried with the destination's back-off for its
// retry window, then go to its error output; while they fail the
// stream's health carries a FailureDescription. The number of batches in
// flight is bounded, so a long outage leaves records in RocksDB rather than
// in memory.
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "delivery/destination.h"
#include "delivery/firehose_registry.h"
#include "delivery/lambda_processor.h"
#include "delivery/lane_leases.h"
#include "delivery/partition_buffers.h"
#include "delivery/record_processing.h"
#include "delivery/s3_client.h"
#include "storage/log_store.h"
#include "streams/stream_registry.h"

namespace kinesd::delivery {

struct delivery_options {
    s3_config s3;
    int upload_threads = 2;
    int http_threads = 8;  // HTTP endpoint requests (mostly waiting on the network)
    std::int64_t poll_ms = 100;            // idle wait between reads
    std::int64_t initial_backoff_ms = 1000;
    std::int64_t max_backoff_ms = 30000;
    // After this long failing to write a batch, it goes to ErrorOutputPrefix
    // (AWS retries S3 for 24 hours).
    std::int64_t retry_window_ms = 24LL * 3600 * 1000;
    std::size_t max_in_flight = 3;         // sealed batches per stream
    std::int64_t stop_flush_ms = 10000;    // how long stop() may flush when given no deadline
    // Bytes a flush reads before it waits for them to be written: it bounds
    // memory, not what is flushed.
    std::size_t stop_flush_bytes = 256u << 20;
    // For the delivery stream ARN that HTTP endpoints and functions are sent.
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    // Data transformation (Lambda processors): the functions.
    functions::invoker* invoker = nullptr;
    std::int64_t invoke_timeout_ms = 300000;
    // Dynamic partitioning: AWS's default quota of active partitions per
    // stream; records of further partitions go to the error prefix.
    std::size_t max_active_partitions = 500;
    // Sealed batches per stream with dynamic partitioning, where many
    // partitions reach their buffering interval together.
    std::size_t max_in_flight_partitioned = 32;
    // HTTP endpoint delivery: timeout of one request (AWS: 3 minutes) and a
    // CA file trusted besides the system's.
    std::int64_t http_timeout_ms = 180'000;
    std::string http_ca_file;
};

// What a flushing stop left undelivered. Nothing is lost either way: what
// was not written stays in the store and goes out after the next start.
struct flush_result {
    bool complete = true;           // every record read and written
    std::size_t objects_left = 0;   // sealed but not written to S3
    std::size_t records_left = 0;   // in those objects
};

struct worker_context {
    firehose_registry& registry;
    streams::stream_registry& streams;
    storage::log_store& store;
    const kinesd::clock& clock;
    s3_client& s3;
    boost::asio::thread_pool& pool;
    boost::asio::thread_pool& http_pool;
    const delivery_options& options;
};

class delivery_worker : public std::enable_shared_from_this<delivery_worker> {
public:
    // With `claims`, it reads and checkpoints only the lanes they grant
    // (several front ends share the store: lane_leases.h); without, every lane.
    delivery_worker(worker_context ctx, delivery_snapshot stream, std::shared_ptr<lane_claims> claims = nullptr);
    ~delivery_worker();
    delivery_worker(const delivery_worker&) = delete;
    delivery_worker& operator=(const delivery_worker&) = delete;

    void start();
    // A new version of the stream (UpdateDestination, encryption, tags).
    void update(delivery_snapshot stream);
    using deadline = std::chrono::steady_clock::time_point;
    // Asks the thread to end. With `flush`, it first reads everything left in
    // its logs, seals it and writes it, until `until` (by default
    // options.stop_flush_ms from now). join() waits for it; stop() does both.
    void request_stop(bool flush, std::optional<deadline> until = std::nullopt);
    void join();
    void stop(bool flush) {
        request_stop(flush);
        join();
    }
    // After join(): what a flushing stop could not deliver.
    const flush_result& flushed() const { return flushed_; }

private:
    struct lane {
        std::string id;  // its shard id; "" for a DirectPut log
        std::string cf;
        storage::shard_ref log;
        std::uint64_t next = 0;   // first counter not yet read
        std::uint64_t saved = 0;  // checkpoint in the store
        std::uint32_t index = 0;
        std::optional<std::uint32_t> parent, adjacent_parent;
        std::optional<std::int64_t> closed_ms;
        std::uint64_t created_s = 0;  // of the source shard, for sequence numbers
        // Whether this front end reads it (holds its lease). A lane read
        // elsewhere follows its stored checkpoint, so that its children
        // know when it is finished.
        bool held = true;
        // Closed and checkpointed to its end: nobody needs to read it or
        // hold its lease any more.
        bool done = false;
    };
    struct batch;

    void run();
    void flush(deadline until);
    void step(bool flushing);
    void apply_update();
    void switch_to(delivery_snapshot next);
    void check_version(std::int64_t arrival_ms);
    void refresh_lanes();
    void claim_lanes();
    std::uint64_t stored_checkpoint(const lane& l) const;
    // Whether a closed lane's `position` (its read position or its
    // checkpoint) is past its last record, on any front end.
    bool read_to_end(const lane& l, std::uint64_t position, std::int64_t now) const;
    bool lane_finished(const lane& l, std::int64_t now) const;
    bool lane_done(const lane& l, std::int64_t now) const;
    bool lane_eligible(const lane& l, std::int64_t now) const;
    void read_lanes(bool flushing);
    bool room_for_batch(bool flushing) const;
    // Runs one stored record through the processors into its buffers;
    // false (nothing placed) when a full buffer cannot be sealed yet.
    bool place(lane& l, const storage::record_view& r, bool flushing, std::size_t& placed_bytes);
    std::set<std::string> active_partitions() const;
    void seal();  // every open buffer
    void seal(const std::string& id);
    void post(const std::shared_ptr<batch>& b);
    void attempt(const std::shared_ptr<batch>& b);
    void settle();  // handles finished and failed batches
    void checkpoint(const batch& b);
    std::shared_ptr<destination> make_destination_for(const delivery_stream& s) const;
    // For DeliveryToS3.DataFreshness: the oldest record read and not yet
    // acknowledged by S3, into the stream's metrics.
    void publish_oldest_pending();
    std::int64_t next_wake(std::int64_t now) const;

    worker_context ctx_;
    delivery_snapshot stream_;
    s3_settings s3_;
    processing_settings processing_;
    record_pipeline pipeline_;  // this thread's jq programs
    std::vector<delivery_record> processed_;
    std::vector<failed_record> failed_;
    std::shared_ptr<destination> destination_;
    std::shared_ptr<lane_claims> claims_;
    std::vector<lane> lanes_;
    std::int64_t lanes_refreshed_ms_ = 0;
    partition_buffers open_;
    std::deque<std::shared_ptr<batch>> in_flight_;
    std::size_t flushed_bytes_ = 0;  // read by the current flush round
    std::size_t flushed_records_ = 0;
    bool source_missing_ = false;
    std::int64_t version_checked_ms_ = 0;

    mutable std::mutex mutex_;  // guards the fields below and batch states
    std::condition_variable cv_;
    delivery_snapshot pending_;
    bool wake_ = false;
    bool stopping_ = false;
    bool flush_ = false;
    std::optional<deadline> flush_until_;
    flush_result flushed_;  // written by the thread before it ends
    std::thread thread_;
};

// A sealed buffer on its way to the destination. Defined here for the
// worker's files (delivery_worker*.cc) alone.
struct delivery_worker::batch {
    enum class state { running, done, failed, waiting };
    // The destination of the stream version the batch was sealed under.
    std::shared_ptr<destination> dest;
    std::unique_ptr<delivery> job;
    std::size_t records = 0;
    std::int64_t oldest_ms = 0;
    std::map<std::string, std::uint64_t> firsts;  // lane -> first counter held
    std::map<std::string, std::uint64_t> ends;    // lane -> next after this batch
    std::string partition;  // the open buffer's id it was sealed from
    std::int64_t sealed_ms = 0;
    std::int64_t failing_since_ms = 0;  // the retry window runs from here
    std::int64_t waited_ms = 0;         // back-off waits since then
    std::int64_t retry_at_ms = 0;
    int attempts = 0;
    bool to_error_prefix = false;
    std::shared_ptr<delivery_metrics> metrics;
    bool http = false;  // counted as DeliveryToHttpEndpoint
    // guarded by the worker's mutex
    state st = state::running;
    attempt_result result;
};

}  // namespace kinesd::delivery
