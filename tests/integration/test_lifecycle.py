"""Retention without waiting a day: records are written, then the server is
restarted on the same data directory with its clock moved forward
(--clock-offset-ms) and a fast expiry worker. Also the retention period's
own errors."""
import glob
import json
import os
import shutil
import subprocess
import unittest

from kinesis_helpers import (MIB, KinesdTestCase, create_stream, list_all_shards,
                             make_client, not_found_message, read_shard, wait_active, wait_until)
from kinesd_server import KinesdServer
import nats_storage

HOUR_MS = 3600 * 1000


def moved_clock(hours):
    return ["--clock-offset-ms", str(hours * HOUR_MS), "--expiry-interval-ms", "200"]


def store_bytes(data_dir):
    """Bytes in the store's table files and write-ahead logs."""
    total = 0
    for pattern in ("*.sst", "*.log"):
        for path in glob.glob(os.path.join(data_dir, "**", pattern), recursive=True):
            try:
                total += os.path.getsize(path)
            except FileNotFoundError:  # removed while we looked
                pass
    return total


class FreshServerTestCase(KinesdTestCase):
    """One server per test: these tests restart it with other clocks."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.server = KinesdServer()
        self.client = make_client(self.server.endpoint)

    def tearDown(self):
        self.server.stop()  # an unclean exit fails the test

    def run(self, result=None):
        try:
            return super().run(result)  # prints the log on failure
        finally:
            server = self.__dict__.pop("server", None)
            if server is not None:
                server.close()

    def restart(self, hours=None):
        """Restarts on the same data directory, the clock `hours` ahead."""
        self.server.restart(extra_args=moved_clock(hours) if hours else [])
        self.client = make_client(self.server.endpoint)

    def put(self, name, count, tag, shard=None, size=0):
        """Puts `count` records, to one shard if given (by its starting hash
        key), and returns their sequence numbers and data in order."""
        out = []
        for i in range(count):
            extra = {"ExplicitHashKey": shard["HashKeyRange"]["StartingHashKey"]} if shard else {}
            data = b"%s-%d-" % (tag, i) + b"x" * size
            result = self.client.put_record(StreamName=name, Data=data, PartitionKey="pk-%d" % i, **extra)
            if shard:
                self.assertEqual(result["ShardId"], shard["ShardId"])
            out.append((result["SequenceNumber"], data))
        return out

    def stored(self, name, shard_id, kind="TRIM_HORIZON", **kwargs):
        return [(r["SequenceNumber"], r["Data"])
                for r in read_shard(self.client, name, shard_id, kind, **kwargs)]


class RetentionExpiryTest(FreshServerTestCase):

    def test_records_past_retention_are_gone(self):
        name = create_stream(self.client, shards=2)
        shards = list_all_shards(self.client, name)
        old = {s["ShardId"]: self.put(name, 20, b"old", s) for s in shards}
        old_arrival = self.client.get_records(ShardIterator=self.client.get_shard_iterator(
            StreamName=name, ShardId=shards[0]["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"])["Records"][0]["ApproximateArrivalTimestamp"]

        # Control: a plain restart keeps everything.
        self.restart()
        for shard_id, records in old.items():
            self.assertEqual(self.stored(name, shard_id), records)

        self.restart(hours=25)
        for shard in shards:
            shard_id = shard["ShardId"]
            with self.subTest(shard=shard_id):
                self.assertEqual(self.stored(name, shard_id), [])
                self.assertEqual(self.stored(name, shard_id, "AT_TIMESTAMP", Timestamp=old_arrival), [])
                self.assertEqual(self.stored(name, shard_id, "AT_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=old[shard_id][5][0]), [])

        fresh = {s["ShardId"]: self.put(name, 7, b"fresh", s) for s in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            with self.subTest(shard=shard_id):
                self.assertGreater(int(fresh[shard_id][0][0]), int(old[shard_id][-1][0]))
                self.assertEqual(self.stored(name, shard_id), fresh[shard_id])
                # A position among expired records starts at the oldest live one.
                for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
                    self.assertEqual(self.stored(name, shard_id, kind,
                                                 StartingSequenceNumber=old[shard_id][3][0]),
                                     fresh[shard_id], kind)
                self.assertEqual(self.stored(name, shard_id, "AT_TIMESTAMP", Timestamp=old_arrival),
                                 fresh[shard_id])
                self.assertEqual(self.stored(name, shard_id, "AFTER_SEQUENCE_NUMBER",
                                             StartingSequenceNumber=fresh[shard_id][2][0]),
                                 fresh[shard_id][3:])
        # The stream itself is untouched.
        summary = wait_active(self.client, name)
        self.assertEqual(summary["RetentionPeriodHours"], 24)
        self.assertEqual(summary["OpenShardCount"], 2)

    # On NATS the records are in JetStream's store, not in the data directory.
    @unittest.skipIf(nats_storage.enabled(), "measures RocksDB's files in the data directory")
    def test_disk_space_is_reclaimed(self):
        name = create_stream(self.client, shards=2)
        shards = list_all_shards(self.client, name)
        chunk = 256 * 1024
        for i in range(10):  # 10 x 8 x 256 KiB = 20 MiB of incompressible data
            entries = [{"Data": os.urandom(chunk), "PartitionKey": "big-%d-%d" % (i, j)} for j in range(8)]
            result = self.client.put_records(StreamName=name, Records=entries)
            self.assertEqual(result.get("FailedRecordCount", 0), 0)
        old_numbers = {s["ShardId"]: [n for n, _ in self.stored(name, s["ShardId"])] for s in shards}
        self.assertEqual(sum(len(v) for v in old_numbers.values()), 80)

        self.server.stop()
        before = store_bytes(self.server.data_dir)
        self.assertGreater(before, 20 * MIB, "the records are not on disk as *.sst or *.log files")

        self.server.start(moved_clock(25))
        self.client = make_client(self.server.endpoint)
        sizes = []

        def shrunk():
            sizes.append(store_bytes(self.server.data_dir))
            return sizes[-1] < before // 4

        wait_until(shrunk, "the expired records' space to be reclaimed (%d bytes before)" % before,
                   timeout=180, interval=0.5)
        for shard in shards:
            self.assertEqual(self.stored(name, shard["ShardId"]), [])

        # New records after the expiry are kept and served.
        fresh = {s["ShardId"]: self.put(name, 5, b"fresh", s) for s in shards}
        for shard in shards:
            self.assertEqual(self.stored(name, shard["ShardId"]), fresh[shard["ShardId"]])

        # Back on the real clock the old records would be inside retention
        # again: they must be physically gone, not just hidden.
        self.restart()
        for shard in shards:
            shard_id = shard["ShardId"]
            stored = self.stored(name, shard_id)
            self.assertEqual(stored, fresh[shard_id])
            self.assertFalse(set(old_numbers[shard_id]) & {n for n, _ in stored})

    def test_longer_retention_keeps_records(self):
        increased = create_stream(self.client, shards=1)
        self.client.increase_stream_retention_period(StreamName=increased, RetentionPeriodHours=48)
        decreased = create_stream(self.client, shards=1)
        self.client.increase_stream_retention_period(StreamName=decreased, RetentionPeriodHours=72)
        self.client.decrease_stream_retention_period(StreamName=decreased, RetentionPeriodHours=48)
        default = create_stream(self.client, shards=1)
        shard_id = "shardId-000000000000"
        written = {name: self.put(name, 10, name.encode()) for name in (increased, decreased, default)}

        self.restart(hours=25)
        for name, hours in ((increased, 48), (decreased, 48), (default, 24)):
            summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            self.assertEqual(summary["RetentionPeriodHours"], hours, name)
            self.assertEqual(self.client.describe_stream(StreamName=name)["StreamDescription"]
                             ["RetentionPeriodHours"], hours, name)
        self.assertEqual(self.stored(increased, shard_id), written[increased])
        self.assertEqual(self.stored(decreased, shard_id), written[decreased])
        self.assertEqual(self.stored(default, shard_id), [])

        self.restart(hours=49)
        self.assertEqual(self.stored(increased, shard_id), [])
        self.assertEqual(self.stored(decreased, shard_id), [])

    def test_decrease_hides_older_records_at_once(self):
        name = create_stream(self.client, shards=1)
        self.client.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
        written = self.put(name, 10, b"r")
        self.restart(hours=25)
        self.assertEqual(self.stored(name, "shardId-000000000000"), written)
        fresh = self.put(name, 3, b"fresh")
        self.client.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
        self.assertEqual(self.stored(name, "shardId-000000000000"), fresh)

    def test_closed_shards_past_retention_are_not_listed(self):
        name = create_stream(self.client, shards=1)
        self.put(name, 5, b"parent")
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(2 ** 127))
        wait_active(self.client, name)
        self.assertEqual(len(list_all_shards(self.client, name)), 3)

        self.restart(hours=25)
        listed = list_all_shards(self.client, name)
        self.assertEqual([s["ShardId"] for s in listed], ["shardId-000000000001", "shardId-000000000002"])
        for child in listed:
            self.assertEqual(child["ParentShardId"], "shardId-000000000000")
        for kind in ("FROM_TRIM_HORIZON", "AT_TRIM_HORIZON", "AT_LATEST"):
            with self.subTest(kind=kind):
                self.assertEqual([s["ShardId"] for s in self.client.list_shards(
                    StreamName=name, ShardFilter={"Type": kind})["Shards"]],
                    ["shardId-000000000001", "shardId-000000000002"])


class RetentionErrorsTest(KinesdTestCase):

    def setUp(self):
        self.name = create_stream(self.client, shards=1)

    def assertRetention(self, hours):
        summary = self.client.describe_stream_summary(StreamName=self.name)["StreamDescriptionSummary"]
        self.assertEqual(summary["RetentionPeriodHours"], hours)

    def test_bounds(self):
        for call in (self.client.increase_stream_retention_period, self.client.decrease_stream_retention_period):
            with self.subTest(call=call.__name__):
                self.assertClientError(
                    call, "InvalidArgumentException",
                    "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is "
                    "too short.", StreamName=self.name, RetentionPeriodHours=23)
                self.assertClientError(
                    call, "InvalidArgumentException",
                    "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is "
                    "too long.", StreamName=self.name, RetentionPeriodHours=8761)
        self.assertRetention(24)
        self.client.increase_stream_retention_period(StreamName=self.name, RetentionPeriodHours=8760)
        self.assertRetention(8760)
        self.client.decrease_stream_retention_period(StreamName=self.name, RetentionPeriodHours=24)
        self.assertRetention(24)

    def test_wrong_direction(self):
        self.client.increase_stream_retention_period(StreamName=self.name, RetentionPeriodHours=48)
        self.assertRetention(48)
        self.assertClientError(
            self.client.increase_stream_retention_period, "InvalidArgumentException",
            "Requested retention period (36 hours) for stream %s can not be shorter than existing retention "
            "period (48 hours). Use DecreaseRetentionPeriod API." % self.name,
            StreamName=self.name, RetentionPeriodHours=36)
        self.assertClientError(
            self.client.decrease_stream_retention_period, "InvalidArgumentException",
            "Requested retention period (72 hours) for stream %s can not be longer than existing retention "
            "period (48 hours). Use IncreaseRetentionPeriod API." % self.name,
            StreamName=self.name, RetentionPeriodHours=72)
        self.assertRetention(48)

    def test_missing_stream(self):
        missing = "missing-" + self.name
        for call in (self.client.increase_stream_retention_period, self.client.decrease_stream_retention_period):
            with self.subTest(call=call.__name__):
                self.assertClientError(call, "ResourceNotFoundException", not_found_message(missing),
                                       StreamName=missing, RetentionPeriodHours=48)

    def test_cli(self):
        aws = shutil.which("aws")
        if aws is None:
            self.skipTest("the AWS CLI is not on PATH")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        env.pop("AWS_PROFILE", None)

        def aws_cli(*args):
            return subprocess.run([aws, "--endpoint-url", self.server.endpoint, "--output", "json",
                                   "kinesis"] + list(args), capture_output=True, text=True, env=env, timeout=300)

        done = aws_cli("increase-stream-retention-period", "--stream-name", self.name,
                       "--retention-period-hours", "168")
        self.assertEqual(done.returncode, 0, done.stderr)
        summary = json.loads(aws_cli("describe-stream-summary", "--stream-name", self.name).stdout)
        self.assertEqual(summary["StreamDescriptionSummary"]["RetentionPeriodHours"], 168)
        done = aws_cli("decrease-stream-retention-period", "--stream-name", self.name,
                       "--retention-period-hours", "200")
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("InvalidArgumentException", done.stderr)
        self.assertIn("Use IncreaseRetentionPeriod API.", done.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
