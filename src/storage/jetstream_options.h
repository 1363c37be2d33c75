#pragma once
// Settings of the NATS JetStream backend (--storage nats).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kinesd::storage {

struct jetstream_options {
    // nats://host:port, several for a cluster (any one is enough to connect).
    std::vector<std::string> urls{"nats://127.0.0.1:4222"};
    // Replicas of every shard stream and key-value bucket (1, 3 or 5).
    int replicas = 3;
    // Prefix of every stream, subject and bucket name, so several kinesd
    // clusters (or tests) can share one NATS cluster.
    std::string prefix = "kinesd";
    // How long one publish may wait for its acknowledgement before the
    // append fails as unavailable (and may be retried, deduplicated).
    std::chrono::milliseconds publish_timeout{3000};
    // Window within which JetStream drops a republished message id.
    std::chrono::seconds duplicate_window{120};
    // No MaxAge on shard streams: retention differs per Kinesis stream and
    // changes with IncreaseStreamRetentionPeriod, so kinesd's expiry worker
    // trims records, as on RocksDB.
};

}  // namespace kinesd::storage
