#include "storage/keys.h"
#include "chunk_builder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kinesd::storage::keys {
namespace {

int sign(int v) { return (v > 0) - (v < 0); }

TEST(Keys, CounterKeyIsEightBigEndianBytes) {
    std::string key = counter_key(0x0102030405060708ULL);
    ASSERT_EQ(key.size(), 8u);
    EXPECT_EQ(key, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    EXPECT_EQ(counter_key(0), std::string(8, '\0'));
    EXPECT_EQ(counter_key(~0ULL), std::string(8, '\xff'));
    char buf[8];
    encode_counter(0xff00, buf);
    EXPECT_EQ(std::string(buf, 8), std::string("\0\0\0\0\0\0\xff\0", 8));
}

TEST(Keys, CountersSortLikeNumbers) {
    std::vector<std::uint64_t> values = {0, 1, 2, 127, 128, 255, 256, 257, 65535, 65536, 0xffffffffULL,
                                         0x100000000ULL, 1ULL << 63, (1ULL << 63) - 1, ~0ULL, ~0ULL - 1};
    std::mt19937_64 rng(3);
    for (int i = 0; i < 200; ++i) values.push_back(rng() >> (rng() % 64));
    for (auto a : values) {
        for (auto b : values) {
            std::string ka = counter_key(a), kb = counter_key(b);
            int expected = a < b ? -1 : (a > b ? 1 : 0);
            ASSERT_EQ(sign(std::memcmp(ka.data(), kb.data(), 8)), expected) << a << " vs " << b;
        }
    }
}

TEST(Keys, CounterRoundTrips) {
    std::mt19937_64 rng(4);
    for (int i = 0; i < 1000; ++i) {
        std::uint64_t v = rng();
        EXPECT_EQ(decode_counter(counter_key(v)), v);
    }
    EXPECT_EQ(decode_counter(counter_key(0)), 0u);
    EXPECT_EQ(decode_counter(counter_key(~0ULL)), ~0ULL);
}

TEST(Keys, RecordValueRoundTrips) {
    const std::string binary("\0\x01\xff\x80" "data\0", 9);
    struct sample {
        std::int64_t arrival_ms;
        std::string partition_key;
        std::string data;
    };
    const sample samples[] = {
        {1700000000123, "pk", "hello"},
        {0, "k", ""},
        {INT64_MAX, std::string(256, 'p'), binary},
        // the length field holds 15 bits (the top bit is the encryption flag)
        {1, std::string(32767, 'q'), std::string(1 << 20, 'd')},
        {1700000000000, "\xc3\xa9", binary},
    };
    for (const auto& s : samples) {
        std::string out = "stale";
        encode_record_value(out, s.arrival_ms, s.partition_key, s.data);
        EXPECT_EQ(out.size(), record_value_size(s.partition_key.size(), s.data.size()));
        EXPECT_EQ(out.size(), 10 + s.partition_key.size() + s.data.size());
        record_value rv;
        ASSERT_TRUE(decode_record_value(out, rv));
        EXPECT_EQ(rv.arrival_ms, s.arrival_ms);
        EXPECT_EQ(rv.partition_key, s.partition_key);
        EXPECT_EQ(rv.data, s.data);
        EXPECT_FALSE(rv.encrypted);
        encode_record_value(out, s.arrival_ms, s.partition_key, s.data, true);
        ASSERT_TRUE(decode_record_value(out, rv));
        EXPECT_TRUE(rv.encrypted);
        EXPECT_EQ(rv.partition_key, s.partition_key);
        EXPECT_EQ(rv.data, s.data);
    }
}

TEST(Keys, RecordValueStartsWithBigEndianArrivalAndKeyLength) {
    std::string out;
    encode_record_value(out, 0x0102030405060708LL, std::string(0x0123, 'k'), "d");
    EXPECT_EQ(out.substr(0, 10), std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x01\x23", 10));
}

TEST(Keys, DecodeOfShortInputFails) {
    record_value rv;
    EXPECT_FALSE(decode_record_value("", rv));
    EXPECT_FALSE(decode_record_value(std::string(9, '\0'), rv));
    std::string out;
    encode_record_value(out, 5, "partition", "");
    // Cutting into the partition key leaves a key length the bytes cannot hold.
    for (std::size_t len = 0; len < 10 + 9; ++len)
        EXPECT_FALSE(decode_record_value(std::string_view(out).substr(0, len), rv)) << len;
    EXPECT_TRUE(decode_record_value(out, rv));
}

TEST(Keys, NamesAndMetaKeys) {
    EXPECT_EQ(shard_cf_name(42, 7), "shard-42-7");
    EXPECT_TRUE(is_shard_cf_name(shard_cf_name(1, 0)));
    EXPECT_FALSE(is_shard_cf_name("meta"));
    EXPECT_FALSE(is_shard_cf_name("default"));
    EXPECT_NE(shard_cf_name(1, 23), shard_cf_name(12, 3));
    EXPECT_EQ(stream_meta_key("orders"), std::string(stream_meta_prefix) + "orders");
    EXPECT_NE(counter_meta_key(shard_cf_name(1, 0)), stream_meta_key(shard_cf_name(1, 0)));
    EXPECT_EQ(counter_meta_key("x").rfind(stream_meta_prefix, 0), std::string::npos);
    EXPECT_STREQ(meta_cf, "meta");
}

}  // namespace
}  // namespace kinesd::storage::keys

namespace kinesd::storage::keys {
namespace {

using storage::test_support::build_chunk;

TEST(Keys, ChunkRoundTripsRecordsInOrder) {
    const std::string chunk = build_chunk(
        1'700'000'000'123, {{"pk-1", "hello", false}, {std::string(300, 'k'), std::string(70000, 'd'), true}, {"", ""}});
    EXPECT_EQ(static_cast<unsigned char>(chunk[0]), chunk_marker);

    chunk_reader reader;
    ASSERT_TRUE(reader.open(chunk));
    EXPECT_EQ(reader.count(), 3u);
    EXPECT_EQ(reader.arrival_ms(), 1'700'000'000'123);
    record_value rv;
    ASSERT_TRUE(reader.next(rv));
    EXPECT_EQ(rv.partition_key, "pk-1");
    EXPECT_EQ(rv.data, "hello");
    EXPECT_FALSE(rv.encrypted);
    ASSERT_TRUE(reader.next(rv));
    EXPECT_EQ(rv.partition_key, std::string(300, 'k'));
    EXPECT_EQ(rv.data.size(), 70000u);
    EXPECT_TRUE(rv.encrypted);
    EXPECT_EQ(rv.arrival_ms, 1'700'000'000'123);
    ASSERT_TRUE(reader.next(rv));
    EXPECT_EQ(rv.data, "");
    EXPECT_FALSE(reader.next(rv));
}

// Data directories keep chunks for years: the bytes must not change.
TEST(Keys, ChunkBytesAreFixed) {
    const std::string chunk = build_chunk(0x0102030405060708, {{"ab", "xyz", false}, {std::string(258, 'k'), "", true}});
    const std::string head("\xC1\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x02", 13);
    const std::string first("\x00\x02\x00\x00\x00\x03" "ab" "xyz", 11);
    const std::string second("\x81\x02\x00\x00\x00\x00", 6);
    EXPECT_EQ(chunk, head + first + second + std::string(258, 'k'));
    // one record's head alone, with the largest key the layout holds
    char record_head[chunk_record_head_size];
    write_chunk_record_head(record_head, 0x7fff, 0x01020304, false);
    EXPECT_EQ(std::string(record_head, sizeof record_head), std::string("\x7f\xff\x01\x02\x03\x04", 6));
}

TEST(Keys, ChunkReaderReadsALegacySingleRecordValue) {
    std::string value;
    encode_record_value(value, 42, "key", "data", true);
    chunk_reader reader;
    ASSERT_TRUE(reader.open(value));
    EXPECT_EQ(reader.count(), 1u);
    EXPECT_EQ(reader.arrival_ms(), 42);
    record_value rv;
    ASSERT_TRUE(reader.next(rv));
    EXPECT_EQ(rv.partition_key, "key");
    EXPECT_EQ(rv.data, "data");
    EXPECT_TRUE(rv.encrypted);
    EXPECT_FALSE(reader.next(rv));
}

TEST(Keys, ChunkReaderStopsAtTruncation) {
    std::string chunk = build_chunk(7, {{"a", "0123456789"}, {"b", "0123456789"}});
    chunk.resize(chunk.size() - 3);
    chunk_reader reader;
    ASSERT_TRUE(reader.open(chunk));
    record_value rv;
    EXPECT_TRUE(reader.next(rv));
    EXPECT_FALSE(reader.next(rv));
    EXPECT_FALSE(reader.open(std::string_view(chunk).substr(0, 5)));
    EXPECT_FALSE(reader.open(""));
}

TEST(Keys, ShardPrefixesAreFixedSizeDistinctAndSortRecordKeysByCounter) {
    const std::string a = shard_prefix(shard_cf_name(1, 0)), b = shard_prefix(shard_cf_name(1, 1));
    const std::string big = shard_prefix(shard_cf_name(18446744073709551615ull, 4294967295u));
    EXPECT_EQ(a.size(), shard_prefix_size);
    EXPECT_EQ(big.size(), shard_prefix_size);
    EXPECT_NE(a, b);
    EXPECT_NE(shard_prefix(shard_cf_name(12, 3)), shard_prefix(shard_cf_name(1, 23)));
    EXPECT_THROW(shard_prefix("meta"), std::invalid_argument);
    EXPECT_THROW(shard_prefix("shard-1"), std::invalid_argument);
    EXPECT_THROW(shard_prefix("shard-1-x"), std::invalid_argument);
    EXPECT_THROW(shard_prefix("shard-18446744073709551616-0"), std::invalid_argument);
    EXPECT_THROW(shard_prefix("shard-1-4294967296"), std::invalid_argument);

    char k1[max_record_key_size], k2[max_record_key_size], k3[max_record_key_size];
    const std::string_view first(k1, encode_record_key(a, 255, k1));
    const std::string_view second(k2, encode_record_key(a, 256, k2));
    const std::string_view other(k3, encode_record_key(b, 0, k3));
    EXPECT_LT(first, second);
    EXPECT_LT(second, other);  // a shard's keys never interleave with the next one's
    EXPECT_EQ(record_key_counter(second), 256u);
    EXPECT_EQ(first.substr(0, shard_prefix_size), a);
    EXPECT_EQ(record_key_counter(counter_key(7)), 7u);  // older 8-byte keys
}

TEST(Keys, CounterMetaKeepsLastArrivalAndReadsOlderValues) {
    char v[16];
    encode_counter_meta(42, 1700000000123, v);
    std::uint64_t counter = 0;
    std::int64_t arrival = 0;
    ASSERT_TRUE(decode_counter_meta(std::string_view(v, 16), &counter, &arrival));
    EXPECT_EQ(counter, 42u);
    EXPECT_EQ(arrival, 1700000000123);
    ASSERT_TRUE(decode_counter_meta(counter_key(9), &counter, &arrival));
    EXPECT_EQ(counter, 9u);
    EXPECT_EQ(arrival, 0);
    EXPECT_FALSE(decode_counter_meta("short", &counter, &arrival));
}

}  // namespace
}  // namespace kinesd::storage::keys
