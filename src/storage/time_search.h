#pragma once
// AT_TIMESTAMP's search, shared by the backends: the first counter whose
// record arrived at or after t_ms, by binary search over counters with
// first_at_or_after (committed + 1 when none did). Arrival times do not
// decrease along counters (log_store.h says where they may, slightly).
#include <cstdint>

#include "storage/log_store.h"

namespace kinesd::storage {

std::uint64_t search_counter_at_time(log_store& store, shard_log& shard, std::int64_t t_ms);

}  // namespace kinesd::storage
