"""The example pipeline (examples/pipeline) end to end on the host, with real Lambda runtimes.

    curl producer -> orders -> (event source mapping) consumer function -> orders-enriched
                  -> orders-to-s3 (Lambda transformation: transform function) -> S3 rawdata/

The functions are the example's own files run by the Runtime Interface Emulator through awslambdaric;
the streams, mapping and delivery stream are made by the example's setup.sh with the AWS CLI; orders are
posted by its producer.sh with curl. kinesd is killed with SIGKILL halfway: every order it acknowledged
must still land under rawdata/ (duplicates are allowed, as on AWS), and test orders, which the transform
function drops, must not.
"""
import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

from firehose_helpers import S3_KEY, S3Server  # noqa: E402
from kinesd_server import KinesdServer, free_port  # noqa: E402
from kinesis_helpers import make_client  # noqa: E402
from lambda_runtime import LambdaRuntime, have_runtime  # noqa: E402

EXAMPLE = os.path.join(ROOT, "examples", "pipeline")
BUCKET = "pipeline"
TIMEOUT = 180


def example_env(endpoint, **extra):
    env = dict(os.environ, KINESD_ENDPOINT=endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", BUCKET=BUCKET)
    env.pop("AWS_PROFILE", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class PipelineTest(unittest.TestCase):
    def setUp(self):
        reason = have_runtime()
        if reason:
            self.fail(reason)
        self.s3_server = S3Server()
        self.addCleanup(self.s3_server.close)
        self.s3_server.create_bucket(BUCKET)
        self.s3 = self.s3_server.client()

        # kinesd's port is chosen first: the consumer function writes back to it.
        self.server = KinesdServer(start=False, extra_args=[])
        self.server.port = free_port()
        self.addCleanup(self.server.close)
        endpoint = "http://127.0.0.1:%d" % self.server.port
        function_env = {"KINESIS_ENDPOINT": endpoint, "OUTPUT_STREAM": "orders-enriched",
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                        # A call to a killed kinesd fails fast rather than holding the runtime.
                        "AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"}
        self.consumer = LambdaRuntime(os.path.join(EXAMPLE, "functions", "consumer"), "app.handler",
                                      env=function_env, timeout=20, function_name="consumer").start()
        self.addCleanup(self.consumer.close)
        self.transform = LambdaRuntime(os.path.join(EXAMPLE, "functions", "transform"), "app.handler",
                                       timeout=20, function_name="transform").start()
        self.addCleanup(self.transform.close)
        self.server.extra_args = [
            "--s3-endpoint", self.s3_server.endpoint, "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY,
            "--function", "consumer=" + self.consumer.invoke_url,
            "--function", "transform=" + self.transform.invoke_url]
        self.server.start()
        self.assertEqual(endpoint, self.server.endpoint, "kinesd did not take the port the consumer was given")
        self.kinesis = make_client(self.server.endpoint, "kinesis")

    def run_example(self, script, **env):
        done = subprocess.run(["sh", os.path.join(EXAMPLE, script)], env=example_env(self.server.endpoint, **env),
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(0, done.returncode, "%s failed:\n%s\n%s" % (script, done.stdout, done.stderr))
        return done.stdout

    def produce(self, first, count):
        out = self.run_example("producer.sh", FIRST=first, COUNT=count)
        sequences = [line for line in out.split() if line.isdigit()]
        self.assertEqual(count, len(sequences), "every order should be acknowledged:\n" + out)
        return set(range(first, first + count))

    def delivered(self):
        """Order ids found under rawdata/, and whether anything landed elsewhere."""
        orders, lines = set(), []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix="rawdata/"):
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                for line in body.decode().splitlines():
                    if line:
                        row = json.loads(line)
                        lines.append(row)
                        orders.add(row["order"])
        return orders, lines

    def test_orders_flow_through_both_functions_across_a_kill(self):
        self.run_example("setup.sh", BUFFER_SECONDS=1)
        acknowledged = self.produce(1, 150)
        # Test orders go through the consumer but the transform function drops them.
        for i in range(1, 4):
            self.kinesis.put_record(StreamName="orders", PartitionKey="tests",
                                    Data=json.dumps({"id": 100000 + i, "customer": "qa", "test": True}).encode())

        # Kill -9 once something has come out the far end, so the kill lands mid-pipeline.
        deadline = time.monotonic() + TIMEOUT
        while not self.delivered()[0] and time.monotonic() < deadline:
            time.sleep(0.5)
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        # The emulator serves one invocation at a time: let the one kinesd left behind finish first.
        time.sleep(3)
        self.server.start()
        acknowledged |= self.produce(151, 150)

        missing = acknowledged
        while time.monotonic() < deadline:
            orders, lines = self.delivered()
            missing = acknowledged - orders
            if not missing:
                break
            time.sleep(1)
        self.assertFalse(missing, "%d acknowledged orders never reached rawdata/: %s"
                         % (len(missing), sorted(missing)[:20]))
        self.assertFalse(orders - acknowledged, "orders that were never produced: %s" % sorted(orders - acknowledged))
        for row in lines:
            # Written by the transform function from what the consumer function computed.
            self.assertIsNotNone(row["total"], row)
            self.assertTrue(row["customer"].startswith("customer-"), row)
        self.assertTrue(self.consumer.running() and self.transform.running(), "a runtime died")


if __name__ == "__main__":
    unittest.main()
