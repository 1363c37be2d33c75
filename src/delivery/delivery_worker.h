#pragma once
// Delivers one delivery stream to S3.
//
// Its thread reads records from the stream's shard logs (its own DirectPut
// log, or every shard of the source Kinesis stream) into an open buffer,
// seals the buffer into a batch when the buffering hints say so, and hands
// the batch to the upload pool, which compresses and writes it. Checkpoints
// move only after S3 acknowledged a batch, and only in read order: a batch
// is checkpointed once it and every batch sealed before it are written. So
// a crash at any moment re-delivers what was not acknowledged (duplicates
// possible) and loses nothing.
//
// Failed uploads are retried with exponential backoff; while they fail the
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
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "delivery/firehose_registry.h"
#include "delivery/lambda_processor.h"
#include "delivery/s3_client.h"
#include "storage/store.h"
#include "streams/stream_registry.h"

namespace kinesd::delivery {

struct delivery_options {
    s3_config s3;
    int upload_threads = 2;
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
    // Data transformation (Lambda processors): the functions, and what the
    // transformation event names.
    functions::invoker* invoker = nullptr;
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    std::int64_t invoke_timeout_ms = 300000;
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
    storage::store& store;
    const kinesd::clock& clock;
    s3_client& s3;
    boost::asio::thread_pool& pool;
    const delivery_options& options;
};

class delivery_worker : public std::enable_shared_from_this<delivery_worker> {
public:
    delivery_worker(worker_context ctx, delivery_snapshot stream);
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
        std::string cf;
        storage::shard_ref log;
        std::uint64_t next = 0;   // first counter not yet read
        std::uint64_t saved = 0;  // checkpoint in the store
        std::uint32_t index = 0;
        std::optional<std::uint32_t> parent, adjacent_parent;
        std::optional<std::int64_t> closed_ms;
        std::uint64_t created_s = 0;  // of the source shard, for sequence numbers
    };
    struct batch;
    struct buffer {
        std::string body;
        std::size_t records = 0;
        std::int64_t oldest_ms = 0;
        std::map<std::string, std::uint64_t> ends;  // lane -> next after this buffer
        std::vector<source_record> sources;  // with a Lambda processor: what it transforms
    };

    void run();
    void flush(deadline until);
    void step(bool flushing);
    void apply_update();
    void switch_to(delivery_snapshot next);
    void check_version(std::int64_t arrival_ms);
    void refresh_lanes();
    bool lane_finished(const lane& l, std::int64_t now) const;
    bool lane_eligible(const lane& l, std::int64_t now) const;
    void read_lanes(bool flushing);
    bool room_for_batch(bool flushing) const;
    void seal();
    void post(const std::shared_ptr<batch>& b);
    void attempt(const std::shared_ptr<batch>& b);
    void settle();  // handles finished and failed batches
    void checkpoint(const batch& b);
    // For DeliveryToS3.DataFreshness: the oldest record read and not yet
    // acknowledged by S3, into the stream's metrics.
    void publish_oldest_pending();
    std::int64_t next_wake(std::int64_t now) const;

    worker_context ctx_;
    delivery_snapshot stream_;
    s3_settings s3_;
    std::vector<lane> lanes_;
    std::int64_t lanes_refreshed_ms_ = 0;
    buffer open_;
    std::deque<std::shared_ptr<batch>> in_flight_;
    std::int64_t backoff_ms_ = 0;
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

}  // namespace kinesd::delivery
