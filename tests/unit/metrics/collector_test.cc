// The collector against a real store and registry: the families carry what
// the counters hold, under the stream's labels; a deleted stream's series
// go, a re-created stream starts at zero; the exposition is Prometheus text.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>

#include "common/clock.h"
#include "metrics/collector.h"
#include "metrics/exposition.h"
#include "storage/rocksdb_store.h"
#include "streams/stream_registry.h"

namespace kinesd::metrics {
namespace {

namespace fs = std::filesystem;
using prometheus::MetricFamily;

class CollectorTest : public ::testing::Test {
protected:
    CollectorTest()
        : dir_(fs::temp_directory_path() /
               ("kinesd-metrics-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))),
          store_(options(dir_), clock_),
          registry_(store_, clock_, {}),
          requests_(3) {}
    ~CollectorTest() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    static storage::rocksdb_options options(const fs::path& dir) {
        storage::rocksdb_options o;
        o.path = dir.string();
        o.mode = storage::durability::none;
        return o;
    }

    streams::stream_snapshot create(const std::string& name, std::uint64_t uid) {
        streams::stream_state s;
        s.name = name;
        s.uid = uid;
        s.created_ms = clock_.now_ms();
        streams::shard_state shard;
        shard.ending_hash = ~uint128(0);
        s.shards.push_back(shard);
        s.next_shard_index = 1;
        s.consumers.push_back({"reader", s.created_ms, 0});
        return registry_.create(s, [](const streams::stream_registry&) {});
    }

    collector make_collector() {
        collector_sources src{.streams = registry_, .clock = clock_};
        src.store = &store_;
        src.requests = &requests_;
        src.request_rows = {{"kinesis", "PutRecord"}, {"kinesis", "GetRecords"}, {"firehose", "PutRecord"},
                            {"", "unknown"}};
        src.open_connections = [] { return std::size_t(7); };
        src.account_id = "123456789012";
        return collector(std::move(src));
    }

    static const MetricFamily* find(const std::vector<MetricFamily>& all, const std::string& name) {
        auto it = std::find_if(all.begin(), all.end(), [&](const MetricFamily& f) { return f.name == name; });
        return it == all.end() ? nullptr : &*it;
    }
    static std::string label(const prometheus::ClientMetric& m, const std::string& name) {
        for (const auto& l : m.label)
            if (l.name == name) return l.value;
        return "<none>";
    }

    static inline std::atomic<int> counter_{0};
    fs::path dir_;
    kinesd::clock clock_;
    storage::rocksdb_store store_;
    streams::stream_registry registry_;
    request_counters requests_;
};

TEST_F(CollectorTest, FamiliesCarryTheCounters) {
    auto s = create("events", 1);
    ASSERT_TRUE(s->metrics);
    s->metrics->incoming_records.add(5);
    s->metrics->incoming_bytes.add(500);
    s->metrics->put_records_throttled_records.add(2);
    s->metrics->get_records_iterator_age_ms.set(1234);
    s->metrics->put_record_latency.observe_us(300);   // 0.3 ms: in the 0.5 bucket
    s->metrics->put_record_latency.observe_us(7000);  // 7 ms: in the 10 bucket
    s->consumers[0].metrics->event_records.add(3);
    requests_.count(0, 200);
    requests_.count(0, 200);
    requests_.count(2, 503);
    requests_.count(99, 418);  // unknown action, unlisted status

    const auto all = make_collector().Collect();
    const auto* incoming = find(all, "kinesis_incoming_records_total");
    ASSERT_NE(incoming, nullptr);
    EXPECT_EQ(incoming->type, prometheus::MetricType::Counter);
    ASSERT_EQ(incoming->metric.size(), 1u);
    EXPECT_EQ(label(incoming->metric[0], "account"), "123456789012");
    EXPECT_EQ(label(incoming->metric[0], "stream"), "events");
    EXPECT_EQ(incoming->metric[0].counter.value, 5);
    EXPECT_EQ(find(all, "kinesis_incoming_bytes_total")->metric[0].counter.value, 500);
    EXPECT_EQ(find(all, "kinesis_put_records_throttled_records_total")->metric[0].counter.value, 2);
    EXPECT_EQ(find(all, "kinesis_get_records_iterator_age_milliseconds")->metric[0].gauge.value, 1234);

    const auto* latency = find(all, "kinesis_put_record_latency_milliseconds");
    ASSERT_NE(latency, nullptr);
    EXPECT_EQ(latency->type, prometheus::MetricType::Histogram);
    const auto& h = latency->metric[0].histogram;
    EXPECT_EQ(h.sample_count, 2u);
    EXPECT_DOUBLE_EQ(h.sample_sum, 7.3);
    for (const auto& b : h.bucket) {
        const std::uint64_t want = b.upper_bound < 0.5 ? 0 : b.upper_bound < 10 ? 1 : 2;
        EXPECT_EQ(b.cumulative_count, want) << "le=" << b.upper_bound;
    }
    EXPECT_TRUE(std::isinf(h.bucket.back().upper_bound));

    const auto* consumer = find(all, "kinesis_subscribe_to_shard_event_records_total");
    ASSERT_EQ(consumer->metric.size(), 1u);
    EXPECT_EQ(label(consumer->metric[0], "consumer"), "reader");
    EXPECT_EQ(consumer->metric[0].counter.value, 3);

    EXPECT_EQ(find(all, "kinesd_connections")->metric[0].gauge.value, 7);
    const auto* requests = find(all, "kinesd_requests_total");
    ASSERT_EQ(requests->metric.size(), 3u);
    EXPECT_EQ(label(requests->metric[0], "action"), "PutRecord");
    EXPECT_EQ(label(requests->metric[0], "service"), "kinesis");
    EXPECT_EQ(label(requests->metric[0], "status"), "200");
    EXPECT_EQ(requests->metric[0].counter.value, 2);
    EXPECT_EQ(label(requests->metric[1], "service"), "firehose");
    EXPECT_EQ(label(requests->metric[1], "status"), "503");
    EXPECT_EQ(label(requests->metric[2], "action"), "unknown");
    EXPECT_EQ(label(requests->metric[2], "status"), "other");
    EXPECT_NE(find(all, "kinesd_stored_bytes"), nullptr);
}

TEST_F(CollectorTest, DeletedStreamsVanishAndRecreatedOnesStartAtZero) {
    create("events", 1)->metrics->incoming_records.add(9);
    registry_.remove("events");
    auto all = make_collector().Collect();
    EXPECT_TRUE(find(all, "kinesis_incoming_records_total")->metric.empty());
    EXPECT_TRUE(find(all, "kinesis_subscribe_to_shard_event_records_total")->metric.empty());

    create("events", 2);
    all = make_collector().Collect();
    ASSERT_EQ(find(all, "kinesis_incoming_records_total")->metric.size(), 1u);
    EXPECT_EQ(find(all, "kinesis_incoming_records_total")->metric[0].counter.value, 0);
}

TEST_F(CollectorTest, SnapshotsOfOneStreamShareItsCounters) {
    auto before = create("events", 1);
    auto after = registry_.update("events", [](streams::stream_state& s) { s.retention_hours = 48; });
    ASSERT_EQ(before->metrics, after->metrics);
    after->metrics->incoming_records.add(1);
    EXPECT_EQ(make_collector().Collect()[0].metric[0].counter.value, 1);
}

TEST_F(CollectorTest, ExpositionIsPrometheusText) {
    create("events", 1)->metrics->incoming_records.add(4);
    exposition e("9.9.9");
    e.add(std::make_shared<collector>(make_collector()));
    const auto text = e.render();
    EXPECT_NE(text.find("# TYPE kinesis_incoming_records_total counter\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kinesis_incoming_records_total{account=\"123456789012\",stream=\"events\"} 4\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("kinesd_build_info{version=\"9.9.9\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kinesd_up 1\n"), std::string::npos) << text;
}

TEST_F(CollectorTest, MetricsOffAttachesNothing) {
    streams::stream_registry off(store_, clock_, {.metrics = false});
    streams::stream_state s;
    s.name = "quiet";
    s.uid = 3;
    streams::shard_state shard;
    shard.ending_hash = ~uint128(0);
    s.shards.push_back(shard);
    EXPECT_FALSE(off.create(s, [](const streams::stream_registry&) {})->metrics);
}

}  // namespace
}  // namespace kinesd::metrics
