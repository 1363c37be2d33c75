#include "delivery/record_processing.h"

#include <gtest/gtest.h>

#include "codec/kpl_aggregate.h"

namespace kinesd::delivery {
namespace {

using nlohmann::json;

json destination(json processors, bool partitioning = false, std::string prefix = "") {
    json d = {{"Prefix", prefix},
              {"ProcessingConfiguration", {{"Enabled", true}, {"Processors", processors}}}};
    if (partitioning) d["DynamicPartitioningConfiguration"] = {{"Enabled", true}};
    return d;
}

json processor(std::string type, json params = json::object()) {
    json p = {{"Type", type}, {"Parameters", json::array()}};
    for (auto& [k, v] : params.items()) p["Parameters"].push_back({{"ParameterName", k}, {"ParameterValue", v}});
    return p;
}

TEST(SplitJsonObjects, ConcatenatedAndLineSeparated) {
    std::vector<std::string_view> out;
    ASSERT_TRUE(split_json_objects(R"({"a":1}{"a":"}{"}
 {"b":[1,{"c":2}]})", out));
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[1], R"({"a":"}{"})");
    EXPECT_EQ(out[2], R"({"b":[1,{"c":2}]})");
    EXPECT_FALSE(split_json_objects(R"([{"a":1}])", out));
    EXPECT_FALSE(split_json_objects(R"({"a":1}{"a")", out));
    EXPECT_FALSE(split_json_objects("   ", out));
}

TEST(SplitDelimited, TrailingDelimiterOpensNoEmptyRecord) {
    std::vector<std::string_view> out;
    split_delimited("a##b####c##", "##", out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0], "a");
    EXPECT_EQ(out[2], "");
    EXPECT_EQ(out[3], "c");
    split_delimited("", "##", out);
    ASSERT_EQ(out.size(), 1u);
}

TEST(ProcessingSettings, ReadsProcessorsAndPrefixKeys) {
    auto s = processing_settings::from(
        destination(json::array({processor("AppendDelimiterToRecord", {{"Delimiter", "Ow=="}}),
                                 processor("RecordDeAggregation", {{"SubRecordType", "DELIMITED"},
                                                                   {"Delimiter", "IyMjIw=="}}),
                                 processor("MetadataExtraction", {{"MetadataExtractionQuery", "{a: .a}"},
                                                                  {"JsonParsingEngine", "JQ-1.6"}})}),
                    true, "x/!{partitionKeyFromQuery:a}/!{timestamp:yyyy}/!{partitionKeyFromLambda:b}/"),
        false);
    EXPECT_EQ(s.record_delimiter, std::optional<std::string>(";"));
    EXPECT_EQ(s.split, sub_record_type::delimited);
    EXPECT_EQ(s.split_delimiter, "####");
    EXPECT_EQ(s.metadata_query, "{a: .a}");
    ASSERT_EQ(s.prefix_keys.size(), 2u);
    EXPECT_EQ(s.prefix_keys[0].name, "a");
    EXPECT_EQ(s.prefix_keys[1].source, key_source::lambda);
    auto plain = processing_settings::from(destination(json::array({processor("AppendDelimiterToRecord")})), false);
    EXPECT_EQ(plain.record_delimiter, std::optional<std::string>("\n"));
    EXPECT_FALSE(plain.dynamic_partitioning);
}

TEST(RecordPipeline, KplThenSplitThenQuery) {
    auto s = processing_settings::from(
        destination(json::array({processor("RecordDeAggregation", {{"SubRecordType", "JSON"}}),
                                 processor("MetadataExtraction", {{"MetadataExtractionQuery", "{c: .c}"},
                                                                  {"JsonParsingEngine", "JQ-1.6"}})}),
                    true, "!{partitionKeyFromQuery:c}/"),
        true);
    std::string agg = codec::kpl_aggregate(
        {{"p1", std::nullopt, R"({"c":"x"}{"c":"y"})"}, {"p2", std::nullopt, R"({"c":3})"}, {"p3", std::nullopt, "nope"}});
    record_pipeline pipeline;
    std::vector<delivery_record> out;
    std::vector<failed_record> failed;
    pipeline.run(s, agg, 1000, "a", out, failed);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].query_keys.at("c"), "x");
    EXPECT_EQ(out[0].partition_key, "p1");
    EXPECT_EQ(out[1].query_keys.at("c"), "y");
    EXPECT_FALSE(out[2].query_keys.contains("c"));  // a number names no partition
    ASSERT_EQ(failed.size(), 1u);                   // "nope" is not JSON
    EXPECT_EQ(failed[0].raw, "nope");
    EXPECT_EQ(failed[0].error_output_type, partitioning_failed);
    EXPECT_EQ(failed[0].arrival_ms, 1000);
}

TEST(JqRunner, CachesProgramsAndReportsFailures) {
    jq_runner jq;
    auto r = jq.run("{y: (.t | tostring), k: .k}", R"({"t": 5, "k": "v"})");
    ASSERT_FALSE(r.failure);
    EXPECT_EQ(r.keys.at("y"), "5");
    EXPECT_EQ(r.keys.at("k"), "v");
    r = jq.run("{y: (.t | tostring), k: .k}", R"({"k": "w"})");
    ASSERT_FALSE(r.failure);
    EXPECT_EQ(r.keys.at("y"), "null");
    EXPECT_EQ(r.keys.at("k"), "w");
    EXPECT_TRUE(jq.run(".a", R"({"a": 1})").failure);           // not an object
    EXPECT_TRUE(jq.run("{a: (.a | error)}", R"({"a": "x"})").failure);
    EXPECT_TRUE(jq.run("{a: .a", "{}").failure);                 // does not compile
    EXPECT_TRUE(jq_compile_error("{a: .a"));
    EXPECT_FALSE(jq_compile_error("{a: .a}"));
}

}  // namespace
}  // namespace kinesd::delivery
