"""The Kinesis Client Library 3.x against kinesd.

Usage: test_kcl.py polling|fanout [unittest arguments]

Each test creates a 2-shard stream, puts records whose data is a per-partition-key
sequence marker (0, 1, 2, ... for every key) and runs the KCL consumer application
(ConsumerApp, a real Scheduler with its leases in moto's DynamoDB server) until every
record is in its record log. Then it checks that nothing was lost and that every key's
markers were processed in order. Duplicates are allowed only where the KCL allows
them: records after the last checkpoint, processed again after a restart.
"""
import collections
import os
import shutil
import sys
import tempfile
import time
import unittest

import kcl_harness
from kcl_harness import CallCounter, Consumer, DynamoServer, RecordLog

from kinesd_server import KinesdServer
from kinesis_helpers import (create_stream, list_all_shards, make_client, unique_name,
                             wait_active)

MODE = os.environ.get("KCL_MODE", "polling")
KEYS = ["key-%02d" % i for i in range(20)]
# Only a stuck consumer should reach it.
PROCESS_TIMEOUT = kcl_harness.PROCESS_TIMEOUT


# Subscriptions end after seconds instead of five minutes, so that the scenarios also
# see the KCL renew them from where the last one stopped. Above five seconds: a
# subscription to the same shard within five seconds of the last one is refused.
SUBSCRIPTION_LIFETIME_MS = 8000
IDLE_SECONDS = SUBSCRIPTION_LIFETIME_MS / 1000 + 2


def server_args():
    if MODE != "fanout":
        return ()
    return ("--subscription-lifetime-ms", str(SUBSCRIPTION_LIFETIME_MS),
            "--subscribe-heartbeat-ms", "1000")


class KclTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work_dir = tempfile.mkdtemp(prefix="kinesd-kcl-")
        cls.server = KinesdServer(extra_args=server_args())
        cls.dynamo = DynamoServer()
        cls.cloudwatch = CallCounter()
        cls.client = make_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.cloudwatch.close()
            cls.dynamo.close()
            cls.server.stop()
        finally:
            cls.server.close()
            # KCL_KEEP_LOGS=1 keeps the consumers' logs and record logs for a look.
            if os.environ.get("KCL_KEEP_LOGS"):
                sys.stderr.write("consumer logs kept in %s\n" % cls.work_dir)
            else:
                shutil.rmtree(cls.work_dir, ignore_errors=True)

    def setUp(self):
        self.consumers = []
        self.next_marker = collections.Counter()
        self.stream = create_stream(self.client, unique_name("kcl"), shards=2)
        self.app = unique_name("app")
        self.record_log = RecordLog(os.path.join(self.work_dir, self.app + ".records"))

    def tearDown(self):
        for consumer in self.consumers:
            consumer.kill9()
        self.assertEqual(self.cloudwatch.calls, [], "the KCL called CloudWatch")

    def run(self, result=None):
        # After a failure: the consumers' logs, then kinesd's.
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for consumer in getattr(self, "consumers", []):
                sys.stderr.write(consumer.log_tail() + "\n")
            self.server.dump_log()
        return outcome

    # -- helpers ---------------------------------------------------------------

    def start_consumer(self, worker=None):
        consumer = Consumer(self.work_dir, self.server.endpoint, self.dynamo.endpoint,
                            self.cloudwatch.endpoint, self.stream, self.app,
                            worker or unique_name("worker"), MODE, self.record_log)
        self.consumers.append(consumer)
        return consumer

    def put_markers(self, rounds):
        """Puts `rounds` more markers for every key. One PutRecords per round, so
        a key's markers are in separate requests, one after the other."""
        for _ in range(rounds):
            entries = [{"PartitionKey": key, "Data": str(self.next_marker[key]).encode()}
                       for key in KEYS]
            result = self.client.put_records(StreamName=self.stream, Records=entries)
            self.assertEqual(result["FailedRecordCount"], 0, result)
            for key in KEYS:
                self.next_marker[key] += 1

    def expected(self):
        return {(key, marker) for key in KEYS for marker in range(self.next_marker[key])}

    def wait_processed(self, consumer):
        """Waits until every record put so far is in the record log."""
        want = self.expected()
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while True:
            seen = {(key, int(data)) for _, key, data, _ in self.record_log.records()}
            if want <= seen:
                return
            if not consumer.running():
                self.fail("consumer %s exited (status %s) with %d of %d records processed"
                          % (consumer.worker, consumer.process.returncode, len(want & seen),
                             len(want)))
            if MODE == "fanout" and "UnknownOperationException" in consumer.log_text():
                self.fail("kinesd answered a KCL call with UnknownOperationException")
            if time.monotonic() > deadline:
                missing = sorted(want - seen)
                self.fail("after %.0f s, %d of %d records not processed, first: %r"
                          % (PROCESS_TIMEOUT, len(missing), len(want), missing[:10]))
            time.sleep(0.2)

    def check_order(self, allow_duplicates):
        """Every key's markers in the order they were put: a marker above the
        highest seen so far must be the next one. Returns the duplicates."""
        highest = collections.defaultdict(lambda: -1)
        duplicates = []
        for shard, key, data, sequence in self.record_log.records():
            marker = int(data)
            if marker <= highest[key]:
                duplicates.append((shard, key, marker, sequence))
                continue
            self.assertEqual(marker, highest[key] + 1,
                             "key %s: marker %d processed right after %d (shard %s)"
                             % (key, marker, highest[key], shard))
            highest[key] = marker
        if not allow_duplicates:
            self.assertEqual(duplicates, [], "records processed twice")
        for key in KEYS:
            self.assertEqual(highest[key], self.next_marker[key] - 1, key)
        return duplicates

    def wait_checkpointed(self):
        """Waits until every shard's checkpoint is its last processed record."""
        def caught_up():
            last, checkpoint = {}, {}
            for event in self.record_log.events():
                if event[0] == "R":
                    last[event[1]] = event[4]
                elif event[0] == "C":
                    checkpoint[event[1]] = event[2]
            return all(checkpoint.get(shard) == sequence for shard, sequence in last.items())
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not caught_up():
            if time.monotonic() > deadline:
                self.fail("checkpoints did not reach the last processed records")
            time.sleep(0.2)

    def checkpoints(self):
        """The last checkpoint logged per shard."""
        result = {}
        for event in self.record_log.events():
            if event[0] == "C":
                result[event[1]] = int(event[2])
        return result

    # -- tests -----------------------------------------------------------------

    def test_every_record_once_in_key_order(self):
        self.put_markers(25)
        consumer = self.start_consumer()
        self.wait_processed(consumer)
        # Idle for longer than a subscription lives (fan-out mode), then more records.
        time.sleep(IDLE_SECONDS)
        self.put_markers(5)
        self.wait_processed(consumer)
        self.wait_checkpointed()
        self.check_order(allow_duplicates=False)
        shards = {shard for shard, _, _, _ in self.record_log.records()}
        self.assertEqual(shards, {"shardId-000000000000", "shardId-000000000001"})
        consumer.stop()

    def test_kinesd_restart_during_consumption(self):
        self.put_markers(10)
        consumer = self.start_consumer()
        self.wait_processed(consumer)
        # Records still unread when kinesd goes down must reach the consumer after.
        self.put_markers(10)
        port = self.server.port
        self.server.restart()
        self.assertEqual(self.server.port, port, "kinesd came back on another port")
        self.put_markers(10)
        self.wait_processed(consumer)
        self.wait_checkpointed()
        duplicates = self.check_order(allow_duplicates=True)
        sys.stderr.write("kinesd restart: %d records processed twice\n" % len(duplicates))
        consumer.stop()

    def test_consumer_restart_resumes_from_checkpoints(self):
        self.put_markers(10)
        first = self.start_consumer()
        self.wait_processed(first)
        self.wait_checkpointed()
        self.put_markers(10)
        # Killed mid-stream, no graceful shutdown: its leases expire and its
        # last checkpoints are where the next worker starts.
        time.sleep(0.3)
        first.kill9()
        checkpointed = self.checkpoints()
        self.assertEqual(len(checkpointed), 2, checkpointed)
        events_before = len(self.record_log.events())
        self.put_markers(10)
        second = self.start_consumer()
        self.wait_processed(second)
        self.wait_checkpointed()
        duplicates = self.check_order(allow_duplicates=True)
        for shard, key, marker, sequence in duplicates:
            self.assertGreater(int(sequence), checkpointed[shard],
                               "record %s/%d at or before the checkpoint came again"
                               % (key, marker))
        # The second worker starts every shard at a checkpoint: the last one the first
        # worker logged or a later one it stored but was killed before logging.
        events = self.record_log.events()
        last_read = {}
        for event in events[:events_before]:
            if event[0] == "R":
                last_read[event[1]] = int(event[4])
        starts = {e[1]: e[2] for e in events[events_before:] if e[0] == "I"}
        for shard, sequence in checkpointed.items():
            self.assertIn(shard, starts)
            self.assertTrue(starts[shard].isdigit(), starts[shard])
            self.assertTrue(sequence <= int(starts[shard]) <= last_read[shard],
                            "shard %s restarted at %s, checkpoint %d, last record read %d"
                            % (shard, starts[shard], sequence, last_read[shard]))
        sys.stderr.write("consumer restart: %d records processed twice\n" % len(duplicates))
        second.stop()

    def test_follows_split_and_merge(self):
        self.put_markers(5)
        consumer = self.start_consumer()
        self.wait_processed(consumer)
        shards = {s["ShardId"]: s for s in list_all_shards(self.client, self.stream)}
        first = shards["shardId-000000000000"]["HashKeyRange"]
        middle = (int(first["StartingHashKey"]) + int(first["EndingHashKey"])) // 2
        self.client.split_shard(StreamName=self.stream, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(middle))
        wait_active(self.client, self.stream)
        self.put_markers(5)
        self.wait_processed(consumer)
        # The upper child of shard 0 borders shard 1: merge the two.
        shards = list_all_shards(self.client, self.stream)
        upper = [s["ShardId"] for s in shards
                 if s.get("ParentShardId") == "shardId-000000000000"
                 and int(s["HashKeyRange"]["StartingHashKey"]) == middle]
        self.assertEqual(len(upper), 1, shards)
        self.client.merge_shards(StreamName=self.stream, ShardToMerge=upper[0],
                                 AdjacentShardToMerge="shardId-000000000001")
        wait_active(self.client, self.stream)
        self.put_markers(5)
        self.wait_processed(consumer)
        self.check_order(allow_duplicates=True)

        # Every shard got records, and none was read before its parents had ended.
        shards = list_all_shards(self.client, self.stream)
        events = self.record_log.events()
        ended = {e[1]: i for i, e in enumerate(events) if e[0] == "E"}
        for shard in shards:
            shard_id = shard["ShardId"]
            reads = [i for i, e in enumerate(events) if e[0] == "R" and e[1] == shard_id]
            self.assertTrue(reads, "no record of %s was processed" % shard_id)
            for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
                if parent:
                    self.assertIn(parent, ended, "%s never ended" % parent)
                    self.assertLess(ended[parent], reads[0],
                                    "%s read before its parent %s ended" % (shard_id, parent))
        consumer.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("polling", "fanout"):
        MODE = sys.argv.pop(1)
    unittest.main(verbosity=2)
