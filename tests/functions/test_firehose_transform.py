"""Firehose data transformation with a real function: kinesd invokes Python
handlers (tests/functions/handlers) running under the Runtime Interface
Emulator and awslambdaric, and delivers what they answer to an S3-compatible
server, read back with boto3.

Covered: Ok records transformed into the destination, Dropped records
absent, ProcessingFailed records and the records of a function that raises or
answers unknown recordIds in processing-failed/ as error documents, the
transformation event of a Kinesis stream source with kinesisRecordMetadata,
and the processor's validation at CreateDeliveryStream and UpdateDestination.
A kill -9 while the transformed batch is on its way to S3 loses nothing: the
records are transformed again after the restart. Records per second through
a transforming stream are printed, not asserted.
"""
import base64
import json
import os
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from firehose_helpers import (DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase, HoldingProxy, S3Server,  # noqa: E402
                              bucket_arn)
from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import (ACCOUNT, REGION, create_stream, stream_arn, unique_name,  # noqa: E402
                             wait_until)
from lambda_runtime import LambdaRuntime, have_runtime  # noqa: E402

HANDLERS = os.path.join(HERE, "handlers")


def function_arn(name, qualifier=None):
    arn = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, name)
    return arn + (":" + qualifier if qualifier else "")


def lambda_processing(name, retries=None, newline=True, **extra):
    params = [{"ParameterName": "LambdaArn", "ParameterValue": function_arn(name)}]
    if retries is not None:
        params.append({"ParameterName": "NumberOfRetries", "ParameterValue": str(retries)})
    for key, value in extra.items():
        params.append({"ParameterName": key, "ParameterValue": value})
    processors = [{"Type": "Lambda", "Parameters": params}]
    if newline:
        processors.append({"Type": "AppendDelimiterToRecord"})
    return {"Enabled": True, "Processors": processors}


def lines(objects):
    return [line for _, body in objects for line in body.split(b"\n") if line]


class TransformTest(FirehoseTestCase):
    runtimes = {}

    @classmethod
    def setUpClass(cls):
        missing = have_runtime()
        if missing:
            raise RuntimeError(missing)
        cls.event_log = tempfile.NamedTemporaryFile(prefix="transform-events-", suffix=".jsonl", delete=False).name
        cls.runtimes = {}
        try:
            cls.runtimes["transform"] = LambdaRuntime(HANDLERS, "transform.handler",
                                                      env={"EVENT_LOG": cls.event_log}).start()
            cls.runtimes["raises"] = LambdaRuntime(HANDLERS, "raises.handler").start()
            cls.runtimes["wrong_ids"] = LambdaRuntime(HANDLERS, "wrong_ids.handler").start()
            cls.runtimes["slow"] = LambdaRuntime(HANDLERS, "slow.handler", timeout=1).start()
            args = []
            for name, runtime in cls.runtimes.items():
                args += ["--function", "%s=%s" % (name, runtime.invoke_url)]
            cls.kinesd_args = tuple(args)
            super().setUpClass()
        except Exception:
            cls.close_runtimes()
            raise

    @classmethod
    def close_runtimes(cls):
        for runtime in cls.runtimes.values():
            runtime.close()
        cls.runtimes = {}

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.close_runtimes()
            os.unlink(cls.event_log)

    def tearDown(self):
        for name, runtime in self.runtimes.items():
            self.assertTrue(runtime.running(), "the %s runtime died:\n%s" % (name, runtime.log()[-4000:]))

    def events(self):
        with open(self.event_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_for_lines(self, bucket, count, prefix=""):
        def enough():
            found = lines(self.objects(bucket, prefix=prefix))
            return found if len(found) >= count else None
        return wait_until(enough, "%d lines in s3://%s/%s" % (count, bucket, prefix), DELIVERY_TIMEOUT, 0.25)

    def error_documents(self, bucket, count):
        return [json.loads(line) for line in self.wait_for_lines(bucket, count, "processing-failed/")]

    # -- tests --

    def test_ok_dropped_and_failed_records(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
                                  ProcessingConfiguration=lambda_processing("transform"))
        ok = [b"alpha-%d" % i for i in range(20)]
        dropped = [b"drop:%d" % i for i in range(5)]
        failed = [b"fail:%d" % i for i in range(3)]
        mixed = []
        for i in range(20):
            mixed.append(ok[i])
            if i < 5:
                mixed.append(dropped[i])
            if i < 3:
                mixed.append(failed[i])
        before = int(time.time() * 1000)
        self.put_batch(name, mixed)

        delivered = self.wait_for_lines(bucket, len(ok), "2")  # the time prefix: yyyy/...
        self.assertEqual(sorted(delivered), sorted(b"T(" + p.upper() + b")" for p in ok))
        docs = [json.loads(line) for line in self.wait_for_lines(bucket, len(failed), "errors/processing-failed/")]
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(failed))
        for d in docs:
            self.assertEqual(d["errorCode"], "Lambda.ProcessingFailedStatus")
            self.assertEqual(d["lambdaArn"], function_arn("transform"))
            self.assertEqual(d["attemptsMade"], 1)
            self.assertGreaterEqual(d["arrivalTimestamp"], before - 1000)
            self.assertGreaterEqual(d["attemptEndingTimestamp"], d["arrivalTimestamp"])
            self.assertTrue(d["errorMessage"])
        # Nothing dropped anywhere, nothing beyond these in the bucket.
        everything = lines(self.objects(bucket))
        self.assertEqual(len(everything), len(ok) + len(failed))
        self.assertFalse([line for line in everything if b"DROP" in line or b"drop:" in line])

        seen = [e for e in self.events() if e["deliveryStreamArn"].endswith("/" + name)]
        self.assertTrue(seen)
        event = seen[0]
        self.assertEqual(event["deliveryStreamArn"],
                         "arn:aws:firehose:%s:%s:deliverystream/%s" % (REGION, ACCOUNT, name))
        self.assertEqual(event["region"], REGION)
        self.assertTrue(event["invocationId"])
        self.assertNotIn("sourceKinesisStreamArn", event)
        record = event["records"][0]
        self.assertEqual(set(record), {"recordId", "approximateArrivalTimestamp", "data"})
        self.assertGreaterEqual(record["approximateArrivalTimestamp"], before - 1000)
        ids = [r["recordId"] for e in seen for r in e["records"]]
        self.assertEqual(len(ids), len(set(ids)), "recordIds must be unique")

    def test_function_that_raises_fails_after_retries(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("raises", retries=1))
        payloads = [b"r-%d" % i for i in range(4)]
        self.put_batch(name, payloads)
        docs = self.error_documents(bucket, len(payloads))
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(payloads))
        for d in docs:
            self.assertEqual(d["errorCode"], "Lambda.FunctionError")
            self.assertIn("transformation exploded", d["errorMessage"])
            self.assertEqual(d["attemptsMade"], 2)
            self.assertEqual(d["lambdaArn"], function_arn("raises"))
        # Only error documents: no object outside processing-failed/.
        self.assertEqual([k for k in self.keys(bucket) if not k.startswith("processing-failed/")], [])

    def test_unknown_record_ids_fail_the_invocation(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("wrong_ids", retries=0))
        payloads = [b"w-%d" % i for i in range(3)]
        self.put_batch(name, payloads)
        docs = self.error_documents(bucket, len(payloads))
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(payloads))
        for d in docs:
            self.assertEqual(d["errorCode"], "Lambda.MissingRecordId")
            self.assertEqual(d["attemptsMade"], 1)
        self.assertEqual([k for k in self.keys(bucket) if not k.startswith("processing-failed/")], [])

    def test_function_timeout_fails_records(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("slow", retries=1))
        self.put_batch(name, [b"s-1", b"s-2"])
        docs = self.error_documents(bucket, 2)
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), [b"s-1", b"s-2"])
        for d in docs:
            self.assertEqual(d["errorCode"], "Lambda.FunctionTimedOut")
            self.assertIn("timed out", d["errorMessage"])
            self.assertEqual(d["attemptsMade"], 2)

    def test_unmapped_function_fails_records(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("nobody"))
        self.put_batch(name, [b"x"])
        docs = self.error_documents(bucket, 1)
        self.assertEqual(docs[0]["errorCode"], "Lambda.ResourceNotFound")
        self.assertEqual(base64.b64decode(docs[0]["rawData"]), b"x")

    def test_stream_source_carries_kinesis_metadata(self):
        source = unique_name("src")
        create_stream(self.kinesis, source, shards=2)
        bucket = self.new_bucket()
        name = unique_name("ks")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                "ProcessingConfiguration": lambda_processing("transform"),
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        put = {}
        for i in range(10):
            answer = self.kinesis.put_record(StreamName=source, Data=b"k-%d" % i, PartitionKey="pk-%d" % i)
            put[b"k-%d" % i] = (answer["ShardId"], answer["SequenceNumber"], "pk-%d" % i)
        delivered = self.wait_for_lines(bucket, len(put))
        self.assertEqual(sorted(delivered), sorted(b"T(" + p.upper() + b")" for p in put))

        seen = [e for e in self.events() if e["deliveryStreamArn"].endswith("/" + name)]
        self.assertTrue(seen)
        for event in seen:
            self.assertEqual(event["sourceKinesisStreamArn"], stream_arn(source))
        records = {base64.b64decode(r["data"]): r for e in seen for r in e["records"]}
        self.assertEqual(set(records), set(put))
        for data, (shard, sequence, key) in put.items():
            meta = records[data]["kinesisRecordMetadata"]
            self.assertEqual(meta["shardId"], shard)
            self.assertEqual(meta["sequenceNumber"], sequence)
            self.assertEqual(meta["partitionKey"], key)
            self.assertEqual(meta["subsequenceNumber"], 0)
            self.assertEqual(meta["approximateArrivalTimestamp"], records[data]["approximateArrivalTimestamp"])

    def test_validation(self):
        bucket = self.new_bucket()

        def create(processing):
            self.create_direct(bucket, ProcessingConfiguration=processing)

        bad = [
            {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "NumberOfRetries", "ParameterValue": "2"}]}]},
            lambda_processing("transform", Delimiter="\\n"),
            lambda_processing("transform", retries=301),
            lambda_processing("transform", retries="-1"),
            lambda_processing("transform", BufferSizeInMBs="4"),
            lambda_processing("transform", BufferSizeInMBs="0.1"),
            lambda_processing("transform", BufferIntervalInSeconds="901"),
            {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:s3:::bucket"}]}]},
            {"Enabled": True, "Processors": [
                {"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn",
                                                   "ParameterValue": function_arn("transform")}]}] * 2},
        ]
        for processing in bad:
            with self.subTest(processing=processing):
                self.assertClientError(create, "InvalidArgumentException", processing=processing)
        good = lambda_processing("transform", retries=0, BufferSizeInMBs="0.2", BufferIntervalInSeconds="0",
                                 RoleArn=ROLE_ARN)
        good["Processors"][0]["Parameters"][0]["ParameterValue"] = function_arn("transform", "live")
        name = self.create_direct(bucket, ProcessingConfiguration=good)
        stored = self.describe(name)["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(stored["ProcessingConfiguration"], good)

        version = self.describe(name)["VersionId"]
        with self.assertRaises(Exception) as caught:
            self.firehose.update_destination(
                DeliveryStreamName=name, CurrentDeliveryStreamVersionId=version,
                DestinationId="destinationId-000000000001",
                ExtendedS3DestinationUpdate={"ProcessingConfiguration": lambda_processing("transform", retries=999)})
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidArgumentException")

    def test_throughput(self):
        """Records per second through a transforming stream (printed only)."""
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("transform"))
        count = int(os.environ.get("KINESD_TRANSFORM_RECORDS", "20000"))
        payloads = [b"t-%d-%s" % (i, b"x" * 100) for i in range(count)]
        start = time.monotonic()
        self.put_batch(name, payloads)
        delivered = self.wait_for_lines(bucket, count)
        elapsed = time.monotonic() - start
        self.assertEqual(len(delivered), count)
        print("\nthroughput: %d records of ~110 bytes put and delivered transformed in %.2f s: %.0f records/s"
              % (count, elapsed, count / elapsed), file=sys.stderr)


class TransformCrashTest(FirehoseTestCase):
    """S3 is reached through a proxy that holds uploads: kinesd is killed
    after the function answered and before S3 has the object."""

    @classmethod
    def setUpClass(cls):
        missing = have_runtime()
        if missing:
            raise RuntimeError(missing)
        cls.event_log = tempfile.NamedTemporaryFile(prefix="crash-events-", suffix=".jsonl", delete=False).name
        cls.runtime = LambdaRuntime(HANDLERS, "transform.handler", env={"EVENT_LOG": cls.event_log}).start()
        cls.kinesd_args = ("--function", "transform=" + cls.runtime.invoke_url)
        cls.s3_server = S3Server()
        cls.s3 = cls.s3_server.client()
        cls.proxy = HoldingProxy(cls.s3_server.port)
        cls.server = None
        try:
            cls.server = KinesdServer(extra_args=cls.server_args(cls.proxy.endpoint))
        except Exception:
            cls.proxy.close()
            cls.s3_server.close()
            cls.runtime.close()
            raise
        cls.connect()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.release()
        try:
            super().tearDownClass()
        finally:
            cls.proxy.close()
            cls.runtime.close()
            os.unlink(cls.event_log)

    def invoked_with(self, name):
        with open(self.event_log) as f:
            events = [json.loads(line) for line in f if line.strip()]
        return [base64.b64decode(r["data"]) for e in events if e["deliveryStreamArn"].endswith("/" + name)
                for r in e["records"]]

    def test_kill9_after_transformation_redelivers(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=lambda_processing("transform"))
        payloads = [b"c-%d" % i for i in range(50)]
        self.put_batch(name, payloads)
        wait_until(lambda: len(self.invoked_with(name)) >= len(payloads), "the function to see every record",
                   DELIVERY_TIMEOUT, 0.1)
        self.assertTrue(self.proxy.connected.wait(DELIVERY_TIMEOUT), "no upload was attempted")
        self.assertEqual(self.keys(bucket), [])  # held: S3 has seen nothing
        self.server.kill9()
        self.proxy.release(forward_held=False)
        self.server.start()
        self.connect()
        delivered = wait_until(lambda: (lambda found: found if len(set(found)) >= len(payloads) else None)(
            lines(self.objects(bucket))), "every transformed record", DELIVERY_TIMEOUT, 0.25)
        self.assertEqual(set(delivered), {b"T(" + p.upper() + b")" for p in payloads})
        # Transformed once before the crash and again after it.
        self.assertEqual(sorted(self.invoked_with(name)), sorted(payloads * 2))


if __name__ == "__main__":
    unittest.main(verbosity=2)
