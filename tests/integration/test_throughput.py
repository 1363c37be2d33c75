"""AWS's per-shard throughput limits, enforced only with --enforce-limits:
writes over 1,000 records/s fail per record inside PutRecords and as
ProvisionedThroughputExceededException from PutRecord; GetRecords over
5 calls/s is refused. Without the setting the same load passes untouched.

The loads are bursts far above the limits (five seconds' worth of writes,
six times the read rate), so the outcome does not depend on how fast the
machine sends them."""
import unittest

import botocore.exceptions

from kinesis_helpers import ACCOUNT, KinesdTestCase, make_client, unique_name, wait_active


def burst(client, stream, calls, per_call=500, size=100):
    failed = []
    for c in range(calls):
        records = [{"Data": b"x" * size, "PartitionKey": "k-%d-%d" % (c, i)} for i in range(per_call)]
        result = client.put_records(StreamName=stream, Records=records)
        failed.extend(r for r in result["Records"] if "ErrorCode" in r)
        assert result["FailedRecordCount"] == len([r for r in result["Records"] if "ErrorCode" in r])
    return failed


class LimitsEnforced(KinesdTestCase):
    server_args = ("--enforce-limits", "true")

    def setUp(self):
        self.client = make_client(self.server.endpoint)
        self.stream = unique_name("limited")
        self.client.create_stream(StreamName=self.stream, ShardCount=1)
        wait_active(self.client, self.stream)

    def test_put_records_fails_records_over_the_shard_rate(self):
        failed = burst(self.client, self.stream, calls=10)
        self.assertGreater(len(failed), 0)
        self.assertLess(len(failed), 5000, "the first second's worth of records must be accepted")
        expected = ("Rate exceeded for shard shardId-000000000000 in stream %s under account %s."
                    % (self.stream, ACCOUNT))
        for record in failed:
            self.assertEqual(record["ErrorCode"], "ProvisionedThroughputExceededException")
            self.assertEqual(record["ErrorMessage"], expected)
            self.assertNotIn("SequenceNumber", record)

    def test_put_record_is_refused_over_the_shard_rate(self):
        # 1 MiB/s per shard: five 900 KiB records in a row cannot all fit
        # unless sending them takes over three seconds.
        refused = 0
        for i in range(5):
            try:
                self.client.put_record(StreamName=self.stream, Data=b"y" * (900 * 1024), PartitionKey="p%d" % i)
            except botocore.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ProvisionedThroughputExceededException")
                self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                self.assertEqual(e.response["Error"]["Message"],
                                 "Rate exceeded for shard shardId-000000000000 in stream %s under account %s."
                                 % (self.stream, ACCOUNT))
                refused += 1
        self.assertGreater(refused, 0)
        self.assertLess(refused, 5)

    def test_get_records_is_refused_over_five_calls_per_second(self):
        self.client.put_record(StreamName=self.stream, Data=b"z", PartitionKey="p")
        iterator = self.client.get_shard_iterator(StreamName=self.stream, ShardId="shardId-000000000000",
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        refused = 0
        for _ in range(30):
            try:
                iterator = self.client.get_records(ShardIterator=iterator)["NextShardIterator"]
            except botocore.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ProvisionedThroughputExceededException")
                refused += 1
        self.assertGreater(refused, 0)
        self.assertLess(refused, 30)


class LimitsOffByDefault(KinesdTestCase):
    def test_same_burst_passes_without_the_setting(self):
        client = make_client(self.server.endpoint)
        stream = unique_name("unlimited")
        client.create_stream(StreamName=stream, ShardCount=1)
        wait_active(client, stream)
        self.assertEqual(burst(client, stream, calls=10), [])
        iterator = client.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for _ in range(30):
            iterator = client.get_records(ShardIterator=iterator, Limit=1)["NextShardIterator"]


if __name__ == "__main__":
    unittest.main()
