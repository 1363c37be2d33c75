#pragma once
// The narrow storage interface the actions use: append a batch of records to
// shards, read a shard from a position, trim a shard below a position, and
// read/write small metadata values. Everything RocksDB-specific stays behind
// it, so another backend could sit beside this one without touching actions.
//
// Durability: append() acknowledges (calls its completion) only after the
// RocksDB write that holds the records returned OK; with durability "sync"
// (the default) that write fsyncs the WAL first. One writer thread gathers
// every pending append into a single WriteBatch, so concurrent requests share
// one fsync (group commit) and the I/O threads never wait on the disk.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include "storage/wal_file_system.h"

namespace kinesd {
class clock;
}

namespace kinesd::storage {

enum class durability { sync, flush, none };

struct store_options {
    std::string path = "./data";
    durability mode = durability::sync;
    std::size_t write_buffer_total_bytes = 64u << 20;  // shared by every shard
    std::size_t shard_write_buffer_bytes = 4u << 20;
    std::size_t block_cache_bytes = 16u << 20;
    // One group commit at most: a hundred small PutRecords calls, or one or
    // two of 4 MiB. Larger groups of large requests only raised peak memory
    // (the group is copied whole into a write batch), not throughput.
    std::size_t max_batch_bytes = 8u << 20;
    // A shard's records in one commit share a RocksDB entry up to this size;
    // bounded so that reading one record never loads megabytes.
    std::size_t max_chunk_bytes = 256u << 10;
    int max_open_files = 1024;
    // While one client puts alone (lone_client()), the writer keeps looking
    // for the next put up to this long before it sleeps: that client's next
    // put comes within a round trip, and on virtual machines waking a
    // sleeping thread costs a good part of one. Zero: always sleep.
    std::chrono::microseconds spin{0};
    // Zeros laid ahead of the WAL so that its syncs change no file metadata
    // (see wal_file_system.h).
    wal_zeroing wal;
};

// One shard's log: where its records are and its positions. The counters are
// what readers use to bound their scans: they never read past `committed`,
// so a record is visible only once it is durable.
struct shard_log {
    std::string cf_name;  // the shard's name (a column family's only in older directories)
    // "records" and the shard's key prefix there; or, for a shard of an older
    // data directory, its own column family and an empty prefix.
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    std::string prefix;
    std::atomic<std::uint64_t> committed{0};  // highest durable counter
    std::atomic<std::uint64_t> trimmed_below{1};  // counters below this are gone
    std::atomic<std::int64_t> last_arrival_ms{0};
    std::atomic<bool> dropped{false};
    // Set when a reshard closes the shard: the writer refuses appends routed
    // to it by an older snapshot, so nothing lands behind a reader that has
    // already reached the shard's end.
    std::atomic<bool> closed{false};
    // Readers waiting for the shard's next commit (enhanced fan-out
    // subscriptions that are caught up). The writer calls the commit
    // listener only for shards with watchers, so a put pays nothing for
    // the shards nobody follows.
    std::atomic<std::uint32_t> watchers{0};
    std::uint64_t next_counter = 1;  // writer thread only
};
using shard_ref = std::shared_ptr<shard_log>;

struct append_entry {
    shard_log* shard = nullptr;
    std::string_view partition_key;
    std::string_view data;
    // filled in by the writer before completion
    std::uint64_t counter = 0;
    std::int64_t arrival_ms = 0;
    bool encrypted = false;  // stored with the record (KMS stream at write time)
};

struct append_request {
    std::vector<append_entry> entries;
    // Keeps the bytes that entries point into alive until completion.
    std::shared_ptr<void> owner;
    std::function<void(const rocksdb::Status&)> done;
};

struct record_view {
    std::uint64_t counter;
    std::int64_t arrival_ms;
    std::string_view partition_key;
    std::string_view data;
    bool encrypted = false;
};

class store {
public:
    store(const store_options& options, const kinesd::clock& clock);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // ---- metadata (synced writes; small values)
    rocksdb::Status put_meta(std::string_view key, std::string_view value);
    rocksdb::Status delete_meta(std::string_view key);
    bool get_meta(std::string_view key, std::string* value) const;
    void scan_meta(std::string_view prefix, const std::function<void(std::string_view, std::string_view)>& fn) const;

    // ---- shards
    // Opens the shard, creating it when `create` is set. Returns null when it
    // does not exist and create is false. Names come from keys::shard_cf_name.
    shard_ref open_shard(const std::string& cf_name, bool create);
    // The same for several shards at once, created with one synced write.
    std::vector<shard_ref> open_shards(const std::vector<std::string>& cf_names);
    // Deletes the shard's records and positions after every append queued
    // before this call.
    void drop_shard(const shard_ref& shard);
    // Drops every shard whose name is not in `keep` (leftovers of a stream
    // deleted just before a crash).
    void drop_unreferenced(const std::set<std::string>& keep);

    // Completes with OK once durable; with Aborted when a target shard was
    // closed by a reshard (the caller answers a retryable failure); with
    // NotFound when a target shard was dropped.
    void append(std::shared_ptr<append_request> request);
    // Returns once every append queued before the call has been committed
    // or refused.
    void fence();
    // Where a committed batch's completions run: by default on the writer
    // thread. The server hands them to its I/O threads instead, so the writer
    // starts the next group commit while the replies are encoded. Null
    // restores the default (at shutdown, before the runner's target goes).
    using completion_runner = std::function<void(std::function<void()>)>;
    void set_completion_runner(completion_runner runner);
    // Called by the writer after a commit made records of a shard with
    // watchers visible (its `committed` already published). It runs on the
    // writer thread, so it must only hand work elsewhere. Set once before
    // serving; null turns it off.
    using commit_listener = std::function<void(shard_log&)>;
    void set_commit_listener(commit_listener listener);
    // Appends queued or committing whose completions have not run yet.
    std::size_t appends_pending() const { return appends_pending_.load(std::memory_order_acquire); }
    // Whether the recent commits each carried a single put, one after
    // another: the sign of one client putting alone, for whom waiting
    // threads are worth polling. A lone commit among many clients' larger
    // ones is not; polling then would take the cores those clients need.
    bool lone_client() const { return lone_commits_.load(std::memory_order_relaxed) >= lone_commits_for_polling; }
    static constexpr unsigned lone_commits_for_polling = 8;

    // Calls fn for records with counter >= from (and >= trimmed_below), up to
    // `limit` records or until the bytes passed exceed max_bytes (the record
    // that crosses it is still returned, as AWS does), or fn returns false.
    // Returns the number of records visited.
    std::size_t read(const shard_log& shard, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                     const std::function<bool(const record_view&)>& fn) const;
    // Arrival time of the record at `counter` or the first after it; false if none.
    bool first_at_or_after(const shard_log& shard, std::uint64_t counter, record_view* out) const;
    // First counter whose record arrived at or after t_ms (committed + 1 when
    // none did). Arrival times never decrease within a shard (the writer
    // makes them monotonic), so this is a binary search over counters.
    std::uint64_t counter_at_time(const shard_log& shard, std::int64_t t_ms) const;
    // Deletes every record with counter < `below` with one range tombstone.
    rocksdb::Status trim(shard_log& shard, std::uint64_t below);
    void compact(shard_log& shard);

    rocksdb::DB* db() { return db_.get(); }

    // ---- health
    // Whether writes are being taken: false from a failed write (a full
    // disk, after which RocksDB refuses every write) until the writer has
    // resumed, and once the store is shutting down. Cheap, any thread.
    bool writable() const {
        return !failing_.load(std::memory_order_relaxed) && !stopped_.load(std::memory_order_relaxed);
    }
    // Why not, for a health answer; empty while writable.
    std::string unwritable_reason() const;
    // Asks the writer to try resuming now (at most every resume_interval)
    // even if no put comes: a health check after space was freed then
    // sees the store writable again. Does not wait.
    void retry_writes();
    // RocksDB's estimate of the live data size, in bytes (cheap: a property
    // read, no I/O).
    std::uint64_t live_data_bytes() const;

private:
    struct task {
        std::shared_ptr<append_request> append;
        shard_ref drop;
        std::shared_ptr<std::promise<void>> fence;
    };
    void writer_loop();
    // Polls until something is queued or options_.spin has passed.
    void await_next_append() const;
    void commit(std::vector<task>& tasks);
    // Every write to the database, from any thread, goes through here.
    // RocksDB's group commit passes a waiting thread's batch to the thread
    // that leads the group through atomics of its own; Debian's RocksDB is not
    // instrumented, so ThreadSanitizer sees only two threads touching one
    // batch. Kept out of line so that tests/sanitizer/tsan.supp can name it.
    [[gnu::noinline]] rocksdb::Status write_to_db(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch);
    // While a write failure persists (typically a full disk, after which
    // RocksDB refuses every write until resumed): whether this batch may be
    // attempted. Tries DB::Resume() at most every resume_interval.
    bool resume_if_due();
    void note_write_failure(const rocksdb::Status& status);
    void open_db();
    rocksdb::ColumnFamilyOptions shard_cf_options() const;
    rocksdb::ColumnFamilyOptions records_cf_options() const;
    void recover_column_family_shard(shard_log& shard);
    void drop_now(shard_log& shard);

    store_options options_;
    const kinesd::clock& clock_;
    std::unique_ptr<rocksdb::Env> env_;  // outlives db_
    std::shared_ptr<rocksdb::Cache> cache_;
    std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
    std::unique_ptr<rocksdb::DB> db_;
    rocksdb::ColumnFamilyHandle* meta_ = nullptr;
    rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
    rocksdb::ColumnFamilyHandle* records_ = nullptr;
    mutable std::mutex shards_mutex_;
    std::map<std::string, shard_ref> shards_;
    std::vector<rocksdb::ColumnFamilyHandle*> dropped_handles_;
    rocksdb::WriteOptions write_options_;

    std::mutex runner_mutex_;
    completion_runner completion_runner_;
    commit_listener commit_listener_;  // under runner_mutex_

    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<task> queue_;
    // Mirrors queue_.size(), for the writer to watch without the lock.
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::size_t> appends_pending_{0};
    // Commits in a row that carried one put each (capped).
    std::atomic<unsigned> lone_commits_{0};
    bool stopping_ = false;
    // Mirrors of write_failed_ and stopping_ for writable().
    std::atomic<bool> failing_{false};
    std::atomic<bool> stopped_{false};
    mutable std::mutex failure_mutex_;
    std::string failure_text_;  // under failure_mutex_

    // writer thread only: the current write-failure episode, if any
    bool write_failed_ = false;
    rocksdb::Status write_failure_;
    std::chrono::steady_clock::time_point failed_since_;
    std::chrono::steady_clock::time_point last_resume_attempt_;
    std::size_t refused_batches_ = 0;

    std::thread writer_;
};

}  // namespace kinesd::storage
