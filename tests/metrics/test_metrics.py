"""GET /metrics and GET /health against the real kinesd.

Each test scrapes /metrics, drives the server with boto3 (PutRecord,
PutRecords with records refused by a shard's write limit, GetRecords with
calls refused by the read limit, SubscribeToShard, Firehose delivery into
the S3-compatible server the delivery tests use), scrapes again and checks
that every counter moved by exactly what the answers said: records and
bytes. The exposition is read with prometheus_client's parser, as
Prometheus would read it.

/health answers 200 normally and 503 while the data directory's file system
is full (a size-limited tmpfs, which needs root: skipped otherwise), then 200
again once space is freed, without any write to wake the store.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
try:
    import prometheus_client.parser  # noqa: F401
except ImportError:
    # Where scripts/deps/metrics.sh puts it for an externally managed python3.
    sys.path.insert(0, os.path.expanduser("~/.cache/kinesd/metrics-pylib"))
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402

from firehose_helpers import FirehoseTestCase  # noqa: E402
from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import create_stream, make_client, stream_arn, wait_until  # noqa: E402
from subscribe_helpers import Subscription, register_consumer  # noqa: E402
from test_storage_faults import TMPFS_SIZE, fill  # noqa: E402

ACCOUNT = "000000000000"


def http_get(endpoint, path, method="GET"):
    request = urllib.request.Request(endpoint + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def scrape(endpoint):
    """{(sample name, ((label, value), ...)): value} from one /metrics answer."""
    status, headers, body = http_get(endpoint, "/metrics")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def stream_labels(stream, **more):
    return tuple(sorted(dict(account=ACCOUNT, stream=stream, **more).items()))


class Scraped:
    """Two scrapes and the difference of a sample between them."""

    def __init__(self, before, after):
        self.before, self.after = before, after

    def moved(self, name, labels):
        key = (name, labels)
        assert key in self.after, "no sample %s%s" % key
        return self.after[key] - self.before.get(key, 0)


class StreamCountersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KinesdServer(extra_args=["--enforce-limits", "true"])
        cls.client = make_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self.server.dump_log()
        return outcome

    def scrape(self):
        return scrape(self.server.endpoint)

    def test_put_and_get_records(self):
        name = create_stream(self.client, shards=1)
        labels = stream_labels(name)
        before = self.scrape()
        self.assertIn(("kinesis_incoming_records_total", labels), before)
        self.assertEqual(before[("kinesis_incoming_records_total", labels)], 0)

        single = [b"a" * n for n in (1, 10, 100, 1000, 5)]
        for data in single:
            self.client.put_record(StreamName=name, Data=data, PartitionKey="p")
        batch = [b"b" * n for n in range(1, 31)]
        answer = self.client.put_records(StreamName=name,
                                         Records=[{"Data": d, "PartitionKey": "k%d" % i} for i, d in enumerate(batch)])
        self.assertEqual(answer["FailedRecordCount"], 0)
        iterator = self.client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = self.client.get_records(ShardIterator=iterator)["Records"]
        self.assertEqual(len(got), len(single) + len(batch))
        after = self.scrape()
        m = Scraped(before, after)

        put_bytes = sum(map(len, single)) + sum(map(len, batch))
        self.assertEqual(m.moved("kinesis_incoming_records_total", labels), len(single) + len(batch))
        self.assertEqual(m.moved("kinesis_incoming_bytes_total", labels), put_bytes)
        self.assertEqual(m.moved("kinesis_put_record_success_total", labels), len(single))
        self.assertEqual(m.moved("kinesis_put_record_latency_milliseconds_count", labels), len(single))
        self.assertEqual(m.moved("kinesis_put_records_success_total", labels), 1)
        self.assertEqual(m.moved("kinesis_put_records_latency_milliseconds_count", labels), 1)
        self.assertEqual(m.moved("kinesis_put_records_total_records_total", labels), len(batch))
        self.assertEqual(m.moved("kinesis_put_records_successful_records_total", labels), len(batch))
        self.assertEqual(m.moved("kinesis_put_records_failed_records_total", labels), 0)
        self.assertEqual(m.moved("kinesis_put_records_throttled_records_total", labels), 0)
        self.assertEqual(m.moved("kinesis_get_records_success_total", labels), 1)
        self.assertEqual(m.moved("kinesis_get_records_records_total", labels), len(got))
        self.assertEqual(m.moved("kinesis_get_records_bytes_total", labels), sum(len(r["Data"]) for r in got))
        self.assertEqual(m.moved("kinesis_get_records_latency_milliseconds_count", labels), 1)
        self.assertEqual(after[("kinesis_get_records_iterator_age_milliseconds", labels)], 0)
        # The +Inf bucket holds every observation.
        inf = tuple(sorted(dict(labels, le="+Inf").items()))
        self.assertEqual(m.moved("kinesis_put_record_latency_milliseconds_bucket", inf), len(single))
        for action, count in (("PutRecord", len(single)), ("PutRecords", 1), ("GetRecords", 1)):
            status_labels = (("action", action), ("service", "kinesis"), ("status", "200"))
            self.assertEqual(m.moved("kinesd_requests_total", status_labels), count, action)
        self.assertGreaterEqual(after[("kinesd_connections", ())], 1)
        self.assertEqual(after[("kinesd_up", ())], 1)

    def test_write_limit_throttles_records(self):
        name = create_stream(self.client, shards=1)
        labels = stream_labels(name)
        before = self.scrape()
        # Two records of 700 KiB in one call against a shard's 1 MiB/s: the
        # second one is over the limit.
        data = [os.urandom(700 * 1024), os.urandom(700 * 1024), b"small"]
        answer = self.client.put_records(StreamName=name,
                                         Records=[{"Data": d, "PartitionKey": "p"} for d in data])
        throttled = [i for i, r in enumerate(answer["Records"])
                     if r.get("ErrorCode") == "ProvisionedThroughputExceededException"]
        self.assertGreaterEqual(len(throttled), 1, answer["Records"])
        self.assertEqual(answer["FailedRecordCount"], len(throttled))
        written = [i for i in range(len(data)) if i not in throttled]
        # PutRecord past the limit: refused whole.
        refused = accepted_single = 0
        for _ in range(20):
            try:
                self.client.put_record(StreamName=name, Data=os.urandom(600 * 1024), PartitionKey="p")
                accepted_single += 1
            except botocore.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ProvisionedThroughputExceededException")
                refused += 1
                break
        self.assertEqual(refused, 1, "no PutRecord was throttled")
        after = self.scrape()
        m = Scraped(before, after)
        succeeded_single = accepted_single
        self.assertEqual(m.moved("kinesis_put_record_success_total", labels), accepted_single)
        self.assertEqual(m.moved("kinesis_put_records_total_records_total", labels), len(data))
        self.assertEqual(m.moved("kinesis_put_records_throttled_records_total", labels), len(throttled))
        self.assertEqual(m.moved("kinesis_put_records_successful_records_total", labels), len(written))
        self.assertEqual(m.moved("kinesis_put_records_success_total", labels), 1)
        self.assertEqual(m.moved("kinesis_write_provisioned_throughput_exceeded_total", labels), len(throttled) + 1)
        self.assertEqual(m.moved("kinesis_incoming_records_total", labels), len(written) + succeeded_single)
        self.assertEqual(m.moved("kinesis_incoming_bytes_total", labels),
                         sum(len(data[i]) for i in written) + succeeded_single * 600 * 1024)
        self.assertEqual(m.moved("kinesd_requests_total",
                                 (("action", "PutRecord"), ("service", "kinesis"), ("status", "400"))), 1)

    def test_read_limit_throttles_calls(self):
        name = create_stream(self.client, shards=1)
        labels = stream_labels(name)
        self.client.put_record(StreamName=name, Data=b"x", PartitionKey="p")
        iterator = self.client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        before = self.scrape()
        ok = refused = 0
        # Five calls a second per shard: twenty calls in a row meet the limit.
        for _ in range(20):
            try:
                self.client.get_records(ShardIterator=iterator)
                ok += 1
            except botocore.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ProvisionedThroughputExceededException")
                refused += 1
        self.assertGreater(refused, 0)
        m = Scraped(before, self.scrape())
        self.assertEqual(m.moved("kinesis_read_provisioned_throughput_exceeded_total", labels), refused)
        self.assertEqual(m.moved("kinesis_get_records_success_total", labels), ok)
        self.assertEqual(m.moved("kinesis_get_records_records_total", labels), ok)

    def test_subscribe_to_shard(self):
        name = create_stream(self.client, shards=1)
        consumer_arn = register_consumer(self.client, name, name="watcher")
        data = [os.urandom(n) for n in (3, 30, 300, 3000)]
        for d in data:
            self.client.put_record(StreamName=name, Data=d, PartitionKey="p")
        labels = stream_labels(name, consumer="watcher")
        before = self.scrape()
        sub = Subscription(self.client, consumer_arn, "shardId-000000000000", {"Type": "TRIM_HORIZON"})
        try:
            records = sub.records_until(len(data))
        finally:
            sub.stream.close()
        self.assertEqual([r["Data"] for r in records], data)
        m = Scraped(before, self.scrape())
        self.assertEqual(m.moved("kinesis_subscribe_to_shard_event_records_total", labels), len(data))
        self.assertEqual(m.moved("kinesis_subscribe_to_shard_event_bytes_total", labels), sum(map(len, data)))
        self.assertEqual(m.after[("kinesis_subscribe_to_shard_event_millis_behind_latest", labels)], 0)

    def test_deleted_stream_vanishes_and_recreated_starts_at_zero(self):
        name = create_stream(self.client, shards=1)
        labels = stream_labels(name)
        self.client.put_record(StreamName=name, Data=b"abc", PartitionKey="p")
        self.assertEqual(self.scrape()[("kinesis_incoming_records_total", labels)], 1)
        self.client.delete_stream(StreamName=name)
        wait_until(lambda: ("kinesis_incoming_records_total", labels) not in self.scrape(),
                   "the deleted stream's series to go")
        create_stream(self.client, shards=1, name=name)
        self.assertEqual(self.scrape()[("kinesis_incoming_records_total", labels)], 0)

    def test_head_and_unknown_paths(self):
        status, headers, body = http_get(self.server.endpoint, "/metrics", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")
        status, _, body = http_get(self.server.endpoint, "/health")
        self.assertEqual((status, body.strip()), (200, '{"status":"ok"}'))
        # Any other GET still gets AWS's answer.
        status, _, body = http_get(self.server.endpoint, "/other")
        self.assertEqual(status, 403)
        self.assertIn("AccessDeniedException", body)


class MetricsOffTest(unittest.TestCase):
    def test_off_serves_no_metrics_and_still_works(self):
        with KinesdServer(extra_args=["--metrics", "off"]) as server:
            client = make_client(server.endpoint)
            name = create_stream(client, shards=1)
            client.put_record(StreamName=name, Data=b"abc", PartitionKey="p")
            status, _, _ = http_get(server.endpoint, "/metrics")
            self.assertEqual(status, 404)
            status, _, _ = http_get(server.endpoint, "/health")
            self.assertEqual(status, 200)


class AccountLabelTest(unittest.TestCase):
    """With a credentials file, a stream's series carry its owner's account
    and the name its clients use, whatever the key it is stored under."""

    def test_each_stream_is_labelled_with_its_own_account(self):
        scratch = tempfile.mkdtemp(prefix="kinesd-metrics-accounts-")
        self.addCleanup(shutil.rmtree, scratch, True)
        creds = os.path.join(scratch, "credentials")
        with open(creds, "w") as f:
            f.write("[a]\naws_access_key_id = AKIDMETRICSA\naws_secret_access_key = secret-a\n"
                    "aws_account_id = 111111111111\n"
                    "[default]\naws_access_key_id = AKIDMETRICSD\naws_secret_access_key = secret-d\n")
        with KinesdServer(extra_args=["--credentials-file", creds]) as server:
            def client(key, secret):
                return boto3.session.Session().client(
                    "kinesis", endpoint_url=server.endpoint, region_name="us-east-1",
                    aws_access_key_id=key, aws_secret_access_key=secret)
            other, default = client("AKIDMETRICSA", "secret-a"), client("AKIDMETRICSD", "secret-d")
            name = create_stream(other, shards=1)
            create_stream(default, shards=1, name=name)
            other.put_records(StreamName=name, Records=[{"Data": b"x" * 7, "PartitionKey": "p"}] * 3)
            default.put_record(StreamName=name, Data=b"y", PartitionKey="p")
            after = scrape(server.endpoint)
            incoming = "kinesis_incoming_records_total"
            mine = (incoming, tuple(sorted(dict(account="111111111111", stream=name).items())))
            theirs = (incoming, stream_labels(name))
            self.assertEqual(after.get(mine), 3, sorted(k for k in after if k[0] == incoming))
            self.assertEqual(after.get(theirs), 1, sorted(k for k in after if k[0] == incoming))
            # No series names the stored key.
            self.assertFalse([k for k in after if any("/" in v for _, v in k[1])])


class FirehoseCountersTest(FirehoseTestCase):
    def test_delivery_counters(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, size_mb=1, interval=0)
        labels = tuple(sorted(dict(account=ACCOUNT, delivery_stream=name).items()))
        before = scrape(self.server.endpoint)
        payloads = [("record-%d\n" % i).encode() * (i + 1) for i in range(40)]
        self.put_batch(name, payloads)
        total = sum(map(len, payloads))
        self.wait_for_bytes(bucket, total)
        objects = self.keys(bucket)

        def settled():
            s = scrape(self.server.endpoint)
            return (s.get(("firehose_delivery_to_s3_records_total", labels)) == len(payloads)
                    and s.get(("firehose_delivery_to_s3_data_freshness_seconds", labels)) == 0)
        wait_until(settled, "delivery counters to settle")
        m = Scraped(before, scrape(self.server.endpoint))
        self.assertEqual(m.moved("firehose_incoming_records_total", labels), len(payloads))
        self.assertEqual(m.moved("firehose_incoming_bytes_total", labels), total)
        self.assertEqual(m.moved("firehose_delivery_to_s3_records_total", labels), len(payloads))
        self.assertEqual(m.moved("firehose_delivery_to_s3_bytes_total", labels), total)
        self.assertEqual(m.moved("firehose_delivery_to_s3_success_total", labels), len(objects))
        self.assertEqual(m.moved("firehose_delivery_to_s3_failures_total", labels), 0)
        self.assertEqual(m.moved("kinesd_requests_total",
                                 (("action", "PutRecordBatch"), ("service", "firehose"), ("status", "200"))), 1)


class HealthOnFullDiskTest(unittest.TestCase):
    """A size-limited tmpfs holds the data directory (as in test_storage_faults)."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a size-limited tmpfs needs root")
        self.mount_point = tempfile.mkdtemp(prefix="kinesd-health-")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", self.mount_point],
                              capture_output=True, text=True)
        if done.returncode != 0:
            os.rmdir(self.mount_point)
            self.skipTest("cannot mount a tmpfs: %s" % done.stderr.strip())
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.close()
        subprocess.run(["umount", "-l", self.mount_point], capture_output=True)
        shutil.rmtree(self.mount_point, ignore_errors=True)

    def test_health_follows_the_disk(self):
        self.server = KinesdServer(data_dir=os.path.join(self.mount_point, "data"))
        endpoint = self.server.endpoint
        self.assertEqual(http_get(endpoint, "/health")[0], 200)
        client = make_client(endpoint)
        name = create_stream(client, shards=1)
        ballast = os.path.join(self.mount_point, "ballast")
        fill(ballast)
        failed = False
        for _ in range(2000):
            try:
                client.put_record(StreamName=name, Data=os.urandom(64 * 1024), PartitionKey="p")
            except botocore.exceptions.ClientError:
                failed = True
                break
        self.assertTrue(failed, "puts never failed on a full disk")
        status, headers, body = http_get(endpoint, "/health")
        self.assertEqual(status, 503, body)
        self.assertIn('"status":"unavailable"', body)
        self.assertIn('"reason":', body)
        os.remove(ballast)
        freed = time.monotonic()
        # No put wakes the store here: the health checks themselves ask it
        # to resume.
        wait_until(lambda: http_get(endpoint, "/health")[0] == 200, "/health to answer 200 after space was freed",
                   timeout=60, interval=0.2)
        sys.stderr.write("\n/health 200 again %.2f s after space was freed\n" % (time.monotonic() - freed))
        client.put_record(StreamName=name, Data=b"after", PartitionKey="p")


if __name__ == "__main__":
    unittest.main(verbosity=2)
