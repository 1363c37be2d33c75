"""The Kinesis Producer Library (Java, with its native daemon) putting into kinesd
over TLS, read back through GetRecords and through the Kinesis Client Library.

Usage: test_kpl.py verify_off|ca_path|ca_file [unittest arguments]

verify_off: the KPL with VerifyCertificate=false. ca_path: VerifyCertificate=true with
CaCertPath, a directory holding kinesd's certificate under its subject hash; before
that, a run without it must fail (so verification is really on). Both use the
self-signed certificate kinesd makes in its data directory. ca_file: VerifyCertificate
=true with CaCertFile, a certificate of the test's own given to kinesd with --tls-cert
and --tls-key; here too a run without it must fail first.

The producer puts COUNT user records across KEYS partition keys with aggregation on;
record data is "<key>:<n>", a per-key counter. A 4-shard stream makes the routing of
an aggregate by its ExplicitHashKey matter. Then:
- GetRecords on every shard (boto3, over TLS): the aggregates are taken apart here
  (magic, protobuf, MD5), each must sit in the shard its first user record's hash
  key routes to, as must every user record in it; every user record must be there at
  least once, and copies (from KPL retries) are counted and reported;
- the KCL (polling; enhanced fan-out in ca_file mode) must process every user record
  as many times as the stream holds it, each key's records in the order GetRecords
  returns them.
The KPL does not add a key's records to the stream in the order they were given to it
(its aggregator is fed from several threads), so per-key order is checked against what
the KPL wrote, not against the order of the calls.
The producer's CloudWatch and STS endpoints point at a listener that counts
connections: metrics are off, and KPL 1.0.5+ no longer calls STS, so it must count none.
"""
import collections
import os
import shutil
import sys
import tempfile
import time
import unittest

import boto3
import botocore.config

import kpl_harness
import kpl_records
from kpl_harness import Certificate, ConnectionCounter, ProducerRun

sys.path.insert(0, os.path.join(kpl_harness.HERE, "..", "kcl"))
import kcl_harness  # noqa: E402
from kcl_harness import CallCounter, Consumer, DynamoServer, RecordLog  # noqa: E402

from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import (create_stream, list_all_shards, make_client, md5_hash_key,  # noqa: E402
                             read_shard, unique_name)

MODE = os.environ.get("KPL_MODE", "verify_off")
COUNT = int(os.environ.get("KPL_COUNT", "5000"))
KEYS = int(os.environ.get("KPL_KEYS", "20"))
SHARDS = 4
# Both of the KCL's retrieval modes, without a run of their own: polling (GetRecords)
# and enhanced fan-out (SubscribeToShard over HTTP/2).
KCL_RETRIEVAL = {"verify_off": "polling", "ca_path": "polling", "ca_file": "fanout"}


def key_name(i):
    return "key-%02d" % i


def in_range(shard, hash_key):
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]) <= hash_key <= int(r["EndingHashKey"])


def user_hash_key(record):
    if record.explicit_hash_key is not None:
        return int(record.explicit_hash_key)
    return md5_hash_key(record.partition_key)


class KplTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work_dir = tempfile.mkdtemp(prefix="kinesd-kpl-")
        # kinesd serves TLS on the port where it serves plain text: the producer and the
        # GetRecords reader use https there, the KCL http.
        if MODE == "ca_file":
            # A certificate of the test's own, given to kinesd.
            cls.cert = Certificate(cls.work_dir)
            cls.server = KinesdServer(extra_args=("--tls-cert", cls.cert.cert,
                                                  "--tls-key", cls.cert.key))
        else:
            # The self-signed certificate kinesd makes in its data directory.
            cls.server = KinesdServer()
            cls.cert = Certificate.existing(os.path.join(cls.server.data_dir, "tls", "cert.pem"),
                                            cls.work_dir)
        cls.tls_port = cls.server.port
        cls.counter = ConnectionCounter()
        cls.client = make_client(cls.server.endpoint)
        # The read-back goes over TLS too, verifying the certificate.
        cls.tls_client = boto3.session.Session().client(
            "kinesis", endpoint_url="https://localhost:%d" % cls.tls_port, verify=cls.cert.cert,
            region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
            config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1},
                                          read_timeout=120))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.counter.close()
            cls.server.stop()
        finally:
            cls.server.close()
            if os.environ.get("KPL_KEEP_LOGS"):
                sys.stderr.write("logs kept in %s\n" % cls.work_dir)
            else:
                shutil.rmtree(cls.work_dir, ignore_errors=True)

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for log in getattr(self, "logs", []):
                sys.stderr.write(log() + "\n")
            self.server.dump_log()
        return outcome

    def setUp(self):
        self.logs = []
        self.stream = create_stream(self.client, unique_name("kpl"), shards=SHARDS)

    # -- producing -------------------------------------------------------------

    def produce(self, name, count, **tls):
        run = ProducerRun(self.work_dir, name, self.tls_port, self.stream, count, KEYS,
                          self.counter, **tls)
        self.logs.append(run.log_tail)
        return run

    def check_refused_without_ca(self):
        """With verification on and only the KPL's own CA bundle, nothing may get in."""
        run = self.produce("no-ca", KEYS, verify=True, record_ttl_ms=3000)
        self.assertNotEqual(run.returncode, 0, "the KPL accepted kinesd's certificate "
                            "without being given it")
        self.assertEqual(len(run.results), KEYS)
        self.assertFalse(any(r["ok"] for r in run.results), run.results[:3])
        for r in run.results:
            self.assertTrue(any("certificate" in e for e in r["errors"]),
                            "not refused for its certificate: %r" % r)
        for shard in list_all_shards(self.client, self.stream):
            self.assertEqual(read_shard(self.client, self.stream, shard["ShardId"]), [])
        self.logs.remove(run.log_tail)

    # -- reading back ----------------------------------------------------------

    def read_user_records(self):
        """(shard, sequence, index in aggregate, key, n) for every user record in the
        stream, shard by shard in stream order; checks each aggregate's routing."""
        shards = list_all_shards(self.tls_client, self.stream)
        self.assertEqual(len(shards), SHARDS)
        found, stats = [], collections.Counter()
        for shard in shards:
            shard_id = shard["ShardId"]
            for record in read_shard(self.tls_client, self.stream, shard_id):
                data, sequence = record["Data"], record["SequenceNumber"]
                if kpl_records.is_aggregate(data):
                    users = kpl_records.deaggregate(data)
                    self.assertTrue(users, "an empty aggregate at %s" % sequence)
                    stats["aggregates"] += 1
                    stats["aggregated user records"] += len(users)
                    stats["largest aggregate"] = max(stats["largest aggregate"], len(users))
                    # Sent with ExplicitHashKey = its first user record's hash key.
                    self.assertTrue(in_range(shard, user_hash_key(users[0])),
                                    "aggregate %s in %s, its first user record (key %s) "
                                    "routes elsewhere" % (sequence, shard_id,
                                                          users[0].partition_key))
                else:
                    users = [kpl_records.UserRecord(record["PartitionKey"], None, data)]
                    stats["single records"] += 1
                for index, user in enumerate(users):
                    self.assertTrue(in_range(shard, user_hash_key(user)),
                                    "user record of key %s in %s, outside its hash range"
                                    % (user.partition_key, shard_id))
                    key, _, n = user.data.decode().partition(":")
                    self.assertEqual(key, user.partition_key, user)
                    found.append((shard_id, sequence, index, key, int(n)))
        return found, stats

    def check_complete(self, records, what):
        """Every (key, n) put at least once, nothing else. Returns {(key, n): count}."""
        seen = collections.Counter((key, n) for key, n in records)
        want = {(key_name(i % KEYS), i // KEYS) for i in range(COUNT)}
        missing = sorted(want - set(seen))
        self.assertEqual(missing, [], "%s: %d of %d user records lost, first: %r"
                         % (what, len(missing), len(want), missing[:10]))
        extra = sorted(set(seen) - want)
        self.assertEqual(extra, [], "%s: records nobody put" % what)
        return seen

    @staticmethod
    def per_key(records):
        """{key: [n, ...]} in the order given."""
        result = collections.defaultdict(list)
        for key, n in records:
            result[key].append(n)
        return dict(result)

    @staticmethod
    def inversions(per_key):
        """How many records come after a higher n of their key."""
        count = 0
        for ns in per_key.values():
            highest = -1
            for n in ns:
                if n < highest:
                    count += 1
                highest = max(highest, n)
        return count

    def read_with_kcl(self, expected_counts, retrieval):
        dynamo, cloudwatch = DynamoServer(), CallCounter()
        record_log = RecordLog(os.path.join(self.work_dir, "kcl.records"))
        consumer = Consumer(self.work_dir, self.server.endpoint, dynamo.endpoint,
                            cloudwatch.endpoint, self.stream, unique_name("app"),
                            unique_name("worker"), retrieval, record_log)
        self.logs.append(consumer.log_tail)
        try:
            deadline = time.monotonic() + kcl_harness.PROCESS_TIMEOUT
            while True:
                seen = collections.Counter((key, data) for _, key, data, _ in record_log.records())
                if len(seen) >= len(expected_counts):
                    break
                self.assertTrue(consumer.running(), "the KCL consumer exited")
                self.assertLess(time.monotonic(), deadline,
                                "the KCL processed %d of %d user records"
                                % (len(seen), len(expected_counts)))
                time.sleep(0.5)
            # Records that were in the stream twice come twice: let them arrive.
            time.sleep(3)
            records = [(shard, key, int(data.partition(":")[2]))
                       for shard, key, data, _ in record_log.records()]
            consumer.stop()
            self.assertEqual(cloudwatch.calls, [], "the KCL called CloudWatch")
        finally:
            consumer.kill9()
            cloudwatch.close()
            dynamo.close()
        counts = self.check_complete([(key, n) for _, key, n in records], "KCL")
        self.assertEqual(dict(counts), dict(expected_counts),
                         "the KCL processed records a different number of times than the "
                         "stream holds them")
        return records

    # -- the test --------------------------------------------------------------

    def test_put_aggregated_then_read_back(self):
        tls = {"verify_off": {"verify": False},
               "ca_path": {"verify": True, "ca_path": self.cert.ca_dir},
               "ca_file": {"verify": True, "ca_file": self.cert.cert}}[MODE]
        if MODE != "verify_off":
            self.check_refused_without_ca()
        run = self.produce("producer", COUNT, **tls)
        failed = [r for r in run.results if not r["ok"]]
        self.assertEqual(failed[:5], [], "the KPL reported failed user records")
        self.assertEqual(run.returncode, 0, "the producer exited with %s" % run.returncode)
        self.assertEqual(len(run.results), COUNT)
        retried = sum(1 for r in run.results if r["attempts"] > 1)

        found, stats = self.read_user_records()
        counts = self.check_complete([(k, n) for _, _, _, k, n in found], "GetRecords")
        copies = sum(c - 1 for c in counts.values())
        # Where the KPL said each user record went, it is.
        places = collections.defaultdict(set)
        for shard, sequence, _, key, n in found:
            places[(key, n)].add((shard, sequence))
        for r in run.results:
            self.assertIn((r["shard"], r["sequence"]), places[(r["key"], r["n"])], r)
        # The first round is put before the KPL knows the shards and goes out unaggregated;
        # the rest comes in aggregates (a bound with room: the KPL decides, not the test).
        self.assertGreaterEqual(stats["aggregated user records"], COUNT // 2, dict(stats))

        # Within a shard, GetRecords returns records in sequence number order.
        for shard in {s for s, _, _, _, _ in found}:
            sequences = [int(q) for s, q, i, _, _ in found if s == shard and i == 0]
            self.assertEqual(sequences, sorted(set(sequences)), shard)
        # The KPL itself does not keep a key's records in the order they were added: its
        # daemon hands them to the aggregator from several threads, so an aggregate (whose
        # bytes it builds and signs with the MD5) may hold n+1 before n. What the stream
        # must keep is the order the KPL wrote: both readers see a key's records in it.
        stream_order = self.per_key([(k, n) for _, _, _, k, n in found])
        kcl_records = self.read_with_kcl(counts, KCL_RETRIEVAL[MODE])
        self.assertEqual(self.per_key([(k, n) for _, k, n in kcl_records]), stream_order,
                         "the KCL saw a key's records in another order than GetRecords")
        self.assertEqual(self.counter.connections, 0,
                         "the producer connected to its CloudWatch or STS endpoint")
        sys.stderr.write(
            "KPL %s: %d user records put (%d retried), GetRecords: %d single records, %d "
            "aggregates holding %d user records (largest %d), %d copies, %d records after a "
            "higher one of their key (the KPL's order); KCL (%s): %d user records "
            "processed, in the same per-key order\n"
            % (MODE, COUNT, retried, stats["single records"], stats["aggregates"],
               stats["aggregated user records"], stats["largest aggregate"], copies,
               self.inversions(stream_order), KCL_RETRIEVAL[MODE], len(kcl_records)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("verify_off", "ca_path", "ca_file"):
        MODE = sys.argv.pop(1)
    unittest.main(verbosity=2)
