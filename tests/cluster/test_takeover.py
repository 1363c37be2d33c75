"""Work a dead front end owned goes on elsewhere, and what it left half done
ends consistent:

- A DirectPut delivery stream is delivered by the front end holding its
  lease. That front end is killed with SIGKILL while records are put through
  the other one; the other takes the lease over and every acknowledged
  record reaches S3.
- A delivery stream reading a Kinesis stream of four shards holds one lease
  per shard: both front ends take some. The one holding some of them is
  killed with SIGKILL while records are put through the other; the other
  takes the dead one's shard leases over and every acknowledged record
  reaches S3, also of a split's children, read under leases of their own.
- A front end dies (SIGKILL, at a crash point) after it wrote a split to the
  shared metadata and before it closed the parent shard in storage. The
  other one finishes the split: it shows the parent closed, puts keep
  succeeding and go only to the children, and every acknowledged record is
  read at its sequence number.

  test_takeover.py [--nats debian|current]
"""
import os
import re
import sys
import time
import unittest

import cluster_helpers
from cluster_helpers import Ledger, assert_all_acked_readable, run_producers, stop_producers
from firehose_helpers import ROLE_ARN, S3_KEY, S3Server, bucket_arn
from kinesis_helpers import make_client, stream_arn, unique_name, wait_until
from nats_cluster import NatsCluster, NoBackend, find_nats_server, kinesd_nats_support, start_frontends, unique_prefix


class Takeover(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        why = kinesd_nats_support()
        if why:
            raise unittest.SkipTest(why)
        binary, why = find_nats_server(cluster_helpers.ClusterTestCase.flavour)
        if not binary:
            raise unittest.SkipTest(why)
        cls.s3_server = S3Server()
        cls.cluster = None
        cls.servers = []
        try:
            cls.cluster = NatsCluster(binary)
            args = ["--s3-endpoint", cls.s3_server.endpoint, "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY,
                    "--log-level", "info"]
            cls.prefix = unique_prefix()
            cls.servers = start_frontends(cls.cluster, cls.prefix, count=2, extra=args)
        except NoBackend as e:
            cls.tearDownClass()
            raise unittest.SkipTest(str(e))
        except BaseException:
            cls.tearDownClass()
            raise
        cls.s3 = cls.s3_server.client()

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.close()
        if cls.cluster is not None:
            cls.cluster.close()
        cls.s3_server.close()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for server in self.servers:
                server.dump_log()
        return outcome

    def live(self):
        """(server, kinesis client, firehose client) of each running front end."""
        return [(s, make_client(s.endpoint), make_client(s.endpoint, "firehose"))
                for s in self.servers if s.running()]

    def test_1_delivery_moves_to_the_survivor(self):
        (server_a, _, fh_a), (server_b, _, fh_b) = self.live()
        bucket = unique_name("b")
        self.s3_server.create_bucket(bucket)
        name = unique_name("fh")
        fh_a.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                                                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})

        def active_on_b():
            try:
                d = fh_b.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
            except fh_b.exceptions.ResourceNotFoundException:
                return False
            return d["DeliveryStreamStatus"] == "ACTIVE"
        wait_until(active_on_b, "the delivery stream ACTIVE through B", timeout=30)

        taken = re.compile(r"lease firehose/%s/\d+ taken by" % re.escape(name))
        holder = wait_until(lambda: next((s for s in (server_a, server_b) if taken.search(s.log_text())), None),
                            "a front end taking the delivery stream's lease", timeout=30)
        survivor = server_b if holder is server_a else server_a
        fh = make_client(survivor.endpoint, "firehose")
        sys.stderr.write("lease held by the kinesd on port %d; killing it\n" % holder.port)

        sent = []

        def put(count):
            payloads = [b"%s-%05d\n" % (name.encode(), len(sent) + i) for i in range(count)]
            answer = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": p} for p in payloads])
            self.assertEqual(0, answer["FailedPutCount"], answer)
            sent.extend(payloads)

        for _ in range(3):
            put(100)
        holder.kill9()
        killed_at = time.monotonic()
        for _ in range(3):
            put(100)

        self._all_delivered_after_kill(bucket, sent, killed_at)
        self.assertTrue(taken.search(survivor.log_text()), "the survivor never took the lease")

    def test_1b_shard_leases_move_to_the_survivor(self):
        for server in self.servers:
            if not server.running():
                server.restart()
        (server_a, kin_a, fh_a), (server_b, kin_b, _) = self.live()
        source = unique_name("src")
        kin_a.create_stream(StreamName=source, ShardCount=4)
        for client in (kin_a, kin_b):
            wait_until(lambda: self._active(client, source), "the source stream ACTIVE through both", timeout=30)
        bucket = unique_name("b")
        self.s3_server.create_bucket(bucket)
        name = unique_name("fhk")
        fh_a.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                                                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})

        taken = re.compile(r"lease firehose/%s/\d+/(shardId-\d+) taken by" % re.escape(name))

        def shards_taken(server, since=0):
            return set(taken.findall(server.log_text()[since:]))

        def split():
            a, b = shards_taken(server_a), shards_taken(server_b)
            return (a, b) if len(a | b) == 4 and a and b else None
        held_a, held_b = wait_until(split, "the four shard leases taken, some by each front end", timeout=30)
        sys.stderr.write("shard leases: A %s, B %s\n" % (sorted(held_a), sorted(held_b)))
        self.assertFalse(held_a & held_b, "a shard lease taken by both front ends")

        sent = []

        def put(count):
            payloads = [b"%s-%05d\n" % (name.encode(), len(sent) + i) for i in range(count)]
            answer = kin_b.put_records(StreamName=source, Records=[
                {"Data": p, "PartitionKey": "k-%d" % (len(sent) + i)} for i, p in enumerate(payloads)])
            self.assertEqual(0, answer.get("FailedRecordCount", 0), answer)
            sent.extend(payloads)

        for _ in range(3):
            put(100)
        mark = len(server_b.log_text())
        server_a.kill9()
        killed_at = time.monotonic()
        for _ in range(3):
            put(100)

        delivered = self._all_delivered_after_kill(bucket, sent, killed_at)
        wait_until(lambda: held_a <= shards_taken(server_b, mark), "B taking A's shard leases", timeout=30)

        # A split's children get leases of their own, read once the parent is.
        parent = kin_b.describe_stream(StreamName=source)["StreamDescription"]["Shards"][0]
        lo, hi = int(parent["HashKeyRange"]["StartingHashKey"]), int(parent["HashKeyRange"]["EndingHashKey"])
        kin_b.split_shard(StreamName=source, ShardToSplit=parent["ShardId"], NewStartingHashKey=str((lo + hi) // 2))
        wait_until(lambda: self._active(kin_b, source), "the split done", timeout=30)
        for _ in range(3):
            put(100)
        wait_until(delivered, "all %d records in S3 after a split" % len(sent), timeout=60, interval=1.0)
        children = {s["ShardId"] for s in kin_b.describe_stream(StreamName=source)["StreamDescription"]["Shards"]
                    if s.get("ParentShardId") == parent["ShardId"]}
        self.assertEqual(2, len(children))
        self.assertTrue(children <= shards_taken(server_b, mark), shards_taken(server_b, mark))

    def _all_delivered_after_kill(self, bucket, sent, killed_at):
        """Waits until every acknowledged record is in S3 and nothing else is;
        returns the check, for waiting again after more puts."""
        def delivered():
            got = self._lines_in(bucket)
            return got if all(p in got for p in sent) else None
        got = wait_until(delivered, "all %d records in S3 after the kill" % len(sent), timeout=90, interval=1.0)
        sys.stderr.write("all %d acknowledged records in S3 %.1f s after the kill\n"
                         % (len(sent), time.monotonic() - killed_at))
        self.assertFalse(got - set(sent), "records in S3 that nobody put")
        return delivered

    def _lines_in(self, bucket):
        """Every newline-ended line of every object in `bucket`."""
        got = set()
        token = None
        while True:
            kwargs = {"Bucket": bucket}
            if token:
                kwargs["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kwargs)
            for o in page.get("Contents", []):
                body = self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                got.update(line + b"\n" for line in body.split(b"\n") if line)
            if not page.get("IsTruncated"):
                break
            token = page["NextContinuationToken"]
        return got

    def test_2_a_split_cut_short_ends_consistent(self):
        # A dies (SIGKILL, from inside) right after it wrote the split to the
        # shared metadata and before it closed the parent shard in storage:
        # the one moment that, left alone, would leave the parent taking
        # records nobody expects any more.
        server_a, server_b = self.servers
        for server in self.servers:
            if server.running():
                server.stop()
        server_b.restart()
        os.environ["KINESD_TEST_CRASH_AT"] = "reshard-written"
        try:
            server_a.restart()
        finally:
            del os.environ["KINESD_TEST_CRASH_AT"]
        a, b = make_client(server_a.endpoint), make_client(server_b.endpoint)
        closed_before = len(self._closed_subjects())  # earlier tests' splits
        stream = unique_name("cl")
        b.create_stream(StreamName=stream, ShardCount=2)
        for client in (b, a):
            wait_until(lambda: self._active(client, stream), "the stream ACTIVE through both", timeout=30)
        parent = b.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
        lo, hi = int(parent["HashKeyRange"]["StartingHashKey"]), int(parent["HashKeyRange"]["EndingHashKey"])

        ledger = Ledger()
        threads, stop = run_producers([("b1", b), ("b2", b)], stream, ledger)
        try:
            wait_until(lambda: len(ledger.acks) >= 200, "puts through B acknowledged", timeout=60)
            self._ignore_errors(a.split_shard, StreamName=stream, ShardToSplit=parent["ShardId"],
                                NewStartingHashKey=str((lo + hi) // 2))
            wait_until(lambda: server_a.process.poll() is not None, "A dying at its crash point", timeout=30)
            self.assertIn("KINESD_TEST_CRASH_AT=reshard-written", server_a.log_text())
            killed_at = time.monotonic()
            wait_until(lambda: "EndingSequenceNumber" in self._shard(b, stream, parent["ShardId"])
                       ["SequenceNumberRange"], "B seeing the parent closed", timeout=30)
            settled = time.monotonic()
            wait_until(lambda: len(ledger.acked_between(settled)) >= 300,
                       "puts through B acknowledged after the split settled", timeout=60)
        finally:
            stop_producers(threads, stop)

        described = b.describe_stream(StreamName=stream)["StreamDescription"]
        open_shards = {s["ShardId"] for s in described["Shards"]
                       if "EndingSequenceNumber" not in s["SequenceNumberRange"]}
        sys.stderr.write("%s\n" % ledger.summary())
        self.assertEqual(3, len(open_shards))
        self.assertNotIn(parent["ShardId"], open_shards)
        self.assertEqual(0, ledger.failed_records, "records refused in answers")
        # Nothing lands in the closed parent once B has shown it closed.
        late = [x for x in ledger.acked_between(settled) if x.shard == parent["ShardId"]]
        self.assertEqual([], late[:5], "acknowledged into the closed parent after it showed closed")
        again = b.put_records(StreamName=stream, Records=[
            {"Data": b"late-%d" % i, "PartitionKey": "late-%d" % i} for i in range(200)])
        self.assertEqual(0, again.get("FailedRecordCount", 0), again)
        self.assertEqual(set(), {r["ShardId"] for r in again["Records"]} - open_shards)
        assert_all_acked_readable(self, [("B", b)], stream, list(ledger.acks), t0=killed_at)
        # B closed the parent in storage itself: its JetStream stream has moved
        # to the closed subject, so no front end can append to it any more.
        self.assertEqual(closed_before + 1, len(self._closed_subjects()), self._closed_subjects())
        # The stream still takes a reshard, of a child.
        child = sorted(open_shards)[0]
        rng = self._shard(b, stream, child)["HashKeyRange"]
        b.split_shard(StreamName=stream, ShardToSplit=child,
                      NewStartingHashKey=str((int(rng["StartingHashKey"]) + int(rng["EndingHashKey"])) // 2))

    def _closed_subjects(self):
        """Subjects of this class's shard streams that were closed, as the
        first running node's monitoring endpoint reports their configuration."""
        node = next(n for n in self.cluster.nodes if n.running())
        jsz = node.monitor("/jsz?accounts=true&streams=true&config=true") or {}
        return sorted(subject for account in jsz.get("account_details") or []
                      for st in account.get("stream_detail") or []
                      for subject in (st.get("config") or {}).get("subjects") or []
                      if subject.startswith(self.prefix + ".closed."))

    @staticmethod
    def _active(client, stream):
        try:
            s = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        except client.exceptions.ResourceNotFoundException:
            return False
        return s["StreamStatus"] == "ACTIVE"

    @staticmethod
    def _shard(client, stream, shard_id):
        shards = client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
        return next(s for s in shards if s["ShardId"] == shard_id)

    @staticmethod
    def _ignore_errors(call, **kwargs):
        try:
            call(**kwargs)
        except Exception:  # noqa: BLE001  (the front end is being killed under it)
            pass


if __name__ == "__main__":
    cluster_helpers.main()
