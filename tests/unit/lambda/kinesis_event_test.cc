// The event a function receives and the on-failure document, field by field.
#include <gtest/gtest.h>

#include "lambda/kinesis_event.h"

namespace kinesd::lambda {
namespace {

event_context context() {
    return {"shardId-000000000006", "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream", "us-east-2",
            "arn:aws:iam::123456789012:role/lambda-role"};
}

source_record record() {
    return {7, 1545084650987, "1", "Hello, this is a test.",
            "49590338271490256608559692538361571095921575989136588898"};
}

TEST(KinesisEvent, RecordHasLambdasFieldsAndValues) {
    const auto r = event_record(context(), record());
    EXPECT_EQ(r["kinesis"]["kinesisSchemaVersion"], "1.0");
    EXPECT_EQ(r["kinesis"]["partitionKey"], "1");
    EXPECT_EQ(r["kinesis"]["sequenceNumber"], "49590338271490256608559692538361571095921575989136588898");
    EXPECT_EQ(r["kinesis"]["data"], "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==");
    // Seconds with exactly the millisecond fraction, as a JSON number.
    EXPECT_EQ(r["kinesis"]["approximateArrivalTimestamp"].dump(), "1545084650.987");
    EXPECT_EQ(r["eventSource"], "aws:kinesis");
    EXPECT_EQ(r["eventVersion"], "1.0");
    EXPECT_EQ(r["eventID"], "shardId-000000000006:49590338271490256608559692538361571095921575989136588898");
    EXPECT_EQ(r["eventName"], "aws:kinesis:record");
    EXPECT_EQ(r["invokeIdentityArn"], "arn:aws:iam::123456789012:role/lambda-role");
    EXPECT_EQ(r["awsRegion"], "us-east-2");
    EXPECT_EQ(r["eventSourceARN"], "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream");
    EXPECT_EQ(r.size(), 8u);
    EXPECT_EQ(r["kinesis"].size(), 5u);
}

TEST(KinesisEvent, FilterViewParsesJsonDataOnly) {
    auto r = record();
    EXPECT_FALSE(filter_view(context(), r).contains("data"));
    r.data = R"({"a": 1})";
    EXPECT_EQ(filter_view(context(), r)["data"]["a"], 1);
    EXPECT_EQ(filter_view(context(), r)["partitionKey"], "1");
}

TEST(KinesisEvent, FailureDocumentAndKey) {
    failure_info info{"arn:aws:lambda:us-east-2:123456789012:function:f", "RetryAttemptsExhausted", 3, 200,
                      "Unhandled", 1573691886021};
    const auto doc = failure_document(context(), {record()}, info, "{}");
    EXPECT_EQ(doc["requestContext"]["condition"], "RetryAttemptsExhausted");
    EXPECT_EQ(doc["requestContext"]["approximateInvokeCount"], 3);
    EXPECT_EQ(doc["responseContext"]["functionError"], "Unhandled");
    EXPECT_EQ(doc["timestamp"], "2019-11-14T00:38:06.021Z");
    EXPECT_EQ(doc["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"], "2018-12-17T22:10:50.987Z");
    EXPECT_EQ(doc["KinesisBatchInfo"]["batchSize"], 1);
    EXPECT_EQ(doc["payload"], "{}");
    const auto key = failure_object_key("uuid-1", "shardId-000000000006", 1573691886021);
    EXPECT_EQ(key.rfind("aws/lambda/uuid-1/shardId-000000000006/2019/11/14/2019-11-14T00.38.06-", 0), 0u) << key;
}

}  // namespace
}  // namespace kinesd::lambda
