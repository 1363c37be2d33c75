"""Kinesis channels and UpdateStreamRecordDistributionStrategy through boto3.

The operations came with botocore releases newer than some installations
carry: when the installed botocore's Kinesis model lacks them, each test
skips and names the botocore version (the JavaScript suite beside this file
covers them with the newest SDK either way).
"""
import os
import sys
import unittest

import botocore
import botocore.exceptions
import botocore.session

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import ACCOUNT, ServerLogOnFailure, make_client, stream_arn, unique_name, wait_until  # noqa: E402

OPERATIONS = ("CreateChannel", "DescribeChannel", "ListChannels", "UpdateChannel", "DeleteChannel",
              "UpdateStreamRecordDistributionStrategy")
KNOWN = set(botocore.session.get_session().get_service_model("kinesis").operation_names)
MISSING = [op for op in OPERATIONS if op not in KNOWN]
SKIP_REASON = "botocore %s's Kinesis model lacks %s" % (botocore.__version__, ", ".join(MISSING))


@unittest.skipIf(MISSING, SKIP_REASON)
class ChannelsBoto3Test(ServerLogOnFailure):
    @classmethod
    def setUpClass(cls):
        cls.server = KinesdServer()
        cls.kinesis = make_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.close()

    def on_demand_stream(self):
        name = unique_name()
        self.kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_until(lambda: self.kinesis.describe_stream_summary(StreamName=name)
                   ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "stream ACTIVE")
        return name

    def test_channel_life_cycle(self):
        stream = self.on_demand_stream()
        created = self.kinesis.create_channel(
            ChannelName=unique_name("c"), ServiceExecutionRoleARN="arn:aws:iam::%s:role/r" % ACCOUNT,
            StreamConfigurationList=[{"StreamARN": stream_arn(stream),
                                      "RecordConfiguration": {"RecordFormatType": "STRING"}}],
            S3DestinationConfiguration={"StorageConfiguration": {
                "BucketARN": "arn:aws:s3:::channel-bucket", "ExpectedBucketOwner": ACCOUNT, "CompressionType": "ZSTD"}},
        )["ChannelDescription"]
        arn = created["ChannelARN"]
        described = self.kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]
        self.assertEqual(described["ChannelStatus"], "ACTIVE")
        listed = self.kinesis.list_channels(StreamFilter=[{"StreamARN": stream_arn(stream)}])["ChannelSummaries"]
        self.assertEqual([c["ChannelARN"] for c in listed], [arn])
        updated = self.kinesis.update_channel(ChannelARN=arn, S3DestinationConfiguration={"DataFreshnessInSeconds": 900})
        self.assertEqual(updated["ChannelDescription"]["S3DestinationConfiguration"]["DataFreshnessInSeconds"], 900)
        self.kinesis.delete_channel(ChannelARN=arn)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.kinesis.describe_channel(ChannelARN=arn)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_record_distribution_strategy(self):
        stream = self.on_demand_stream()
        self.kinesis.update_stream_record_distribution_strategy(StreamARN=stream_arn(stream),
                                                                RecordDistributionStrategy="AUTO")
        summary = self.kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        self.assertEqual(summary["RecordDistributionStrategy"], "AUTO")


if __name__ == "__main__":
    unittest.main(verbosity=2)
