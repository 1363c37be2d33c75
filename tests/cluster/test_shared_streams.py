"""Two kinesd front ends on one JetStream cluster serve the same streams:
what one creates, writes or deletes, the other describes, reads and stops
serving, with the same sequence numbers.

  test_shared_streams.py [--nats debian|current]
"""
import base64
import os
import socket
import subprocess
import tempfile
import time
import unittest

import botocore.exceptions

import cluster_helpers
from cluster_helpers import ClusterTestCase, read_stream
from kinesis_helpers import wait_until
from kinesd_server import KinesdServer, ServerError, free_port
from subscribe_helpers import Subscription, register_consumer
from nats_cluster import find_nats_server, kinesd_nats_support


class SharedStreams(ClusterTestCase):

    def test_created_on_a_written_and_read_on_b(self):
        a, b = self.clients
        stream = self.create_shared(shards=2)
        described = b.describe_stream(StreamName=stream)["StreamDescription"]
        self.assertEqual("ACTIVE", described["StreamStatus"])
        self.assertEqual(sorted(s["ShardId"] for s in a.describe_stream(StreamName=stream)
                                ["StreamDescription"]["Shards"]),
                         sorted(s["ShardId"] for s in described["Shards"]))

        # PutRecord through A and through B, alternately, into both shards.
        written = {}
        for i in range(40):
            client = a if i % 2 == 0 else b
            data = b"rec-%d" % i
            answer = client.put_record(StreamName=stream, Data=data, PartitionKey="key-%d" % i)
            written[(answer["ShardId"], answer["SequenceNumber"])] = data
        self.assertEqual(2, len({shard for shard, _ in written}), "40 keys should reach both shards")

        for name, client in (("B", b), ("A", a)):
            def complete():
                got = {(shard, seq): data for shard, records in read_stream(client, stream).items()
                       for seq, data in records}
                return got if all(k in got for k in written) else None
            got = wait_until(complete, "every record read through %s" % name, timeout=30)
            self.assertEqual(written, got, "read through %s: shard, sequence number and data" % name)

        # Sequence numbers grow in put order within a shard, whichever front end took the put.
        by_shard = {}
        for (shard, seq), data in written.items():
            by_shard.setdefault(shard, []).append((int(data.split(b"-")[1]), int(seq)))
        for shard, pairs in by_shard.items():
            pairs.sort()
            seqs = [seq for _, seq in pairs]
            self.assertEqual(sorted(seqs), seqs, "shard %s: sequence numbers out of put order" % shard)

    def test_put_records_through_b_read_through_a(self):
        a, b = self.clients
        stream = self.create_shared(shards=3)
        records = [{"Data": b"batch-%d" % i, "PartitionKey": "pk-%d" % i} for i in range(300)]
        answer = b.put_records(StreamName=stream, Records=records)
        self.assertEqual(0, answer.get("FailedRecordCount", 0), answer)
        expected = {(e["ShardId"], e["SequenceNumber"]): r["Data"] for r, e in zip(records, answer["Records"])}

        def complete():
            got = {(shard, seq): data for shard, recs in read_stream(a, stream).items() for seq, data in recs}
            return got if all(k in got for k in expected) else None
        got = wait_until(complete, "the PutRecords batch read through A", timeout=30)
        self.assertEqual(expected, got)

        # GetRecords through A and B return the very same records from the same iterator type.
        for shard in {shard for shard, _ in expected}:
            pages = []
            for client in (a, b):
                iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                                     ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                     StartingSequenceNumber=min(
                                                         (s for sh, s in expected if sh == shard), key=int)
                                                     )["ShardIterator"]
                page = client.get_records(ShardIterator=iterator, Limit=1000)["Records"]
                pages.append([(r["SequenceNumber"], r["PartitionKey"], base64.b64encode(r["Data"]))
                              for r in page])
            self.assertEqual(pages[0], pages[1], "shard %s read through A and through B" % shard)

    def test_list_streams_agree_and_delete_propagates(self):
        a, b = self.clients
        streams = [self.create_shared(shards=1) for _ in range(3)]

        def names(client):
            return sorted(client.list_streams(Limit=1000)["StreamNames"])
        listed = wait_until(lambda: names(a) if names(a) == names(b) and set(streams) <= set(names(a)) else None,
                            "ListStreams to agree on A and B", timeout=30)
        self.assertTrue(set(streams) <= set(listed), listed)

        gone = streams[0]
        a.delete_stream(StreamName=gone)

        def deleted_on_b():
            try:
                b.describe_stream_summary(StreamName=gone)
                return False
            except b.exceptions.ResourceNotFoundException:
                return gone not in names(b)
        wait_until(deleted_on_b, "stream %s deleted through A to disappear on B" % gone, timeout=30)
        with self.assertRaises(b.exceptions.ResourceNotFoundException):
            b.put_record(StreamName=gone, Data=b"late", PartitionKey="k")
        self.assertEqual(names(a), names(b))
        # The others are untouched.
        for stream in streams[1:]:
            self.assertEqual("ACTIVE", b.describe_stream_summary(StreamName=stream)
                             ["StreamDescriptionSummary"]["StreamStatus"])


class FanOutAcrossFrontEnds(ClusterTestCase):
    """Enhanced fan-out is served by whichever front end the client reached:
    a consumer registered through A, subscribed through B, gets the records
    put through A as they come."""

    def consumer_active_on_both(self, stream):
        """A consumer registered through A, once B describes it ACTIVE."""
        a, b = self.clients
        consumer = register_consumer(a, stream)
        wait_until(lambda: b.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]
                   ["ConsumerStatus"] == "ACTIVE", "the consumer ACTIVE through B", timeout=30)
        return consumer

    def test_subscribe_through_b_to_records_put_through_a(self):
        a, b = self.clients
        stream = self.create_shared(shards=1)
        shard = a.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        consumer = self.consumer_active_on_both(stream)
        sub = Subscription(b, consumer, shard, {"Type": "LATEST"})
        try:
            sent = []
            for i in range(20):
                data = b"fan-%d" % i
                a.put_record(StreamName=stream, Data=data, PartitionKey="k")
                sent.append(data)
            got = []
            deadline = time.monotonic() + 30
            while len(got) < len(sent) and time.monotonic() < deadline:
                kind, event = sub.next(timeout=max(1.0, deadline - time.monotonic()))
                self.assertEqual("event", kind, event)
                got += [r["Data"] for r in event["Records"]]
            self.assertEqual(sent, got)
        finally:
            sub.close()


    def test_one_subscription_per_consumer_and_shard_across_front_ends(self):
        """AWS's rule holds whichever front end each call reaches: a second
        subscription through B within five seconds of A's is refused, and
        one after that takes over, ending A's with ResourceInUseException."""
        a, b = self.clients
        stream = self.create_shared(shards=1)
        shard = a.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        consumer = self.consumer_active_on_both(stream)
        first = Subscription(a, consumer, shard, {"Type": "LATEST"})
        second = None
        try:
            first.next(timeout=10)
            started = time.monotonic()
            with self.assertRaises(botocore.exceptions.ClientError) as caught:
                Subscription(b, consumer, shard, {"Type": "LATEST"})
            self.assertEqual("ResourceInUseException", caught.exception.response["Error"]["Code"])
            while time.monotonic() < started + 5.5:
                time.sleep(0.1)
            second = Subscription(b, consumer, shard, {"Type": "LATEST"})
            # A's subscription ends with the exception event, B's goes on.
            deadline = time.monotonic() + 30
            while True:
                kind, event = first.next(timeout=max(1.0, deadline - time.monotonic()))
                if kind != "event":
                    break
                self.assertLess(time.monotonic(), deadline, "A's subscription was never taken over")
            self.assertEqual("error", kind, event)
            self.assertIn("ResourceInUseException", repr(event))
            a.put_record(StreamName=stream, Data=b"to-b", PartitionKey="k")
            got = []
            while not got and time.monotonic() < deadline:
                kind, event = second.next(timeout=max(1.0, deadline - time.monotonic()))
                self.assertEqual("event", kind, event)
                got += [r["Data"] for r in event["Records"]]
            self.assertEqual([b"to-b"], got)
        finally:
            first.close()
            if second:
                second.close()


class TooSmallMessages(unittest.TestCase):
    """A nats-server left at its 1 MiB max_payload cannot hold a 1 MiB Kinesis
    record with its key: kinesd refuses to start on it, saying what to set,
    instead of failing such puts later."""

    def test_kinesd_refuses_a_server_with_the_default_max_payload(self):
        why = kinesd_nats_support()
        if why:
            self.skipTest(why)
        binary, why = find_nats_server(ClusterTestCase.flavour)
        if not binary:
            self.skipTest(why)
        work = tempfile.mkdtemp(prefix="kinesd-nats-default-")
        port = free_port()
        nats = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", os.path.join(work, "js")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self._listening(port), "nats-server listening", timeout=30)
        server = KinesdServer(start=False, extra_args=["--storage", "nats", "--nats-url", "nats://127.0.0.1:%d" % port,
                                                       "--nats-replicas", "1"])
        try:
            with self.assertRaises(ServerError):
                server.start()
            self.assertIn("max_payload: 12MB", server.log_text())
        finally:
            server.close()
            nats.kill()
            nats.wait()

    @staticmethod
    def _listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False


if __name__ == "__main__":
    cluster_helpers.main()
