#pragma once
// Runs one delivery_worker per ACTIVE delivery stream and the thread pool
// that compresses and uploads their objects. A control thread keeps the
// workers in step with the registry: it starts workers for new streams, hands
// new versions to running ones, stops the workers of deleted streams and
// finishes deletions whose delay has passed.
//
// stop() flushes: every worker reads what is left in its logs, seals it and
// waits (until a deadline) for its objects to be written, so a SIGTERM leaves
// nothing undelivered when S3 answers, then gives up the lane leases of the
// streams it flushed, so another front end goes on at once. What misses the
// deadline stays in the store, checkpoints unmoved, and is delivered after
// the next start (or by the front end that takes its leases once they expire).
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "delivery/delivery_worker.h"
#include "delivery/firehose_registry.h"
#include "delivery/lane_leases.h"
#include "delivery/s3_client.h"
#include "storage/lease_keeper.h"
#include "storage/log_store.h"
#include "streams/stream_registry.h"

namespace kinesd::delivery {

class delivery_manager {
public:
    delivery_manager(firehose_registry& registry, streams::stream_registry& streams, storage::log_store& store,
                     const kinesd::clock& clock, delivery_options options);
    ~delivery_manager();
    delivery_manager(const delivery_manager&) = delete;
    delivery_manager& operator=(const delivery_manager&) = delete;

    struct stop_report {
        std::size_t streams = 0;     // delivery streams flushed
        std::size_t incomplete = 0;  // of them, those with data left
        std::size_t objects_left = 0;
        std::size_t records_left = 0;
        bool complete() const { return incomplete == 0; }
    };
    void start();
    // Flushes until `until`. Uploads still running then are abandoned to the
    // process's end (their thread pool and client are let go, not joined):
    // the caller should close the store and exit without running static
    // destructors.
    stop_report stop(std::chrono::steady_clock::time_point until);
    void stop() { stop(std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_flush_ms)); }
    // Runs one reconciliation pass now (tests; the control thread does it
    // every 100 ms).
    void reconcile();
    // With several front ends on one store, each lane of a delivery stream
    // (a DirectPut stream's log, each shard of a Kinesis source) is read by
    // the front end holding its lease ("firehose/<name>/<uid>", plus
    // "/<shard id>" for a Kinesis source: lane_leases.h). Every front end
    // runs a worker per stream; it reads and checkpoints only the lanes it
    // holds and takes the others over once their leases expire. Set before
    // start(). `shared`: whether other front ends may use the store (else
    // this one takes every lane at once).
    void use_leases(storage::lease_keeper& leases, bool shared) {
        leases_ = &leases;
        shared_store_ = shared;
    }

private:
    struct running {
        std::shared_ptr<delivery_worker> worker;
        delivery_snapshot stream;
        std::shared_ptr<lane_leases> lanes;  // with leases
    };
    void loop();

    firehose_registry& registry_;
    streams::stream_registry& streams_;
    storage::log_store& store_;
    const kinesd::clock& clock_;
    delivery_options options_;
    // Held by pointer so that stop() can let them go with uploads running.
    std::unique_ptr<s3_client> s3_;
    std::unique_ptr<boost::asio::thread_pool> pool_;
    // HTTP endpoint requests, apart: an endpoint that never answers holds a
    // thread for the whole request timeout, and must not hold up S3 uploads.
    std::unique_ptr<boost::asio::thread_pool> http_pool_;

    storage::lease_keeper* leases_ = nullptr;
    bool shared_store_ = true;

    std::mutex workers_mutex_;
    std::map<std::string, running> workers_;

    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool stopped_ = false;
    std::thread thread_;
};

}  // namespace kinesd::delivery
