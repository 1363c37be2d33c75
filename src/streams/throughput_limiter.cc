#include "streams/throughput_limiter.h"

#include <algorithm>

namespace kinesd::streams {

void throughput_limiter::bucket::refill(std::int64_t now) {
    if (now > updated_ms) {
        tokens = std::min(rate, tokens + rate * double(now - updated_ms) / 1000.0);
        updated_ms = now;
    }
}

throughput_limiter::shard_budget& throughput_limiter::budget(const std::string& shard_key, std::int64_t now) {
    auto it = shards_.find(shard_key);
    if (it == shards_.end()) {
        auto full = [&](double rate) { return bucket{rate, rate, now}; };
        it = shards_
                 .emplace(shard_key, shard_budget{full(limits_.write_bytes_per_s), full(limits_.write_records_per_s),
                                                  full(limits_.read_calls_per_s), full(limits_.read_bytes_per_s)})
                 .first;
    }
    auto& b = it->second;
    b.write_bytes.refill(now);
    b.write_records.refill(now);
    b.read_calls.refill(now);
    b.read_bytes.refill(now);
    return b;
}

bool throughput_limiter::try_write(const std::string& shard_key, std::size_t bytes) {
    if (!limits_.enabled) return true;
    std::lock_guard lock(mutex_);
    auto& b = budget(shard_key, clock_.now_ms());
    if (b.write_records.tokens < 1.0 || b.write_bytes.tokens < double(bytes)) return false;
    b.write_records.tokens -= 1.0;
    b.write_bytes.tokens -= double(bytes);
    return true;
}

bool throughput_limiter::try_read_call(const std::string& shard_key) {
    if (!limits_.enabled) return true;
    std::lock_guard lock(mutex_);
    auto& b = budget(shard_key, clock_.now_ms());
    if (b.read_calls.tokens < 1.0 || b.read_bytes.tokens <= 0.0) return false;
    b.read_calls.tokens -= 1.0;
    return true;
}

void throughput_limiter::charge_read_bytes(const std::string& shard_key, std::size_t bytes) {
    if (!limits_.enabled) return;
    std::lock_guard lock(mutex_);
    budget(shard_key, clock_.now_ms()).read_bytes.tokens -= double(bytes);
}

}  // namespace kinesd::streams
