"""Where a mapping starts and what it reads: LATEST and AT_TIMESTAMP,
children after parents across a split, an enhanced fan-out consumer as the
source, ParallelizationFactor keeping each partition key in order, the
/metrics counters, and the API under SigV4 (service name `lambda`)."""
import base64
import os
import time
import unittest
import urllib.request

import botocore.exceptions

from esm_helpers import ACCOUNT, FUNCTION, REGION, RuntimeTestCase, wait_until


def data_of(record):
    return base64.b64decode(record["kinesis"]["data"]).decode()


class SourcesTest(RuntimeTestCase):

    def setUp(self):
        self.set_control()

    def put(self, name, prefix, n, key="k"):
        return [self.kinesis.put_record(StreamName=name, PartitionKey=key if key else "%s%d" % (prefix, i),
                                        Data=("%s%d" % (prefix, i)).encode()) for i in range(n)]

    def test_latest_skips_what_came_before(self):
        name, arn = self.new_stream()
        self.put(name, "old-", 3)
        time.sleep(0.05)
        self.map(arn, StartingPosition="LATEST")
        self.put(name, "new-", 3)
        wait_until(lambda: len(self.seen_records(arn)) >= 3, what="new records")
        time.sleep(0.3)
        self.assertEqual([data_of(r) for r in self.seen_records(arn)], ["new-0", "new-1", "new-2"])

    def test_at_timestamp_starts_at_the_first_record_after_it(self):
        name, arn = self.new_stream()
        self.put(name, "before-", 2)
        time.sleep(1.2)
        cut = time.time()
        time.sleep(0.1)
        self.put(name, "after-", 2)
        self.map(arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=cut)
        wait_until(lambda: len(self.seen_records(arn)) >= 2, what="records after the timestamp")
        time.sleep(0.3)
        self.assertEqual([data_of(r) for r in self.seen_records(arn)], ["after-0", "after-1"])

    def test_children_are_delivered_after_their_parent(self):
        name, arn = self.new_stream()
        self.put(name, "parent-", 12)
        shard = self.kinesis.list_shards(StreamName=name)["Shards"][0]
        middle = str((int(shard["HashKeyRange"]["StartingHashKey"]) + int(shard["HashKeyRange"]["EndingHashKey"])) // 2)
        self.kinesis.split_shard(StreamName=name, ShardToSplit=shard["ShardId"], NewStartingHashKey=middle)
        wait_until(lambda: self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                   ["StreamStatus"] == "ACTIVE", what="split done")
        self.put(name, "child-", 12, key=None)
        # Mapped once every shard holds records, so that only the ordering
        # rule keeps the children waiting.
        self.map(arn, BatchSize=5)
        wait_until(lambda: len(self.seen_records(arn)) >= 24, timeout=60, what="parent and child records")
        seen = self.seen_records(arn)
        parent_positions = [i for i, r in enumerate(seen) if r["eventID"].startswith(shard["ShardId"] + ":")]
        child_positions = [i for i, r in enumerate(seen) if not r["eventID"].startswith(shard["ShardId"] + ":")]
        self.assertEqual([data_of(seen[i]) for i in parent_positions], ["parent-%d" % i for i in range(12)])
        self.assertEqual(sorted(data_of(seen[i]) for i in child_positions), sorted("child-%d" % i for i in range(12)))
        self.assertLess(max(parent_positions), min(child_positions), "every parent record before any child's")

    def test_a_consumer_arn_reads_its_stream(self):
        name, arn = self.new_stream()
        consumer = self.kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="esm")["Consumer"]
        wait_until(lambda: self.kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
                   ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        m = self.map(consumer["ConsumerARN"])
        self.assertEqual(m["EventSourceArn"], consumer["ConsumerARN"])
        self.put(name, "efo-", 4)
        wait_until(lambda: len(self.seen_records(arn)) >= 4, what="records through the consumer")
        self.assertEqual([data_of(r) for r in self.seen_records(arn)], ["efo-%d" % i for i in range(4)])

        # The records read on the consumer's behalf count as its events.
        def consumer_records():
            text = urllib.request.urlopen(self.server.endpoint + "/metrics").read().decode()
            for line in text.splitlines():
                if "subscribe_to_shard_event_records" in line and 'consumer="esm"' in line and \
                        'stream="%s"' % name in line:
                    return float(line.rsplit(" ", 1)[1])
            return None
        wait_until(lambda: consumer_records() == 4, what="the consumer's record count")
        # An unknown consumer is refused like an unknown stream.
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.lam.create_event_source_mapping(FunctionName=FUNCTION, StartingPosition="LATEST",
                                                 EventSourceArn=arn + "/consumer/absent:1")
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValueException")

    def test_parallelization_keeps_each_partition_key_in_order(self):
        name, arn = self.new_stream()
        records = [self.kinesis.put_record(StreamName=name, PartitionKey="key-%d" % (i % 6),
                                           Data=("%d:%d" % (i % 6, i)).encode()) for i in range(60)]
        self.assertEqual(len(records), 60)
        self.map(arn, ParallelizationFactor=4, BatchSize=20)
        wait_until(lambda: len(self.seen_records(arn)) >= 60, what="60 records")
        seen = [data_of(r) for r in self.seen_records(arn)]
        self.assertEqual(sorted(seen), sorted("%d:%d" % (i % 6, i) for i in range(60)))
        for key in range(6):
            order = [int(s.split(":")[1]) for s in seen if s.startswith("%d:" % key)]
            self.assertEqual(order, sorted(order), "key %d in order" % key)

    def test_metrics_count_invocations_and_records(self):
        name, arn = self.new_stream()
        m = self.map(arn, FilterCriteria={"Filters": [{"Pattern": '{"data": {"keep": [true]}}'}]})
        self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b'{"keep": true}')
        self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b'{"keep": false}')
        wait_until(lambda: len(self.seen_records(arn)) >= 1, what="one record")

        def sample(metric, extra=""):
            text = urllib.request.urlopen(self.server.endpoint + "/metrics").read().decode()
            for line in text.splitlines():
                if line.startswith(metric + "{") and 'uuid="%s"' % m["UUID"] in line and extra in line:
                    return float(line.rsplit(" ", 1)[1])
            return None
        wait_until(lambda: sample("kinesd_esm_records_total", 'outcome="filtered"') == 1, what="filtered count")
        self.assertEqual(sample("kinesd_esm_invocations_total"), 1)
        self.assertEqual(sample("kinesd_esm_errors_total"), 0)
        self.assertEqual(sample("kinesd_esm_records_total", 'outcome="delivered"'), 1)
        self.assertIsNotNone(sample("kinesd_esm_iterator_age_ms"))


class SignedApiTest(RuntimeTestCase):
    """With a credentials file, the Lambda API wants SigV4 too."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.creds_dir = tempfile.mkdtemp(prefix="kinesd-esm-creds-")
        cls.creds_path = os.path.join(cls.creds_dir, "credentials")
        with open(cls.creds_path, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDESMTEST\naws_secret_access_key = esm-secret\n")
        cls.audit_path = os.path.join(cls.creds_dir, "audit.log")
        cls.kinesd_args = ("--credentials-file", cls.creds_path, "--audit-log", cls.audit_path)
        super().setUpClass()

    @classmethod
    def connect(cls):
        import boto3
        session = boto3.session.Session(aws_access_key_id="AKIDESMTEST", aws_secret_access_key="esm-secret",
                                        region_name=REGION)
        cls.kinesis = session.client("kinesis", endpoint_url=cls.server.endpoint)
        cls.lam = session.client("lambda", endpoint_url=cls.server.endpoint)
        cls.wrong = boto3.session.Session(aws_access_key_id="AKIDESMTEST", aws_secret_access_key="wrong",
                                          region_name=REGION).client("lambda", endpoint_url=cls.server.endpoint)

    def test_signed_calls_pass_and_bad_signatures_do_not(self):
        _, arn = self.new_stream()
        m = self.map(arn)
        self.assertEqual(self.lam.get_event_source_mapping(UUID=m["UUID"])["UUID"], m["UUID"])
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.wrong.list_event_source_mappings()
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidSignatureException")
        # Mapping calls are control-plane calls: each one is audited.
        import json
        mapping_arn = "arn:aws:lambda:%s:%s:event-source-mapping:%s" % (REGION, ACCOUNT, m["UUID"])

        def audited():
            with open(self.audit_path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            mine = [(e["action"], e["access_key_id"], e["result"]) for e in lines if e["resource"] == mapping_arn]
            refused = [e for e in lines if e["action"] == "ListEventSourceMappings"
                       and e["result"] == "InvalidSignatureException"]
            return (mine, len(refused)) if ("GetEventSourceMapping", "AKIDESMTEST", "ok") in mine and refused \
                else None
        mine, refused = wait_until(audited, timeout=30, what="the audit lines")
        self.assertEqual(mine[0], ("CreateEventSourceMapping", "AKIDESMTEST", "ok"))
        self.assertEqual(refused, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
