#pragma once
// What kinesd knows about one Kinesis stream. Persisted as JSON in the meta
// column family (to_json/from_json); shard logs are attached after loading.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/uint128.h"
#include "storage/log_store.h"
#include "streams/stream_metrics.h"

namespace kinesd::streams {

struct shard_state {
    std::uint32_t index = 0;
    uint128 starting_hash = 0;
    uint128 ending_hash = 0;
    std::optional<std::uint32_t> parent;
    std::optional<std::uint32_t> adjacent_parent;
    std::uint64_t created_s = 0;            // goes into every sequence number
    std::optional<std::int64_t> closed_ms;  // set once split or merged away
    storage::shard_ref log;

    bool open() const { return !closed_ms.has_value(); }
};

struct consumer_state {
    std::string name;
    std::int64_t created_ms = 0;
    std::int64_t active_at_ms = 0;
    std::optional<std::int64_t> deleting_since_ms;  // DELETING since then, gone after the delete delay
    // run time only (null when metrics are off); see stream_metrics.h
    std::shared_ptr<consumer_metrics> metrics;
};

enum class stream_status { creating, active, updating, deleting };
const char* to_string(stream_status s);

struct stream_state {
    std::string name;
    std::uint64_t uid = 0;  // incarnation: a re-created name gets a new one
    std::int64_t created_ms = 0;
    std::int64_t active_at_ms = 0;    // CREATING until then
    std::int64_t updating_until_ms = 0;  // UPDATING until then
    std::optional<std::int64_t> deleting_since_ms;
    int retention_hours = 24;
    std::string stream_mode = "PROVISIONED";
    std::string encryption_type = "NONE";
    std::string key_id;
    std::vector<std::string> shard_level_metrics;
    std::map<std::string, std::string> tags;
    int max_record_size_kib = 1024;
    std::optional<int> warm_throughput_mibps;
    // RecordDistributionStrategy: "USER_PARTITION_KEY" or "AUTO". AWS applies
    // it to ON_DEMAND streams only, so a PROVISIONED stream routes by key
    // whatever is stored (see distributes_automatically).
    std::string record_distribution = "USER_PARTITION_KEY";
    std::uint32_t next_shard_index = 0;
    std::vector<shard_state> shards;  // by index
    std::vector<consumer_state> consumers;
    std::string resource_policy;  // PutResourcePolicy's JSON text, empty if none
    // run time only (null when metrics are off): shared by every snapshot
    // of this incarnation, see stream_metrics.h
    std::shared_ptr<stream_metrics> metrics;

    stream_status status(std::int64_t now_ms) const;
    const shard_state* find_shard(std::uint32_t index) const;
    std::size_t open_shard_count() const;
    // The open shard whose hash range holds `hash`; null if none (cannot
    // happen while the open shards cover the whole space).
    const shard_state* route(uint128 hash) const;
    std::int64_t retention_ms() const { return std::int64_t(retention_hours) * 3600 * 1000; }
    bool distributes_automatically() const { return stream_mode == "ON_DEMAND" && record_distribution == "AUTO"; }
    std::size_t max_record_bytes() const { return std::size_t(max_record_size_kib) * 1024; }

    nlohmann::json to_json() const;
    static stream_state from_json(const nlohmann::json& j);
};

// Evenly split hash ranges for n shards, as AWS lays them out: width
// floor(2^128 / n), the last shard ending at 2^128 - 1.
std::vector<std::pair<uint128, uint128>> even_hash_ranges(std::uint32_t n);

}  // namespace kinesd::streams
