#pragma once
// Runs every enabled event source mapping. Threads:
//   - the poller thread (this class): every refresh_ms, or at once when the
//     API changed a mapping, it finishes deletions, hands changed settings to
//     the lanes, starts a lane for every shard of each mapping's source
//     stream (new shards after a reshard too) and stops the lanes of
//     mappings disabled or deleted;
//   - one thread per (mapping, shard) lane (shard_lane.h) that reads,
//     invokes the function (blocking), and checkpoints; with
//     ParallelizationFactor > 1 a lane runs its extra groups on short-lived
//     threads of its own for the length of one batch.
// None of them is an I/O or worker-pool thread of the API.
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "delivery/s3_client.h"
#include "lambda/esm_metrics.h"
#include "lambda/invoke.h"
#include "lambda/mapping_registry.h"
#include "lambda/shard_lane.h"
#include "storage/lease_keeper.h"
#include "storage/log_store.h"
#include "streams/stream_registry.h"

namespace kinesd::lambda {

class poller {
public:
    poller(mapping_registry& mappings, streams::stream_registry& streams, storage::log_store& store,
           const kinesd::clock& clock, invoke_function invoke, esm_metrics& metrics, poller_options options,
           std::string default_account, streams::commit_notifier* notifier = nullptr);
    ~poller();

    void start();
    void stop();
    // A mapping changed: look now rather than at the next refresh.
    void wake();
    // With several front ends on one store, a mapping's lanes run on the
    // front end holding its lease ("esm/<uuid>"). Set before start().
    void use_leases(storage::lease_keeper& leases) { leases_ = &leases; }

private:
    struct run_state {
        std::shared_ptr<mapping_source> source;
        std::map<std::string, std::unique_ptr<shard_lane>> lanes;  // by shard log name
        std::uint64_t stream_uid = 0;
    };
    void loop();
    void refresh();
    void sync(run_state& run, const mapping_snapshot& m);
    std::string stream_key(const mapping& m) const;

    mapping_registry& mappings_;
    streams::stream_registry& streams_;
    storage::log_store& store_;
    const kinesd::clock& clock_;
    invoke_function invoke_;
    esm_metrics& metrics_;
    poller_options options_;
    std::string default_account_;
    std::unique_ptr<delivery::s3_client> s3_;
    streams::commit_notifier* notifier_;
    storage::lease_keeper* leases_ = nullptr;

    std::map<std::string, run_state> runs_;  // by mapping UUID; the poller thread's alone
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace kinesd::lambda
