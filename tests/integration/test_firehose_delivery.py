"""Firehose delivery under stress: a Kinesis stream as source (resharding
included), buffering by size and by time, flushing on SIGTERM, an S3 outage,
and kill -9 while records are buffered or an upload is in flight.

Nothing here may fail because the machine is slow: deliveries are polled for
with generous timeouts, and timing is only ever checked as a lower bound.
"""
import hashlib
import os
import time
import unittest

from firehose_helpers import (DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase, HoldingProxy, S3Server,
                              bucket_arn)
from kinesd_server import KinesdServer
from kinesis_helpers import create_stream, stream_arn, unique_name, wait_active, wait_until
from test_firehose import NEWLINE, numbered, split_lines


def flatten(chunks):
    return [record for chunk in chunks for record in chunk]


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def length_delimited(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def kpl_aggregate(records):
    """What the Kinesis Producer Library puts: magic, AggregatedRecord, MD5."""
    message = length_delimited(1, b"pk")
    for r in records:
        message += length_delimited(3, varint(1 << 3) + varint(0) + length_delimited(3, r))
    return b"\xf3\x89\x9a\xc2" + message + hashlib.md5(message).digest()


class KinesisSourceTest(FirehoseTestCase):

    def create_from(self, source, bucket):
        name = unique_name("ks")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket), "ProcessingConfiguration": NEWLINE,
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
        return name

    def put(self, source, payloads, keys=7):
        """Puts the records in order; returns each one's partition key."""
        key_of = {p: "pk-%d" % (i % keys) for i, p in enumerate(payloads)}
        for start in range(0, len(payloads), 100):
            chunk = payloads[start:start + 100]
            result = self.kinesis.put_records(StreamName=source, Records=[
                {"Data": p, "PartitionKey": key_of[p]} for p in chunk])
            self.assertEqual(result.get("FailedRecordCount", 0), 0)
        return key_of

    def assertDeliveredOnce(self, bucket, payloads):
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        delivered = split_lines(objects)
        self.assertEqual(sorted(flatten(delivered)), sorted(payloads))
        return delivered

    def assertKeyOrder(self, delivered, payloads, key_of):
        # Within one object, the records of one partition key keep their order.
        position = {p: i for i, p in enumerate(payloads)}
        for chunk in delivered:
            for key in set(key_of.values()):
                mine = [position[r] for r in chunk if key_of[r] == key]
                self.assertEqual(mine, sorted(mine))

    def test_records_put_before_and_after_creation(self):
        source = create_stream(self.kinesis, shards=2)
        bucket = self.new_bucket()
        before = numbered("before", 150)
        key_of = self.put(source, before)
        self.create_from(source, bucket)
        after = numbered("after", 150)
        key_of.update(self.put(source, after))
        delivered = self.assertDeliveredOnce(bucket, before + after)
        self.assertKeyOrder(delivered, before + after, key_of)

    def test_follows_a_split(self):
        source = create_stream(self.kinesis, shards=1)
        bucket = self.new_bucket()
        self.create_from(source, bucket)
        first = numbered("parent", 100)
        key_of = self.put(source, first)
        shard = self.kinesis.list_shards(StreamName=source)["Shards"][0]["ShardId"]
        self.kinesis.split_shard(StreamName=source, ShardToSplit=shard, NewStartingHashKey=str(2 ** 127))
        wait_active(self.kinesis, source)
        second = numbered("children", 200)
        key_of.update(self.put(source, second))
        delivered = self.assertDeliveredOnce(bucket, first + second)
        self.assertKeyOrder(delivered, first + second, key_of)


    def test_follows_a_merge(self):
        source = create_stream(self.kinesis, shards=2)
        bucket = self.new_bucket()
        self.create_from(source, bucket)
        first = numbered("parents", 100)
        key_of = self.put(source, first)
        shards = [s["ShardId"] for s in self.kinesis.list_shards(StreamName=source)["Shards"]]
        self.kinesis.merge_shards(StreamName=source, ShardToMerge=shards[0], AdjacentShardToMerge=shards[1])
        wait_active(self.kinesis, source)
        second = numbered("child", 200)
        key_of.update(self.put(source, second))
        delivered = self.assertDeliveredOnce(bucket, first + second)
        self.assertKeyOrder(delivered, first + second, key_of)

    def test_kpl_aggregated_records_are_split(self):
        source = create_stream(self.kinesis, shards=1)
        bucket = self.new_bucket()
        self.create_from(source, bucket)
        parts = numbered("part", 12)
        plain = numbered("plain", 2)
        records = [kpl_aggregate(parts[i:i + 4]) for i in range(0, 12, 4)] + plain
        self.kinesis.put_records(StreamName=source, Records=[{"Data": r, "PartitionKey": "k"} for r in records])
        delivered = self.assertDeliveredOnce(bucket, parts + plain)
        self.assertEqual(flatten(delivered), parts + plain)  # one shard: one order

class BufferingTest(FirehoseTestCase):

    def test_size_flushes_first_and_sigterm_flushes_the_rest(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, size_mb=1, interval=900)
        records = [bytes([65 + i]) * 100000 for i in range(15)]
        for start in range(0, 15, 5):
            self.put_batch(name, records[start:start + 5])
        # 10 records fill 1,000,000 of the 1 MiB; the 11th would overflow it.
        [(key, body)] = self.wait_for_bytes(bucket, 1000000)
        self.assertEqual(body, b"".join(records[:10]))
        time.sleep(2)  # the rest waits for the 900 s interval
        self.assertEqual(len(self.keys(bucket)), 1)
        self.server.stop()
        try:
            objects = self.objects(bucket)
            self.assertEqual(len(objects), 2, [k for k, _ in objects])
            self.assertEqual(sorted(body for _, body in objects),
                             sorted([b"".join(records[:10]), b"".join(records[10:])]))
        finally:
            self.server.start()
            self.connect()

    def test_interval_is_measured_from_the_first_record(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, size_mb=128, interval=3, ProcessingConfiguration=NEWLINE)
        started = time.monotonic()
        payloads = numbered("interval", 3)
        for p in payloads:
            self.firehose.put_record(DeliveryStreamName=name, Record={"Data": p})
        put_time = time.monotonic() - started
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, 2.9)
        self.assertEqual(sorted(flatten(split_lines(objects))), sorted(payloads))
        if put_time < 2.5:  # all three arrived within the first record's interval
            self.assertEqual(len(objects), 1, [k for k, _ in objects])


class OutageTest(FirehoseTestCase):

    # A flush that S3 cannot take ends with the shutdown timeout.
    kinesd_args = ("--shutdown-timeout", "3s")

    def test_s3_down_then_up(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, ProcessingConfiguration=NEWLINE)
        self.s3_server.stop()
        payloads = numbered("outage", 50)
        try:
            self.put_batch(name, payloads)

            def failing():
                return self.describe(name).get("FailureDescription")
            failure = wait_until(failing, "a FailureDescription", DELIVERY_TIMEOUT)
            self.assertEqual(failure["Type"], "UNKNOWN_ERROR")
            self.assertIn(bucket, failure["Details"])
        finally:
            self.s3_server.start()
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        self.assertEqual(sorted(flatten(split_lines(objects))), sorted(payloads))
        wait_until(lambda: "FailureDescription" not in self.describe(name), "the failure to clear")
        self.assertIn("failed", self.server.log_text())

    def test_sigterm_while_s3_is_down_loses_nothing(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, ProcessingConfiguration=NEWLINE)
        self.s3_server.stop()
        payloads = numbered("term", 50)
        try:
            self.put_batch(name, payloads)
            # The flush cannot reach S3: kinesd gives up at the timeout with
            # status 3 and keeps the records for the next start.
            self.assertEqual(self.server.stop(check=False), 3, self.server.log_tail())
        finally:
            self.s3_server.start()
            self.server.start()
            self.connect()
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        self.assertEqual(sorted(flatten(split_lines(objects))), sorted(payloads))


class CrashTest(FirehoseTestCase):

    def test_kill9_with_records_buffered(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, size_mb=128, interval=900, ProcessingConfiguration=NEWLINE)
        payloads = numbered("crash", 300)
        self.put_batch(name, payloads)
        self.server.kill9()
        self.server.start()
        self.server.stop()  # SIGTERM delivers what the restart found in the log
        try:
            objects = self.objects(bucket)
            self.assertEqual(sorted(flatten(split_lines(objects))), sorted(payloads))
        finally:
            self.server.start()
            self.connect()


class CrashDuringUploadTest(FirehoseTestCase):
    """kinesd reaches S3 through a proxy that holds uploads: the process is
    killed while one is in flight and has not reached S3."""

    @classmethod
    def setUpClass(cls):
        cls.s3_server = S3Server()
        cls.s3 = cls.s3_server.client()
        cls.proxy = HoldingProxy(cls.s3_server.port)
        cls.server = None
        try:
            cls.server = KinesdServer(extra_args=cls.server_args(cls.proxy.endpoint))
        except Exception:
            cls.proxy.close()
            cls.s3_server.close()
            raise
        cls.connect()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.release()
        try:
            super().tearDownClass()
        finally:
            cls.proxy.close()

    def test_kill9_during_upload(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, ProcessingConfiguration=NEWLINE)
        payloads = numbered("inflight", 200)
        self.put_batch(name, payloads)
        self.assertTrue(self.proxy.connected.wait(DELIVERY_TIMEOUT), "no upload was attempted")
        self.assertEqual(self.keys(bucket), [])  # held: S3 has seen nothing
        self.server.kill9()
        self.proxy.release(forward_held=False)
        self.server.start()
        self.connect()
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        self.assertEqual(set(flatten(split_lines(objects))), set(payloads))


if __name__ == "__main__":
    unittest.main(verbosity=2)
