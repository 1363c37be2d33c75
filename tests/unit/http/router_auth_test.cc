#include <gtest/gtest.h>

#include "http/router.h"

using kinesd::http::router;

// Puts and reads are not audited; everything else is.
TEST(router_audit, tells_data_plane_calls_from_control_plane_ones) {
    for (auto target : {"Kinesis_20131202.PutRecord", "Kinesis_20131202.PutRecords", "Kinesis_20131202.GetRecords",
                        "Kinesis_20131202.GetShardIterator", "Kinesis_20131202.SubscribeToShard",
                        "Firehose_20150804.PutRecord", "Firehose_20150804.PutRecordBatch"})
        EXPECT_TRUE(router::is_data_plane(target)) << target;
    for (auto target : {"Kinesis_20131202.CreateStream", "Kinesis_20131202.ListStreams",
                        "Kinesis_20131202.RegisterStreamConsumer", "Firehose_20150804.CreateDeliveryStream",
                        "Firehose_20150804.ListDeliveryStreams", "Firehose_20150804.PutRecords"})
        EXPECT_FALSE(router::is_data_plane(target)) << target;
}
