#include "streams/stream_state.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "streams/encoding.h"

namespace kinesd::streams {
namespace {

constexpr const char* two_pow_128 = "340282366920938463463374607431768211456";

// floor(decimal / n) by long division on the digit string.
std::string divide_decimal(const std::string& decimal, unsigned n) {
    std::string out;
    unsigned long long rem = 0;
    for (char c : decimal) {
        rem = rem * 10 + unsigned(c - '0');
        out.push_back(char('0' + rem / n));
        rem %= n;
    }
    auto first = out.find_first_not_of('0');
    return first == std::string::npos ? "0" : out.substr(first);
}

uint128 dec(const std::string& text) {
    auto v = parse_uint128(text);
    EXPECT_TRUE(v.has_value()) << text;
    return v.value_or(0);
}

TEST(EvenHashRanges, OneShardCoversEverything) {
    auto r = even_hash_ranges(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].first == 0);
    EXPECT_TRUE(r[0].second == uint128_max);
}

TEST(EvenHashRanges, TwoShardsSplitAtHalf) {
    auto r = even_hash_ranges(2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(to_decimal(r[0].first), "0");
    EXPECT_EQ(to_decimal(r[0].second), "170141183460469231731687303715884105727");  // 2^127 - 1
    EXPECT_EQ(to_decimal(r[1].first), "170141183460469231731687303715884105728");
    EXPECT_EQ(to_decimal(r[1].second), "340282366920938463463374607431768211455");
}

TEST(EvenHashRanges, ThreeShardsMatchAws) {
    auto r = even_hash_ranges(3);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(to_decimal(r[0].first), "0");
    EXPECT_EQ(to_decimal(r[0].second), "113427455640312821154458202477256070484");
    EXPECT_EQ(to_decimal(r[1].first), "113427455640312821154458202477256070485");
    EXPECT_EQ(to_decimal(r[1].second), "226854911280625642308916404954512140969");
    EXPECT_EQ(to_decimal(r[2].first), "226854911280625642308916404954512140970");
    EXPECT_EQ(to_decimal(r[2].second), "340282366920938463463374607431768211455");
}

TEST(EvenHashRanges, AreContiguousEvenAndCoverTheSpace) {
    // n = 1 has width 2^128, which no uint128 holds; OneShardCoversEverything covers it.
    std::vector<std::uint32_t> counts;
    for (std::uint32_t n = 2; n <= 50; ++n) counts.push_back(n);
    for (std::uint32_t n : {64u, 100u, 255u, 256u, 500u, 1000u, 4096u, 10000u}) counts.push_back(n);
    for (std::uint32_t n : counts) {
        auto r = even_hash_ranges(n);
        ASSERT_EQ(r.size(), n);
        const uint128 width = dec(divide_decimal(two_pow_128, n));
        EXPECT_TRUE(r.front().first == 0) << n;
        EXPECT_TRUE(r.back().second == uint128_max) << n;
        for (std::uint32_t i = 0; i < n; ++i) {
            EXPECT_TRUE(r[i].first <= r[i].second) << "n=" << n << " i=" << i;
            EXPECT_TRUE(r[i].first == width * i) << "n=" << n << " i=" << i;
            if (i + 1 < n) {
                EXPECT_TRUE(r[i].second == width * (i + 1) - 1) << "n=" << n << " i=" << i;
                EXPECT_TRUE(r[i + 1].first == r[i].second + 1) << "n=" << n << " i=" << i;
            }
        }
    }
}

shard_state make_shard(std::uint32_t index, uint128 start, uint128 end) {
    shard_state s;
    s.index = index;
    s.starting_hash = start;
    s.ending_hash = end;
    s.created_s = 1700000000 + index;
    return s;
}

stream_state three_shard_stream() {
    stream_state st;
    st.name = "routing";
    auto ranges = even_hash_ranges(3);
    for (std::uint32_t i = 0; i < 3; ++i) st.shards.push_back(make_shard(i, ranges[i].first, ranges[i].second));
    st.next_shard_index = 3;
    return st;
}

TEST(StreamState, RoutesToTheShardHoldingTheHash) {
    stream_state st = three_shard_stream();
    auto r = even_hash_ranges(3);
    struct probe {
        uint128 hash;
        std::uint32_t shard;
    };
    const probe probes[] = {
        {0, 0}, {r[0].second, 0}, {r[0].second + 1, 1}, {r[1].second, 1},
        {r[1].second + 1, 2}, {uint128_max, 2}, {uint128_max / 2, 1},
    };
    for (const auto& p : probes) {
        const shard_state* s = st.route(p.hash);
        ASSERT_NE(s, nullptr) << to_decimal(p.hash);
        EXPECT_EQ(s->index, p.shard) << to_decimal(p.hash);
    }
    // MD5("") = 0xd41d8cd9... lies in the last third, MD5("a") = 0x0cc175b9... in the first.
    ASSERT_NE(st.route(encoding::partition_hash("")), nullptr);
    EXPECT_EQ(st.route(encoding::partition_hash(""))->index, 2u);
    EXPECT_EQ(st.route(encoding::partition_hash("a"))->index, 0u);
}

TEST(StreamState, RoutingSkipsClosedShards) {
    stream_state st = three_shard_stream();
    // Split shard 1 into 3 and 4 at its midpoint.
    shard_state& parent = st.shards[1];
    uint128 mid = parent.starting_hash + (parent.ending_hash - parent.starting_hash) / 2;
    parent.closed_ms = 1700000500000;
    shard_state left = make_shard(3, parent.starting_hash, mid);
    shard_state right = make_shard(4, mid + 1, parent.ending_hash);
    left.parent = 1;
    right.parent = 1;
    uint128 parent_start = parent.starting_hash, parent_end = parent.ending_hash;
    st.shards.push_back(left);
    st.shards.push_back(right);

    EXPECT_EQ(st.open_shard_count(), 4u);
    EXPECT_EQ(st.route(parent_start)->index, 3u);
    EXPECT_EQ(st.route(mid)->index, 3u);
    EXPECT_EQ(st.route(mid + 1)->index, 4u);
    EXPECT_EQ(st.route(parent_end)->index, 4u);
    EXPECT_EQ(st.route(0)->index, 0u);

    // With the children closed too, nothing serves that range.
    st.shards[3].closed_ms = 1;
    st.shards[4].closed_ms = 1;
    EXPECT_EQ(st.route(mid), nullptr);
    EXPECT_EQ(st.open_shard_count(), 2u);
}

TEST(StreamState, FindsShardsByIndex) {
    stream_state st = three_shard_stream();
    st.shards.push_back(make_shard(7, 0, 1));
    ASSERT_NE(st.find_shard(7), nullptr);
    EXPECT_EQ(st.find_shard(7)->index, 7u);
    ASSERT_NE(st.find_shard(1), nullptr);
    EXPECT_EQ(st.find_shard(1)->index, 1u);
    EXPECT_EQ(st.find_shard(5), nullptr);
    EXPECT_EQ(st.find_shard(8), nullptr);
}

TEST(StreamState, StatusFollowsTheClock) {
    stream_state st;
    st.active_at_ms = 1000;
    st.updating_until_ms = 2000;
    EXPECT_EQ(st.status(999), stream_status::creating);
    EXPECT_EQ(st.status(1000), stream_status::updating);
    EXPECT_EQ(st.status(1999), stream_status::updating);
    EXPECT_EQ(st.status(2000), stream_status::active);
    st.deleting_since_ms = 1500;
    EXPECT_EQ(st.status(5000), stream_status::deleting);
    EXPECT_STREQ(to_string(stream_status::creating), "CREATING");
    EXPECT_STREQ(to_string(stream_status::active), "ACTIVE");
    EXPECT_STREQ(to_string(stream_status::updating), "UPDATING");
    EXPECT_STREQ(to_string(stream_status::deleting), "DELETING");
}

TEST(StreamState, JsonRoundTripKeepsEverything) {
    stream_state st = three_shard_stream();
    st.name = "orders.v2";
    st.uid = 0xfedcba9876543210ULL;
    st.created_ms = 1700000000123;
    st.active_at_ms = 1700000000623;
    st.updating_until_ms = 1700000009999;
    st.deleting_since_ms = 1700000100000;
    st.retention_hours = 168;
    st.stream_mode = "ON_DEMAND";
    st.encryption_type = "KMS";
    st.key_id = "alias/aws/kinesis";
    st.shard_level_metrics = {"IncomingBytes", "OutgoingRecords"};
    st.tags = {{"env", "test"}, {"team", ""}};
    st.max_record_size_kib = 10240;
    st.warm_throughput_mibps = 25;
    st.next_shard_index = 5;
    st.shards[1].closed_ms = 1700000050000;
    shard_state child = make_shard(3, st.shards[1].starting_hash, st.shards[1].ending_hash);
    child.parent = 1;
    child.adjacent_parent = 2;
    st.shards.push_back(child);

    nlohmann::json j = st.to_json();
    stream_state back = stream_state::from_json(nlohmann::json::parse(j.dump()));

    EXPECT_EQ(back.name, st.name);
    EXPECT_EQ(back.uid, st.uid);
    EXPECT_EQ(back.created_ms, st.created_ms);
    EXPECT_EQ(back.active_at_ms, st.active_at_ms);
    EXPECT_EQ(back.updating_until_ms, st.updating_until_ms);
    EXPECT_EQ(back.deleting_since_ms, st.deleting_since_ms);
    EXPECT_EQ(back.retention_hours, st.retention_hours);
    EXPECT_EQ(back.stream_mode, st.stream_mode);
    EXPECT_EQ(back.encryption_type, st.encryption_type);
    EXPECT_EQ(back.key_id, st.key_id);
    EXPECT_EQ(back.shard_level_metrics, st.shard_level_metrics);
    EXPECT_EQ(back.tags, st.tags);
    EXPECT_EQ(back.max_record_size_kib, st.max_record_size_kib);
    EXPECT_EQ(back.warm_throughput_mibps, st.warm_throughput_mibps);
    EXPECT_EQ(back.next_shard_index, st.next_shard_index);
    ASSERT_EQ(back.shards.size(), st.shards.size());
    for (std::size_t i = 0; i < st.shards.size(); ++i) {
        const auto &a = st.shards[i], &b = back.shards[i];
        EXPECT_EQ(b.index, a.index) << i;
        EXPECT_EQ(to_decimal(b.starting_hash), to_decimal(a.starting_hash)) << i;
        EXPECT_EQ(to_decimal(b.ending_hash), to_decimal(a.ending_hash)) << i;
        EXPECT_EQ(b.parent, a.parent) << i;
        EXPECT_EQ(b.adjacent_parent, a.adjacent_parent) << i;
        EXPECT_EQ(b.created_s, a.created_s) << i;
        EXPECT_EQ(b.closed_ms, a.closed_ms) << i;
    }
    EXPECT_EQ(back.to_json(), j);
}

TEST(StreamState, JsonRoundTripKeepsConsumers) {
    stream_state st = three_shard_stream();
    st.uid = 1;
    st.consumers.push_back({"active", 1700000000000, 1700000000500});
    consumer_state leaving{"leaving", 1700000001000, 1700000001500};
    leaving.deleting_since_ms = 1700000002000;
    st.consumers.push_back(leaving);
    stream_state back = stream_state::from_json(nlohmann::json::parse(st.to_json().dump()));
    ASSERT_EQ(back.consumers.size(), 2u);
    EXPECT_EQ(back.consumers[0].name, "active");
    EXPECT_EQ(back.consumers[0].created_ms, 1700000000000);
    EXPECT_EQ(back.consumers[0].active_at_ms, 1700000000500);
    EXPECT_FALSE(back.consumers[0].deleting_since_ms.has_value());
    EXPECT_EQ(back.consumers[1].name, "leaving");
    EXPECT_EQ(back.consumers[1].deleting_since_ms, std::optional<std::int64_t>(1700000002000));
    EXPECT_EQ(back.to_json(), st.to_json());
}

TEST(StreamState, JsonRoundTripOfOptionalsLeftUnset) {
    stream_state st = three_shard_stream();
    st.uid = 1;
    stream_state back = stream_state::from_json(st.to_json());
    EXPECT_FALSE(back.deleting_since_ms.has_value());
    EXPECT_FALSE(back.warm_throughput_mibps.has_value());
    for (const auto& s : back.shards) {
        EXPECT_FALSE(s.parent.has_value());
        EXPECT_FALSE(s.adjacent_parent.has_value());
        EXPECT_TRUE(s.open());
    }
    EXPECT_EQ(back.to_json(), st.to_json());
}

}  // namespace
}  // namespace kinesd::streams
