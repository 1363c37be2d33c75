#pragma once
// Every delivery stream kinesd knows, in memory, persisted in the meta column
// family. Like the Kinesis stream registry, streams are immutable snapshots:
// readers take a shared_ptr under a shared lock, the control plane copies,
// changes, persists and swaps under the exclusive lock.
//
// The registry also keeps delivery checkpoints: for each shard log a delivery
// stream reads (its own DirectPut log, or the shards of its source Kinesis
// stream), the first counter not yet acknowledged by S3. A checkpoint carries
// the delivery stream's incarnation id, so one left behind by a deleted
// stream of the same name is never taken for the new one's.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "delivery/delivery_stream.h"
#include "storage/log_store.h"

namespace kinesd::delivery {

using delivery_snapshot = std::shared_ptr<const delivery_stream>;

struct firehose_registry_options {
    std::int64_t create_delay_ms = 0;
    std::int64_t delete_delay_ms = 0;
};

class firehose_registry {
public:
    firehose_registry(storage::log_store& store, const kinesd::clock& clock, firehose_registry_options options);

    // Loads every delivery stream and attaches the DirectPut logs. Returns
    // the column families they use (see stream_registry::load).
    std::set<std::string> load();

    delivery_snapshot find(std::string_view name) const;
    std::vector<delivery_snapshot> list() const;  // sorted by name

    // Creates the stream (and its DirectPut log). `check` runs under the
    // lock and may throw to refuse.
    delivery_snapshot create(delivery_stream state, const std::function<void(const firehose_registry&)>& check);
    // Runs fn on a copy under the exclusive lock, persists and publishes it;
    // fn may throw to leave everything unchanged. Null when absent.
    delivery_snapshot update(std::string_view name, const std::function<void(delivery_stream&)>& fn);
    // Forgets the stream now: metadata, DirectPut log and checkpoints.
    void remove(std::string_view name);
    // Finishes deletions whose delay has passed.
    void sweep();

    bool contains_unlocked(std::string_view name) const { return streams_.count(std::string(name)) != 0; }
    const firehose_registry_options& options() const { return options_; }
    const kinesd::clock& clock() const { return clock_; }
    storage::log_store& store() { return store_; }

    // The column family of a delivery stream's DirectPut records.
    static std::string log_cf_name(std::uint64_t uid);

    // First undelivered counter of `shard` for this incarnation, if saved.
    std::optional<std::uint64_t> checkpoint(const delivery_stream& s, const std::string& shard) const;
    bool save_checkpoint(const delivery_stream& s, const std::string& shard, std::uint64_t next);

    // A change of a delivery stream's metadata seen by the metadata watcher
    // (value null: deleted), applied when newer than what this registry
    // holds (firehose_registry_follow.cc).
    void apply_stored(std::string_view key, const std::string* value, std::uint64_t revision);

private:
    // False when another front end changed the stream since `expected`.
    bool persist(const delivery_stream& s, std::uint64_t expected);
    void refresh_locked(std::string_view name);
    void apply_stored_locked(std::string_view name, const std::string* value, std::uint64_t revision);
    void attach_log(delivery_stream& s);
    void delete_checkpoints(std::string_view name, std::optional<std::uint64_t> keep_uid);

    storage::log_store& store_;
    const kinesd::clock& clock_;
    firehose_registry_options options_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, delivery_snapshot, std::less<>> streams_;
    // The stored revision of each stream's metadata held here (of its
    // deletion, for a deleted one).
    std::map<std::string, std::uint64_t, std::less<>> revisions_;
};

}  // namespace kinesd::delivery
