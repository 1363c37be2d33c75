#pragma once
// The NATS JetStream backend of storage::log_store: several kinesd front ends
// share one NATS cluster and see the same shards and metadata.
//
// Layout on the NATS side (names.h):
// - one file-backed stream per shard, "<prefix>_<shard name>", replicated
//   options.replicas times, taking the subject "<prefix>.rec.<shard name>";
//   a record's counter is its stream sequence, its bytes one frame
//   (record_frame.h). Closing a shard moves the stream to the subject
//   "<prefix>.closed.<shard name>": a publish to the live subject then finds
//   no responder on any front end, while purges (trims) still work, which a
//   sealed stream would refuse.
// - one key-value bucket "<prefix>_meta" (history 1) for metadata, keys
//   encoded reversibly (names.h); a key's revision is its KV revision.
//
// Appends: a publisher thread stamps arrival times and publishes every entry
// asynchronously with a Nats-Msg-Id of "<append id>-<index>" (a random
// 64-bit id per append); acknowledgements arrive on the client library's
// thread, and the append completes once every entry is acknowledged. A
// timeout or a missing responder republishes the same message (same id, so
// a late-stored first copy is not stored twice) a bounded number of times,
// then the append fails as unavailable.
//
// Threads: the publisher; a follower that polls the stream state of shards
// with watchers every 100 ms, so appends made by other front ends wake local
// readers; the client library's own threads, which run acknowledgements and
// metadata watches. No call made by an I/O thread (append, writable, the
// counters) waits on the network.
#include <memory>

#include "storage/jetstream_options.h"
#include "storage/log_store.h"

namespace kinesd {
class clock;
}

namespace kinesd::storage {

// Knobs for tests and measurements, not for configuration.
struct jetstream_tuning {
    // Direct gets a read keeps in flight at once; 1 reads one record per
    // round trip.
    std::size_t read_pipeline = 128;
    // Republishes of one entry after a timeout or no responder, before the
    // append fails as unavailable: with the default timeout, about 12 s in
    // all, beyond the few seconds a leader election takes.
    int publish_retries = 3;
};

// Connects and opens (creating when missing) the metadata bucket. Throws
// std::runtime_error when no server of options.urls answers.
std::unique_ptr<log_store> open_jetstream_store(const jetstream_options& options, const kinesd::clock& clock,
                                                const jetstream_tuning& tuning = {});

}  // namespace kinesd::storage
