#pragma once
// AWS's per-shard throughput limits, enforced only when asked for
// (--enforce-limits), so applications can exercise their backoff and retry
// paths against a local server: writes 1 MiB/s and 1,000 records/s per shard,
// GetRecords 5 calls/s and 2 MiB/s per shard.
//
// Token buckets refilled continuously from the server's clock; each bucket
// holds one second of capacity, as Kinesis allows short bursts up to the
// per-second rate.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace kinesd::streams {

struct throughput_limits {
    bool enabled = false;
    double write_bytes_per_s = 1024.0 * 1024.0;
    double write_records_per_s = 1000.0;
    double read_calls_per_s = 5.0;
    double read_bytes_per_s = 2.0 * 1024.0 * 1024.0;
};

class throughput_limiter {
public:
    throughput_limiter(const kinesd::clock& clock, throughput_limits limits) : clock_(clock), limits_(limits) {}

    bool enabled() const { return limits_.enabled; }
    // Takes one record of `bytes` from the shard's write budget; false when
    // the shard is over its limit (nothing is taken then).
    bool try_write(const std::string& shard_key, std::size_t bytes);
    // Takes one GetRecords call; false when over 5 calls/s or when earlier
    // reads used up the byte budget.
    bool try_read_call(const std::string& shard_key);
    // Charges the bytes a GetRecords call returned (may go negative: the
    // next calls are refused until the budget recovers, as on AWS).
    void charge_read_bytes(const std::string& shard_key, std::size_t bytes);

private:
    struct bucket {
        double tokens;
        double rate;
        std::int64_t updated_ms;
        void refill(std::int64_t now);
    };
    struct shard_budget {
        bucket write_bytes, write_records, read_calls, read_bytes;
    };
    shard_budget& budget(const std::string& shard_key, std::int64_t now);

    const kinesd::clock& clock_;
    throughput_limits limits_;
    std::mutex mutex_;
    std::unordered_map<std::string, shard_budget> shards_;
};

}  // namespace kinesd::streams
