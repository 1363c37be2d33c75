"""Lambda transformation, dynamic partitioning by the function's keys and
source-record backup together, on a delivery stream reading a Kinesis
stream: kinesd invokes a real function (tests/functions/handlers/transform.py
under the Runtime Interface Emulator), splits what it answers into objects by
metadata.partitionKeys (!{partitionKeyFromLambda:initial} in the Prefix),
writes the records it failed under the ErrorOutputPrefix and every source
record, as put, to the backup bucket. Everything is read back with boto3
from an S3-compatible server. The same function in front of an HTTP
endpoint (a checking receiver on loopback) with S3BackupMode AllData: the
endpoint gets the transformed records, the backup bucket the source ones.
"""
import base64
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "httpdest"))
sys.path.insert(0, HERE)

from firehose_helpers import DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase, bucket_arn  # noqa: E402
from http_receiver import Receiver  # noqa: E402
from kinesis_helpers import ACCOUNT, REGION, create_stream, stream_arn, unique_name, wait_until  # noqa: E402
from lambda_runtime import LambdaRuntime, have_runtime  # noqa: E402

HANDLERS = os.path.join(HERE, "handlers")
FUNCTION_ARN = "arn:aws:lambda:%s:%s:function:transform" % (REGION, ACCOUNT)


def lines(objects):
    return [line for _, body in objects for line in body.split(b"\n") if line]


class TransformPartitionBackupTest(FirehoseTestCase):
    runtime = None
    receiver = None

    @classmethod
    def setUpClass(cls):
        missing = have_runtime()
        if missing:
            raise RuntimeError(missing)
        cls.runtime = LambdaRuntime(HANDLERS, "transform.handler").start()
        try:
            cls.receiver = Receiver()
            cls.kinesd_args = ("--function", "transform=%s" % cls.runtime.invoke_url)
            super().setUpClass()
        except Exception:
            if cls.receiver:
                cls.receiver.close()
            cls.runtime.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.close()
            cls.runtime.close()

    def tearDown(self):
        self.assertTrue(self.runtime.running(), "the runtime died:\n%s" % self.runtime.log()[-4000:])

    def wait_for_lines(self, bucket, count, prefix=""):
        def enough():
            found = lines(self.objects(bucket, prefix=prefix))
            return found if len(found) >= count else None
        return wait_until(enough, "%d lines in s3://%s/%s" % (count, bucket, prefix), DELIVERY_TIMEOUT, 0.25)

    def test_lambda_keys_partition_and_source_backup(self):
        source = unique_name("src")
        create_stream(self.kinesis, source, shards=2)
        bucket, backup = self.new_bucket(), self.new_bucket()
        name = unique_name("ks")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                "Prefix": "by-initial/!{partitionKeyFromLambda:initial}/",
                "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1},
                "DynamicPartitioningConfiguration": {"Enabled": True},
                "ProcessingConfiguration": {"Enabled": True, "Processors": [
                    {"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn",
                                                       "ParameterValue": FUNCTION_ARN}]},
                    {"Type": "AppendDelimiterToRecord"}]},
                "S3BackupMode": "Enabled",
                "S3BackupConfiguration": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(backup),
                                          "Prefix": "source/",
                                          "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}})
        wait_until(lambda: self.describe(name)["DeliveryStreamStatus"] == "ACTIVE", "ACTIVE", 60)

        ok = {initial: [b"%s-%d" % (initial, i) for i in range(12)] for initial in (b"a", b"b", b"c")}
        dropped = [b"drop:%d" % i for i in range(4)]
        failed = [b"fail:%d" % i for i in range(3)]
        everything = [p for group in zip(*ok.values()) for p in group] + dropped + failed
        for i, data in enumerate(everything):
            self.kinesis.put_record(StreamName=source, Data=data, PartitionKey="pk-%d" % i)

        # Each initial in objects of its own, under the key the function gave.
        for initial, payloads in ok.items():
            prefix = "by-initial/%s/" % initial.decode()
            found = self.wait_for_lines(bucket, len(payloads), prefix)
            self.assertEqual(sorted(found), sorted(b"T(" + p.upper() + b")" for p in payloads), prefix)
            for key in self.keys(bucket, prefix):
                # kinesd adds the default time prefix after a Prefix without one.
                self.assertRegex(key, r"^by-initial/%s/(\d{4}/\d\d/\d\d/\d\d/)?%s-\d+-" % (initial.decode(), name))
        # The ones the function failed: processing-failed error documents.
        docs = [json.loads(line) for line in self.wait_for_lines(bucket, len(failed), "errors/processing-failed/")]
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(failed))
        for d in docs:
            self.assertEqual(d["errorCode"], "Lambda.ProcessingFailedStatus")
        # The backup: every source record as put, dropped and failed ones too,
        # untransformed.
        backed_up = self.wait_for_lines(backup, len(everything), "source/")
        self.assertEqual(sorted(backed_up), sorted(everything))
        # Nothing else in the destination: dropped records are gone, and
        # no key is unpartitioned.
        all_lines = lines(self.objects(bucket, prefix="by-initial/"))
        self.assertEqual(len(all_lines), sum(len(p) for p in ok.values()))
        for key in self.keys(bucket):
            self.assertTrue(key.startswith("by-initial/") or key.startswith("errors/processing-failed/"), key)

    def test_http_endpoint_gets_transformed_records_and_backup_the_source(self):
        backup = self.new_bucket()
        name = unique_name("fhh")
        self.firehose.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": self.receiver.url, "Name": "receiver"}, "RoleARN": ROLE_ARN,
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [
                {"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": FUNCTION_ARN}]},
                # Lines in the backup; each endpoint record is still one record.
                {"Type": "AppendDelimiterToRecord"}]},
            "S3BackupMode": "AllData",
            "S3Configuration": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(backup), "Prefix": "all/"}})
        self.receiver.expect("arn:aws:firehose:%s:%s:deliverystream/%s" % (REGION, ACCOUNT, name))
        ok = [b"h-%d" % i for i in range(15)]
        failed = [b"fail:%d" % i for i in range(2)]
        dropped = [b"drop:0"]
        everything = ok + failed + dropped
        result = self.firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": p} for p in everything])
        self.assertEqual(result["FailedPutCount"], 0)

        wanted = {b"T(" + p.upper() + b")" for p in ok}
        self.assertTrue(self.receiver.wait_for(
            lambda reqs: wanted <= {r for q in reqs if q.answer == "ok" for r in q.records}, DELIVERY_TIMEOUT),
            "the endpoint did not get every transformed record")
        self.assertEqual(sorted(self.receiver.accepted_records()), sorted(wanted))
        for q in self.receiver.snapshot():
            self.assertEqual(q.problems, [], "request %s broke the specification" % q.request_id)
        # AllData: the source records, as put, the failed and dropped ones too.
        # (The Prefix has no time in it: kinesd adds yyyy/MM/dd/HH/.)
        self.assertEqual(sorted(self.wait_for_lines(backup, len(everything), "all/2")), sorted(everything))
        # Without an ErrorOutputPrefix: <Prefix><error-output-type>/.
        docs = [json.loads(line) for line in self.wait_for_lines(backup, len(failed), "all/processing-failed/")]
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(failed))


if __name__ == "__main__":
    unittest.main(verbosity=2)
