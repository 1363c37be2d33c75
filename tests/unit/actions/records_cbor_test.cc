#include "actions/records_cbor.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codec/codec.h"

namespace kinesd::actions {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t created_s = 1733300000;
constexpr std::uint32_t shard_index = 7;

// A GetRecords answer as a value, built the way the handler built it before
// it wrote CBOR itself, for the general encoder to write.
json records_value(const std::vector<storage::record_view>& records) {
    json out = json::array();
    for (const auto& r : records) {
        std::string sequence;
        encoding::append_sequence_number({created_s, shard_index, r.counter, std::uint64_t(r.arrival_ms / 1000)},
                                         sequence);
        json record = {{"SequenceNumber", sequence},
                       {"ApproximateArrivalTimestamp", r.arrival_ms},
                       {"Data", json::binary(std::vector<std::uint8_t>(r.data.begin(), r.data.end()))},
                       {"PartitionKey", r.partition_key}};
        if (r.encrypted) record["EncryptionType"] = "KMS";
        out.push_back(std::move(record));
    }
    return out;
}

struct stored {
    std::vector<std::string> keys, data;
    std::vector<storage::record_view> views;
};

stored random_records(std::mt19937& rng, std::size_t n) {
    static const std::size_t sizes[] = {0, 1, 23, 24, 255, 256, 1000, 65535, 65536, 70000};
    static const std::string keys[] = {"k", "partition-key-of-more-than-23", std::string(300, 'p'), "caf\xc3\xa9",
                                       "bad\xff\xfe utf-8", std::string("nul\0key", 7), "\xf0\x9f\x98\x80"};
    stored s;
    s.keys.reserve(n);
    s.data.reserve(n);
    std::uint64_t counter = rng() % 1000;
    std::int64_t arrival = rng() % 4 == 0 ? std::int64_t(rng() % 30) : 1733300000000 + std::int64_t(rng() % 100000);
    for (std::size_t i = 0; i < n; ++i) {
        std::string data(sizes[rng() % std::size(sizes)], '\0');
        for (auto& c : data) c = char(rng());
        s.data.push_back(std::move(data));
        s.keys.push_back(keys[rng() % std::size(keys)]);
        // Mostly consecutive counters within one second, as a shard stores
        // them; sometimes a jump or a new second.
        counter += rng() % 5 == 0 ? 1 + rng() % 100000 : 1;
        if (rng() % 4 == 0) arrival += std::int64_t(rng() % 3000);
        s.views.push_back({counter, arrival, s.keys.back(), s.data.back(), rng() % 3 == 0});
    }
    return s;
}

TEST(records_cbor, get_records_answer_is_what_the_general_encoder_writes) {
    std::mt19937 rng(4242);
    const json children = json::array(
        {{{"ShardId", "shardId-000000000008"},
          {"ParentShards", json::array({"shardId-000000000007"})},
          {"HashKeyRange", {{"StartingHashKey", "0"}, {"EndingHashKey", "170141183460469231731687303715884105727"}}}}});
    for (int round = 0; round < 200; ++round) {
        const std::size_t n = round < 3 ? std::size_t(round) : rng() % (round % 10 == 0 ? 600 : 30);
        const stored s = random_records(rng, n);
        const std::int64_t behind = round % 3 == 0 ? 0 : std::int64_t(rng()) * (round % 5 + 1);
        const std::string iterator(std::size_t(20 + rng() % 300), 'A' + char(round % 26));
        const bool closed = round % 7 == 0;

        json expected = {{"Records", records_value(s.views)}, {"MillisBehindLatest", behind}};
        if (closed)
            expected["ChildShards"] = children;
        else
            expected["NextShardIterator"] = iterator;

        std::string records;
        cbor_records_writer writer(records, created_s, shard_index, rng() % 2 ? n : 1);
        for (const auto& r : s.views) writer.add(r);
        writer.finish();
        ASSERT_EQ(writer.count(), n);
        const std::string got = get_records_cbor(closed ? std::optional<json>(children) : std::nullopt, behind,
                                                 iterator, std::move(records), n);
        ASSERT_EQ(got, codec::encode(codec::wire_format::cbor, expected)) << "round " << round << ", " << n << " records";
    }
}

TEST(records_cbor, a_records_array_is_what_the_general_encoder_writes) {
    std::mt19937 rng(99);
    for (std::size_t n : {0, 1, 23, 24, 300}) {
        const stored s = random_records(rng, n);
        std::string out = "prefix";
        append_cbor_records(s.views, created_s, shard_index, out);
        EXPECT_EQ(out, "prefix" + codec::encode(codec::wire_format::cbor, json{{"R", records_value(s.views)}}).substr(3));
    }
}

TEST(records_cbor, put_answers_are_what_the_general_encoder_writes) {
    const std::string sequence = "49658230281237289011299137498316488409235497232343945330";
    EXPECT_EQ(put_record_cbor("NONE", sequence, "shardId-000000000001"),
              codec::encode(codec::wire_format::cbor, {{"ShardId", "shardId-000000000001"},
                                                       {"SequenceNumber", sequence},
                                                       {"EncryptionType", "NONE"}}));
    for (std::size_t entries : {1, 3, 30, 500}) {
        json results = json::array();
        std::string got;
        std::size_t failed = 0;
        for (std::size_t i = 0; i < entries; ++i) failed += i % 4 == 1;
        put_records_cbor_head("KMS", failed, entries, got);
        for (std::size_t i = 0; i < entries; ++i) {
            if (i % 4 == 1) {
                const std::string message = "Rate exceeded for shard shardId-00000000000" + std::to_string(i % 10);
                results.push_back({{"ErrorCode", "ProvisionedThroughputExceededException"}, {"ErrorMessage", message}});
                put_records_cbor_failure("ProvisionedThroughputExceededException", message, got);
            } else {
                results.push_back({{"SequenceNumber", sequence}, {"ShardId", "shardId-000000000002"}});
                put_records_cbor_success(sequence, "shardId-000000000002", got);
            }
        }
        EXPECT_EQ(got, codec::encode(codec::wire_format::cbor,
                                     {{"FailedRecordCount", failed}, {"Records", results}, {"EncryptionType", "KMS"}}))
            << entries;
    }
}

}  // namespace
}  // namespace kinesd::actions
