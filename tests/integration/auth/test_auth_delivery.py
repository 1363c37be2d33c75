"""Firehose delivery to S3 with accounts: a delivery stream of a non-default
account, DirectPut or reading a Kinesis stream of its own account, delivers
objects named after the delivery stream's own name (the account is not part
of it)."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from firehose_helpers import S3_KEY, S3Server, bucket_arn  # noqa: E402
from kinesis_helpers import wait_until  # noqa: E402
from kinesd_server import KinesdServer  # noqa: E402
from test_auth import BOB, REGION, client, credentials_text, unique  # noqa: E402


class DeliveryWithAccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="kinesd-auth-delivery-")
        creds = os.path.join(cls.scratch, "credentials")
        with open(creds, "w") as f:
            f.write(credentials_text())
        cls.s3_server = S3Server()
        cls.s3 = cls.s3_server.client()
        try:
            cls.server = KinesdServer(extra_args=[
                "--credentials-file", creds, "--s3-endpoint", cls.s3_server.endpoint,
                "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY])
        except Exception:
            cls.s3_server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.s3_server.close()
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def keys(self, bucket):
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    def body(self, bucket, key):
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def destination(self, bucket):
        return {"RoleARN": "arn:aws:iam::%s:role/firehose" % BOB["account"], "BucketARN": bucket_arn(bucket),
                "Prefix": "out/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}

    def test_direct_put(self):
        bucket = unique("b")
        self.s3_server.create_bucket(bucket)
        fb = client(self.server, BOB, "firehose")
        name = unique("direct")
        fb.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=self.destination(bucket))
        fb.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"one "}, {"Data": b"two"}])
        keys = wait_until(lambda: self.keys(bucket), "an object in %s" % bucket, 120, 0.25)
        self.assertRegex(keys[0], r"^out/\d{4}/\d\d/\d\d/\d\d/%s-1-" % name)
        self.assertEqual(b"".join(self.body(bucket, k) for k in keys), b"one two")

    def test_kinesis_source_of_the_same_account(self):
        bucket = unique("b")
        self.s3_server.create_bucket(bucket)
        kb, fb = client(self.server, BOB), client(self.server, BOB, "firehose")
        source = unique("src")
        kb.create_stream(StreamName=source, ShardCount=1)
        kb.get_waiter("stream_exists").wait(StreamName=source, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        name = unique("from-kinesis")
        fb.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, BOB["account"], source),
                "RoleARN": "arn:aws:iam::%s:role/firehose" % BOB["account"]},
            ExtendedS3DestinationConfiguration=self.destination(bucket))
        wait_until(lambda: fb.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] == "ACTIVE", "ACTIVE", 60, 0.2)
        # The delivery stream reads from LATEST of its creation: keep putting
        # until something arrives, then check that all of it is Bob's.
        def delivered():
            kb.put_record(StreamName=source, Data=b"bob;", PartitionKey="k")
            return self.keys(bucket)
        keys = wait_until(delivered, "an object in %s" % bucket, 120, 0.5)
        self.assertRegex(keys[0], r"^out/\d{4}/\d\d/\d\d/\d\d/%s-1-" % name)
        data = b"".join(self.body(bucket, k) for k in keys)
        self.assertTrue(data and set(data.split(b";")) <= {b"bob", b""}, data)


if __name__ == "__main__":
    unittest.main(verbosity=2)
