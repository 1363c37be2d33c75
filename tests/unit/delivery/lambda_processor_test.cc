#include "delivery/lambda_processor.h"

#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kinesd::delivery {
namespace {

using json = nlohmann::json;

const std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:enrich";

// Arrays are spelled out: a braced list of one json is a copy under clang
// and a one-element array under gcc.
json lambda_processor(json params) {
    json processor = {{"Type", "Lambda"}, {"Parameters", params}};
    return {{"Enabled", true}, {"Processors", json::array({processor})}};
}
json param(const std::string& name, const std::string& value) {
    return {{"ParameterName", name}, {"ParameterValue", value}};
}

TEST(LambdaSettings, DefaultsAndValues) {
    json d = {{"ProcessingConfiguration", lambda_processor(json::array({param("LambdaArn", arn)}))}};
    auto s = lambda_settings_of(d);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->lambda_arn, arn);
    EXPECT_EQ(s->retries, 3);
    EXPECT_EQ(s->buffer_bytes, 1u << 20);
    EXPECT_EQ(s->buffer_interval_ms, 60000);

    d["ProcessingConfiguration"] = lambda_processor(json::array({param("LambdaArn", arn), param("NumberOfRetries", "0"),
                                                                  param("BufferSizeInMBs", "0.5"),
                                                                  param("BufferIntervalInSeconds", "900")}));
    s = lambda_settings_of(d);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->retries, 0);
    EXPECT_EQ(s->buffer_bytes, std::size_t(0.5 * (1 << 20)));
    EXPECT_EQ(s->buffer_interval_ms, 900000);

    d["ProcessingConfiguration"]["Enabled"] = false;
    EXPECT_FALSE(lambda_settings_of(d));
    EXPECT_FALSE(lambda_settings_of(json::object()));
}

TEST(LambdaSettings, ValidationRefuses) {
    for (const json& params : {json::array({param("NumberOfRetries", "1")}),
                               json::array({param("LambdaArn", "enrich")}),
                               json::array({param("LambdaArn", arn), param("Delimiter", "\\n")}),
                               json::array({param("LambdaArn", arn), param("LambdaArn", arn)}),
                               json::array({param("LambdaArn", arn), param("NumberOfRetries", "x")}),
                               json::array({param("LambdaArn", arn), param("NumberOfRetries", "301")}),
                               json::array({param("LambdaArn", arn), param("BufferSizeInMBs", "3.5")}),
                               json::array({param("LambdaArn", arn), param("BufferSizeInMBs", ".5")}),
                               json::array({param("LambdaArn", arn), param("BufferIntervalInSeconds", "-1")}),
                               json::array({param("LambdaArn", arn), param("RoleArn", "role")})})
        EXPECT_THROW(validate_processing_configuration(lambda_processor(params)), std::invalid_argument)
            << params.dump();
    EXPECT_NO_THROW(validate_processing_configuration(
        lambda_processor({param("LambdaArn", arn + ":live"), param("RoleArn", "arn:aws:iam::000000000000:role/r")})));
}

TEST(LambdaRequest, StreamSourceCarriesMetadata) {
    transform_context ctx;
    ctx.delivery_stream_arn = "arn:aws:firehose:us-east-1:000000000000:deliverystream/d";
    ctx.source_stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    ctx.region = "us-east-1";
    std::vector<source_record> records;
    collect_sources(records, true, 3, 1700000000, 7, 1700000123456, "pk", {"ab", "cd"});
    ASSERT_EQ(records.size(), 2u);
    auto event = json::parse(build_request(ctx, "inv", records, 0, 2, {"r0", "r1"}));
    EXPECT_EQ(event["invocationId"], "inv");
    EXPECT_EQ(event["sourceKinesisStreamArn"], ctx.source_stream_arn);
    EXPECT_EQ(event["region"], "us-east-1");
    ASSERT_EQ(event["records"].size(), 2u);
    auto& r1 = event["records"][1];
    EXPECT_EQ(r1["recordId"], "r1");
    EXPECT_EQ(r1["data"], "Y2Q=");
    EXPECT_EQ(r1["approximateArrivalTimestamp"], 1700000123456);
    EXPECT_EQ(r1["kinesisRecordMetadata"]["shardId"], "shardId-000000000003");
    EXPECT_EQ(r1["kinesisRecordMetadata"]["partitionKey"], "pk");
    EXPECT_EQ(r1["kinesisRecordMetadata"]["subsequenceNumber"], 1);
    EXPECT_EQ(r1["kinesisRecordMetadata"]["sequenceNumber"].get<std::string>().size(), 56u);

    std::vector<source_record> direct;
    collect_sources(direct, false, 0, 0, 1, 5, "", {"x"});
    auto plain = json::parse(build_request(transform_context{}, "i", direct, 0, 1, {"a"}));
    EXPECT_FALSE(plain.contains("sourceKinesisStreamArn"));
    EXPECT_FALSE(plain["records"][0].contains("kinesisRecordMetadata"));
}

TEST(LambdaAnswer, ResultsInRequestOrder) {
    auto a = parse_answer(R"({"records": [
        {"recordId": "b", "result": "Dropped"},
        {"recordId": "a", "result": "Ok", "data": "eHk=", "metadata": {"partitionKeys": {"k": "v"}}},
        {"recordId": "c", "result": "ProcessingFailed"}]})",
                          {"a", "b", "c"});
    ASSERT_EQ(a.error_code, "");
    ASSERT_EQ(a.records.size(), 3u);
    EXPECT_EQ(a.records[0].outcome, record_answer::result::ok);
    EXPECT_EQ(a.records[0].data, "xy");
    EXPECT_EQ(a.records[0].partition_keys.at("k"), "v");
    EXPECT_EQ(a.records[1].outcome, record_answer::result::dropped);
    EXPECT_EQ(a.records[2].outcome, record_answer::result::processing_failed);
}

TEST(LambdaAnswer, InvalidAnswersFailTheInvocation) {
    std::vector<std::string> ids = {"a", "b"};
    EXPECT_EQ(parse_answer("not json", ids).error_code, "Lambda.JsonProcessingException");
    EXPECT_EQ(parse_answer(R"({"records": {}})", ids).error_code, "Lambda.JsonProcessingException");
    EXPECT_EQ(parse_answer(R"({"records": [{"recordId": "a", "result": "Dropped"}]})", ids).error_code,
              "Lambda.MissingRecordId");
    EXPECT_EQ(parse_answer(R"({"records": [{"recordId": "a", "result": "Dropped"}, {"recordId": "z", "result": "Dropped"}]})",
                           ids)
                  .error_code,
              "Lambda.MissingRecordId");
    EXPECT_EQ(parse_answer(R"({"records": [{"recordId": "a", "result": "Dropped"}, {"recordId": "a", "result": "Dropped"}]})",
                           ids)
                  .error_code,
              "Lambda.DuplicatedRecordId");
    EXPECT_EQ(parse_answer(R"({"records": [{"recordId": "a", "result": "Fine"}, {"recordId": "b", "result": "Dropped"}]})",
                           ids)
                  .error_code,
              "Lambda.InvalidResult");
    EXPECT_EQ(parse_answer(R"({"records": [{"recordId": "a", "result": "Ok", "data": "!!"}, {"recordId": "b", "result": "Dropped"}]})",
                           ids)
                  .error_code,
              "Lambda.InvalidData");
}

TEST(LambdaTransform, WithoutAnInvokerEveryRecordFails) {
    transform_context ctx;
    ctx.now_ms = [] { return std::int64_t(42); };
    int n = 0;
    ctx.new_id = [&] { return std::to_string(n++); };
    lambda_settings s;
    s.lambda_arn = arn;
    std::vector<source_record> records;
    collect_sources(records, false, 0, 0, 1, 7, "", {"one", "two"});
    auto r = transform(ctx, s, records);
    EXPECT_EQ(r.failed, 2u);
    EXPECT_TRUE(r.records.empty());
    auto first = json::parse(r.error_documents.substr(0, r.error_documents.find('\n')));
    EXPECT_EQ(first["errorCode"], "Lambda.ResourceNotFound");
    EXPECT_EQ(first["rawData"], "b25l");
    EXPECT_EQ(first["arrivalTimestamp"], 7);
    EXPECT_EQ(first["attemptEndingTimestamp"], 42);
    EXPECT_EQ(first["attemptsMade"], 1);
    EXPECT_EQ(first["lambdaArn"], arn);
}

}  // namespace
}  // namespace kinesd::delivery
