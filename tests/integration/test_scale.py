"""Many streams of 4 shards: create them, write and read a sample, restart,
and find everything again, with the server's descriptors and memory under
fixed bounds the whole time.

The bounds (see docs/performance.md): RocksDB keeps at most max_open_files
(1,024) table files open, plus a margin for sockets, WAL and manifest; shards
are key ranges of one column family, so they add no descriptors of their own.
Memory stays under MAX_RSS_MIB because every shard's writes share one
memtable budget and table readers are charged to the block cache.

The default is the full 1,000 streams (4,000 shards); KINESD_SCALE_STREAMS
changes it.
"""
import os
import unittest

from kinesd_server import MEMORY_BOUND_SCALE, KinesdServer
from kinesis_helpers import make_client

STREAMS = int(os.environ.get("KINESD_SCALE_STREAMS", "1000"))
SHARDS = 4
SAMPLE = 40
MAX_FDS = 1024 + 200
MAX_RSS_MIB = 100 * MEMORY_BOUND_SCALE


def stream_name(i):
    return "scale-%05d" % i


def hash_key(shard_index):
    return str((2 ** 128 // SHARDS) * shard_index)


def proc_status(pid):
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            values[key] = rest.strip()
    return values


class ScaleTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = KinesdServer(extra_args=[
            "--create-stream-ms", "0",
            "--shard-limit", str(STREAMS * SHARDS + 100),
            "--expiry-interval-ms", "3600000"])
        cls.client = make_client(cls.server.endpoint)
        cls.sample = sorted({int(i * STREAMS / SAMPLE) for i in range(SAMPLE)})

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def assertWithinBounds(self, when):
        pid = self.server.process.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        status = proc_status(pid)
        rss_mib = int(status["VmRSS"].split()[0]) / 1024
        print("%s: %d fds, RSS %.1f MiB (peak %s), %s threads"
              % (when, fds, rss_mib, status["VmHWM"], status["Threads"]))
        self.assertLess(fds, MAX_FDS, when)
        self.assertLess(rss_mib, MAX_RSS_MIB, when)

    def list_all_streams(self):
        names, start = [], None
        while True:
            kwargs = {"Limit": 1000}
            if start:
                kwargs["ExclusiveStartStreamName"] = start
            page = self.client.list_streams(**kwargs)
            names += page["StreamNames"]
            if not page["HasMoreStreams"] or not page["StreamNames"]:
                return names
            start = page["StreamNames"][-1]

    def put_sample(self, tag):
        """One record in every shard of every sampled stream: {(stream, shard): (seq, data)}."""
        written = {}
        for i in self.sample:
            name = stream_name(i)
            records = [{"Data": b"%s-%d-%d" % (tag, i, s), "PartitionKey": "pk-%d" % s,
                        "ExplicitHashKey": hash_key(s)} for s in range(SHARDS)]
            out = self.client.put_records(StreamName=name, Records=records)
            self.assertEqual(out.get("FailedRecordCount", 0), 0)
            shards = set()
            for sent, result in zip(records, out["Records"]):
                written[(name, result["ShardId"])] = (result["SequenceNumber"], sent["Data"])
                shards.add(result["ShardId"])
            self.assertEqual(len(shards), SHARDS, name)
        return written

    def assertStored(self, written):
        for (name, shard), (sequence, data) in written.items():
            iterator = self.client.get_shard_iterator(
                StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=sequence)["ShardIterator"]
            records = self.client.get_records(ShardIterator=iterator, Limit=1)["Records"]
            self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in records], [(sequence, data)],
                             (name, shard))

    def test_streams_survive_restart_within_bounds(self):
        for i in range(STREAMS):
            self.client.create_stream(StreamName=stream_name(i), ShardCount=SHARDS)
        self.assertWithinBounds("after creating %d streams" % STREAMS)
        names = self.list_all_streams()
        self.assertEqual(names, [stream_name(i) for i in range(STREAMS)])
        summary = self.client.describe_stream_summary(StreamName=stream_name(STREAMS - 1))
        self.assertEqual(summary["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE")
        self.assertEqual(summary["StreamDescriptionSummary"]["OpenShardCount"], SHARDS)

        before = self.put_sample(b"before")
        self.assertStored(before)
        self.assertWithinBounds("after writing the sample")

        self.server.restart()
        self.client = make_client(self.server.endpoint)
        self.assertWithinBounds("after restart")
        self.assertEqual(self.list_all_streams(), names)
        for i in self.sample:
            shards = self.client.list_shards(StreamName=stream_name(i))["Shards"]
            self.assertEqual(len(shards), SHARDS, stream_name(i))
        self.assertStored(before)

        after = self.put_sample(b"after")
        for key, (sequence, _) in after.items():
            self.assertGreater(int(sequence), int(before[key][0]), key)
        self.assertStored(after)
        self.assertWithinBounds("after writing again")


if __name__ == "__main__":
    unittest.main(verbosity=2)
