// The contract of storage::log_store (storage/log_store.h) for records, held
// against every backend (log_store_backends.h), and what only JetStream
// does.
#include "log_store_backends.h"

namespace kinesd::storage::conformance {
namespace {

// ---- records

TEST_P(log_store_conformance, batches_to_several_shards_number_each_shard_in_request_order) {
    auto a = store_->open_shard(shard_name(1), true), b = store_->open_shard(shard_name(2), true);
    ASSERT_TRUE(a && b);
    auto req = append_and_wait(*store_, {{a.get(), "k1", "a1"}, {b.get(), "k2", "b1"}, {a.get(), "k3", "a2"},
                                         {a.get(), "k4", "a3"}, {b.get(), "k5", "b2"}});
    const std::vector<std::uint64_t> expected{1, 1, 2, 3, 2};
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(req->entries[i].counter, expected[i]) << i;
    auto more = append_and_wait(*store_, {{a.get(), "k6", "a4"}, {b.get(), "k7", "b3"}});
    EXPECT_EQ(more->entries[0].counter, 4u);
    EXPECT_EQ(more->entries[1].counter, 3u);
    EXPECT_EQ(a->committed.load(), 4u);
    EXPECT_EQ(b->committed.load(), 3u);
    EXPECT_GE(more->entries[0].arrival_ms, req->entries[3].arrival_ms);

    auto records = read_all(*store_, *a);
    ASSERT_EQ(records.size(), 4u);
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].counter, i + 1);
        EXPECT_EQ(records[i].data, "a" + std::to_string(i + 1));
        if (i) {
            EXPECT_GE(records[i].arrival_ms, records[i - 1].arrival_ms);
        }
    }
    // What the put answered is what a read finds.
    EXPECT_EQ(records[0].arrival_ms, req->entries[0].arrival_ms);
    EXPECT_EQ(records[3].arrival_ms, more->entries[0].arrival_ms);
    EXPECT_EQ(read_all(*store_, *b)[2].data, "b3");
}

TEST_P(log_store_conformance, concurrent_appends_get_distinct_counters_in_each_request_order) {
    auto a = store_->open_shard(shard_name(1), true), b = store_->open_shard(shard_name(2), true);
    std::vector<std::thread> threads;
    std::mutex m;
    std::vector<std::shared_ptr<append_request>> done;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int r = 0; r < 10; ++r) {
                std::vector<input> in;
                for (int i = 0; i < 6; ++i)
                    in.push_back({i % 3 == 2 ? b.get() : a.get(), "k", std::to_string(t) + "/" + std::to_string(r)});
                auto req = append_and_wait(*store_, in);
                std::lock_guard lock(m);
                done.push_back(req);
            }
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::uint64_t> seen_a, seen_b;
    for (auto& req : done) {
        std::uint64_t last_a = 0, last_b = 0;
        for (auto& e : req->entries) {
            auto& last = e.shard == a.get() ? last_a : last_b;
            EXPECT_GT(e.counter, last);
            last = e.counter;
            EXPECT_TRUE((e.shard == a.get() ? seen_a : seen_b).insert(e.counter).second);
        }
    }
    EXPECT_EQ(seen_a.size(), 160u);
    EXPECT_EQ(*seen_a.rbegin(), 160u);
    EXPECT_EQ(*seen_b.rbegin(), 80u);
    EXPECT_EQ(read_all(*store_, *a).size(), 160u);
}

TEST_P(log_store_conformance, reads_stop_at_limit_max_bytes_or_when_told) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<input> in;
    for (int i = 0; i < 10; ++i) in.push_back({s.get(), "k", std::string(99, char('a' + i))});
    append_and_wait(*store_, in);
    EXPECT_EQ(read_all(*store_, *s, 1, 3).size(), 3u);
    // 100 bytes a record (key and data): the record crossing 250 is still returned.
    auto capped = read_all(*store_, *s, 1, 100, 250);
    ASSERT_EQ(capped.size(), 3u);
    EXPECT_EQ(capped.back().counter, 3u);
    auto middle = read_all(*store_, *s, 5);
    ASSERT_EQ(middle.size(), 6u);
    EXPECT_EQ(middle.front().counter, 5u);
    EXPECT_EQ(middle.front().data, std::string(99, 'e'));
    std::size_t seen = 0;
    EXPECT_EQ(store_->read(*s, 1, 100, SIZE_MAX, [&](const record_view&) { return ++seen < 2; }), 2u);
    EXPECT_TRUE(read_all(*store_, *s, 11).empty());
}

TEST_P(log_store_conformance, trim_removes_everything_below) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<input> in;
    for (int i = 1; i <= 6; ++i) in.push_back({s.get(), "k", "r" + std::to_string(i)});
    append_and_wait(*store_, in);
    ASSERT_TRUE(store_->trim(*s, 4).ok());
    EXPECT_GE(s->trimmed_below.load(), 4u);
    auto records = read_all(*store_, *s, 1);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records.front().counter, 4u);
    EXPECT_EQ(records.front().data, "r4");
    record_view v{};
    ASSERT_TRUE(store_->first_at_or_after(*s, 2, &v));
    EXPECT_EQ(v.counter, 4u);
    store_->compact(*s);
    store_->refresh_tip(*s);
    EXPECT_EQ(s->trimmed_below.load(), 4u);
    EXPECT_EQ(s->committed.load(), 6u);
    // Appends go on numbering after the trim.
    auto req = append_and_wait(*store_, {{s.get(), "k", "r7"}});
    EXPECT_EQ(req->entries[0].counter, 7u);
}

TEST_P(log_store_conformance, counter_at_time_finds_the_first_record_at_or_after) {
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<std::shared_ptr<append_request>> batches;
    for (int b = 0; b < 3; ++b) {
        if (b) std::this_thread::sleep_for(15ms);
        batches.push_back(append_and_wait(*store_, {{s.get(), "k", "x"}, {s.get(), "k", "y"}}));
    }
    const auto second = batches[1]->entries[0];
    ASSERT_GT(second.arrival_ms, batches[0]->entries[1].arrival_ms);
    EXPECT_EQ(store_->counter_at_time(*s, second.arrival_ms), second.counter);
    EXPECT_EQ(store_->counter_at_time(*s, 0), 1u);
    EXPECT_EQ(store_->counter_at_time(*s, batches[2]->entries[1].arrival_ms + 1), 7u);
    record_view v{};
    ASSERT_TRUE(store_->first_at_or_after(*s, 3, &v));
    EXPECT_EQ(v.counter, 3u);
    EXPECT_EQ(v.arrival_ms, second.arrival_ms);
    EXPECT_FALSE(store_->first_at_or_after(*s, 7, &v));
}

TEST_P(log_store_conformance, an_empty_shard_has_nothing) {
    auto s = store_->open_shard(shard_name(1), true);
    ASSERT_TRUE(s);
    store_->refresh_tip(*s);
    EXPECT_EQ(s->committed.load(), 0u);
    EXPECT_TRUE(read_all(*store_, *s).empty());
    record_view v{};
    EXPECT_FALSE(store_->first_at_or_after(*s, 1, &v));
    EXPECT_EQ(store_->counter_at_time(*s, clock_.now_ms()), 1u);
    EXPECT_EQ(store_->open_shard(shard_name(1), false), s);
}

TEST_P(log_store_conformance, a_missing_shard_is_not_opened_without_create) {
    EXPECT_EQ(store_->open_shard(shard_name(9), false), nullptr);
}

TEST_P(log_store_conformance, a_dropped_shard_comes_back_empty) {
    auto s = store_->open_shard(shard_name(1), true);
    append_and_wait(*store_, {{s.get(), "k", "old"}});
    store_->drop_shard(s);
    EXPECT_TRUE(s->dropped.load());
    EXPECT_EQ(store_->open_shard(shard_name(1), false), nullptr);
    status st;
    append_and_wait(*store_, {{s.get(), "k", "late"}}, &st);
    EXPECT_TRUE(st.is_not_found()) << st.to_string();
    auto again = store_->open_shard(shard_name(1), true);
    ASSERT_TRUE(again);
    EXPECT_NE(again, s);
    EXPECT_EQ(again->committed.load(), 0u);
    EXPECT_TRUE(read_all(*store_, *again).empty());
}

TEST_P(log_store_conformance, a_closed_shard_refuses_appends_and_keeps_its_records) {
    auto s = store_->open_shard(shard_name(1), true);
    auto other = store_->open_shard(shard_name(2), true);
    append_and_wait(*store_, {{s.get(), "k", "1"}, {s.get(), "k", "2"}});
    store_->close_shard(*s);
    EXPECT_TRUE(s->closed.load());
    status st;
    append_and_wait(*store_, {{s.get(), "k", "3"}}, &st);
    EXPECT_TRUE(st.is_aborted()) << st.to_string();
    append_and_wait(*store_, {{other.get(), "k", "fine"}});
    EXPECT_EQ(read_all(*store_, *s).size(), 2u);
    EXPECT_TRUE(store_->trim(*s, 2).ok());
    EXPECT_EQ(read_all(*store_, *s).size(), 1u);
    if (auto peer = second_front_end()) {
        // Every front end refuses, also one that learned of the shard before.
        auto seen = peer->open_shard(shard_name(1), false);
        ASSERT_TRUE(seen);
        append_and_wait(*peer, {{seen.get(), "k", "4"}}, &st);
        EXPECT_TRUE(st.is_aborted()) << st.to_string();
        EXPECT_EQ(read_all(*peer, *seen).size(), 1u);
    }
}

// A reader that sees a shard closed reads it to its end: close_shard must
// leave this front end knowing every record any front end stored in it.
TEST_P(log_store_conformance, closing_a_shard_learns_its_end_from_every_front_end) {
    auto peer = second_front_end();
    if (!peer) GTEST_SKIP() << "one front end only";
    auto mine = store_->open_shard(shard_name(1), true);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    append_and_wait(*store_, {{mine.get(), "k", "here"}});
    append_and_wait(*peer, {{theirs.get(), "k", "there 1"}, {theirs.get(), "k", "there 2"}});
    store_->close_shard(*mine);
    EXPECT_EQ(mine->committed.load(), 3u);
    auto records = read_all(*store_, *mine);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[2].data, "there 2");
}

TEST_P(log_store_conformance, partition_keys_data_and_encryption_round_trip) {
    auto s = store_->open_shard(shard_name(1), true);
    const std::string binary("\0\x01\xff\n\r\0", 6);
    const std::string long_key(256, 'p');
    append_and_wait(*store_, {{s.get(), "clé ключ 鍵 🔑 : \" \n", "plain"},
                              {s.get(), "k", binary, true},
                              {s.get(), long_key, ""}});
    auto records = read_all(*store_, *s);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].partition_key, "clé ключ 鍵 🔑 : \" \n");
    EXPECT_FALSE(records[0].encrypted);
    EXPECT_EQ(records[1].data, binary);
    EXPECT_TRUE(records[1].encrypted);
    EXPECT_EQ(records[2].partition_key, long_key);
    EXPECT_EQ(records[2].data, "");
}

TEST_P(log_store_conformance, completions_run_through_the_runner_and_fence_waits) {
    // A backend may hand several completions to one runner call (RocksDB
    // posts a group commit's at once); every completion must run inside one.
    static thread_local bool in_runner = false;
    std::atomic<int> ran{0};
    std::atomic<int> outside{0};
    store_->set_completion_runner([&](std::function<void()> fn) {
        ++ran;
        in_runner = true;
        fn();
        in_runner = false;
    });
    auto s = store_->open_shard(shard_name(1), true);
    std::vector<std::shared_ptr<std::promise<status>>> results;
    for (int i = 0; i < 20; ++i) {
        auto req = std::make_shared<append_request>();
        auto data = std::make_shared<std::string>("r" + std::to_string(i));
        req->entries.push_back(append_entry{s.get(), "k", *data});
        req->owner = data;
        auto done = std::make_shared<std::promise<status>>();
        results.push_back(done);
        req->done = [done, &outside](const status& st) {
            if (!in_runner) ++outside;
            done->set_value(st);
        };
        store_->append(req);
    }
    store_->fence();
    for (auto& r : results) {
        auto f = r->get_future();
        ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
        EXPECT_TRUE(f.get().ok());
    }
    EXPECT_GE(ran.load(), 1);
    EXPECT_LE(ran.load(), 20);
    EXPECT_EQ(outside.load(), 0);
    for (int i = 0; i < 100 && store_->appends_pending(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(store_->appends_pending(), 0u);
    EXPECT_EQ(read_all(*store_, *s).size(), 20u);
    store_->set_completion_runner(nullptr);
    EXPECT_TRUE(store_->writable());
    EXPECT_EQ(store_->unwritable_reason(), "");
}

TEST_P(log_store_conformance, appends_elsewhere_wake_watched_shards) {
    auto peer = second_front_end();
    if (!peer) GTEST_SKIP() << "one front end only";
    auto mine = store_->open_shard(shard_name(1), true);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    std::mutex m;
    std::condition_variable cv;
    int woken = 0;
    store_->set_commit_listener([&](shard_log& shard) {
        std::lock_guard lock(m);
        if (&shard == mine.get()) ++woken;
        cv.notify_all();
    });
    mine->watchers = 1;
    append_and_wait(*peer, {{theirs.get(), "k", "from elsewhere"}});
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, 3s, [&] { return woken > 0; }));
    EXPECT_EQ(mine->committed.load(), 1u);
    lock.unlock();
    mine->watchers = 0;
    store_->set_commit_listener(nullptr);
    // refresh_tip brings in what others stored, watched or not.
    append_and_wait(*peer, {{theirs.get(), "k", "more"}});
    store_->refresh_tip(*mine);
    EXPECT_EQ(mine->committed.load(), 2u);
}

TEST_P(log_store_conformance, a_restart_finds_everything) {
    auto s = store_->open_shard(shard_name(1), true);
    append_and_wait(*store_, {{s.get(), "k", "1"}, {s.get(), "k", "2"}, {s.get(), "k", "3"}});
    ASSERT_TRUE(store_->trim(*s, 2).ok());
    ASSERT_TRUE(store_->put_meta("stream/one", "{}").ok());
    s.reset();
    reopen();
    auto again = store_->open_shard(shard_name(1), false);
    ASSERT_TRUE(again);
    store_->refresh_tip(*again);
    EXPECT_EQ(again->committed.load(), 3u);
    EXPECT_EQ(again->trimmed_below.load(), 2u);
    auto records = read_all(*store_, *again);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].data, "3");
    std::string value;
    EXPECT_TRUE(store_->get_meta("stream/one", &value));
    auto req = append_and_wait(*store_, {{again.get(), "k", "4"}});
    EXPECT_EQ(req->entries[0].counter, 4u);
    EXPECT_GE(req->entries[0].arrival_ms, records[1].arrival_ms);
}

#ifdef KINESD_WITH_JETSTREAM
// ---- JetStream only

std::string any_nats_server() {
    auto current = current_nats_server();
    return current.empty() ? debian_nats_server() : current;
}

// Three servers in a cluster, every stream and the bucket on all three.
TEST(jetstream_cluster, replicated_appends_reads_and_compare_and_swap) {
    jetstream_env env(any_nats_server(), "cluster", 3);
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto peer = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    ASSERT_TRUE(s);
    std::vector<input> in;
    for (int i = 1; i <= 50; ++i) in.push_back({s.get(), "k" + std::to_string(i), "r" + std::to_string(i)});
    auto req = append_and_wait(*store, in);
    EXPECT_EQ(req->entries.back().counter, 50u);
    auto theirs = peer->open_shard(shard_name(1), false);
    ASSERT_TRUE(theirs);
    auto records = read_all(*peer, *theirs);
    ASSERT_EQ(records.size(), 50u);
    EXPECT_EQ(records[49].data, "r50");
    std::uint64_t revision = 0, other = 0;
    EXPECT_TRUE(store->put_meta_if("lease/c", "a", 0, &revision).ok());
    EXPECT_TRUE(peer->put_meta_if("lease/c", "b", 0, &other).is_conflict());
    EXPECT_TRUE(peer->put_meta_if("lease/c", "b", revision, &other).ok());
    store->close_shard(*s);
    status st;
    append_and_wait(*peer, {{theirs.get(), "k", "late"}}, &st);
    EXPECT_TRUE(st.is_aborted()) << st.to_string();
}

// While the server is away, appends fail as unavailable (after their
// bounded republishes) and health says so; once it is back, writes resume.
TEST(jetstream_outage, appends_fail_as_unavailable_and_resume) {
    jetstream_tuning tuning;
    tuning.publish_retries = 1;
    jetstream_env env(any_nats_server(), "outage", 1, tuning);
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    env.options().publish_timeout = 300ms;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    append_and_wait(*store, {{s.get(), "k", "before"}});
    env.server(0).stop();
    status st;
    append_and_wait(*store, {{s.get(), "k", "during"}}, &st);
    EXPECT_TRUE(st.is_unavailable()) << st.to_string();
    EXPECT_FALSE(store->writable());
    EXPECT_NE(store->unwritable_reason(), "");
    env.server(0).start();
    // Health recovers when asked, before any put.
    for (int i = 0; i < 100 && !store->writable(); ++i) {
        store->retry_writes();
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(store->writable()) << store->unwritable_reason();
    bool resumed = false;
    for (int i = 0; i < 50 && !resumed; ++i) {
        append_and_wait(*store, {{s.get(), "k", "after"}}, &st);
        resumed = st.ok();
        if (!resumed) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(resumed) << st.to_string();
    EXPECT_TRUE(store->writable());
    // The failed append may or may not have been stored; nothing is twice.
    auto records = read_all(*store, *s);
    ASSERT_GE(records.size(), 2u);
    EXPECT_EQ(records.front().data, "before");
    EXPECT_EQ(records.back().data, "after");
    for (std::size_t i = 1; i < records.size(); ++i) EXPECT_EQ(records[i].counter, records[i - 1].counter + 1);
}

// Records per second reading 10,000 records of 1 KiB, pipelined and one
// direct get at a time. A measurement, not a check of speed: it runs only
// when KINESD_STORAGE_READ_BENCH is set, and prints what it found.
TEST(jetstream_read, throughput_pipelined_and_one_at_a_time) {
    if (!std::getenv("KINESD_STORAGE_READ_BENCH")) GTEST_SKIP() << "set KINESD_STORAGE_READ_BENCH to measure";
    jetstream_env env(std::getenv("KINESD_NATS_SERVER") ? debian_nats_server() : any_nats_server(), "bench");
    if (auto why = env.unavailable(); !why.empty()) GTEST_SKIP() << why;
    kinesd::clock clock;
    auto store = env.open(clock);
    auto s = store->open_shard(shard_name(1), true);
    const std::string payload(1024, 'x');
    const auto put_start = std::chrono::steady_clock::now();
    for (int batch = 0; batch < 20; ++batch) {
        std::vector<input> in;
        for (int i = 0; i < 500; ++i) in.push_back({s.get(), "k", payload});
        append_and_wait(*store, in);
    }
    const double put_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - put_start).count();
    std::printf("append: 10000 records of 1 KiB in batches of 500: %.0f records/s\n", 10000 / put_s);
    for (std::size_t depth : {std::size_t(128), std::size_t(1)}) {
        jetstream_tuning tuning;
        tuning.read_pipeline = depth;
        auto reader = env.open_tuned(clock, tuning);
        auto shard = reader->open_shard(shard_name(1), false);
        const auto start = std::chrono::steady_clock::now();
        std::size_t total = 0;
        for (std::uint64_t from = 1; from <= 10000;) {
            // GetRecords-sized reads: up to 10,000 records or 10 MiB each.
            auto got = reader->read(*shard, from, 1000, 10u << 20, [&](const record_view& v) {
                EXPECT_EQ(v.data.size(), 1024u);
                return true;
            });
            if (got == 0) break;
            total += got;
            from += got;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(total, 10000u);
        std::printf("read, %zu direct gets in flight: %.0f records/s\n", depth, double(total) / secs);
    }
}
#endif

}  // namespace

INSTANTIATE_TEST_SUITE_P(backends, log_store_conformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<backend>& info) { return info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(log_store_conformance);

}  // namespace kinesd::storage::conformance
