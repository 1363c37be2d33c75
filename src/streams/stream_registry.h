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

    // ---- following other front ends (stream_registry_follow.cc)
    // A change of a stream's metadata, seen by the metadata watcher (value
    // null: deleted). Applied when its revision is newer than what this
    // registry holds; its own changes come back here and are skipped.
    void apply_stored(std::string_view key, const std::string* value, std::uint64_t revision);
    // Reads the stream's metadata again and applies it if newer: for a put
    // whose shard another front end closed before this one heard of it.
    stream_snapshot reload(std::string_view name);

    // Tries of update() against changes other front ends make meanwhile.
    static constexpr int max_update_attempts = 5;

private:
    // False when another front end changed the stream since `expected`.
    bool persist(const stream_state& s, std::uint64_t expected);
    std::uint64_t known_revision(std::string_view name) const;
    // Reads and applies the stored stream (under the exclusive lock).
    void refresh_locked(std::string_view name);
    bool apply_stored_locked(std::string_view name, const std::string* value, std::uint64_t revision);
    void attach_logs(stream_state& s, bool create);
    // Opens the logs the stream's shards lack without creating any; false
    // if one does not exist.
    bool attach_logs_existing(stream_state& s);
    // Gives the stream and its consumers their counters where they have none yet.
    void attach_metrics(stream_state& s) const;

    storage::log_store& store_;
    const kinesd::clock& clock_;
    registry_options options_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, stream_snapshot, std::less<>> streams_;
    // The stored revision of each stream's metadata this registry holds
    // (of its deletion, for a deleted one).
    std::map<std::string, std::uint64_t, std::less<>> revisions_;
    std::function<void(std::uint64_t)> change_listener_;
};

}  // namespace kinesd::streams
