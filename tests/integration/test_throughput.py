"""AWS's per-shard throughput limits, enforced only with --enforce-limits:
writes over 1,000 records/s fail per record inside PutRecords and as
ProvisionedThroughputExceededException from PutRecord; GetRecords over
5 calls/s is refused. Without the setting the same load passes untouched.

The loads are bursts far above the limits (five seconds' worth of bytes in
one call, six times the read rate at once). Calls that must meet the budget
together are built and signed first and then released onto the wire at one
moment, so the outcome does not hang on how fast the machine builds them."""
import concurrent.futures
import threading
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


def released_together(clients, event):
    """Holds each client's request, once built and signed, until every client
    has one ready; then all of them are sent at once."""
    gate = threading.Barrier(len(clients), timeout=60)

    def hold(**_):
        gate.wait()
        return None  # anything else would stand in for the server's answer

    for client in clients:
        client.meta.events.register(event, hold)


class LimitsEnforced(KinesdTestCase):
    server_args = ("--enforce-limits", "true")

    def setUp(self):
        self.client = make_client(self.server.endpoint)
        self.stream = unique_name("limited")
        self.client.create_stream(StreamName=self.stream, ShardCount=1)
        wait_active(self.client, self.stream)

    def test_put_records_fails_records_over_the_shard_rate(self):
        # One call carrying five seconds' worth of bytes: the shard's 1 MiB/s
        # budget takes the first record and must refuse the rest.
        records = [{"Data": bytes([i]) * 1000000, "PartitionKey": "k%d" % i} for i in range(5)]
        result = self.client.put_records(StreamName=self.stream, Records=records)
        failed = [r for r in result["Records"] if "ErrorCode" in r]
        self.assertEqual(result["FailedRecordCount"], len(failed))
        self.assertIn("SequenceNumber", result["Records"][0])
        self.assertGreaterEqual(len(failed), 3)
        expected = ("Rate exceeded for shard shardId-000000000000 in stream %s under account %s."
                    % (self.stream, ACCOUNT))
        for record in failed:
            self.assertEqual(record["ErrorCode"], "ProvisionedThroughputExceededException")
            self.assertEqual(record["ErrorMessage"], expected)
            self.assertNotIn("SequenceNumber", record)

    def test_put_record_is_refused_over_the_shard_rate(self):
        # Each record needs most of a second of the shard's budget. Three sent
        # at once: the first fits a full budget, and the budget cannot refill
        # for another before the others arrive.
        clients = [make_client(self.server.endpoint) for _ in range(3)]
        released_together(clients, "before-send.kinesis.PutRecord")

        def put(i):
            try:
                clients[i].put_record(StreamName=self.stream, Data=b"y" * 1000000, PartitionKey="p%d" % i)
                return None
            except botocore.exceptions.ClientError as e:
                return e.response

        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            outcomes = list(pool.map(put, range(3)))
        refused = [o for o in outcomes if o is not None]
        for response in refused:
            self.assertEqual(response["Error"]["Code"], "ProvisionedThroughputExceededException")
            self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
            self.assertEqual(response["Error"]["Message"],
                             "Rate exceeded for shard shardId-000000000000 in stream %s under account %s."
                             % (self.stream, ACCOUNT))
        self.assertGreater(len(refused), 0)
        self.assertLess(len(refused), 3)

    def test_get_records_is_refused_over_five_calls_per_second(self):
        self.client.put_record(StreamName=self.stream, Data=b"z", PartitionKey="p")
        iterator = self.client.get_shard_iterator(StreamName=self.stream, ShardId="shardId-000000000000",
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        # Thirty calls at once: six times the per-second allowance.
        clients = [make_client(self.server.endpoint) for _ in range(30)]
        released_together(clients, "before-send.kinesis.GetRecords")

        def call(client):
            try:
                client.get_records(ShardIterator=iterator)
                return None
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            outcomes = list(pool.map(call, clients))
        refused = [o for o in outcomes if o is not None]
        self.assertTrue(all(o == "ProvisionedThroughputExceededException" for o in refused), outcomes)
        self.assertGreater(len(refused), 0)
        self.assertLess(len(refused), 30)


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
