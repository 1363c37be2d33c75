#pragma once
// Every stream kinesd knows, in memory, persisted in the meta column family.
//
// Streams are immutable snapshots: readers (the data plane) take a
// shared_ptr under a shared lock and route without further locking; the
// control plane copies a stream, changes the copy, persists it and swaps it
// in under the exclusive lock. So a put never waits on a control-plane write
// for longer than a pointer swap.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "storage/log_store.h"
#include "streams/stream_state.h"

namespace kinesd::streams {

using stream_snapshot = std::shared_ptr<const stream_state>;

struct registry_options {
    std::int64_t create_delay_ms = 0;
    std::int64_t delete_delay_ms = 0;
    std::int64_t update_delay_ms = 0;
    // Streams and consumers carry counters for /metrics (stream_metrics.h).
    bool metrics = true;
};

class stream_registry {
public:
    stream_registry(storage::log_store& store, const kinesd::clock& clock, registry_options options);

    // Loads every stream from the meta column family and attaches its shard
    // logs. Returns the column families the streams use, so that the caller
    // can drop leftovers once every owner of column families has loaded.
    std::set<std::string> load();

    stream_snapshot find(std::string_view name) const;
    // As find(), without waiting: `busy` (and null) while a metadata change
    // holds the registry, e.g. across its synced write.
    stream_snapshot try_find(std::string_view name, bool& busy) const;
    std::vector<stream_snapshot> list() const;  // sorted by name
    std::size_t open_shard_total() const;
    // Open shards of the streams whose names `include` accepts.
    std::size_t open_shard_total(const std::function<bool(std::string_view name)>& include) const;

    // Creates the stream and its shard column families. The caller has
    // checked the name is free under `check`, which runs under the lock and
    // may throw to refuse (name taken, limit reached).
    stream_snapshot create(stream_state state, const std::function<void(const stream_registry&)>& check);

    // Runs fn on a copy of the stream under the exclusive lock, then persists
    // and publishes the copy. fn may throw to leave everything unchanged.
    // Shards that fn adds without a log get one. Returns null when the stream
    // does not exist.
    stream_snapshot update(std::string_view name, const std::function<void(stream_state&)>& fn);

    // Forgets the stream now: removes its metadata and drops its shards.
    void remove(std::string_view name);

    // Finishes deletions whose delay has passed. Called periodically.
    void sweep();

    const registry_options& options() const { return options_; }
    // Called (outside the registry's lock, on the thread that made the
    // change) with a stream's uid after update() or remove() changed it, so
    // readers that follow the stream (fan-out subscriptions) look again at
    // once. Set once before serving.
    void set_change_listener(std::function<void(std::uint64_t uid)> listener) { change_listener_ = std::move(listener); }
    const kinesd::clock& clock() const { return clock_; }
    storage::log_store& store() { return store_; }

    // Unlocked helpers for `check` callbacks.
    bool contains_unlocked(std::string_view name) const { return streams_.count(std::string(name)) != 0; }
    std::size_t open_shard_total_unlocked() const;
    std::size_t open_shard_total_unlocked(const std::function<bool(std::string_view name)>& include) const;

private:
    void persist(const stream_state& s);
    void attach_logs(stream_state& s, bool create);
    // Gives the stream and its consumers their counters where they have none yet.
    void attach_metrics(stream_state& s) const;

    storage::log_store& store_;
    const kinesd::clock& clock_;
    registry_options options_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, stream_snapshot, std::less<>> streams_;
    std::function<void(std::uint64_t)> change_listener_;
};

}  // namespace kinesd::streams
