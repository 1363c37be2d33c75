"""Shutdown on SIGTERM and SIGINT: Firehose buffers reach S3 before kinesd
exits, acknowledged records survive a shutdown under load, the shutdown
timeout ends a flush that S3 cannot take (status 3, nothing lost), a second
signal ends the shutdown at once, and a second kinesd on a data directory in
use is refused with the holder's PID.

Timing is checked only as an upper bound far above what a healthy run needs:
each such bound stands for "it did not hang".
"""
import os
import signal
import subprocess
import threading
import time
import unittest

from firehose_helpers import (DELIVERY_TIMEOUT, ROLE_ARN, S3_KEY, HoldingProxy, S3Server, bucket_arn)
from kinesd_server import KinesdServer
from kinesis_helpers import (ServerLogOnFailure, create_stream, list_all_shards, make_client, read_shard,
                             stream_arn, unique_name, wait_until)
from test_firehose import NEWLINE, numbered, split_lines

EXIT_SHUTDOWN_TIMEOUT = 3
# How long past --shutdown-timeout an exit may take and still count as "on time":
# far below the S3 client's 120 s request timeout that a hung flush would wait for.
EXIT_MARGIN = 30.0


def delivered_records(s3, bucket):
    records = []
    for key in sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        records += [line for line in body.split(b"\n") if line]
    return records


class ShutdownTestCase(ServerLogOnFailure):
    """One S3-compatible server and one kinesd per test."""

    kinesd_args = ()

    def setUp(self):
        self.s3_server = S3Server()
        self.addCleanup(self.s3_server.close)
        self.s3 = self.s3_server.client()
        self.proxy = None
        self.server = KinesdServer(extra_args=self.args_for(self.s3_endpoint()))
        self.addCleanup(self.server.close)
        self.connect()

    def s3_endpoint(self):
        return self.s3_server.endpoint

    def args_for(self, s3_endpoint, *more):
        return ["--s3-endpoint", s3_endpoint, "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY,
                "--log-level", "info"] + list(self.kinesd_args) + list(more)

    def connect(self):
        self.firehose = make_client(self.server.endpoint, "firehose")
        self.kinesis = make_client(self.server.endpoint, "kinesis")

    def new_bucket(self):
        bucket = unique_name("b")
        self.s3_server.create_bucket(bucket)
        return bucket

    def create_direct(self, bucket):
        # Hints that deliver nothing by themselves: 128 MiB or 15 minutes.
        name = unique_name("fh")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket), "ProcessingConfiguration": NEWLINE,
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}})
        return name

    def create_from_kinesis(self, source, bucket):
        name = unique_name("ks")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket), "ProcessingConfiguration": NEWLINE,
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}})
        return name

    def put_direct(self, name, payloads):
        for start in range(0, len(payloads), 500):
            chunk = payloads[start:start + 500]
            result = self.firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": p} for p in chunk])
            self.assertEqual(result["FailedPutCount"], 0, result)

    def signal_and_wait(self, sig, timeout):
        """Sends `sig`; returns (exit status, seconds it took)."""
        started = time.monotonic()
        self.server.process.send_signal(sig)
        try:
            status = self.server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.server.kill9()
            self.fail("kinesd did not exit within %.0f s of signal %d" % (timeout, sig))
        return status, time.monotonic() - started

    def assertNothingDelivered(self, bucket):
        time.sleep(1)  # the hints must hold the records back: nothing written yet
        self.assertEqual(self.s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0), 0)


class FlushOnSignalTest(ShutdownTestCase):

    def check_flush(self, sig):
        bucket = self.new_bucket()
        direct = self.create_direct(bucket)
        source = create_stream(self.kinesis, shards=2)
        sourced_bucket = self.new_bucket()
        sourced = self.create_from_kinesis(source, sourced_bucket)
        direct_payloads = numbered("direct", 1200)
        self.put_direct(direct, direct_payloads)
        kinesis_payloads = numbered("source", 300)
        for start in range(0, len(kinesis_payloads), 100):
            result = self.kinesis.put_records(StreamName=source, Records=[
                {"Data": p, "PartitionKey": "pk-%d" % i} for i, p in enumerate(kinesis_payloads[start:start + 100])])
            self.assertEqual(result.get("FailedRecordCount", 0), 0)
        self.assertNothingDelivered(bucket)
        self.assertNothingDelivered(sourced_bucket)

        status, _ = self.signal_and_wait(sig, 30 + EXIT_MARGIN)
        self.assertEqual(status, 0, self.server.log_tail())
        self.assertEqual(sorted(delivered_records(self.s3, bucket)), sorted(direct_payloads))
        self.assertEqual(sorted(delivered_records(self.s3, sourced_bucket)), sorted(kinesis_payloads))
        self.assertIn("2 delivery streams flushed, 0 with data left", self.server.log_text())

        # Delivered once: a restart finds nothing more to send.
        self.server.start()
        self.connect()
        self.server.stop()
        self.assertEqual(sorted(delivered_records(self.s3, bucket)), sorted(direct_payloads))
        self.assertEqual(sorted(delivered_records(self.s3, sourced_bucket)), sorted(kinesis_payloads))

    def test_sigterm_flushes_buffers_to_s3(self):
        self.check_flush(signal.SIGTERM)

    def test_sigint_flushes_buffers_to_s3(self):
        self.check_flush(signal.SIGINT)

    def test_a_stream_created_just_before_the_signal_is_flushed(self):
        # No delivery worker may have started for it yet.
        bucket = self.new_bucket()
        name = self.create_direct(bucket)
        payloads = numbered("new", 20)
        self.put_direct(name, payloads)
        status, _ = self.signal_and_wait(signal.SIGTERM, 30 + EXIT_MARGIN)
        self.assertEqual(status, 0, self.server.log_tail())
        self.assertEqual(sorted(delivered_records(self.s3, bucket)), sorted(payloads))


class ShutdownUnderLoadTest(ShutdownTestCase):

    def test_sigterm_during_put_records_keeps_every_acknowledged_record(self):
        name = create_stream(self.kinesis, shards=4)
        acknowledged = []
        lock = threading.Lock()
        stop = threading.Event()
        batches = [0]

        def producer(worker):
            client = make_client(self.server.endpoint)
            n = 0
            while not stop.is_set():
                records = [{"Data": b"w%d-%d-%d" % (worker, n, i), "PartitionKey": "k%d-%d" % (worker, i)}
                           for i in range(50)]
                n += 1
                try:
                    result = client.put_records(StreamName=name, Records=records)
                except Exception:  # the server went away: this batch is not acknowledged
                    return
                ok = [r["Data"] for r, answer in zip(records, result["Records"]) if "SequenceNumber" in answer]
                with lock:
                    acknowledged.extend(ok)
                    batches[0] += 1

        threads = [threading.Thread(target=producer, args=(w,), daemon=True) for w in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: batches[0] >= 20, "20 acknowledged PutRecords batches")
        status, _ = self.signal_and_wait(signal.SIGTERM, 30 + EXIT_MARGIN)
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual(status, 0, self.server.log_tail())

        self.server.start()
        self.connect()
        stored = set()
        for shard in list_all_shards(self.kinesis, name):
            stored.update(r["Data"] for r in read_shard(self.kinesis, name, shard["ShardId"]))
        missing = set(acknowledged) - stored
        self.assertGreater(len(acknowledged), 0)
        self.assertEqual(missing, set(), "%d of %d acknowledged records lost" % (len(missing), len(acknowledged)))
        self.server.stop()


class SecondInstanceTest(ShutdownTestCase):

    def test_second_kinesd_on_the_same_directory_fails_fast(self):
        command = [self.server.binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", self.server.data_dir]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        self.assertNotEqual(result.returncode, 0, output)
        self.assertIn("data directory %s is in use by another kinesd (pid %d)"
                      % (self.server.data_dir, self.server.process.pid), output)
        # The first one is untouched and still serves.
        name = create_stream(self.kinesis)
        self.kinesis.put_record(StreamName=name, Data=b"still here", PartitionKey="k")
        self.server.stop()
        # Once it is gone, the directory is free again.
        self.server.start()
        self.server.stop()


class BlackholeS3TestCase(ShutdownTestCase):
    """kinesd reaches S3 through a proxy that accepts connections and never
    answers, as a hung endpoint would: every upload hangs."""

    def s3_endpoint(self):
        self.proxy = HoldingProxy(self.s3_server.port)
        self.addCleanup(self.proxy.close)
        return self.proxy.endpoint

    def buffered_while_s3_hangs(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket)
        payloads = numbered("held", 500)
        self.put_direct(name, payloads)
        self.assertNothingDelivered(bucket)
        return bucket, payloads

    def assertDeliveredAfterRestart(self, bucket, payloads):
        """Starts kinesd again with S3 reachable; its own shutdown flush then
        delivers what the interrupted one left (the hints hold it back until then)."""
        self.server.start(self.args_for(self.s3_server.endpoint))
        self.assertEqual(self.server.stop(check=False), 0, self.server.log_tail())
        self.assertEqual(sorted(set(delivered_records(self.s3, bucket))), sorted(payloads))


class ShutdownTimeoutTest(BlackholeS3TestCase):

    kinesd_args = ("--shutdown-timeout", "3s")

    def test_timeout_exits_with_status_3_and_loses_nothing(self):
        bucket, payloads = self.buffered_while_s3_hangs()
        status, took = self.signal_and_wait(signal.SIGTERM, 3 + EXIT_MARGIN)
        self.assertEqual(status, EXIT_SHUTDOWN_TIMEOUT, self.server.log_tail())
        self.assertLess(took, 3 + EXIT_MARGIN)
        self.assertIn("shutdown timeout", self.server.log_text())
        self.assertEqual(self.s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0), 0)
        self.assertDeliveredAfterRestart(bucket, payloads)

    def test_timeout_with_s3_refusing_connections(self):
        bucket, payloads = self.buffered_while_s3_hangs()
        self.s3_server.stop()
        self.proxy.release()  # connections now reach a closed port and fail at once
        status, took = self.signal_and_wait(signal.SIGTERM, 3 + EXIT_MARGIN)
        self.assertEqual(status, EXIT_SHUTDOWN_TIMEOUT, self.server.log_tail())
        self.assertLess(took, 3 + EXIT_MARGIN)
        self.s3_server.start()
        self.assertDeliveredAfterRestart(bucket, payloads)


class SecondSignalTest(BlackholeS3TestCase):

    kinesd_args = ("--shutdown-timeout", "300s")

    def test_second_signal_exits_at_once(self):
        bucket, payloads = self.buffered_while_s3_hangs()
        self.server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "shutting down" in self.server.log_text(), "the shutdown to start")
        time.sleep(0.5)  # into the flush, which hangs on S3
        self.assertIsNone(self.server.process.poll(), "kinesd exited before the second signal")
        status, _ = self.signal_and_wait(signal.SIGINT, EXIT_MARGIN)
        self.assertEqual(status, 128 + signal.SIGINT, self.server.log_tail())
        self.assertIn("second signal", self.server.log_text())
        self.assertDeliveredAfterRestart(bucket, payloads)


if __name__ == "__main__":
    unittest.main(verbosity=2)
