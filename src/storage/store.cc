#include "storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/experimental.h>
#include <rocksdb/sst_partitioner.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "common/clock.h"
#include "common/cpu_relax.h"
#include "storage/keys.h"
#include "storage/wal_file_system.h"

namespace kinesd::storage {

store::store(const store_options& options, const kinesd::clock& clock) : options_(options), clock_(clock) {
    write_options_.sync = options_.mode == durability::sync;
    write_options_.disableWAL = options_.mode == durability::none;
    open_db();
    writer_ = std::thread([this] { writer_loop(); });
}

store::~store() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
        stopped_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    std::lock_guard lock(shards_mutex_);
    for (auto& [name, shard] : shards_) {
        if (shard->cf && shard->cf != records_) db_->DestroyColumnFamilyHandle(shard->cf).PermitUncheckedError();
        shard->cf = nullptr;
    }
    shards_.clear();
    for (auto* handle : dropped_handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    if (records_) db_->DestroyColumnFamilyHandle(records_).PermitUncheckedError();
    if (meta_) db_->DestroyColumnFamilyHandle(meta_).PermitUncheckedError();
    if (default_cf_) db_->DestroyColumnFamilyHandle(default_cf_).PermitUncheckedError();
    if (db_) db_->Close().PermitUncheckedError();
}

namespace {

// RocksDB keeps up to max_open_files table files open; with sockets, WAL and
// manifest on top, it must stay well under the process's descriptor limit.
int open_files_budget(int wanted) {
    rlimit limit{};
    if (wanted <= 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return wanted;
    auto half = static_cast<long long>(limit.rlim_cur / 2);
    return static_cast<int>(std::clamp<long long>(half, 64, wanted));
}

}  // namespace

rocksdb::ColumnFamilyOptions store::shard_cf_options() const {
    rocksdb::ColumnFamilyOptions cf;
    // Shards are append-only logs whose payloads are often already compressed
    // by producers; compressing them again costs CPU on the write path and
    // buys little.
    cf.compression = rocksdb::kNoCompression;
    cf.write_buffer_size = options_.shard_write_buffer_bytes;
    cf.max_write_buffer_number = 2;
    // A memtable grows in arena blocks of write_buffer_size / 8 by default:
    // with thousands of shards each holding a few records, that is half a
    // megabyte reserved per shard for a few hundred bytes of data.
    cf.arena_block_size = 64 << 10;
    cf.level_compaction_dynamic_level_bytes = true;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache_;
    // Reads are seeks to a known counter, never point lookups of absent keys:
    // bloom filters would only cost memory.
    table.filter_policy.reset();
    table.block_size = 64 << 10;
    // Index blocks live in the block cache, so the memory of table readers is
    // bounded by --block-cache-mb however many shards and files there are,
    // instead of growing with every open SST file.
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return cf;
}

rocksdb::ColumnFamilyOptions store::records_cf_options() const {
    rocksdb::ColumnFamilyOptions cf = shard_cf_options();
    // Every shard writes here: the memtable gets most of the shared budget.
    cf.write_buffer_size = std::max(options_.shard_write_buffer_bytes, options_.write_buffer_total_bytes / 2);
    cf.max_write_buffer_number = 3;
    // Blocks at the allocator's mmap threshold (4 MiB, set in main) are
    // mapped each on its own, so a flushed memtable goes back to the system
    // at once. RocksDB's default blocks (1 MiB at most) stayed in malloc's
    // arenas after the flush: PutRecords of 64 KiB records left RSS 20 MiB
    // above what was live.
    cf.arena_block_size = 4u << 20;
    // A flush holds every shard written since the last one; compaction output
    // is cut where the shard prefix changes, so each shard's older data ends
    // up in files of its own and a shard's new data overlaps only its own
    // newest file instead of every other shard's.
    cf.sst_partitioner_factory = rocksdb::NewSstPartitionerFixedPrefixFactory(keys::shard_prefix_size);
    // A flush spans every shard written since the previous one, so merging
    // level 0 into the base level rewrites that level's files of those shards.
    // Merging more flushes at a time into a small base level keeps that
    // rewrite a fraction of what is written.
    cf.level0_file_num_compaction_trigger = 8;
    cf.level0_slowdown_writes_trigger = 40;
    cf.level0_stop_writes_trigger = 64;
    cf.max_bytes_for_level_base = 64u << 20;
    cf.target_file_size_base = 16u << 20;
    return cf;
}

namespace {

// RocksDB's own LOG file lives in the data directory, so on a full disk it
// fails too, and RocksDB aborts on the next line written to a log file that
// has failed once. Its messages come to our log instead; at debug level,
// because while the disk stays full it repeats them on every retry, and the
// writer reports the episode itself.
class rocksdb_log_forwarder : public rocksdb::Logger {
public:
    rocksdb_log_forwarder() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override {
        char line[1024];
        std::vsnprintf(line, sizeof line, format, ap);
        spdlog::debug("rocksdb: {}", line);
    }
};

}  // namespace

void store::open_db() {
    std::filesystem::create_directories(options_.path);
    cache_ = rocksdb::NewLRUCache(options_.block_cache_bytes);
    write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(options_.write_buffer_total_bytes, cache_);

    rocksdb::DBOptions db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.write_buffer_manager = write_buffers_;
    // A quiet shard must not pin old WAL files forever, and a restart replays
    // the WAL: with writes spread over hundreds of shards, 256 MiB of WAL took
    // seconds to replay, so it is kept to the memtable budget.
    db_options.max_total_wal_size = std::max<std::uint64_t>(options_.write_buffer_total_bytes, 32u << 20);
    db_options.max_open_files = open_files_budget(options_.max_open_files);
    db_options.max_background_jobs = 2;
    db_options.keep_log_file_num = 3;
    db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db_options.info_log = std::make_shared<rocksdb_log_forwarder>();
    db_options.avoid_unnecessary_blocking_io = true;
    // Start-up must not grow with the data stored: no read of every SST's
    // properties or size on open. (What the WAL replays is still flushed at
    // open: kept in memtables instead, the metadata column family would pin
    // the old WAL files, and their disk space, until the WAL size limit.)
    db_options.skip_stats_update_on_db_open = true;
    db_options.skip_checking_sst_file_sizes_on_db_open = true;
    // The manifest records every column family and flush; rolling it small
    // keeps its replay at open short with thousands of shards.
    db_options.max_manifest_file_size = 64u << 20;
    // The periodic stats dump walks every column family under the DB mutex and
    // nobody reads it.
    db_options.stats_dump_period_sec = 0;
    db_options.stats_persist_period_sec = 0;
    // A synced WAL append commits the filesystem journal, and on ext4 that
    // commit first writes out every dirty page of the table files a flush or
    // compaction is producing: WAL syncs of a few hundred microseconds took
    // 10-70 ms while one ran. Writing table files out as they grow leaves
    // little for the commit to wait on (PutRecords p99 19-42 -> 13 ms).
    db_options.bytes_per_sync = 1u << 20;
    if (options_.wal.step > 0) {
        env_ = rocksdb::NewCompositeEnv(make_wal_file_system(options_.wal));
        db_options.env = env_.get();
    }

    std::vector<std::string> names;
    auto listed = rocksdb::DB::ListColumnFamilies(db_options, options_.path, &names);
    bool existing = listed.ok();
    if (existing && std::find(names.begin(), names.end(), keys::meta_cf) == names.end())
        throw std::runtime_error("data directory " + options_.path +
                                 " holds a RocksDB database that is not a kinesd store (no '" +
                                 keys::meta_cf + "' column family)");
    if (!existing) {
        if (std::filesystem::exists(std::filesystem::path(options_.path) / "CURRENT"))
            throw std::runtime_error("data directory " + options_.path + " is unreadable: " + listed.ToString());
        names = {rocksdb::kDefaultColumnFamilyName, keys::meta_cf};
    }
    if (std::find(names.begin(), names.end(), keys::records_cf) == names.end()) names.push_back(keys::records_cf);

    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (auto& name : names) {
        rocksdb::ColumnFamilyOptions cf;
        // Small memtables for default and meta too: after a full disk,
        // RocksDB resumes only once the free space exceeds the largest
        // column family's write buffer.
        cf.write_buffer_size = options_.shard_write_buffer_bytes;
        if (keys::is_shard_cf_name(name)) cf = shard_cf_options();
        if (name == keys::records_cf) cf = records_cf_options();
        descriptors.emplace_back(name, cf);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(db_options, options_.path, descriptors, &handles, &raw);
    if (!s.ok()) throw std::runtime_error("cannot open data directory " + options_.path + ": " + s.ToString());
    db_.reset(raw);

    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == rocksdb::kDefaultColumnFamilyName) {
            default_cf_ = handles[i];
        } else if (names[i] == keys::meta_cf) {
            meta_ = handles[i];
        } else if (names[i] == keys::records_cf) {
            records_ = handles[i];
        } else {
            auto shard = std::make_shared<shard_log>();
            shard->cf_name = names[i];
            shard->cf = handles[i];
            shards_[names[i]] = shard;
        }
    }
    for (auto& [name, shard] : shards_) recover_column_family_shard(*shard);

    // Shards in "records" need no seek at all: their counter entry is written
    // in the same batch as their records, and trims persist their horizon
    // before deleting anything.
    std::size_t in_records = 0;
    scan_meta(keys::shard_meta_prefix, [&](std::string_view key, std::string_view) {
        auto shard = std::make_shared<shard_log>();
        shard->cf_name = std::string(key.substr(keys::shard_meta_prefix.size()));
        shard->cf = records_;
        shard->prefix = keys::shard_prefix(shard->cf_name);
        std::uint64_t last = 0;
        std::int64_t arrival = 0;
        std::string value;
        if (get_meta(keys::counter_meta_key(shard->cf_name), &value)) keys::decode_counter_meta(value, &last, &arrival);
        std::uint64_t first = 1;
        if (get_meta(keys::trim_meta_key(shard->cf_name), &value)) first = std::max(first, keys::decode_counter(value));
        shard->trimmed_below = first;
        shard->committed = last;
        shard->next_counter = last + 1;
        shard->last_arrival_ms = arrival;
        shards_[shard->cf_name] = std::move(shard);
        ++in_records;
    });
    spdlog::info("opened data directory {} ({} shards, {} of them in column families of their own)", options_.path,
                 shards_.size(), shards_.size() - in_records);
    std::uint64_t memtables = 0, table_readers = 0;
    db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &table_readers);
    spdlog::debug("rocksdb memory after open: memtables {} KiB, block cache {} KiB, table readers {} KiB",
                  memtables >> 10, cache_->GetUsage() >> 10, table_readers >> 10);
}

rocksdb::Status store::put_meta(std::string_view key, std::string_view value) {
    rocksdb::WriteOptions w;
    w.sync = options_.mode != durability::none;
    rocksdb::WriteBatch batch;
    if (auto s = batch.Put(meta_, key, value); !s.ok()) return s;
    return write_to_db(w, batch);
}

rocksdb::Status store::delete_meta(std::string_view key) {
    rocksdb::WriteOptions w;
    w.sync = options_.mode != durability::none;
    rocksdb::WriteBatch batch;
    if (auto s = batch.Delete(meta_, key); !s.ok()) return s;
    return write_to_db(w, batch);
}

bool store::get_meta(std::string_view key, std::string* value) const {
    return db_->Get(rocksdb::ReadOptions(), meta_, key, value).ok();
}

void store::scan_meta(std::string_view prefix,
                      const std::function<void(std::string_view, std::string_view)>& fn) const {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        fn(it->key().ToStringView(), it->value().ToStringView());
}

// A shard of an older data directory: the last counter handed out is the
// larger of the persisted counter and the last key (they agree unless a trim
// removed the tail), the first live record bounds trimmed_below.
void store::recover_column_family_shard(shard_log& shard) {
    std::uint64_t last = 0;
    std::int64_t arrival = 0;
    std::string value;
    if (get_meta(keys::counter_meta_key(shard.cf_name), &value)) keys::decode_counter_meta(value, &last, &arrival);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), shard.cf));
    it->SeekToLast();
    if (it->Valid()) {
        keys::chunk_reader chunk;
        if (chunk.open(it->value().ToStringView())) {
            last = std::max(last, keys::decode_counter(it->key().ToStringView()) + chunk.count() - 1);
            arrival = std::max(arrival, chunk.arrival_ms());
        }
    }
    it->SeekToFirst();
    std::uint64_t first = it->Valid() ? keys::decode_counter(it->key().ToStringView()) : last + 1;
    if (get_meta(keys::trim_meta_key(shard.cf_name), &value)) first = std::max(first, keys::decode_counter(value));
    shard.trimmed_below = first;
    shard.committed = last;
    shard.next_counter = last + 1;
    shard.last_arrival_ms = arrival;
}

shard_ref store::open_shard(const std::string& cf_name, bool create) {
    if (!create) {
        std::lock_guard lock(shards_mutex_);
        auto it = shards_.find(cf_name);
        return it == shards_.end() ? nullptr : it->second;
    }
    return open_shards({cf_name}).front();
}

std::vector<shard_ref> store::open_shards(const std::vector<std::string>& cf_names) {
    std::lock_guard lock(shards_mutex_);
    rocksdb::WriteBatch batch;
    std::vector<shard_ref> created;
    for (auto& name : cf_names) {
        if (shards_.count(name) ||
            std::any_of(created.begin(), created.end(), [&](const shard_ref& s) { return s->cf_name == name; }))
            continue;
        auto shard = std::make_shared<shard_log>();
        shard->cf_name = name;
        shard->cf = records_;
        shard->prefix = keys::shard_prefix(name);
        batch.Put(meta_, keys::shard_meta_key(name), rocksdb::Slice());
        created.push_back(std::move(shard));
    }
    if (!created.empty()) {
        rocksdb::WriteOptions w;
        w.sync = options_.mode != durability::none;
        auto s = write_to_db(w, batch);
        if (!s.ok())
            throw std::runtime_error("cannot create " + std::to_string(created.size()) + " shards: " + s.ToString());
        for (auto& shard : created) shards_[shard->cf_name] = shard;
    }
    std::vector<shard_ref> out;
    out.reserve(cf_names.size());
    for (auto& name : cf_names) out.push_back(shards_.at(name));
    return out;
}

void store::drop_shard(const shard_ref& shard) {
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(task{nullptr, shard, nullptr});
        queued_.store(queue_.size(), std::memory_order_release);
    }
    queue_cv_.notify_one();
}

void store::drop_unreferenced(const std::set<std::string>& keep) {
    std::vector<shard_ref> orphans;
    {
        std::lock_guard lock(shards_mutex_);
        for (auto& [name, shard] : shards_)
            if (!keep.count(name)) orphans.push_back(shard);
    }
    for (auto& shard : orphans) {
        spdlog::info("dropping column family {} that no stream references", shard->cf_name);
        drop_shard(shard);
    }
}

void store::append(std::shared_ptr<append_request> request) {
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(task{std::move(request), nullptr, nullptr});
        queued_.store(queue_.size(), std::memory_order_release);
        appends_pending_.fetch_add(1, std::memory_order_relaxed);
    }
    queue_cv_.notify_one();
}

void store::await_next_append() const {
    const auto until = std::chrono::steady_clock::now() + options_.spin;
    while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) cpu_relax();
}

void store::writer_loop() {
    std::vector<task> tasks;
    for (;;) {
        {
            // Only for a client putting alone. Among many clients, a writer
            // that polls takes each put as it arrives, syncs it alone while
            // the rest pile up, and takes the core the clients need.
            if (lone_client() && options_.spin.count() > 0) await_next_append();
            std::unique_lock lock(queue_mutex_);
            queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty() && stopping_) return;
            // Take what fits in one group commit; the rest waits for the next.
            std::size_t bytes = 0;
            while (!queue_.empty()) {
                auto& t = queue_.front();
                // drops and fences run alone, after the appends queued before them
                if ((t.drop || t.fence) && !tasks.empty()) break;
                std::size_t size = 0;
                if (t.append)
                    for (auto& e : t.append->entries) size += e.data.size() + e.partition_key.size() + 32;
                if (!tasks.empty() && bytes + size > options_.max_batch_bytes) break;
                bytes += size;
                tasks.push_back(std::move(t));
                queue_.pop_front();
                queued_.store(queue_.size(), std::memory_order_relaxed);
                if (tasks.back().drop || tasks.back().fence) break;
            }
        }
        const bool lone_append = tasks.size() == 1 && tasks.front().append;
        const unsigned streak = lone_commits_.load(std::memory_order_relaxed);
        lone_commits_.store(lone_append ? std::min(streak + 1, lone_commits_for_polling) : 0,
                            std::memory_order_relaxed);
        commit(tasks);
        tasks.clear();
    }
}

void store::fence() {
    auto done = std::make_shared<std::promise<void>>();
    auto ready = done->get_future();
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(task{nullptr, nullptr, done});
        queued_.store(queue_.size(), std::memory_order_release);
    }
    queue_cv_.notify_one();
    ready.wait();
}

namespace {
// ThreadSanitizer records a frame only when an instrumented function is
// entered; RocksDB is not instrumented, so without this call write_to_db
// itself would never show in a report's stack.
[[gnu::noinline]] rocksdb::Status write_batch(rocksdb::DB& db, const rocksdb::WriteOptions& options,
                                              rocksdb::WriteBatch& batch) {
    return db.Write(options, &batch);
}
}  // namespace

rocksdb::Status store::write_to_db(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch) {
    return write_batch(*db_, options, batch);
}

void store::commit(std::vector<task>& tasks) {
    if (tasks.size() == 1 && tasks[0].fence) {
        // A fence also gives a failing store its chance to resume without a put.
        if (write_failed_) resume_if_due();
        tasks[0].fence->set_value();
        return;
    }
    if (tasks.size() == 1 && tasks[0].drop) {
        drop_now(*tasks[0].drop);
        return;
    }

    // Sized up front: grown by doubling, a group of 4 MiB requests would
    // briefly hold its old and new buffers, up to three times its size.
    std::size_t batch_bytes = 1024;
    for (auto& t : tasks)
        for (auto& e : t.append->entries) batch_bytes += e.data.size() + e.partition_key.size() + 64;
    rocksdb::WriteBatch batch(batch_bytes);
    char key[keys::max_record_key_size];
    // Every record a shard gets in this commit goes into one chunk (split at
    // max_chunk_bytes), so RocksDB sees one entry per shard, not per record.
    // A chunk is gathered into the batch from the requests' own bytes: built
    // as a string first, every byte of a commit was held twice.
    struct open_chunk {
        shard_log* shard;
        std::uint64_t first_counter;
        std::int64_t arrival_ms;
        std::size_t bytes;  // as stored
        std::vector<const append_entry*> records;
    };
    std::vector<open_chunk> chunks;
    std::string heads;
    std::vector<rocksdb::Slice> parts;
    auto seal = [&](open_chunk& c) {
        if (c.records.empty()) return;
        char head[keys::chunk_head_size];
        keys::write_chunk_head(head, c.arrival_ms, std::uint32_t(c.records.size()));
        heads.resize(c.records.size() * keys::chunk_record_head_size);
        parts.clear();
        parts.emplace_back(head, sizeof head);
        for (std::size_t i = 0; i < c.records.size(); ++i) {
            const append_entry& e = *c.records[i];
            char* record_head = heads.data() + i * keys::chunk_record_head_size;
            keys::write_chunk_record_head(record_head, e.partition_key.size(), e.data.size(), e.encrypted);
            parts.emplace_back(record_head, keys::chunk_record_head_size);
            parts.emplace_back(e.partition_key.data(), e.partition_key.size());
            parts.emplace_back(e.data.data(), e.data.size());
        }
        const rocksdb::Slice k(key, keys::encode_record_key(c.shard->prefix, c.first_counter, key));
        batch.Put(c.shard->cf, rocksdb::SliceParts(&k, 1), rocksdb::SliceParts(parts.data(), int(parts.size())));
        c.records.clear();
        c.bytes = keys::chunk_head_size;
    };
    std::vector<shard_log*> touched;
    std::int64_t now = clock_.now_ms();
    std::vector<rocksdb::Status> rejected(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        auto& req = *tasks[i].append;
        for (auto& e : req.entries) {
            if (e.shard->dropped) rejected[i] = rocksdb::Status::NotFound("shard dropped");
            else if (e.shard->closed) rejected[i] = rocksdb::Status::Aborted("shard closed by a reshard");
        }
        if (!rejected[i].ok()) continue;
        for (auto& e : req.entries) {
            shard_log& shard = *e.shard;
            auto chunk = std::find_if(chunks.begin(), chunks.end(), [&](const open_chunk& c) { return c.shard == &shard; });
            if (chunk == chunks.end()) {
                // Arrival times never go backwards within a shard, so
                // AT_TIMESTAMP can binary-search by counter.
                std::int64_t arrival = std::max(now, shard.last_arrival_ms.load(std::memory_order_relaxed));
                shard.last_arrival_ms.store(arrival, std::memory_order_relaxed);
                chunk = chunks.insert(chunks.end(),
                                      open_chunk{&shard, shard.next_counter, arrival, keys::chunk_head_size, {}});
                touched.push_back(&shard);
            } else if (chunk->bytes + e.data.size() + e.partition_key.size() > options_.max_chunk_bytes) {
                seal(*chunk);
                chunk->first_counter = shard.next_counter;
            }
            e.counter = shard.next_counter++;
            e.arrival_ms = shard.last_arrival_ms.load(std::memory_order_relaxed);
            chunk->records.push_back(&e);
            chunk->bytes += keys::chunk_record_head_size + e.partition_key.size() + e.data.size();
        }
    }
    for (auto& c : chunks) seal(c);
    for (auto* shard : touched) {
        char counter[16];
        keys::encode_counter_meta(shard->next_counter - 1, shard->last_arrival_ms.load(std::memory_order_relaxed),
                                  counter);
        batch.Put(meta_, keys::counter_meta_key(shard->cf_name), rocksdb::Slice(counter, 16));
    }
    rocksdb::Status status = rocksdb::Status::OK();
    if (batch.Count()) {
        // While storage is failing, batches fail fast instead of each
        // waiting on a disk that cannot take them.
        status = resume_if_due() ? write_to_db(write_options_, batch) : write_failure_;
        if (!status.ok()) note_write_failure(status);
    }
    if (!status.ok()) {
        // Nothing of the batch is visible: its counters are handed out again.
        for (auto* shard : touched) shard->next_counter = shard->committed.load() + 1;
    } else {
        for (auto* shard : touched) shard->committed.store(shard->next_counter - 1, std::memory_order_release);
    }
    std::vector<std::pair<std::shared_ptr<append_request>, rocksdb::Status>> finished;
    finished.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i)
        finished.emplace_back(std::move(tasks[i].append), rejected[i].ok() ? status : rejected[i]);
    auto complete = [this, finished = std::move(finished)] {
        for (auto& [req, result] : finished) req->done(result);
        appends_pending_.fetch_sub(finished.size(), std::memory_order_release);
    };
    std::lock_guard lock(runner_mutex_);
    if (status.ok() && commit_listener_) {
        // Pairs with the fence in a watcher's registration: either it sees
        // the new `committed`, or this sees its watcher count.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        for (auto* shard : touched)
            if (shard->watchers.load(std::memory_order_relaxed) > 0) commit_listener_(*shard);
    }
    if (completion_runner_)
        completion_runner_(std::move(complete));
    else
        complete();
}

void store::set_commit_listener(commit_listener listener) {
    std::lock_guard lock(runner_mutex_);
    commit_listener_ = std::move(listener);
}

void store::set_completion_runner(completion_runner runner) {
    std::lock_guard lock(runner_mutex_);
    completion_runner_ = std::move(runner);
}

namespace {
// Often enough that writes resume soon after space is freed; seldom enough
// that a disk that stays full is not hammered by flush attempts.
constexpr auto resume_interval = std::chrono::milliseconds(250);
}  // namespace

void store::retry_writes() {
    {
        std::lock_guard lock(queue_mutex_);
        if (stopping_) return;
        queue_.push_back(task{nullptr, nullptr, std::make_shared<std::promise<void>>()});
        queued_.store(queue_.size(), std::memory_order_release);
    }
    queue_cv_.notify_one();
}

std::string store::unwritable_reason() const {
    if (stopped_.load(std::memory_order_relaxed)) return "storage is stopped";
    if (!failing_.load(std::memory_order_relaxed)) return {};
    std::lock_guard lock(failure_mutex_);
    return "storage refuses writes: " + failure_text_;
}

std::uint64_t store::live_data_bytes() const {
    std::uint64_t total = 0, value = 0;
    for (auto* cf : {default_cf_, meta_, records_})
        if (cf && db_->GetIntProperty(cf, rocksdb::DB::Properties::kEstimateLiveDataSize, &value)) total += value;
    {
        // Shards of older data directories keep a column family each.
        std::lock_guard lock(shards_mutex_);
        for (const auto& [name, shard] : shards_)
            if (shard->cf && shard->cf != records_ &&
                db_->GetIntProperty(shard->cf, rocksdb::DB::Properties::kEstimateLiveDataSize, &value))
                total += value;
    }
    return total;
}

bool store::resume_if_due() {
    if (!write_failed_) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_resume_attempt_ < resume_interval) return false;
    last_resume_attempt_ = now;
    // After a failed WAL write RocksDB stays in a background-error state;
    // Resume() flushes the memtables to a fresh WAL and clears it once the
    // disk takes writes again (and is a no-op when there is no such state).
    auto s = db_->Resume();
    if (!s.ok()) {
        spdlog::debug("storage still failing: {}", s.ToString());
        return false;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - failed_since_).count();
    // At warn, so that whoever filters for the error also sees it end.
    spdlog::warn("storage writable again after {} ms ({} batches refused meanwhile)", took, refused_batches_);
    write_failed_ = false;
    failing_ = false;
    refused_batches_ = 0;
    return true;
}

void store::note_write_failure(const rocksdb::Status& status) {
    ++refused_batches_;
    if (write_failed_) return;
    // One line per episode: every put fails while it lasts.
    spdlog::error("storage write failed, refusing writes until it recovers: {}", status.ToString());
    write_failed_ = true;
    write_failure_ = status;
    {
        std::lock_guard lock(failure_mutex_);
        failure_text_ = status.ToString();
    }
    failing_ = true;
    failed_since_ = last_resume_attempt_ = std::chrono::steady_clock::now();
}

std::size_t store::read(const shard_log& shard, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                        const std::function<bool(const record_view&)>& fn) const {
    std::uint64_t last = shard.committed.load(std::memory_order_acquire);
    from = std::max(from, shard.trimmed_below.load(std::memory_order_acquire));
    if (from > last || limit == 0 || shard.dropped) return 0;
    char target[keys::max_record_key_size], lower[keys::max_record_key_size], upper[keys::max_record_key_size];
    const rocksdb::Slice target_slice(target, keys::encode_record_key(shard.prefix, from, target));
    const rocksdb::Slice lower_slice(lower, keys::encode_record_key(shard.prefix, 0, lower));
    const rocksdb::Slice upper_slice(upper, keys::encode_record_key(shard.prefix, last + 1, upper));
    rocksdb::ReadOptions ro;
    // Consumers read a record once, mostly; left to fill the block cache, a
    // drain of a long backlog grew the server by the whole cache (48 MiB by
    // default) with blocks nobody reads again. The OS page cache still keeps
    // them for a second consumer.
    ro.fill_cache = false;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, shard.cf));
    // `from` sits in the last chunk that starts at or before it, or, when
    // that chunk was trimmed away, in the first chunk after it.
    it->SeekForPrev(target_slice);
    if (!it->Valid()) it->Seek(target_slice);
    std::size_t count = 0, bytes = 0;
    for (; it->Valid(); it->Next()) {
        keys::chunk_reader chunk;
        if (!chunk.open(it->value().ToStringView())) continue;
        std::uint64_t counter = keys::record_key_counter(it->key().ToStringView());
        keys::record_value rv;
        for (; chunk.next(rv); ++counter) {
            if (counter < from) continue;
            if (counter > last) return count;
            ++count;
            bytes += rv.data.size() + rv.partition_key.size();
            if (!fn(record_view{counter, rv.arrival_ms, rv.partition_key, rv.data, rv.encrypted}) ||
                bytes >= max_bytes || count >= limit)
                return count;
        }
    }
    return count;
}

bool store::first_at_or_after(const shard_log& shard, std::uint64_t counter, record_view* out) const {
    bool found = false;
    read(shard, counter, 1, SIZE_MAX, [&](const record_view& v) {
        *out = v;
        found = true;
        return false;
    });
    return found;
}

std::uint64_t store::counter_at_time(const shard_log& shard, std::int64_t t_ms) const {
    std::uint64_t lo = shard.trimmed_below.load(), hi = shard.committed.load() + 1;
    while (lo < hi) {
        std::uint64_t mid = lo + (hi - lo) / 2;
        record_view v{};
        if (!first_at_or_after(shard, mid, &v)) {
            hi = mid;
        } else if (v.arrival_ms >= t_ms) {
            hi = mid;
        } else {
            lo = v.counter + 1;
        }
    }
    return lo;
}

rocksdb::Status store::trim(shard_log& shard, std::uint64_t below) {
    if (below <= shard.trimmed_below.load()) return rocksdb::Status::OK();
    // Readers stop seeing the range before the tombstone is written.
    shard.trimmed_below.store(below, std::memory_order_release);
    // Only whole chunks go: the one holding `below` stays, and readers skip
    // its records under trimmed_below, which is kept for the next start.
    char horizon[8], lower[keys::max_record_key_size], upper[keys::max_record_key_size];
    keys::encode_counter(below, horizon);
    if (auto s = put_meta(keys::trim_meta_key(shard.cf_name), rocksdb::Slice(horizon, 8).ToStringView()); !s.ok())
        return s;
    const rocksdb::Slice lower_slice(lower, keys::encode_record_key(shard.prefix, 0, lower));
    std::size_t upper_size = keys::encode_record_key(shard.prefix, below, upper);
    {
        rocksdb::ReadOptions ro;
        ro.iterate_lower_bound = &lower_slice;
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, shard.cf));
        it->SeekForPrev(rocksdb::Slice(upper, upper_size));
        if (!it->Valid()) return rocksdb::Status::OK();
        const auto start = keys::record_key_counter(it->key().ToStringView());
        keys::chunk_reader chunk;
        const bool whole_chunk_below = chunk.open(it->value().ToStringView()) && start + chunk.count() <= below;
        upper_size = keys::encode_record_key(shard.prefix, whole_chunk_below ? below : start, upper);
    }
    rocksdb::WriteOptions w;
    rocksdb::WriteBatch batch;
    if (auto s = batch.DeleteRange(shard.cf, lower_slice, rocksdb::Slice(upper, upper_size)); !s.ok()) return s;
    return write_to_db(w, batch);
}

void store::compact(shard_log& shard) {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (shard.prefix.empty()) {
        db_->CompactRange(o, shard.cf, nullptr, nullptr).PermitUncheckedError();
        return;
    }
    // Only the trimmed part of the shard's range: the rest of "records"
    // belongs to other shards.
    char lower[keys::max_record_key_size], upper[keys::max_record_key_size];
    const rocksdb::Slice begin(lower, keys::encode_record_key(shard.prefix, 0, lower));
    const rocksdb::Slice end(upper, keys::encode_record_key(shard.prefix, shard.trimmed_below.load(), upper));
    db_->CompactRange(o, shard.cf, &begin, &end).PermitUncheckedError();
}

// Writer thread, alone in its commit: nothing of the shard is queued behind.
void store::drop_now(shard_log& shard) {
    shard.dropped = true;
    std::lock_guard lock(shards_mutex_);
    rocksdb::WriteBatch batch;
    if (shard.cf && shard.prefix.empty()) {
        auto s = db_->DropColumnFamily(shard.cf);
        if (!s.ok()) spdlog::error("dropping column family {} failed: {}", shard.cf_name, s.ToString());
        // The handle stays valid (a reader may still hold this shard) and
        // is destroyed with the store.
        dropped_handles_.push_back(shard.cf);
    } else if (shard.cf) {
        char lower[keys::max_record_key_size], upper[keys::max_record_key_size];
        const rocksdb::Slice begin(lower, keys::encode_record_key(shard.prefix, 0, lower));
        const rocksdb::Slice end(upper, keys::encode_record_key(shard.prefix, UINT64_MAX, upper));
        batch.DeleteRange(shard.cf, begin, end);
    }
    batch.Delete(meta_, keys::shard_meta_key(shard.cf_name));
    batch.Delete(meta_, keys::counter_meta_key(shard.cf_name));
    batch.Delete(meta_, keys::trim_meta_key(shard.cf_name));
    rocksdb::WriteOptions w;
    w.sync = options_.mode != durability::none;
    auto s = write_to_db(w, batch);
    if (!s.ok()) {
        spdlog::error("deleting shard {} failed: {}", shard.cf_name, s.ToString());
    } else if (!shard.prefix.empty()) {
        // Appended data mostly moves down the levels without rewrites, so
        // without a hint the tombstone might never meet the files it covers.
        char lower[keys::max_record_key_size], upper[keys::max_record_key_size];
        const rocksdb::Slice begin(lower, keys::encode_record_key(shard.prefix, 0, lower));
        const rocksdb::Slice end(upper, keys::encode_record_key(shard.prefix, UINT64_MAX, upper));
        rocksdb::experimental::SuggestCompactRange(db_.get(), shard.cf, &begin, &end).PermitUncheckedError();
    }
    shards_.erase(shard.cf_name);
}

}  // namespace kinesd::storage
