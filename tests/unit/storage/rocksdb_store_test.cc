#include "storage/rocksdb_store.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/clock.h"
#include "chunk_builder.h"
#include "storage/keys.h"

namespace kinesd::storage {
namespace {

namespace fs = std::filesystem;

struct input {
    shard_ref shard;
    std::string partition_key;
    std::string data;
};

// Submits one request through the writer thread; the future is its result.
// Returns the request so the caller can read the counters the writer assigned.
std::shared_ptr<append_request> append_async(rocksdb_store& st, std::vector<input> inputs,
                                             std::future<status>* result) {
    auto owned = std::make_shared<std::vector<input>>(std::move(inputs));
    auto req = std::make_shared<append_request>();
    for (auto& in : *owned) req->entries.push_back(append_entry{in.shard.get(), in.partition_key, in.data});
    req->owner = owned;
    auto done = std::make_shared<std::promise<status>>();
    *result = done->get_future();
    req->done = [done](const status& s) { done->set_value(s); };
    st.append(req);
    return req;
}

// Submits one request and waits for its completion.
std::shared_ptr<append_request> append_and_wait(rocksdb_store& st, std::vector<input> inputs,
                                                 status* result_status = nullptr) {
    std::future<status> result;
    auto req = append_async(st, std::move(inputs), &result);
    status s = result.get();
    if (result_status)
        *result_status = s;
    else
        EXPECT_TRUE(s.ok()) << s.to_string();
    return req;
}

// The RocksDB side of a shard this store handed out.
rocksdb_shard& rs(const shard_ref& s) { return static_cast<rocksdb_shard&>(*s); }
rocksdb_shard& rs(shard_log& s) { return static_cast<rocksdb_shard&>(s); }

struct read_record {
    std::uint64_t counter;
    std::int64_t arrival_ms;
    std::string partition_key;
    std::string data;
};

std::vector<read_record> read_all(rocksdb_store& st, shard_log& shard, std::uint64_t from = 0,
                                  std::size_t limit = SIZE_MAX, std::size_t max_bytes = SIZE_MAX) {
    std::vector<read_record> out;
    st.read(shard, from, limit, max_bytes, [&](const record_view& v) {
        out.push_back({v.counter, v.arrival_ms, std::string(v.partition_key), std::string(v.data)});
        return true;
    });
    return out;
}

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               ("kinesd-store-test-" + std::string(info->name()) + "-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::random_device{}()));
        fs::remove_all(dir_);
        options_.path = dir_.string();
        options_.mode = durability::flush;
        options_.write_buffer_total_bytes = 8u << 20;
        options_.block_cache_bytes = 1u << 20;
    }
    void TearDown() override {
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    rocksdb_store& open() {
        store_.reset();
        store_ = std::make_unique<rocksdb_store>(options_, clock_);
        return *store_;
    }
    void close() { store_.reset(); }

    fs::path dir_;
    rocksdb_options options_;
    kinesd::clock clock_;
    std::unique_ptr<rocksdb_store> store_;
};

TEST_F(StoreTest, AppendsFromManyThreadsGetIncreasingCountersPerShard) {
    rocksdb_store& st = open();
    shard_ref a = st.open_shard(keys::shard_cf_name(1, 0), true);
    shard_ref b = st.open_shard(keys::shard_cf_name(1, 1), true);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);

    constexpr int threads = 4, requests = 40;
    std::mutex mutex;
    std::map<std::uint64_t, std::string> seen_a, seen_b;
    std::atomic<int> failures{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::uint64_t last_a = 0, last_b = 0;
            for (int r = 0; r < requests; ++r) {
                std::string tag = std::to_string(t) + "/" + std::to_string(r);
                auto req = append_and_wait(st, {{a, "pk", "a1:" + tag}, {b, "pk", "b:" + tag}, {a, "pk", "a2:" + tag}});
                const auto& e = req->entries;
                // Within one request, entries of one shard keep request order;
                // a later request from the same thread gets later counters.
                if (!(e[0].counter < e[2].counter && e[0].counter > last_a && e[1].counter > last_b)) ++failures;
                last_a = e[2].counter;
                last_b = e[1].counter;
                std::lock_guard lock(mutex);
                if (!seen_a.emplace(e[0].counter, "a1:" + tag).second) ++failures;
                if (!seen_a.emplace(e[2].counter, "a2:" + tag).second) ++failures;
                if (!seen_b.emplace(e[1].counter, "b:" + tag).second) ++failures;
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(failures.load(), 0);

    const std::uint64_t total_a = 2 * threads * requests, total_b = threads * requests;
    ASSERT_EQ(seen_a.size(), total_a);
    ASSERT_EQ(seen_b.size(), total_b);
    // Counters are exactly 1..N per shard: no gaps, no reuse across shards' sequences.
    EXPECT_EQ(seen_a.begin()->first, 1u);
    EXPECT_EQ(seen_a.rbegin()->first, total_a);
    EXPECT_EQ(seen_b.begin()->first, 1u);
    EXPECT_EQ(seen_b.rbegin()->first, total_b);
    EXPECT_EQ(a->committed.load(), total_a);
    EXPECT_EQ(b->committed.load(), total_b);

    auto records = read_all(st, *a);
    ASSERT_EQ(records.size(), total_a);
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].counter, i + 1);
        EXPECT_EQ(records[i].data, seen_a[i + 1]);
        EXPECT_EQ(records[i].partition_key, "pk");
        if (i) {
            EXPECT_GE(records[i].arrival_ms, records[i - 1].arrival_ms);
        }
    }
    auto records_b = read_all(st, *b);
    ASSERT_EQ(records_b.size(), total_b);
    for (std::size_t i = 0; i < records_b.size(); ++i) EXPECT_EQ(records_b[i].data, seen_b[i + 1]);
}

TEST_F(StoreTest, ReadHonoursFromLimitAndMaxBytes) {
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(keys::shard_cf_name(2, 0), true);
    std::vector<input> batch;
    for (int i = 1; i <= 20; ++i) batch.push_back({s, "k", std::string(100, char('a' + i % 26))});
    append_and_wait(st, batch);

    auto first5 = read_all(st, *s, 1, 5);
    ASSERT_EQ(first5.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(first5[i].counter, i + 1);

    auto from12 = read_all(st, *s, 12, 3);
    ASSERT_EQ(from12.size(), 3u);
    EXPECT_EQ(from12[0].counter, 12u);
    EXPECT_EQ(from12[2].counter, 14u);

    // Each record weighs 101 bytes (data plus key); 250 bytes are crossed by
    // the third, which is still returned.
    auto by_bytes = read_all(st, *s, 1, SIZE_MAX, 250);
    ASSERT_EQ(by_bytes.size(), 3u);
    std::size_t before_last = 0;
    for (std::size_t i = 0; i + 1 < by_bytes.size(); ++i)
        before_last += by_bytes[i].data.size() + by_bytes[i].partition_key.size();
    EXPECT_LT(before_last, 250u);

    // A single record larger than max_bytes is still returned on its own.
    EXPECT_EQ(read_all(st, *s, 1, SIZE_MAX, 1).size(), 1u);

    EXPECT_TRUE(read_all(st, *s, 21).empty());
    EXPECT_TRUE(read_all(st, *s, 1, 0).empty());
    EXPECT_EQ(read_all(st, *s, 0).size(), 20u);

    // fn returning false stops the scan after that record.
    std::size_t calls = 0;
    std::size_t visited = st.read(*s, 1, SIZE_MAX, SIZE_MAX, [&](const record_view&) { return ++calls < 4; });
    EXPECT_EQ(calls, 4u);
    EXPECT_EQ(visited, 4u);

    record_view v{};
    ASSERT_TRUE(st.first_at_or_after(*s, 7, &v));
    EXPECT_EQ(v.counter, 7u);
    EXPECT_FALSE(st.first_at_or_after(*s, 21, &v));
}

TEST_F(StoreTest, ReopenContinuesCountersAndKeepsRecords) {
    const std::string name = keys::shard_cf_name(3, 0);
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(name, true);
        for (int i = 0; i < 5; ++i) append_and_wait(st, {{s, "key" + std::to_string(i), "v" + std::to_string(i)}});
        ASSERT_TRUE(st.put_meta("stream/x", "{\"a\":1}").ok());
        close();
    }
    rocksdb_store& st = open();
    EXPECT_EQ(st.open_shard(keys::shard_cf_name(3, 99), false), nullptr);
    shard_ref s = st.open_shard(name, false);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->committed.load(), 5u);
    auto records = read_all(st, *s);
    ASSERT_EQ(records.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(records[i].counter, i + 1);
        EXPECT_EQ(records[i].partition_key, "key" + std::to_string(i));
        EXPECT_EQ(records[i].data, "v" + std::to_string(i));
    }
    auto req = append_and_wait(st, {{s, "k", "after"}, {s, "k", "after2"}});
    EXPECT_EQ(req->entries[0].counter, 6u);
    EXPECT_EQ(req->entries[1].counter, 7u);
    std::string meta;
    ASSERT_TRUE(st.get_meta("stream/x", &meta));
    EXPECT_EQ(meta, "{\"a\":1}");
}

TEST_F(StoreTest, SyncDurabilityAlsoAppendsAndReopens) {
    options_.mode = durability::sync;
    const std::string name = keys::shard_cf_name(3, 1);
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(name, true);
        append_and_wait(st, {{s, "k", "one"}, {s, "k", "two"}});
        close();
    }
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(name, false);
    ASSERT_NE(s, nullptr);
    auto records = read_all(st, *s);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].data, "two");
}

TEST_F(StoreTest, TrimHidesAndDeletesOlderRecords) {
    const std::string name = keys::shard_cf_name(4, 0);
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(name, true);
        // One request each: one chunk each, so whole chunks can go.
        for (int i = 1; i <= 10; ++i) append_and_wait(st, {{s, "k", "r" + std::to_string(i)}});

        ASSERT_TRUE(st.trim(*s, 6).ok());
        EXPECT_EQ(s->trimmed_below.load(), 6u);
        auto records = read_all(st, *s, 1);
        ASSERT_EQ(records.size(), 5u);
        EXPECT_EQ(records.front().counter, 6u);
        EXPECT_EQ(records.front().data, "r6");
        EXPECT_EQ(st.counter_at_time(*s, 0), 6u);

        // Trimming below the current horizon changes nothing.
        ASSERT_TRUE(st.trim(*s, 3).ok());
        EXPECT_EQ(s->trimmed_below.load(), 6u);
        EXPECT_EQ(read_all(st, *s, 1).size(), 5u);

        // The records are really gone, not only hidden by the horizon.
        st.compact(*s);
        std::vector<std::uint64_t> keys_left;
        {
            std::unique_ptr<rocksdb::Iterator> it(st.db()->NewIterator(rocksdb::ReadOptions(), rs(s).cf));
            for (it->Seek(rs(s).prefix); it->Valid() && it->key().starts_with(rs(s).prefix); it->Next())
                keys_left.push_back(keys::record_key_counter(it->key().ToStringView()));
        }
        EXPECT_EQ(keys_left, (std::vector<std::uint64_t>{6, 7, 8, 9, 10}));
        close();
    }
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(name, false);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->trimmed_below.load(), 6u);
    EXPECT_EQ(read_all(st, *s, 1).size(), 5u);
}

TEST_F(StoreTest, OneRequestIsOneChunkAndTrimInsideItHidesTheOlderPart) {
    const std::string name = keys::shard_cf_name(4, 2);
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(name, true);
        shard_ref other = st.open_shard(keys::shard_cf_name(4, 3), true);
        std::vector<input> batch;
        for (int i = 1; i <= 6; ++i) batch.push_back({i % 2 ? s : other, "k", "r" + std::to_string(i)});
        auto req = append_and_wait(st, batch);
        // Counters are per shard and consecutive within the request.
        EXPECT_EQ(req->entries[0].counter, 1u);
        EXPECT_EQ(req->entries[2].counter, 2u);
        EXPECT_EQ(req->entries[4].counter, 3u);
        EXPECT_EQ(req->entries[5].counter, 3u);
        append_and_wait(st, {{s, "k", "r7"}});

        std::vector<std::uint64_t> keys_stored;
        {
            std::unique_ptr<rocksdb::Iterator> it(st.db()->NewIterator(rocksdb::ReadOptions(), rs(s).cf));
            for (it->Seek(rs(s).prefix); it->Valid() && it->key().starts_with(rs(s).prefix); it->Next())
                keys_stored.push_back(keys::record_key_counter(it->key().ToStringView()));
        }
        EXPECT_EQ(keys_stored, (std::vector<std::uint64_t>{1, 4}));

        // Reading from the middle of a chunk starts at that record.
        auto from_two = read_all(st, *s, 2);
        ASSERT_EQ(from_two.size(), 3u);
        EXPECT_EQ(from_two[0].data, "r3");
        EXPECT_EQ(from_two[2].data, "r7");

        ASSERT_TRUE(st.trim(*s, 3).ok());
        auto after_trim = read_all(st, *s, 1);
        ASSERT_EQ(after_trim.size(), 2u);
        EXPECT_EQ(after_trim[0].counter, 3u);
        EXPECT_EQ(after_trim[0].data, "r5");
        close();
    }
    // The horizon inside the chunk survives a restart.
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(name, false);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->trimmed_below.load(), 3u);
    EXPECT_EQ(s->committed.load(), 4u);
    auto records = read_all(st, *s, 1);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].data, "r5");
    EXPECT_EQ(records[1].data, "r7");
}

TEST_F(StoreTest, ChunksSplitAtTheirSizeBoundAndReadAcrossTheSeam) {
    options_.max_chunk_bytes = 1000;
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(keys::shard_cf_name(4, 4), true);
    std::vector<input> batch;
    for (int i = 0; i < 10; ++i) batch.push_back({s, "k" + std::to_string(i), std::string(300, char('a' + i))});
    append_and_wait(st, batch);
    std::size_t entries = 0;
    {
        std::unique_ptr<rocksdb::Iterator> it(st.db()->NewIterator(rocksdb::ReadOptions(), rs(s).cf));
        for (it->SeekToFirst(); it->Valid(); it->Next()) ++entries;
    }
    EXPECT_GT(entries, 1u);
    EXPECT_LT(entries, 10u);
    auto records = read_all(st, *s, 1);
    ASSERT_EQ(records.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(records[i].counter, std::uint64_t(i + 1));
        EXPECT_EQ(records[i].partition_key, "k" + std::to_string(i));
        EXPECT_EQ(records[i].data, std::string(300, char('a' + i)));
    }
    EXPECT_EQ(read_all(st, *s, 4, 3).size(), 3u);
    EXPECT_EQ(read_all(st, *s, 4, 3)[0].counter, 4u);
}

TEST_F(StoreTest, OpenShardsCreatesTheMissingOnesTogether) {
    const std::vector<std::string> names = {keys::shard_cf_name(9, 0), keys::shard_cf_name(9, 1),
                                            keys::shard_cf_name(9, 2)};
    {
        rocksdb_store& st = open();
        shard_ref existing = st.open_shard(names[1], true);
        append_and_wait(st, {{existing, "k", "kept"}});
        auto logs = st.open_shards(names);
        ASSERT_EQ(logs.size(), 3u);
        EXPECT_EQ(logs[1], existing);
        for (auto& log : logs) ASSERT_NE(rs(log).cf, nullptr);
        EXPECT_EQ(logs[0], st.open_shard(names[0], false));
        append_and_wait(st, {{logs[0], "k", "a"}, {logs[2], "k", "c"}});
        close();
    }
    rocksdb_store& st = open();
    for (auto& name : names) ASSERT_NE(st.open_shard(name, false), nullptr) << name;
    EXPECT_EQ(read_all(st, *st.open_shard(names[0], false)).at(0).data, "a");
    EXPECT_EQ(read_all(st, *st.open_shard(names[1], false)).at(0).data, "kept");
    EXPECT_EQ(read_all(st, *st.open_shard(names[2], false)).at(0).data, "c");
}

TEST_F(StoreTest, CountersContinueAfterEverythingWasTrimmed) {
    const std::string name = keys::shard_cf_name(4, 1);
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(name, true);
        append_and_wait(st, {{s, "k", "1"}, {s, "k", "2"}, {s, "k", "3"}});
        ASSERT_TRUE(st.trim(*s, 4).ok());
        EXPECT_TRUE(read_all(st, *s).empty());
        close();
    }
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(name, false);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->committed.load(), 3u);
    EXPECT_EQ(s->trimmed_below.load(), 4u);
    auto req = append_and_wait(st, {{s, "k", "4"}});
    EXPECT_EQ(req->entries[0].counter, 4u);
    auto records = read_all(st, *s);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].data, "4");
}

TEST_F(StoreTest, CounterAtTimeFindsFirstRecordAtOrAfter) {
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(keys::shard_cf_name(5, 0), true);
    EXPECT_EQ(st.counter_at_time(*s, 0), 1u) << "empty shard";

    std::vector<std::pair<std::uint64_t, std::int64_t>> arrivals;  // counter, arrival
    for (int step = 0; step < 4; ++step) {
        // Hours apart, so the steps' arrival times cannot overlap.
        clock_.set_offset_ms(std::int64_t(step) * 3600 * 1000);
        auto req = append_and_wait(st, {{s, "k", "x"}, {s, "k", "y"}, {s, "k", "z"}});
        for (auto& e : req->entries) arrivals.emplace_back(e.counter, e.arrival_ms);
    }
    ASSERT_EQ(arrivals.size(), 12u);
    EXPECT_GE(arrivals[3].second - arrivals[2].second, 3000 * 1000);

    auto expected_at = [&](std::int64_t t) {
        for (auto& [counter, arrival] : arrivals)
            if (arrival >= t) return counter;
        return arrivals.back().first + 1;
    };
    for (auto& [counter, arrival] : arrivals) {
        for (std::int64_t t : {arrival - 1, arrival, arrival + 1})
            EXPECT_EQ(st.counter_at_time(*s, t), expected_at(t)) << "t=" << t;
    }
    EXPECT_EQ(st.counter_at_time(*s, 0), 1u);
    EXPECT_EQ(st.counter_at_time(*s, arrivals.back().second + 1), 13u);
    EXPECT_EQ(st.counter_at_time(*s, INT64_MAX), 13u);
    EXPECT_EQ(st.counter_at_time(*s, arrivals[3].second), 4u);
    EXPECT_EQ(st.counter_at_time(*s, arrivals[3].second - 60000), 4u);
}

TEST_F(StoreTest, ArrivalTimesNeverGoBackwardsInAShard) {
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(keys::shard_cf_name(5, 1), true);
    clock_.set_offset_ms(3600 * 1000);
    auto first = append_and_wait(st, {{s, "k", "later clock"}});
    clock_.set_offset_ms(0);
    auto second = append_and_wait(st, {{s, "k", "clock moved back"}});
    EXPECT_GE(second->entries[0].arrival_ms, first->entries[0].arrival_ms);
    EXPECT_GT(second->entries[0].counter, first->entries[0].counter);
}

// Waits until every task queued before this call has run: the writer thread
// works in queue order.
void barrier(rocksdb_store& st, const shard_ref& any_live_shard) { append_and_wait(st, {{any_live_shard, "k", "barrier"}}); }

// Keys stored under a shard's prefix in its column family.
std::vector<std::uint64_t> stored_keys(rocksdb_store& st, shard_log& s) {
    std::vector<std::uint64_t> out;
    std::unique_ptr<rocksdb::Iterator> it(st.db()->NewIterator(rocksdb::ReadOptions(), rs(s).cf));
    for (it->Seek(rs(s).prefix); it->Valid() && it->key().starts_with(rs(s).prefix); it->Next())
        out.push_back(keys::record_key_counter(it->key().ToStringView()));
    return out;
}

TEST_F(StoreTest, DropShardRemovesItsRecords) {
    const std::string gone = keys::shard_cf_name(6, 0), kept = keys::shard_cf_name(6, 1);
    {
        rocksdb_store& st = open();
        shard_ref a = st.open_shard(gone, true);
        shard_ref b = st.open_shard(kept, true);
        append_and_wait(st, {{a, "k", "a1"}, {a, "k", "a2"}, {b, "k", "b1"}});
        EXPECT_EQ(stored_keys(st, *a).size(), 1u);
        st.drop_shard(a);
        barrier(st, b);
        EXPECT_TRUE(a->dropped.load());
        EXPECT_TRUE(read_all(st, *a).empty());
        EXPECT_TRUE(stored_keys(st, *a).empty());
        EXPECT_EQ(stored_keys(st, *b).size(), 2u);  // b1 and the barrier's record
        EXPECT_EQ(st.open_shard(gone, false), nullptr);

        status result;
        append_and_wait(st, {{a, "k", "too late"}}, &result);
        EXPECT_TRUE(result.is_not_found()) << result.to_string();
        close();
    }
    rocksdb_store& st = open();
    EXPECT_EQ(st.open_shard(gone, false), nullptr);
    ASSERT_NE(st.open_shard(kept, false), nullptr);
    // A shard created again under the same name starts from the beginning.
    shard_ref again = st.open_shard(gone, true);
    auto req = append_and_wait(st, {{again, "k", "new"}});
    EXPECT_EQ(req->entries[0].counter, 1u);
    EXPECT_EQ(read_all(st, *again).size(), 1u);
}

TEST_F(StoreTest, DropQueuedBehindAppendsRunsAfterThem) {
    // While the writer is busy with a large batch, an append and a drop pile
    // up in its queue together; both must be handled, in order.
    // The scenario runs in a child process (a crash there fails this test
    // instead of ending the run); it works in a directory named after this
    // process so that cleanup here removes it whatever happens to the child.
    auto shared_dir = [](pid_t parent) {
        return fs::temp_directory_path() / ("kinesd-store-test-drop-queue-" + std::to_string(parent));
    };
    auto scenario = [&] {
        options_.path = shared_dir(::getppid()).string();
        options_.mode = durability::sync;
        rocksdb_store& st = open();
        shard_ref busy = st.open_shard(keys::shard_cf_name(7, 0), true);
        shard_ref doomed = st.open_shard(keys::shard_cf_name(7, 1), true);
        shard_ref live = st.open_shard(keys::shard_cf_name(7, 2), true);
        std::vector<input> big;
        for (int i = 0; i < 4000; ++i) big.push_back({busy, "k", std::string(1024, 'b')});
        std::vector<std::future<status>> results;
        auto submit = [&](std::vector<input> inputs) {
            results.emplace_back();
            append_async(st, std::move(inputs), &results.back());
        };
        submit(std::move(big));
        submit({{live, "k", "before drop"}});
        st.drop_shard(doomed);
        submit({{live, "k", "after drop"}});
        int code = 0;
        for (auto& r : results)
            if (!r.get().ok()) code = 2;
        if (!doomed->dropped.load() || read_all(st, *live).size() != 2) code = 3;
        close();
        std::_Exit(code);
    };
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(scenario(), ::testing::ExitedWithCode(0), "");
    std::error_code ec;
    fs::remove_all(shared_dir(::getpid()), ec);
}

TEST_F(StoreTest, CompletionsRunWhereTheRunnerPutsThemAfterTheCommit) {
    rocksdb_store& st = open();
    shard_ref shard = st.open_shard(keys::shard_cf_name(9, 0), true);
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::function<void()>> handed_over;
    st.set_completion_runner([&](std::function<void()> complete) {
        std::lock_guard lock(m);
        handed_over.push_back(std::move(complete));
        cv.notify_all();
    });
    auto owned = std::make_shared<std::vector<input>>(std::vector<input>{{shard, "k", "one"}, {shard, "k", "two"}});
    auto req = std::make_shared<append_request>();
    for (auto& in : *owned) req->entries.push_back(append_entry{in.shard.get(), in.partition_key, in.data});
    req->owner = owned;
    std::atomic<int> calls{0};
    status seen = status::other("not completed");
    req->done = [&](const status& s) {
        seen = s;
        ++calls;
    };
    st.append(req);
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return !handed_over.empty(); }));
    }
    // Committed and readable, but not completed until the runner runs it,
    // and pending until then: network threads poll for what is pending.
    EXPECT_EQ(read_all(st, *shard).size(), 2u);
    EXPECT_EQ(calls.load(), 0);
    EXPECT_EQ(st.appends_pending(), 1u);
    std::function<void()> complete;
    {
        std::lock_guard lock(m);
        complete = std::move(handed_over.front());
    }
    req.reset();  // the handed-over work keeps the request alive
    complete();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_TRUE(seen.ok()) << seen.to_string();
    EXPECT_EQ(st.appends_pending(), 0u);

    // Unset again, completions run on the writer before append_and_wait returns.
    st.set_completion_runner(nullptr);
    append_and_wait(st, {{shard, "k", "three"}});
    std::lock_guard lock(m);
    EXPECT_EQ(handed_over.size(), 1u);
}

// After a lone commit the writer polls the queue before it sleeps: appends
// that come while it polls, after it gave up, and from several threads at
// once must all be taken, in order.
TEST_F(StoreTest, AWriterThatPollsForTheNextAppendTakesEveryOne) {
    options_.spin = std::chrono::microseconds(2000);
    rocksdb_store& st = open();
    shard_ref shard = st.open_shard(keys::shard_cf_name(10, 0), true);
    std::uint64_t last = 0;
    for (int i = 0; i < 60; ++i) {
        // within the poll, just after it, and long after it
        if (i % 3 == 1) std::this_thread::sleep_for(std::chrono::microseconds(2500));
        if (i % 3 == 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        auto req = append_and_wait(st, {{shard, "k", "r" + std::to_string(i)}});
        EXPECT_GT(req->entries[0].counter, last);
        last = req->entries[0].counter;
    }
    std::vector<std::thread> pool;
    for (int t = 0; t < 3; ++t)
        pool.emplace_back([&, t] {
            for (int r = 0; r < 20; ++r) append_and_wait(st, {{shard, "k", "t" + std::to_string(t)}});
        });
    for (auto& th : pool) th.join();
    const auto records = read_all(st, *shard);
    ASSERT_EQ(records.size(), 120u);
    for (int i = 0; i < 60; ++i) EXPECT_EQ(records[i].data, "r" + std::to_string(i));
    // A request counts as pending until its completion has returned, a
    // moment after the waiter above was woken from inside it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (st.appends_pending() != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(st.appends_pending(), 0u);
}

// Polling is for a client putting alone: it takes a run of commits of one
// put each, and one commit of several puts ends it.
TEST_F(StoreTest, OnlyARunOfLoneCommitsCountsAsALoneClient) {
    rocksdb_store& st = open();
    shard_ref shard = st.open_shard(keys::shard_cf_name(11, 0), true);
    EXPECT_FALSE(st.lone_client());
    for (unsigned i = 1; i <= rocksdb_store::lone_commits_for_polling; ++i) {
        append_and_wait(st, {{shard, "k", "lone"}});
        EXPECT_EQ(st.lone_client(), i == rocksdb_store::lone_commits_for_polling) << "after " << i << " lone commits";
    }

    // Hold the writer inside its first completion so that the next three
    // appends queue up behind it and go into one commit together.
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> held{false};
    st.set_completion_runner([&](std::function<void()> complete) {
        if (!held.exchange(true)) released.wait();
        complete();
    });
    std::vector<std::future<status>> results(4);
    for (int i = 0; i < 4; ++i) {
        append_async(st, {{shard, "k", "many"}}, &results[i]);
        // the first goes alone; wait until the writer holds on it
        while (i == 0 && !held.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    release.set_value();
    for (auto& r : results) EXPECT_TRUE(r.get().ok());
    EXPECT_FALSE(st.lone_client());
    st.set_completion_runner(nullptr);

    append_and_wait(st, {{shard, "k", "alone again"}});
    EXPECT_FALSE(st.lone_client());
}

TEST_F(StoreTest, DropUnreferencedKeepsOnlyNamedShards) {
    rocksdb_store& st = open();
    shard_ref a = st.open_shard(keys::shard_cf_name(8, 0), true);
    shard_ref b = st.open_shard(keys::shard_cf_name(8, 1), true);
    shard_ref c = st.open_shard(keys::shard_cf_name(8, 2), true);
    st.drop_unreferenced({a->name});
    barrier(st, a);
    EXPECT_FALSE(a->dropped.load());
    EXPECT_TRUE(b->dropped.load());
    EXPECT_TRUE(c->dropped.load());
    EXPECT_NE(st.open_shard(a->name, false), nullptr);
    EXPECT_EQ(st.open_shard(b->name, false), nullptr);
    EXPECT_EQ(st.open_shard(c->name, false), nullptr);
}

TEST_F(StoreTest, MetaPutGetDeleteAndScan) {
    rocksdb_store& st = open();
    ASSERT_TRUE(st.put_meta("stream/a", "1").ok());
    ASSERT_TRUE(st.put_meta("stream/b", "2").ok());
    ASSERT_TRUE(st.put_meta("streams", "not under the prefix").ok());
    ASSERT_TRUE(st.put_meta("firehose/a", "3").ok());
    std::string v;
    ASSERT_TRUE(st.get_meta("stream/b", &v));
    EXPECT_EQ(v, "2");
    EXPECT_FALSE(st.get_meta("stream/c", &v));

    std::vector<std::pair<std::string, std::string>> seen;
    st.scan_meta("stream/", [&](std::string_view k, std::string_view val) { seen.emplace_back(k, val); });
    EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"stream/a", "1"}, {"stream/b", "2"}}));

    ASSERT_TRUE(st.delete_meta("stream/a").ok());
    EXPECT_FALSE(st.get_meta("stream/a", &v));
    seen.clear();
    st.scan_meta("stream/", [&](std::string_view k, std::string_view val) { seen.emplace_back(k, val); });
    EXPECT_EQ(seen.size(), 1u);
}

TEST_F(StoreTest, MetaCompareAndSwapWritesOnlyAtTheExpectedRevision) {
    rocksdb_store& st = open();
    std::uint64_t rev = 99;
    std::string v;
    ASSERT_TRUE(st.get_meta_revision("lease/a", &v, &rev).ok());
    EXPECT_EQ(rev, 0u);

    // Only one of two creators wins.
    std::uint64_t first = 0, second = 0;
    ASSERT_TRUE(st.put_meta_if("lease/a", "one", 0, &first).ok());
    EXPECT_NE(first, 0u);
    EXPECT_TRUE(st.put_meta_if("lease/a", "two", 0, &second).is_conflict());
    ASSERT_TRUE(st.get_meta("lease/a", &v));
    EXPECT_EQ(v, "one");

    ASSERT_TRUE(st.get_meta_revision("lease/a", &v, &rev).ok());
    EXPECT_EQ(rev, first);
    EXPECT_EQ(v, "one");
    ASSERT_TRUE(st.put_meta_if("lease/a", "two", first, &second).ok());
    EXPECT_NE(second, first);
    EXPECT_TRUE(st.put_meta_if("lease/a", "three", first, &rev).is_conflict());
    EXPECT_TRUE(st.delete_meta_if("lease/a", first).is_conflict());
    ASSERT_TRUE(st.get_meta("lease/a", &v));
    EXPECT_EQ(v, "two");

    ASSERT_TRUE(st.delete_meta_if("lease/a", second).ok());
    EXPECT_FALSE(st.get_meta("lease/a", &v));
    ASSERT_TRUE(st.get_meta_revision("lease/a", &v, &rev).ok());
    EXPECT_EQ(rev, 0u);

    // A plain write changes the revision a later compare must name.
    ASSERT_TRUE(st.put_meta("lease/b", "x").ok());
    ASSERT_TRUE(st.get_meta_revision("lease/b", nullptr, &rev).ok());
    ASSERT_TRUE(st.put_meta("lease/b", "y").ok());
    EXPECT_TRUE(st.put_meta_if("lease/b", "z", rev, nullptr).is_conflict());
}

TEST_F(StoreTest, ConcurrentCreatorsHaveExactlyOneWinner) {
    rocksdb_store& st = open();
    std::atomic<int> winners{0}, conflicts{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            auto s = st.put_meta_if("lease/x", "owner" + std::to_string(i), 0, nullptr);
            if (s.ok()) ++winners;
            if (s.is_conflict()) ++conflicts;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(conflicts.load(), 7);
}

TEST_F(StoreTest, MetaWatchersSeeChangesUnderTheirPrefixUntilUnwatched) {
    rocksdb_store& st = open();
    std::vector<std::pair<std::string, std::optional<std::string>>> seen;
    std::vector<std::uint64_t> revisions;
    auto id = st.watch_meta("lease/", [&](std::string_view key, const std::string* value, std::uint64_t revision) {
        seen.emplace_back(std::string(key), value ? std::optional<std::string>(*value) : std::nullopt);
        revisions.push_back(revision);
        // Called under no lock of the store: reading back works.
        std::string v;
        st.get_meta(key, &v);
    });
    ASSERT_TRUE(st.put_meta("lease/a", "1").ok());
    ASSERT_TRUE(st.put_meta("stream/a", "not watched").ok());
    std::uint64_t rev = 0;
    ASSERT_TRUE(st.put_meta_if("lease/b", "2", 0, &rev).ok());
    EXPECT_TRUE(st.put_meta_if("lease/b", "3", 0, nullptr).is_conflict());  // no change, no call
    ASSERT_TRUE(st.delete_meta_if("lease/b", rev).ok());
    ASSERT_TRUE(st.delete_meta("lease/a").ok());
    using change = std::pair<std::string, std::optional<std::string>>;
    EXPECT_EQ(seen, (std::vector<change>{{"lease/a", "1"}, {"lease/b", "2"}, {"lease/b", std::nullopt},
                                         {"lease/a", std::nullopt}}));
    // Every change, a deletion too, carries a revision above the last.
    ASSERT_EQ(revisions.size(), 4u);
    EXPECT_EQ(revisions[1], rev);
    EXPECT_LT(revisions[0], revisions[1]);
    EXPECT_LT(revisions[1], revisions[2]);
    EXPECT_LT(revisions[2], revisions[3]);
    st.unwatch_meta(id);
    ASSERT_TRUE(st.put_meta("lease/c", "4").ok());
    EXPECT_EQ(seen.size(), 4u);
}

TEST_F(StoreTest, CloseShardRefusesLaterAppendsAsAborted) {
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(keys::shard_cf_name(9, 0), true);
    append_and_wait(st, {{s, "k", "before"}});
    st.close_shard(*s);
    EXPECT_TRUE(s->closed.load());
    status result;
    append_and_wait(st, {{s, "k", "after"}}, &result);
    EXPECT_TRUE(result.is_aborted()) << result.to_string();
    EXPECT_EQ(read_all(st, *s).size(), 1u);
}

TEST_F(StoreTest, ShardsShareOneColumnFamilyAndSurviveARestart) {
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < 50; ++i) names.push_back(keys::shard_cf_name(10 + i % 5, i));
    {
        rocksdb_store& st = open();
        auto logs = st.open_shards(names);
        append_and_wait(st, {{logs[3], "k", "x"}, {logs[3], "k", "y"}, {logs[4], "k", "z"}});
        ASSERT_TRUE(st.trim(*logs[3], 2).ok());
        close();
    }
    std::vector<std::string> families;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.string(), &families).ok());
    std::sort(families.begin(), families.end());
    EXPECT_EQ(families, (std::vector<std::string>{"default", "meta", "records"}));

    rocksdb_store& st = open();
    for (auto& name : names) ASSERT_NE(st.open_shard(name, false), nullptr) << name;
    auto three = st.open_shard(names[3], false);
    EXPECT_EQ(three->committed.load(), 2u);
    EXPECT_EQ(three->trimmed_below.load(), 2u);
    auto records = read_all(st, *three);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].data, "y");
    // Neighbouring ranges do not bleed into each other.
    EXPECT_EQ(read_all(st, *st.open_shard(names[4], false)).size(), 1u);
    EXPECT_TRUE(read_all(st, *st.open_shard(names[2], false)).empty());
    EXPECT_EQ(append_and_wait(st, {{three, "k", "after"}})->entries[0].counter, 3u);
}

TEST_F(StoreTest, ShardsInColumnFamiliesOfTheirOwnStillReadWriteAndDrop) {
    // A data directory written when every shard had its own column family.
    const std::string old_name = keys::shard_cf_name(9, 0);
    {
        rocksdb::Options o;
        o.create_if_missing = true;
        o.create_missing_column_families = true;
        std::vector<rocksdb::ColumnFamilyDescriptor> d{{rocksdb::kDefaultColumnFamilyName, {}}, {"meta", {}}, {old_name, {}}};
        std::vector<rocksdb::ColumnFamilyHandle*> h;
        rocksdb::DB* raw = nullptr;
        ASSERT_TRUE(rocksdb::DB::Open(o, dir_.string(), d, &h, &raw).ok());
        const std::string chunk = test_support::build_chunk(1000, {{"k", "old-1"}, {"k", "old-2"}});
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), h[2], keys::counter_key(1), chunk).ok());
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), h[1], keys::counter_meta_key(old_name), keys::counter_key(2)).ok());
        for (auto* handle : h) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(handle).ok());
        ASSERT_TRUE(raw->Close().ok());
        delete raw;
    }
    {
        rocksdb_store& st = open();
        shard_ref s = st.open_shard(old_name, false);
        ASSERT_NE(s, nullptr);
        EXPECT_TRUE(rs(s).prefix.empty());
        EXPECT_EQ(s->committed.load(), 2u);
        EXPECT_EQ(append_and_wait(st, {{s, "k", "new-3"}})->entries[0].arrival_ms >= 1000, true);
        auto records = read_all(st, *s);
        ASSERT_EQ(records.size(), 3u);
        EXPECT_EQ(records[0].data, "old-1");
        EXPECT_EQ(records[2].counter, 3u);
        ASSERT_TRUE(st.trim(*s, 3).ok());
        EXPECT_EQ(read_all(st, *s).size(), 1u);
        close();
    }
    rocksdb_store& st = open();
    shard_ref s = st.open_shard(old_name, false);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(read_all(st, *s).at(0).data, "new-3");
    shard_ref live = st.open_shard(keys::shard_cf_name(9, 1), true);
    st.drop_shard(s);
    barrier(st, live);
    close();
    std::vector<std::string> families;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.string(), &families).ok());
    EXPECT_EQ(std::count(families.begin(), families.end(), old_name), 0);
}

TEST_F(StoreTest, RefusesARocksDbWithoutMetaColumnFamily) {
    {
        rocksdb::Options o;
        o.create_if_missing = true;
        rocksdb::DB* raw = nullptr;
        ASSERT_TRUE(rocksdb::DB::Open(o, dir_.string(), &raw).ok());
        std::unique_ptr<rocksdb::DB> db(raw);
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "foreign", "data").ok());
        ASSERT_TRUE(db->Close().ok());
    }
    try {
        open();
        FAIL() << "opening a foreign database succeeded";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("'meta' column family"), std::string::npos) << e.what();
    }
}

TEST_F(StoreTest, RefusesAnUnreadableDatabase) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "CURRENT") << "garbage\n";
    EXPECT_THROW(open(), std::exception);
}

}  // namespace
}  // namespace kinesd::storage
