// The one rule from CloudWatch names to Prometheus names, checked against
// every name the documentation promises.
#include <gtest/gtest.h>

#include "metrics/names.h"

namespace kinesd::metrics {
namespace {

TEST(MetricNames, SnakeCase) {
    EXPECT_EQ(snake_case("IncomingRecords"), "incoming_records");
    EXPECT_EQ(snake_case("PutRecords.TotalRecords"), "put_records_total_records");
    EXPECT_EQ(snake_case("DeliveryToS3.DataFreshness"), "delivery_to_s3_data_freshness");
    EXPECT_EQ(snake_case("HTTPStatus"), "http_status");
    EXPECT_EQ(snake_case("GetRecords.IteratorAgeMilliseconds"), "get_records_iterator_age_milliseconds");
    EXPECT_EQ(snake_case("already_snake"), "already_snake");
}

struct expected_name {
    const char* prefix;
    const char* cloudwatch;
    kind k;
    const char* prometheus;
};

TEST(MetricNames, EveryPublishedName) {
    const expected_name names[] = {
        {"kinesis", "IncomingRecords", kind::counter, "kinesis_incoming_records_total"},
        {"kinesis", "IncomingBytes", kind::counter, "kinesis_incoming_bytes_total"},
        {"kinesis", "PutRecord.Success", kind::counter, "kinesis_put_record_success_total"},
        {"kinesis", "PutRecord.Latency", kind::histogram_ms, "kinesis_put_record_latency_milliseconds"},
        {"kinesis", "PutRecords.Success", kind::counter, "kinesis_put_records_success_total"},
        {"kinesis", "PutRecords.Latency", kind::histogram_ms, "kinesis_put_records_latency_milliseconds"},
        {"kinesis", "PutRecords.TotalRecords", kind::counter, "kinesis_put_records_total_records_total"},
        {"kinesis", "PutRecords.SuccessfulRecords", kind::counter, "kinesis_put_records_successful_records_total"},
        {"kinesis", "PutRecords.FailedRecords", kind::counter, "kinesis_put_records_failed_records_total"},
        {"kinesis", "PutRecords.ThrottledRecords", kind::counter, "kinesis_put_records_throttled_records_total"},
        {"kinesis", "GetRecords.Success", kind::counter, "kinesis_get_records_success_total"},
        {"kinesis", "GetRecords.Records", kind::counter, "kinesis_get_records_records_total"},
        {"kinesis", "GetRecords.Bytes", kind::counter, "kinesis_get_records_bytes_total"},
        {"kinesis", "GetRecords.Latency", kind::histogram_ms, "kinesis_get_records_latency_milliseconds"},
        {"kinesis", "GetRecords.IteratorAgeMilliseconds", kind::gauge, "kinesis_get_records_iterator_age_milliseconds"},
        {"kinesis", "ReadProvisionedThroughputExceeded", kind::counter,
         "kinesis_read_provisioned_throughput_exceeded_total"},
        {"kinesis", "WriteProvisionedThroughputExceeded", kind::counter,
         "kinesis_write_provisioned_throughput_exceeded_total"},
        {"kinesis", "SubscribeToShardEvent.Records", kind::counter, "kinesis_subscribe_to_shard_event_records_total"},
        {"kinesis", "SubscribeToShardEvent.Bytes", kind::counter, "kinesis_subscribe_to_shard_event_bytes_total"},
        {"kinesis", "SubscribeToShardEvent.MillisBehindLatest", kind::gauge,
         "kinesis_subscribe_to_shard_event_millis_behind_latest"},
        {"firehose", "IncomingRecords", kind::counter, "firehose_incoming_records_total"},
        {"firehose", "IncomingBytes", kind::counter, "firehose_incoming_bytes_total"},
        {"firehose", "DeliveryToS3.Records", kind::counter, "firehose_delivery_to_s3_records_total"},
        {"firehose", "DeliveryToS3.Bytes", kind::counter, "firehose_delivery_to_s3_bytes_total"},
        {"firehose", "DeliveryToS3.Success", kind::counter, "firehose_delivery_to_s3_success_total"},
        {"firehose", "DeliveryToS3.Failures", kind::counter, "firehose_delivery_to_s3_failures_total"},
        {"firehose", "DeliveryToHttpEndpoint.Records", kind::counter,
         "firehose_delivery_to_http_endpoint_records_total"},
        {"firehose", "DeliveryToHttpEndpoint.DataFreshness", kind::gauge_seconds,
         "firehose_delivery_to_http_endpoint_data_freshness_seconds"},
        {"firehose", "DeliveryToS3.DataFreshness", kind::gauge_seconds, "firehose_delivery_to_s3_data_freshness_seconds"},
    };
    for (const auto& n : names) EXPECT_EQ(prometheus_name(n.prefix, n.cloudwatch, n.k), n.prometheus) << n.cloudwatch;
}

}  // namespace
}  // namespace kinesd::metrics
