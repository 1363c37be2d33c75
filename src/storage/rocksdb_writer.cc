// The writer thread of the RocksDB backend: group commit of appends, drops
// and fences in queue order, and recovery from failed writes.
#include "storage/rocksdb_store.h"

#include <rocksdb/experimental.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"
#include "common/cpu_relax.h"
#include "storage/keys.h"

namespace kinesd::storage {

void rocksdb_store::drop_shard(const shard_ref& shard) {
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(task{nullptr, std::static_pointer_cast<rocksdb_shard>(shard), nullptr});
        queued_.store(queue_.size(), std::memory_order_release);
    }
    queue_cv_.notify_one();
    // The writer takes tasks in order: past the fence, the drop is done.
    fence();
}

void rocksdb_store::close_shard(shard_log& shard) {
    shard.closed.store(true);
    fence();
}

void rocksdb_store::append(std::shared_ptr<append_request> request) {
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(task{std::move(request), nullptr, nullptr});
        queued_.store(queue_.size(), std::memory_order_release);
        appends_pending_.fetch_add(1, std::memory_order_relaxed);
    }
    queue_cv_.notify_one();
}

void rocksdb_store::await_next_append() const {
    const auto until = std::chrono::steady_clock::now() + options_.spin;
    while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) cpu_relax();
}

void rocksdb_store::writer_loop() {
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

void rocksdb_store::fence() {
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

rocksdb::Status rocksdb_store::write_to_db(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch) {
    return write_batch(*db_, options, batch);
}

void rocksdb_store::commit(std::vector<task>& tasks) {
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
        rocksdb_shard* shard;
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
    std::vector<rocksdb_shard*> touched;
    std::int64_t now = clock_.now_ms();
    std::vector<status> rejected(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        auto& req = *tasks[i].append;
        for (auto& e : req.entries) {
            if (e.shard->dropped) rejected[i] = status::not_found("shard dropped");
            else if (e.shard->closed) rejected[i] = status::aborted("shard closed by a reshard");
        }
        if (!rejected[i].ok()) continue;
        for (auto& e : req.entries) {
            // Every shard this store hands out is one of its own.
            auto& shard = static_cast<rocksdb_shard&>(*e.shard);
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
        batch.Put(meta_, keys::counter_meta_key(shard->name), rocksdb::Slice(counter, 16));
    }
    rocksdb::Status written = rocksdb::Status::OK();
    if (batch.Count()) {
        // While storage is failing, batches fail fast instead of each
        // waiting on a disk that cannot take them.
        written = resume_if_due() ? write_to_db(write_options_, batch) : write_failure_;
        if (!written.ok()) note_write_failure(written);
    }
    const status result = to_status(written);
    if (!result.ok()) {
        // Nothing of the batch is visible: its counters are handed out again.
        for (auto* shard : touched) shard->next_counter = shard->committed.load() + 1;
    } else {
        for (auto* shard : touched) shard->committed.store(shard->next_counter - 1, std::memory_order_release);
    }
    std::vector<std::pair<std::shared_ptr<append_request>, status>> finished;
    finished.reserve(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i)
        finished.emplace_back(std::move(tasks[i].append), rejected[i].ok() ? result : std::move(rejected[i]));
    auto complete = [this, finished = std::move(finished)] {
        for (auto& [req, result] : finished) req->done(result);
        appends_pending_.fetch_sub(finished.size(), std::memory_order_release);
    };
    std::lock_guard lock(runner_mutex_);
    if (result.ok() && commit_listener_) {
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

void rocksdb_store::set_commit_listener(commit_listener listener) {
    std::lock_guard lock(runner_mutex_);
    commit_listener_ = std::move(listener);
}

void rocksdb_store::set_completion_runner(completion_runner runner) {
    std::lock_guard lock(runner_mutex_);
    completion_runner_ = std::move(runner);
}

namespace {
// Often enough that writes resume soon after space is freed; seldom enough
// that a disk that stays full is not hammered by flush attempts.
constexpr auto resume_interval = std::chrono::milliseconds(250);
}  // namespace

void rocksdb_store::retry_writes() {
    {
        std::lock_guard lock(queue_mutex_);
        if (stopping_) return;
        queue_.push_back(task{nullptr, nullptr, std::make_shared<std::promise<void>>()});
        queued_.store(queue_.size(), std::memory_order_release);
    }
    queue_cv_.notify_one();
}

bool rocksdb_store::resume_if_due() {
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

void rocksdb_store::note_write_failure(const rocksdb::Status& failure) {
    ++refused_batches_;
    if (write_failed_) return;
    // One line per episode: every put fails while it lasts.
    spdlog::error("storage write failed, refusing writes until it recovers: {}", failure.ToString());
    write_failed_ = true;
    write_failure_ = failure;
    {
        std::lock_guard lock(failure_mutex_);
        failure_text_ = failure.ToString();
    }
    failing_ = true;
    failed_since_ = last_resume_attempt_ = std::chrono::steady_clock::now();
}

// Writer thread, alone in its commit: nothing of the shard is queued behind.
void rocksdb_store::drop_now(rocksdb_shard& shard) {
    shard.dropped = true;
    std::lock_guard lock(shards_mutex_);
    rocksdb::WriteBatch batch;
    if (shard.cf && shard.prefix.empty()) {
        auto s = db_->DropColumnFamily(shard.cf);
        if (!s.ok()) spdlog::error("dropping column family {} failed: {}", shard.name, s.ToString());
        // The handle stays valid (a reader may still hold this shard) and
        // is destroyed with the store.
        dropped_handles_.push_back(shard.cf);
    } else if (shard.cf) {
        char lower[keys::max_record_key_size], upper[keys::max_record_key_size];
        const rocksdb::Slice begin(lower, keys::encode_record_key(shard.prefix, 0, lower));
        const rocksdb::Slice end(upper, keys::encode_record_key(shard.prefix, UINT64_MAX, upper));
        batch.DeleteRange(shard.cf, begin, end);
    }
    batch.Delete(meta_, keys::shard_meta_key(shard.name));
    batch.Delete(meta_, keys::counter_meta_key(shard.name));
    batch.Delete(meta_, keys::trim_meta_key(shard.name));
    rocksdb::WriteOptions w;
    w.sync = options_.mode != durability::none;
    auto s = write_to_db(w, batch);
    if (!s.ok()) {
        spdlog::error("deleting shard {} failed: {}", shard.name, s.ToString());
    } else if (!shard.prefix.empty()) {
        // Appended data mostly moves down the levels without rewrites, so
        // without a hint the tombstone might never meet the files it covers.
        char lower[keys::max_record_key_size], upper[keys::max_record_key_size];
        const rocksdb::Slice begin(lower, keys::encode_record_key(shard.prefix, 0, lower));
        const rocksdb::Slice end(upper, keys::encode_record_key(shard.prefix, UINT64_MAX, upper));
        rocksdb::experimental::SuggestCompactRange(db_.get(), shard.cf, &begin, &end).PermitUncheckedError();
    }
    shards_.erase(shard.name);
}

}  // namespace kinesd::storage
