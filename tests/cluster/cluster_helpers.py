"""Pieces the scale-out suites share: a test case owning one JetStream
cluster and two kinesd front ends on it, producers that keep a ledger of
every acknowledged record, and a reader that checks the ledger against what
the shards hold.

A suite runs against one nats-server flavour, chosen with --nats debian
(Debian's package, the default) or --nats current (a current release). It
exits with 77, which ctest reports as skipped, when every test was skipped:
kinesd built without the NATS backend, or that nats-server not installed.
"""
import collections
import os
import random
import sys
import threading
import time
import unittest

from nats_cluster import (NatsCluster, NoBackend, find_nats_server, kinesd_nats_support,  # noqa: E402
                          start_frontends, unique_prefix)
from kinesis_helpers import make_client, unique_name, wait_until  # noqa: E402

SKIPPED = 77


class ClusterTestCase(unittest.TestCase):
    """A 3-node JetStream cluster and `frontends` kinesd sharing it under a
    prefix of their own, for the class."""

    flavour = "debian"
    frontends = 2
    cluster = None
    servers = ()

    @classmethod
    def setUpClass(cls):
        why = kinesd_nats_support()
        if why:
            raise unittest.SkipTest(why)
        binary, why = find_nats_server(cls.flavour)
        if not binary:
            raise unittest.SkipTest(why)
        cls.cluster = NatsCluster(binary)
        sys.stderr.write("\n%s: nats-server %s (%s), 3 nodes\n" % (cls.__name__, cls.cluster.version, binary))
        cls.prefix = unique_prefix()
        try:
            cls.servers = start_frontends(cls.cluster, cls.prefix, count=cls.frontends)
        except NoBackend as e:
            cls.cluster.close()
            cls.cluster = None
            raise unittest.SkipTest(str(e))
        except BaseException:
            cls.cluster.close()
            cls.cluster = None
            raise
        cls.clients = [make_client(s.endpoint) for s in cls.servers]

    @classmethod
    def tearDownClass(cls):
        servers, cls.servers = cls.servers, ()
        failures = []
        try:
            for server in servers:
                if server.running():
                    try:
                        server.stop()  # an unclean exit fails the class
                    except Exception as e:  # noqa: BLE001
                        failures.append(str(e))
                server.close()
        finally:
            if cls.cluster is not None:
                cls.cluster.close()
                cls.cluster = None
        if failures:
            raise AssertionError("\n".join(failures))

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for server in self.servers:
                if server.process is not None and server.process.poll() is not None:
                    sys.stderr.write("kinesd on port %s exited with status %s\n"
                                     % (server.port, server.process.returncode))
                server.dump_log()
            if self.cluster is not None:
                sys.stderr.write(self.cluster.logs() + "\n")
        return outcome

    def wait_visible(self, client, stream, shards):
        """Waits until `client`'s front end describes `stream` ACTIVE with `shards` open shards."""
        def visible():
            try:
                summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
            except client.exceptions.ResourceNotFoundException:
                return None
            return summary if summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == shards else None
        return wait_until(visible, "stream %s ACTIVE with %d shards" % (stream, shards), timeout=30)

    def create_shared(self, shards):
        """A stream created through the first front end, once every front end sees it."""
        stream = unique_name("cl")
        self.clients[0].create_stream(StreamName=stream, ShardCount=shards)
        for client in self.clients:
            self.wait_visible(client, stream, shards)
        return stream


# -- producers and their ledger ------------------------------------------------------


Ack = collections.namedtuple("Ack", "sent acked shard seq data via")


class Ledger:
    """Every record a PutRecords acknowledged, and what failed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acks = []
        self.failed_records = 0
        self.call_errors = collections.Counter()

    def add(self, acks, failed):
        with self.lock:
            self.acks += acks
            self.failed_records += failed

    def error(self, kind):
        with self.lock:
            self.call_errors[kind] += 1

    def acked_between(self, start, end=float("inf")):
        """Acks of calls sent at or after `start` and acknowledged before `end`."""
        with self.lock:
            return [a for a in self.acks if a.sent >= start and a.acked < end]

    def longest_gap(self, start, end):
        """(longest time without an acknowledgement within [start, end],
        time from `start` to the first acknowledgement of a call sent after it)."""
        with self.lock:
            times = sorted(a.acked for a in self.acks if start <= a.acked <= end)
            first_new = min((a.acked for a in self.acks if a.sent >= start), default=None)
        points = [start] + times + [end]
        gap = max(b - a for a, b in zip(points, points[1:]))
        return gap, (first_new - start) if first_new is not None else None

    def summary(self):
        with self.lock:
            errors = ", ".join("%s: %d" % kv for kv in sorted(self.call_errors.items())) or "none"
            return "%d records acknowledged, %d refused in answers, failed calls: %s" % (
                len(self.acks), self.failed_records, errors)


class Producer(threading.Thread):
    """PutRecords of `batch` records, `pause` seconds apart, until stopped.
    Each record's data names it, so a reader can tell one from another. The
    pause keeps the number of records, and so the time to read them all
    back, moderate."""

    def __init__(self, label, client, stream, ledger, stop, batch=25, size=100, pause=0.05):
        super().__init__(name="producer-" + label, daemon=True)
        self.label = label
        self.client = client
        self.stream = stream
        self.ledger = ledger
        self.stop_event = stop
        self.batch = batch
        self.size = size
        self.pause = pause
        self.rng = random.Random(label)
        self.count = 0

    def run(self):
        while not self.stop_event.is_set():
            records = []
            for _ in range(self.batch):
                self.count += 1
                head = ("%s-%d|" % (self.label, self.count)).encode()
                records.append({"Data": head + b"x" * max(0, self.size - len(head)),
                                "PartitionKey": "%x" % self.rng.getrandbits(64)})
            sent = time.monotonic()
            try:
                answer = self.client.put_records(StreamName=self.stream, Records=records)
            except Exception as e:  # noqa: BLE001  (every failure is counted, none stops the run)
                self.ledger.error(type(e).__name__)
                self.stop_event.wait(0.05)
                continue
            acked = time.monotonic()
            acks, failed = [], 0
            for record, entry in zip(records, answer["Records"]):
                if "SequenceNumber" in entry:
                    acks.append(Ack(sent, acked, entry["ShardId"], entry["SequenceNumber"], record["Data"],
                                    self.label))
                else:
                    failed += 1
            self.ledger.add(acks, failed)
            self.stop_event.wait(self.pause)


def run_producers(specs, stream, ledger, **options):
    """Starts one Producer per (label, client); returns (threads, stop event)."""
    stop = threading.Event()
    threads = [Producer(label, client, stream, ledger, stop, **options) for label, client in specs]
    for thread in threads:
        thread.start()
    return threads, stop


def stop_producers(threads, stop):
    stop.set()
    for thread in threads:
        thread.join(timeout=180)
        if thread.is_alive():
            raise AssertionError("producer %s still blocked 180 s after stop" % thread.name)


# -- reading back --------------------------------------------------------------------


def read_stream(client, stream, deadline=None):
    """{shard id: [(sequence number, data), ...]} of every shard, each read from
    TRIM_HORIZON until GetRecords says it is caught up, or until `deadline`
    (time.monotonic()) has passed: a server that keeps answering empty pages
    while behind must not hold the suite past its timeout."""
    shards = [s["ShardId"] for s in client.list_shards(StreamName=stream)["Shards"]]
    out = {}
    for shard in shards:
        iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = []
        while iterator and (deadline is None or time.monotonic() < deadline):
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            records += [(r["SequenceNumber"], r["Data"]) for r in page["Records"]]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
        out[shard] = records
    return out


def sequence_parts(sequence_number):
    """(counter, arrival second) of a 56-digit sequence number, laid out as
    streams/encoding.h describes: from the low end a trailing nibble, the
    shard index (32 bits), the arrival second (36), zero (8), the counter (64)."""
    value = int(sequence_number)
    return (value >> 80) & (2 ** 64 - 1), (value >> 36) & (2 ** 36 - 1)


def _difference(acked, found):
    (c1, t1), (c2, t2) = sequence_parts(acked), sequence_parts(found)
    return "counter %+d, arrival second %+d" % (c2 - c1, t2 - t1)


def check_acks(client, stream, acks, t0=None, deadline=None):
    """What is wrong with `acks` as read through `client`: a list of lines,
    empty when every acknowledged record is at its sequence number in its
    shard, exactly once. Lines tell a record stored nowhere from one stored
    at another place, and give how far each shard was read; with `t0`, when
    each example was sent and acknowledged, in seconds after t0."""
    stored = read_stream(client, stream, deadline)
    at, where = {}, collections.defaultdict(list)
    for shard, records in stored.items():
        for seq, data in records:
            at[(shard, seq)] = data
            where[data].append((shard, seq))
    absent = [a for a in acks if (a.shard, a.seq) not in at]
    kinds = (
        ("stored nowhere", [a for a in absent if not where[a.data]]),
        ("stored elsewhere than acknowledged", [a for a in absent if where[a.data]]),
        ("holding other data", [a for a in acks if (a.shard, a.seq) in at and at[(a.shard, a.seq)] != a.data]),
        ("stored more than once", [a for a in acks if len(where[a.data]) > 1]),
    )
    problems = []
    for what, items in kinds:
        if items:
            problems.append("%d of %d acknowledged records %s, e.g. %s" % (
                len(items), len(acks), what, "; ".join(
                    "%s %s %r via %s (found at %s%s%s)" % (
                        a.shard, a.seq, a.data[:24], a.via, where[a.data] or "-",
                        "; " + _difference(a.seq, where[a.data][0][1]) if where[a.data] else "",
                        "" if t0 is None else ", sent %+.2f s, acked %+.2f s" % (a.sent - t0, a.acked - t0))
                    for a in items[:6])))
    if problems:
        last = {shard: (len(records), records[-1][0] if records else "-") for shard, records in stored.items()}
        problems.append("read per shard (records, last sequence number): %r" % last)
    return problems


def assert_all_acked_readable(test, clients, stream, acks, t0=None, timeout=20.0):
    """Reads through each (name, client) until every acknowledged record is
    found (a front end may learn of another's appends a moment later), then
    fails with what is wrong through any of them."""
    failures = []
    for name, client in clients:
        deadline = time.monotonic() + timeout
        while True:
            problems = check_acks(client, stream, acks, t0, deadline + 10.0)
            if not problems or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        failures += ["through %s: %s" % (name, p) for p in problems]
    test.assertEqual([], failures, "\n".join(failures))


def main(argv=None):
    """unittest's main with --nats FLAVOUR; exit 77 when all was skipped."""
    argv = list(sys.argv if argv is None else argv)
    if "--nats" in argv:
        i = argv.index("--nats")
        ClusterTestCase.flavour = argv[i + 1]
        del argv[i:i + 2]
    program = unittest.main(argv=argv, exit=False, verbosity=2)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    # A class skipped in setUpClass counts one skip and no test run.
    if result.skipped and len(result.skipped) >= result.testsRun:
        sys.stderr.write("SKIPPED: %s\n" % "; ".join(sorted({why for _, why in result.skipped})))
        sys.exit(SKIPPED)
    if not result.testsRun:
        sys.exit("no test ran")
    sys.exit(0)
