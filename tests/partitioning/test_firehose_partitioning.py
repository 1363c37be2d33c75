"""Firehose processors and dynamic partitioning against the real kinesd, with
boto3's firehose and kinesis clients; objects are read back from the
S3-compatible server of the Firehose suites.

- MetadataExtraction (jq) partitions JSON records into
  data/customer=!{partitionKeyFromQuery:customer}/: each object under a
  prefix holds exactly that customer's records.
- Records the query cannot place go to ErrorOutputPrefix with
  error-output-type partitioning-failed, as JSON error documents.
- AppendDelimiterToRecord with and without its Delimiter; RecordDeAggregation
  JSON and DELIMITED.
- KPL aggregates built by aws-kinesis-agg (npm), put to a Kinesis stream that
  feeds a delivery stream: every user record lands once.
- Validation errors of Create/UpdateDestination.
- kill -9 while partitioned delivery runs loses no acknowledged record.
"""
import base64
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from firehose_helpers import (DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase,  # noqa: E402
                              bucket_arn)
from kinesis_helpers import unique_name, wait_until  # noqa: E402

AGGREGATE_JS = os.path.join(HERE, "js", "aggregate.js")
ERROR_PREFIX = "errors/!{firehose:error-output-type}/"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def processors(*items):
    return {"Enabled": True, "Processors": [
        {"Type": t, "Parameters": [{"ParameterName": k, "ParameterValue": v} for k, v in params.items()]}
        if params else {"Type": t} for t, params in items]}


def query_processor(query):
    return ("MetadataExtraction", {"MetadataExtractionQuery": query, "JsonParsingEngine": "JQ-1.6"})


NEWLINE = ("AppendDelimiterToRecord", {})
PARTITIONING = {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}}


def lines(objects):
    return [line for _, body in objects for line in body.decode().split("\n") if line]


class PartitioningTest(FirehoseTestCase):

    def create_partitioned(self, bucket, query, prefix, extra=(), size_mb=64, interval=1, **destination):
        return self.create_direct(
            bucket, size_mb=size_mb, interval=interval, Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX,
            DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(*extra, query_processor(query), NEWLINE), **destination)

    def wait_lines(self, bucket, prefix, count):
        def enough():
            objects = self.objects(bucket, prefix=prefix)
            return objects if len(lines(objects)) >= count else None
        return wait_until(enough, "%d records under s3://%s/%s" % (count, bucket, prefix), DELIVERY_TIMEOUT, 0.25)

    def test_query_partitions_records_by_customer(self):
        bucket = self.new_bucket()
        name = self.create_partitioned(bucket, "{customer: .customer}", "data/customer=!{partitionKeyFromQuery:customer}/")
        customers = ["alpha", "beta", "gamma"]
        records = [json.dumps({"customer": customers[i % 3], "n": i}) for i in range(90)]
        self.put_batch(name, [r.encode() for r in records])
        self.wait_lines(bucket, "data/", len(records))
        for customer in customers:
            objects = self.objects(bucket, prefix="data/customer=%s/" % customer)
            self.assertTrue(objects, customer)
            got = lines(objects)
            want = [r for r in records if json.loads(r)["customer"] == customer]
            self.assertEqual(sorted(got), sorted(want))
        self.assertEqual(self.keys(bucket, "errors/"), [])

    def test_unplaceable_records_go_to_partitioning_failed(self):
        bucket = self.new_bucket()
        name = self.create_partitioned(bucket, "{customer: .customer}", "data/!{partitionKeyFromQuery:customer}/")
        good = [json.dumps({"customer": "c1", "n": i}) for i in range(5)]
        bad = ["not json at all", json.dumps({"other": 1}), json.dumps({"customer": 42})]
        self.put_batch(name, [r.encode() for r in good + bad])
        self.wait_lines(bucket, "data/c1/", len(good))
        objects = self.wait_lines(bucket, "errors/partitioning-failed/", len(bad))
        docs = [json.loads(line) for line in lines(objects)]
        self.assertEqual(sorted(base64.b64decode(d["rawData"]).decode() for d in docs), sorted(bad))
        for d in docs:
            for field in ("attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
                          "attemptEndingTimestamp"):
                self.assertIn(field, d)
        self.assertEqual(sorted(lines(self.objects(bucket, prefix="data/"))), sorted(good))

    def test_two_keys_and_json_deaggregation(self):
        bucket = self.new_bucket()
        name = self.create_partitioned(
            bucket, "{region: .region, kind: .kind}",
            "d/!{partitionKeyFromQuery:region}/!{partitionKeyFromQuery:kind}/",
            extra=[("RecordDeAggregation", {"SubRecordType": "JSON"})])
        subs = [{"region": r, "kind": k, "n": i} for i, (r, k) in
                enumerate([("eu", "a"), ("us", "b"), ("eu", "b"), ("us", "a")] * 6)]
        # Three JSON objects per Firehose record, without and with newlines between them.
        payloads = []
        for i in range(0, len(subs), 3):
            sep = "" if i % 2 else "\n"
            payloads.append(sep.join(json.dumps(s) for s in subs[i:i + 3]).encode())
        self.put_batch(name, payloads)
        self.wait_lines(bucket, "d/", len(subs))
        for region in ("eu", "us"):
            for kind in ("a", "b"):
                got = [json.loads(line) for line in lines(self.objects(bucket, prefix="d/%s/%s/" % (region, kind)))]
                want = [s for s in subs if s["region"] == region and s["kind"] == kind]
                self.assertEqual(sorted(got, key=lambda s: s["n"]), want)


class ActivePartitionLimitTest(FirehoseTestCase):
    """Past the active-partition limit (500 on AWS; 3 here), records of new
    partitions go to the error prefix while the open ones keep theirs."""

    kinesd_args = ("--firehose-max-active-partitions", "3")

    def test_records_past_the_limit_go_to_the_error_prefix(self):
        bucket = self.new_bucket()
        # A long interval keeps every partition active until the flush at stop.
        name = self.create_direct(
            bucket, size_mb=64, interval=900, Prefix="data/!{partitionKeyFromQuery:c}/",
            ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(query_processor("{c: .c}"), NEWLINE))
        wait_until(lambda: self.describe(name)["DeliveryStreamStatus"] == "ACTIVE", "ACTIVE", 60)
        records = [json.dumps({"c": "c%d" % (i % 5), "n": i}) for i in range(20)]
        self.put_batch(name, [r.encode() for r in records])
        self.server.stop()  # SIGTERM flushes every open buffer
        try:
            placed = lines(self.objects(bucket, prefix="data/"))
            self.assertEqual(sorted(placed), sorted(r for r in records if json.loads(r)["c"] in ("c0", "c1", "c2")))
            docs = [json.loads(line) for line in lines(self.objects(bucket, prefix="errors/partitioning-failed/"))]
            self.assertEqual(sorted(base64.b64decode(d["rawData"]).decode() for d in docs),
                             sorted(r for r in records if json.loads(r)["c"] in ("c3", "c4")))
            self.assertTrue(all("ActivePartitions" in d["errorCode"] for d in docs), docs)
        finally:
            self.server.start()
            self.connect()


class ProcessorsTest(FirehoseTestCase):

    def test_append_delimiter_default_and_custom(self):
        bucket = self.new_bucket()
        plain = self.create_direct(bucket, interval=1, Prefix="nl/",
                                   ProcessingConfiguration=processors(NEWLINE))
        custom = self.create_direct(bucket, interval=1, Prefix="semi/", ProcessingConfiguration=processors(
            ("AppendDelimiterToRecord", {"Delimiter": b64(";")})))
        self.put_batch(plain, [b"a", b"b", b"c"])
        self.put_batch(custom, [b"x", b"y"])
        body = b"".join(b for _, b in self.wait_for_bytes(bucket, 6, prefix="nl/"))
        self.assertEqual(body, b"a\nb\nc\n")
        body = b"".join(b for _, b in self.wait_for_bytes(bucket, 4, prefix="semi/"))
        self.assertEqual(body, b"x;y;")

    def test_delimited_deaggregation(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=1, ProcessingConfiguration=processors(
            ("RecordDeAggregation", {"SubRecordType": "DELIMITED", "Delimiter": b64("####")}), NEWLINE))
        self.put_batch(name, [b"one####two####three", b"four####", b"five"])
        objects = self.wait_for_bytes(bucket, len("one two three four five") + 1)
        self.assertEqual(lines(objects), ["one", "two", "three", "four", "five"])


class KplSourceTest(FirehoseTestCase):

    def test_kpl_aggregates_are_delivered_record_by_record(self):
        stream = unique_name("src")
        self.kinesis.create_stream(StreamName=stream, ShardCount=2)
        wait_until(lambda: self.kinesis.describe_stream_summary(StreamName=stream)
                   ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "stream ACTIVE", 60)
        arn = self.kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
        bucket = self.new_bucket()
        name = unique_name("fh")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 1},
                "ProcessingConfiguration": processors(NEWLINE)})
        users = [{"partitionKey": "pk-%d" % (i % 7), "data": "user-record-%03d" % i} for i in range(120)]
        aggregates = []
        for start in range(0, len(users), 40):
            out = subprocess.run(["node", AGGREGATE_JS], input=json.dumps(users[start:start + 40]).encode(),
                                 capture_output=True, check=True, timeout=60).stdout.decode()
            aggregates += [json.loads(line) for line in out.splitlines() if line]
        self.assertTrue(all(base64.b64decode(a["data"])[:4] == b"\xf3\x89\x9a\xc2" for a in aggregates))
        plain = ["plain-%d" % i for i in range(5)]
        for a in aggregates:
            args = {"StreamName": stream, "Data": base64.b64decode(a["data"]), "PartitionKey": a["partitionKey"]}
            if a.get("explicitHashKey"):
                args["ExplicitHashKey"] = a["explicitHashKey"]
            self.kinesis.put_record(**args)
        for p in plain:
            self.kinesis.put_record(StreamName=stream, Data=p.encode(), PartitionKey=p)
        want = [u["data"] for u in users] + plain
        objects = self.wait_for_bytes(bucket, sum(len(w) + 1 for w in want))
        self.assertEqual(sorted(lines(objects)), sorted(want))


class ValidationTest(FirehoseTestCase):

    def create(self, **destination):
        config = {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("b"),
                  "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60}}
        config.update(destination)
        return self.firehose.create_delivery_stream(DeliveryStreamName=unique_name("fh"),
                                                    ExtendedS3DestinationConfiguration=config)

    def rejected(self, **destination):
        with self.assertRaises(self.firehose.exceptions.InvalidArgumentException) as caught:
            self.create(**destination)
        return caught.exception.response["Error"]["Message"]

    def test_partitioning_rules(self):
        q = processors(query_processor("{customer: .customer}"))
        prefix = "p/!{partitionKeyFromQuery:customer}/"
        self.assertIn("ErrorOutputPrefix", self.rejected(
            Prefix=prefix, DynamicPartitioningConfiguration=PARTITIONING, ProcessingConfiguration=q))
        self.assertIn("does not define", self.rejected(
            Prefix="p/!{partitionKeyFromQuery:other}/", ErrorOutputPrefix=ERROR_PREFIX,
            DynamicPartitioningConfiguration=PARTITIONING, ProcessingConfiguration=q))
        self.assertIn("at least one", self.rejected(
            Prefix="p/", ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=q))
        self.assertIn("dynamic partitioning", self.rejected(
            Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, ProcessingConfiguration=q))
        self.assertIn("MetadataExtraction", self.rejected(
            Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING))
        self.assertIn("JQ-1.6", self.rejected(
            Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(("MetadataExtraction", {
                "MetadataExtractionQuery": "{customer: .customer}", "JsonParsingEngine": "JQ-1.5"}))))
        self.assertIn("valid JQ-1.6", self.rejected(
            Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(query_processor("{customer: .customer"))))
        self.assertIn("Zero buffering", self.rejected(
            Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=q, BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 0}))
        # The model's own range for RetryOptions.
        with self.assertRaises(Exception):
            self.create(Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, ProcessingConfiguration=q,
                        DynamicPartitioningConfiguration={"Enabled": True,
                                                          "RetryOptions": {"DurationInSeconds": 7201}})
        self.create(Prefix=prefix, ErrorOutputPrefix=ERROR_PREFIX, ProcessingConfiguration=q,
                    DynamicPartitioningConfiguration=PARTITIONING)

    def test_processor_parameters(self):
        self.assertIn("SubRecordType", self.rejected(ProcessingConfiguration=processors(
            ("RecordDeAggregation", {"SubRecordType": "XML"}))))
        self.assertIn("Delimiter", self.rejected(ProcessingConfiguration=processors(
            ("RecordDeAggregation", {"SubRecordType": "DELIMITED"}))))
        self.assertIn("Base64", self.rejected(ProcessingConfiguration=processors(
            ("RecordDeAggregation", {"SubRecordType": "DELIMITED", "Delimiter": "#$%"}))))
        self.assertIn("not supported", self.rejected(ProcessingConfiguration=processors(
            ("AppendDelimiterToRecord", {"SubRecordType": "JSON"}))))
        self.create(ProcessingConfiguration=processors(
            ("RecordDeAggregation", {"SubRecordType": "DELIMITED", "Delimiter": b64("||")}), NEWLINE))

    def test_partitioning_cannot_be_switched_on_later(self):
        name = unique_name("fh")
        self.firehose.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE_ARN, "BucketARN": bucket_arn("b")})
        wait_until(lambda: self.describe(name)["DeliveryStreamStatus"] == "ACTIVE", "ACTIVE", 60)
        d = self.describe(name)
        with self.assertRaises(self.firehose.exceptions.InvalidArgumentException) as caught:
            self.firehose.update_destination(
                DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"],
                DestinationId=d["Destinations"][0]["DestinationId"],
                ExtendedS3DestinationUpdate={
                    "Prefix": "p/!{partitionKeyFromQuery:c}/", "ErrorOutputPrefix": ERROR_PREFIX,
                    "DynamicPartitioningConfiguration": PARTITIONING,
                    "ProcessingConfiguration": processors(query_processor("{c: .c}"))})
        self.assertIn("cannot be enabled", caught.exception.response["Error"]["Message"])


class PartitionedCrashTest(FirehoseTestCase):

    def test_kill9_during_partitioned_delivery_loses_nothing(self):
        bucket = self.new_bucket()
        name = self.create_direct(
            bucket, size_mb=64, interval=1, Prefix="k/!{partitionKeyFromQuery:p}/", ErrorOutputPrefix=ERROR_PREFIX,
            DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(query_processor("{p: .p}"), NEWLINE))
        acknowledged = []
        for round_ in range(6):
            batch = [json.dumps({"p": "p%d" % (i % 20), "id": "%d-%d" % (round_, i)}) for i in range(200)]
            self.put_batch(name, [b.encode() for b in batch])  # asserts every record was accepted
            acknowledged += batch
            if round_ == 3:
                # Partition objects are being written while this happens.
                self.server.kill9()
                self.server.start()
                self.connect()
        def complete():
            got = set(lines(self.objects(bucket, prefix="k/")))
            return got if got >= set(acknowledged) else None
        got = wait_until(complete, "every acknowledged record in S3", DELIVERY_TIMEOUT, 0.5)
        for key, body in self.objects(bucket, prefix="k/"):
            partition = key.split("/")[1]
            self.assertTrue(all(json.loads(line)["p"] == partition for line in body.decode().split("\n") if line))
        self.assertEqual(got, set(acknowledged))
        self.assertEqual(self.keys(bucket, "errors/"), [])

    def test_written_partition_does_not_checkpoint_past_a_waiting_one(self):
        """One record waits in partition "slow" (a 900 s interval) while
        partition "fast" fills 1 MiB and is written. The checkpoint must stay
        before the waiting record, so a kill -9 then cannot lose it."""
        bucket = self.new_bucket()
        name = self.create_direct(
            bucket, size_mb=1, interval=900, Prefix="h/!{partitionKeyFromQuery:p}/", ErrorOutputPrefix=ERROR_PREFIX,
            DynamicPartitioningConfiguration=PARTITIONING,
            ProcessingConfiguration=processors(query_processor("{p: .p}"), NEWLINE))
        slow = json.dumps({"p": "slow", "id": "waiting"})
        self.put_batch(name, [slow.encode()])
        fast = [json.dumps({"p": "fast", "id": i, "pad": "x" * 1000}) for i in range(1300)]
        self.put_batch(name, [f.encode() for f in fast])
        wait_until(lambda: self.keys(bucket, "h/fast/"), "an object of partition fast", DELIVERY_TIMEOUT, 0.25)
        self.assertEqual(self.keys(bucket, "h/slow/"), [])
        self.server.kill9()
        self.server.start()
        self.server.stop()  # SIGTERM writes every open buffer
        try:
            self.assertEqual(lines(self.objects(bucket, prefix="h/slow/")), [slow])
            self.assertEqual(set(lines(self.objects(bucket, prefix="h/fast/"))), set(fast))
        finally:
            self.server.start()
            self.connect()


if __name__ == "__main__":
    unittest.main(verbosity=2)
