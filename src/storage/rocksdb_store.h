#pragma once
// The RocksDB backend of storage::log_store: one database in the data
// directory, embedded in the process, so only this process writes it.
//
// Durability: append() acknowledges (calls its completion) only after the
// RocksDB write that holds the records returned OK; with durability "sync"
// (the default) that write fsyncs the WAL first. One writer thread gathers
// every pending append into a single WriteBatch, so concurrent requests share
// one fsync (group commit) and the I/O threads never wait on the disk.
//
// Metadata revisions are a 64-bit hash of the value; compare-and-swap holds
// a mutex across the synced write. Watchers are called on the thread that
// made the change, right after its write and under no lock of the store.
#include <array>
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
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include "storage/log_store.h"
#include "storage/wal_file_system.h"

namespace kinesd {
class clock;
}

namespace kinesd::storage {

enum class durability { sync, flush, none };

struct rocksdb_options {
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

// A shard in this database: where its records are. "records" and the
// shard's key prefix there; or, for a shard of an older data directory, its
// own column family and an empty prefix.
struct rocksdb_shard : shard_log {
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    std::string prefix;
    std::uint64_t next_counter = 1;  // writer thread only
};

// IOError, Busy, TryAgain, Incomplete: unavailable (a full or failing disk);
// Aborted, NotFound and Corruption keep their meaning; anything else: other.
status to_status(const rocksdb::Status& s);

class rocksdb_store final : public log_store {
public:
    rocksdb_store(const rocksdb_options& options, const kinesd::clock& clock);
    ~rocksdb_store() override;
    rocksdb_store(const rocksdb_store&) = delete;
    rocksdb_store& operator=(const rocksdb_store&) = delete;

    std::string_view backend_name() const override { return "rocksdb"; }

    // ---- metadata (synced writes unless durability none)
    status put_meta(std::string_view key, std::string_view value) override;
    status delete_meta(std::string_view key) override;
    bool get_meta(std::string_view key, std::string* value) const override;
    void scan_meta(std::string_view prefix,
                   const std::function<void(std::string_view, std::string_view)>& fn) const override;
    status get_meta_revision(std::string_view key, std::string* value, std::uint64_t* revision) const override;
    status put_meta_if(std::string_view key, std::string_view value, std::uint64_t expected,
                       std::uint64_t* revision) override;
    status delete_meta_if(std::string_view key, std::uint64_t expected) override;
    // Only this process writes the directory, so a watcher sees exactly the
    // changes made through this store, each called on the thread that made
    // it once the write returned. Changes of one key made concurrently by
    // two threads may reach a watcher in either order; their revisions tell
    // which is the later.
    std::uint64_t watch_meta(std::string_view prefix, meta_watcher fn) override;
    void unwatch_meta(std::uint64_t id) override;

    // ---- shards (new ones created with one synced write)
    shard_ref open_shard(const std::string& name, bool create) override;
    std::vector<shard_ref> open_shards(const std::vector<std::string>& names) override;
    void drop_shard(const shard_ref& shard) override;
    void drop_unreferenced(const std::set<std::string>& keep) override;
    // Sets closed, then fences: the writer checks the flag when it takes an
    // append into a commit, so none taken after the fence lands in it.
    void close_shard(shard_log& shard) override;

    void append(std::shared_ptr<append_request> request) override;
    void fence() override;
    // Completions run on the writer thread by default; the server hands them
    // to its I/O threads, so the writer starts the next group commit while
    // the replies are encoded.
    void set_completion_runner(completion_runner runner) override;
    // The listener runs on the writer thread.
    void set_commit_listener(commit_listener listener) override;
    std::size_t appends_pending() const override { return appends_pending_.load(std::memory_order_acquire); }
    // Whether the recent commits each carried a single put, one after
    // another: the sign of one client putting alone, for whom waiting
    // threads are worth polling. A lone commit among many clients' larger
    // ones is not; polling then would take the cores those clients need.
    bool lone_client() const override {
        return lone_commits_.load(std::memory_order_relaxed) >= lone_commits_for_polling;
    }
    static constexpr unsigned lone_commits_for_polling = 8;

    // Nothing to do: only this process appends, so `committed` is current.
    void refresh_tip(shard_log&) override {}
    std::size_t read(shard_log& shard, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                     const std::function<bool(const record_view&)>& fn) override;
    bool first_at_or_after(shard_log& shard, std::uint64_t counter, record_view* out) override;
    // Arrival times never decrease within a shard (the writer makes them
    // monotonic), so this is a binary search over counters.
    std::uint64_t counter_at_time(shard_log& shard, std::int64_t t_ms) override;
    // One range tombstone over whole chunks below `below`.
    status trim(shard_log& shard, std::uint64_t below) override;
    void compact(shard_log& shard) override;

    rocksdb::DB* db() { return db_.get(); }

    // ---- health
    // Not writable from a failed write (a full disk, after which RocksDB
    // refuses every write) until the writer has resumed, and once the store
    // is shutting down.
    bool writable() const override {
        return !failing_.load(std::memory_order_relaxed) && !stopped_.load(std::memory_order_relaxed);
    }
    std::string unwritable_reason() const override;
    // Asks the writer to try resuming now (at most every resume_interval)
    // even if no put comes: a health check after space was freed then
    // sees the store writable again.
    void retry_writes() override;
    // RocksDB's estimate of the live data size (a property read, no I/O).
    std::uint64_t live_data_bytes() const override;

private:
    struct task {
        std::shared_ptr<append_request> append;
        std::shared_ptr<rocksdb_shard> drop;
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
    rocksdb::Status write_meta(std::string_view key, const std::string_view* value);
    void notify_watchers(std::string_view key, const std::string* value, std::uint64_t revision);
    void open_db();
    rocksdb::ColumnFamilyOptions shard_cf_options() const;
    rocksdb::ColumnFamilyOptions records_cf_options() const;
    void recover_column_family_shard(rocksdb_shard& shard);
    void drop_now(rocksdb_shard& shard);

    rocksdb_options options_;
    const kinesd::clock& clock_;
    std::unique_ptr<rocksdb::Env> env_;  // outlives db_
    std::shared_ptr<rocksdb::Cache> cache_;
    std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
    std::unique_ptr<rocksdb::DB> db_;
    rocksdb::ColumnFamilyHandle* meta_ = nullptr;
    rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
    rocksdb::ColumnFamilyHandle* records_ = nullptr;
    mutable std::mutex shards_mutex_;
    std::map<std::string, std::shared_ptr<rocksdb_shard>> shards_;
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

    // One of them, chosen by the key, is held across a compare-and-swap's
    // read and write and by every other write of that key, so none lands
    // between the two; writes of different keys still share group commits.
    mutable std::array<std::mutex, 16> meta_locks_;
    std::mutex& meta_lock(std::string_view key) const {
        return meta_locks_[std::hash<std::string_view>{}(key) % meta_locks_.size()];
    }
    // Revisions live in memory, numbered from this process's start: nobody
    // holds one across a restart (registries read them afresh when they
    // load). A key gets one when first read or written; a deletion keeps
    // its own, so a late notice of an older change is recognised.
    std::uint64_t revision_locked(std::string_view key, bool present) const;  // under meta_lock(key)
    std::uint64_t next_revision_locked(std::string_view key);                  // under meta_lock(key)
    // Conflict unless the key is at `expected` (under meta_lock(key)).
    status compare_locked(std::string_view key, std::uint64_t expected, std::uint64_t* current) const;
    mutable std::mutex revisions_mutex_;
    mutable std::uint64_t last_revision_ = 0;                                        // under revisions_mutex_
    mutable std::unordered_map<std::string, std::uint64_t> revisions_;               // under revisions_mutex_
    struct meta_watch {
        std::uint64_t id;
        std::string prefix;
        std::shared_ptr<meta_watcher> fn;
    };
    std::mutex watch_mutex_;
    std::vector<meta_watch> watches_;  // under watch_mutex_
    std::uint64_t next_watch_id_ = 1;  // under watch_mutex_

    std::thread writer_;
};

}  // namespace kinesd::storage
