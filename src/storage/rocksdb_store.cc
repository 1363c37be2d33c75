#include "storage/rocksdb_store.h"

#include <rocksdb/cache.h>
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
#include "storage/keys.h"
#include "storage/time_search.h"
#include "storage/wal_file_system.h"

namespace kinesd::storage {

rocksdb_store::rocksdb_store(const rocksdb_options& options, const kinesd::clock& clock) : options_(options), clock_(clock) {
    write_options_.sync = options_.mode == durability::sync;
    write_options_.disableWAL = options_.mode == durability::none;
    open_db();
    writer_ = std::thread([this] { writer_loop(); });
}

rocksdb_store::~rocksdb_store() {
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

rocksdb::ColumnFamilyOptions rocksdb_store::shard_cf_options() const {
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

rocksdb::ColumnFamilyOptions rocksdb_store::records_cf_options() const {
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

void rocksdb_store::open_db() {
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
            auto shard = std::make_shared<rocksdb_shard>();
            shard->name = names[i];
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
        auto shard = std::make_shared<rocksdb_shard>();
        shard->name = std::string(key.substr(keys::shard_meta_prefix.size()));
        shard->cf = records_;
        shard->prefix = keys::shard_prefix(shard->name);
        std::uint64_t last = 0;
        std::int64_t arrival = 0;
        std::string value;
        if (get_meta(keys::counter_meta_key(shard->name), &value)) keys::decode_counter_meta(value, &last, &arrival);
        std::uint64_t first = 1;
        if (get_meta(keys::trim_meta_key(shard->name), &value)) first = std::max(first, keys::decode_counter(value));
        shard->trimmed_below = first;
        shard->committed = last;
        shard->next_counter = last + 1;
        shard->last_arrival_ms = arrival;
        shards_[shard->name] = std::move(shard);
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

rocksdb::Status rocksdb_store::write_meta(std::string_view key, const std::string_view* value) {
    rocksdb::WriteOptions w;
    w.sync = options_.mode != durability::none;
    rocksdb::WriteBatch batch;
    auto s = value ? batch.Put(meta_, key, *value) : batch.Delete(meta_, key);
    if (!s.ok()) return s;
    return write_to_db(w, batch);
}

bool rocksdb_store::get_meta(std::string_view key, std::string* value) const {
    return db_->Get(rocksdb::ReadOptions(), meta_, key, value).ok();
}

void rocksdb_store::scan_meta(std::string_view prefix,
                      const std::function<void(std::string_view, std::string_view)>& fn) const {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        fn(it->key().ToStringView(), it->value().ToStringView());
}

// A shard of an older data directory: the last counter handed out is the
// larger of the persisted counter and the last key (they agree unless a trim
// removed the tail), the first live record bounds trimmed_below.
void rocksdb_store::recover_column_family_shard(rocksdb_shard& shard) {
    std::uint64_t last = 0;
    std::int64_t arrival = 0;
    std::string value;
    if (get_meta(keys::counter_meta_key(shard.name), &value)) keys::decode_counter_meta(value, &last, &arrival);
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
    if (get_meta(keys::trim_meta_key(shard.name), &value)) first = std::max(first, keys::decode_counter(value));
    shard.trimmed_below = first;
    shard.committed = last;
    shard.next_counter = last + 1;
    shard.last_arrival_ms = arrival;
}

shard_ref rocksdb_store::open_shard(const std::string& name, bool create) {
    if (!create) {
        std::lock_guard lock(shards_mutex_);
        auto it = shards_.find(name);
        return it == shards_.end() ? nullptr : shard_ref(it->second);
    }
    return open_shards({name}).front();
}

std::vector<shard_ref> rocksdb_store::open_shards(const std::vector<std::string>& names) {
    std::lock_guard lock(shards_mutex_);
    rocksdb::WriteBatch batch;
    std::vector<std::shared_ptr<rocksdb_shard>> created;
    for (auto& name : names) {
        if (shards_.count(name) ||
            std::any_of(created.begin(), created.end(), [&](const auto& s) { return s->name == name; }))
            continue;
        auto shard = std::make_shared<rocksdb_shard>();
        shard->name = name;
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
        for (auto& shard : created) shards_[shard->name] = shard;
    }
    std::vector<shard_ref> out;
    out.reserve(names.size());
    for (auto& name : names) out.push_back(shards_.at(name));
    return out;
}

void rocksdb_store::drop_unreferenced(const std::set<std::string>& keep) {
    std::vector<shard_ref> orphans;
    {
        std::lock_guard lock(shards_mutex_);
        for (auto& [name, shard] : shards_)
            if (!keep.count(name)) orphans.push_back(shard);
    }
    for (auto& shard : orphans) {
        spdlog::info("dropping shard {} that no stream references", shard->name);
        drop_shard(shard);
    }
}

std::string rocksdb_store::unwritable_reason() const {
    if (stopped_.load(std::memory_order_relaxed)) return "storage is stopped";
    if (!failing_.load(std::memory_order_relaxed)) return {};
    std::lock_guard lock(failure_mutex_);
    return "storage refuses writes: " + failure_text_;
}

std::uint64_t rocksdb_store::live_data_bytes() const {
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

std::size_t rocksdb_store::read(shard_log& log, std::uint64_t from, std::size_t limit, std::size_t max_bytes,
                                const std::function<bool(const record_view&)>& fn) {
    const auto& shard = static_cast<const rocksdb_shard&>(log);
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

bool rocksdb_store::first_at_or_after(shard_log& shard, std::uint64_t counter, record_view* out) {
    bool found = false;
    read(shard, counter, 1, SIZE_MAX, [&](const record_view& v) {
        *out = v;
        found = true;
        return false;
    });
    return found;
}

std::uint64_t rocksdb_store::counter_at_time(shard_log& shard, std::int64_t t_ms) {
    return search_counter_at_time(*this, shard, t_ms);
}

status rocksdb_store::trim(shard_log& log, std::uint64_t below) {
    auto& shard = static_cast<rocksdb_shard&>(log);
    if (below <= shard.trimmed_below.load()) return status::success();
    // Readers stop seeing the range before the tombstone is written.
    shard.trimmed_below.store(below, std::memory_order_release);
    // Only whole chunks go: the one holding `below` stays, and readers skip
    // its records under trimmed_below, which is kept for the next start.
    char horizon[8], lower[keys::max_record_key_size], upper[keys::max_record_key_size];
    keys::encode_counter(below, horizon);
    const std::string_view horizon_value(horizon, 8);
    if (auto s = write_meta(keys::trim_meta_key(shard.name), &horizon_value); !s.ok()) return to_status(s);
    const rocksdb::Slice lower_slice(lower, keys::encode_record_key(shard.prefix, 0, lower));
    std::size_t upper_size = keys::encode_record_key(shard.prefix, below, upper);
    {
        rocksdb::ReadOptions ro;
        ro.iterate_lower_bound = &lower_slice;
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, shard.cf));
        it->SeekForPrev(rocksdb::Slice(upper, upper_size));
        if (!it->Valid()) return status::success();
        const auto start = keys::record_key_counter(it->key().ToStringView());
        keys::chunk_reader chunk;
        const bool whole_chunk_below = chunk.open(it->value().ToStringView()) && start + chunk.count() <= below;
        upper_size = keys::encode_record_key(shard.prefix, whole_chunk_below ? below : start, upper);
    }
    rocksdb::WriteOptions w;
    rocksdb::WriteBatch batch;
    if (auto s = batch.DeleteRange(shard.cf, lower_slice, rocksdb::Slice(upper, upper_size)); !s.ok())
        return to_status(s);
    return to_status(write_to_db(w, batch));
}

void rocksdb_store::compact(shard_log& log) {
    auto& shard = static_cast<rocksdb_shard&>(log);
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

}  // namespace kinesd::storage
