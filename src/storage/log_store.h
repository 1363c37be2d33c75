#pragma once
// The storage interface every layer above storage uses, and the only one:
// append a batch of records to shards and learn their counters, read a shard
// from a counter or a time, trim a shard below a counter, and small metadata
// values with compare-and-swap and watches (for checkpoints and leases too).
//
// Two backends implement it, chosen at start (storage/open_store.h):
// RocksDB embedded in the process (storage/rocksdb_store.*, the default) and
// a NATS JetStream cluster shared by several front ends
// (storage/jetstream/*). Nothing above this header knows which one runs;
// tests/unit/storage/log_store_conformance_test.cc holds both to the same
// contract.
//
// Counters: each shard numbers its records 1, 2, 3, ... in append order with
// no gaps a reader can observe (a trimmed prefix is simply gone). The
// sequence-number module (streams/encoding.h) prints a counter into AWS's
// sequence numbers; a shard's name carries its stream's incarnation, so a
// re-created stream never reuses a number.
//
// Durability: an append completes OK only once its records survive what the
// backend promises to survive (RocksDB: a synced WAL; JetStream: a quorum of
// replicas stored it). A completion that is not OK means not written, except
// `unavailable` after a timeout on a replicated backend, where the records
// may have been stored: a retry of the same request is then deduplicated by
// the backend rather than stored twice.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace kinesd::storage {

// One shard's log as the layers above see it. A backend derives from it to
// keep its own handles. The counters are what readers use to bound their
// scans and to answer LATEST; on a backend shared by several front ends they
// lag appends made elsewhere until refresh_tip() or the backend's follower
// (which runs for shards with watchers) has seen them.
struct shard_log {
    virtual ~shard_log() = default;
    std::string name;  // keys::shard_cf_name(stream uid, shard index)
    std::atomic<std::uint64_t> committed{0};      // highest durable counter known here
    std::atomic<std::uint64_t> trimmed_below{1};  // counters below this are gone
    std::atomic<std::int64_t> last_arrival_ms{0};
    std::atomic<bool> dropped{false};
    // Set when a reshard closes the shard: the backend refuses appends
    // routed to it by an older snapshot (status aborted), so nothing lands
    // behind a reader that has already reached the shard's end.
    std::atomic<bool> closed{false};
    // Readers waiting for the shard's next commit (fan-out subscriptions,
    // mapping lanes, delivery workers that are caught up). The commit
    // listener is called only for shards with watchers.
    std::atomic<std::uint32_t> watchers{0};
};
using shard_ref = std::shared_ptr<shard_log>;

struct append_entry {
    shard_log* shard = nullptr;
    std::string_view partition_key;
    std::string_view data;
    // filled in by the backend before completion
    std::uint64_t counter = 0;
    std::int64_t arrival_ms = 0;
    bool encrypted = false;  // stored with the record (KMS stream at write time)
};

struct append_request {
    std::vector<append_entry> entries;
    // Keeps the bytes that entries point into alive until completion.
    std::shared_ptr<void> owner;
    std::function<void(const status&)> done;
};

struct record_view {
    std::uint64_t counter;
    std::int64_t arrival_ms;
    std::string_view partition_key;
    std::string_view data;
    bool encrypted = false;
};

class log_store {
public:
    virtual ~log_store() = default;

    // "rocksdb" or "nats", for logs and /health only: nothing may branch on it.
    virtual std::string_view backend_name() const = 0;

    // ---- metadata: small values, durable when the call returns.
    virtual status put_meta(std::string_view key, std::string_view value) = 0;
    virtual status delete_meta(std::string_view key) = 0;
    virtual bool get_meta(std::string_view key, std::string* value) const = 0;
    virtual void scan_meta(std::string_view prefix,
                           const std::function<void(std::string_view key, std::string_view value)>& fn) const = 0;
    // Compare-and-swap. A revision names one version of a key's value and is
    // never 0; revision 0 means "absent". Each change of a key, a deletion
    // included, gets a higher revision than the one before, so a follower
    // can tell a stale notice from a fresh one (RocksDB numbers them in
    // memory from its start; JetStream uses the bucket's sequence). get_meta_revision sets *revision to
    // 0 when the key is absent. put_meta_if writes only while the key is at
    // `expected` (0: only if absent, so exactly one of several creators
    // wins) and sets *revision to the new one; otherwise it answers
    // conflict. delete_meta_if likewise.
    virtual status get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const = 0;
    virtual status put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                               std::uint64_t* revision) = 0;
    virtual status delete_meta_if(std::string_view key, std::uint64_t expected) = 0;
    // Calls fn for every later change of a key under `prefix`, made by this
    // or any other front end: the new value and its revision, or null and
    // the deletion's revision when it was deleted. Runs on a backend thread, in the
    // order the changes were made; fn must hand slow work elsewhere.
    // Returns an id for unwatch_meta. On RocksDB only this process writes,
    // and fn sees its own changes.
    using meta_watcher =
        std::function<void(std::string_view key, const std::string* value, std::uint64_t revision)>;
    virtual std::uint64_t watch_meta(std::string_view prefix, meta_watcher fn) = 0;
    virtual void unwatch_meta(std::uint64_t id) = 0;
    // A revision such that a watcher handed every change up to it has seen
    // every change committed anywhere before the call, so a front end can
    // catch up with what a client just did through another one. 0 when
    // watchers are called as part of each write (RocksDB): nothing to wait
    // for. Does I/O on a shared backend.
    virtual std::uint64_t meta_sync_point() const { return 0; }

    // ---- shards
    // Opens the shard, creating it when `create` is set. Returns null when
    // it does not exist and create is false. Names come from
    // keys::shard_cf_name.
    virtual shard_ref open_shard(const std::string& name, bool create) = 0;
    // The same for several shards at once, creating those that are missing.
    virtual std::vector<shard_ref> open_shards(const std::vector<std::string>& names) = 0;
    // Deletes the shard's records and positions after every append queued
    // before this call, and returns once it has (the shard is `dropped`).
    virtual void drop_shard(const shard_ref& shard) = 0;
    // Drops every shard whose name is not in `keep` (leftovers of a stream
    // deleted just before a crash).
    virtual void drop_unreferenced(const std::set<std::string>& keep) = 0;

    // Closes the shard for a reshard: from the return on, appends to it are
    // refused with `aborted` by this and every other front end, and every
    // append queued before the call has been committed or refused. Sets
    // shard.closed. Reads and trims go on as before.
    virtual void close_shard(shard_log& shard) = 0;

    // Completes with OK once durable; with aborted when a target shard was
    // closed by a reshard (the caller answers a retryable failure or routes
    // again); with not_found when a target shard was dropped; unavailable
    // when the backend cannot take writes now.
    virtual void append(std::shared_ptr<append_request> request) = 0;
    // Returns once every append queued before the call has been committed
    // or refused.
    virtual void fence() = 0;
    // Where completions run: by default on a backend thread. The server
    // hands them to its I/O threads instead. Null restores the default.
    using completion_runner = std::function<void(std::function<void()>)>;
    virtual void set_completion_runner(completion_runner runner) = 0;
    // Called after records of a shard with watchers became visible (its
    // `committed` already published), also for records appended by other
    // front ends. Runs on a backend thread, so it must only hand work
    // elsewhere. Set once before serving; null turns it off.
    using commit_listener = std::function<void(shard_log&)>;
    virtual void set_commit_listener(commit_listener listener) = 0;
    // Appends queued or in flight whose completions have not run yet.
    virtual std::size_t appends_pending() const = 0;
    // Whether one client is putting alone, one put after another: the sign
    // that polling for its next put is worth a core (see architecture.md).
    virtual bool lone_client() const = 0;

    // Brings shard.committed, trimmed_below and last_arrival_ms up to what
    // every front end has stored. Cheap on RocksDB (nothing to do); one
    // request to the cluster on JetStream. Callers that answer LATEST or
    // decide a closed shard is drained call it first.
    virtual void refresh_tip(shard_log& shard) = 0;

    // Calls fn for records with counter >= from (and >= trimmed_below), up
    // to `limit` records or until the bytes passed exceed max_bytes (the
    // record that crosses it is still returned, as AWS does), or fn returns
    // false. Returns the number of records visited. Records another front
    // end stored may be returned beyond `committed`; committed is then
    // raised to the last one returned.
    virtual std::size_t read(shard_log& shard, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                             const std::function<bool(const record_view&)>& fn) = 0;
    // The record at `counter` or the first after it; false if none.
    virtual bool first_at_or_after(shard_log& shard, std::uint64_t counter, record_view* out) = 0;
    // First counter whose record arrived at or after t_ms (committed + 1
    // when none did). Arrival times do not decrease within a shard, except
    // by clock skew between front ends or a republish on a shared backend.
    virtual std::uint64_t counter_at_time(shard_log& shard, std::int64_t t_ms) = 0;
    // Deletes every record with counter < `below`.
    virtual status trim(shard_log& shard, std::uint64_t below) = 0;
    // Reclaims the space of trimmed records, where the backend needs it.
    virtual void compact(shard_log& shard) = 0;

    // ---- health
    // Whether writes are being taken. Cheap, any thread.
    virtual bool writable() const = 0;
    // Why not, for a health answer; empty while writable.
    virtual std::string unwritable_reason() const = 0;
    // Asks the backend to try resuming writes now. Does not wait.
    virtual void retry_writes() = 0;
    // Estimate of the stored data size in bytes (cheap, no I/O).
    virtual std::uint64_t live_data_bytes() const = 0;
};

}  // namespace kinesd::storage
