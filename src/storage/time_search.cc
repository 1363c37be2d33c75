#include "storage/time_search.h"

namespace kinesd::storage {

std::uint64_t search_counter_at_time(log_store& store, shard_log& shard, std::int64_t t_ms) {
    std::uint64_t lo = shard.trimmed_below.load(), hi = shard.committed.load() + 1;
    while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        record_view v{};
        // A record past `hi` (stored elsewhere since committed was read)
        // counts as none: the answer stays within what was known.
        if (!store.first_at_or_after(shard, mid, &v) || v.counter >= hi || v.arrival_ms >= t_ms)
            hi = mid;
        else
            lo = v.counter + 1;
    }
    return lo;
}

}  // namespace kinesd::storage
