"""curl as an API Gateway integration would call Kinesis: POST /, JSON 1.1,
X-Amz-Target, base64 Data, no signature. Over HTTP/1.1 and h2c."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from kinesis_helpers import JSON_TYPE, KinesdTestCase, unique_name

CURL = shutil.which("curl")


class CurlTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        if CURL is None:
            raise AssertionError("curl is not installed; the curl suite needs it on PATH")
        super().setUpClass()

    def curl(self, action, body, http2=False):
        """Returns (status, http version, headers text, parsed body)."""
        with tempfile.TemporaryDirectory() as scratch:
            headers_path = os.path.join(scratch, "headers")
            body_path = os.path.join(scratch, "body")
            command = [CURL, "-sS", "-X", "POST", self.server.endpoint + "/",
                       "-H", "Content-Type: " + JSON_TYPE,
                       "-H", "X-Amz-Target: Kinesis_20131202." + action,
                       "--data-binary", json.dumps(body),
                       "-D", headers_path, "-o", body_path,
                       "-w", "%{http_code} %{http_version}", "--max-time", "60"]
            if http2:
                command.insert(1, "--http2-prior-knowledge")
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
            self.assertEqual(done.returncode, 0, done.stderr)
            status, version = done.stdout.split()
            with open(headers_path) as f:
                headers = f.read()
            with open(body_path, "rb") as f:
                raw = f.read()
        return int(status), version, headers, json.loads(raw) if raw else None

    def create_active_stream(self):
        name = unique_name("curl")
        status, _, _, _ = self.curl("CreateStream", {"StreamName": name, "ShardCount": 1})
        self.assertEqual(status, 200)
        for _ in range(600):
            status, _, _, body = self.curl("DescribeStreamSummary", {"StreamName": name})
            self.assertEqual(status, 200, body)
            if body["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                return name
            time.sleep(0.1)
        self.fail("stream %s never became ACTIVE" % name)

    def test_put_record_unsigned(self):
        name = self.create_active_stream()
        data = base64.b64encode(b"hello from curl").decode()
        status, version, headers, body = self.curl(
            "PutRecord", {"StreamName": name, "Data": data, "PartitionKey": "gateway"})
        self.assertEqual(status, 200, body)
        self.assertEqual(version, "1.1")
        self.assertIn("x-amzn-requestid:", headers.lower())
        self.assertEqual(body["ShardId"], "shardId-000000000000")
        self.assertRegex(body["SequenceNumber"], r"^[1-9]\d*$")

        status, _, _, body = self.curl("GetShardIterator", {
            "StreamName": name, "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})
        self.assertEqual(status, 200, body)
        status, _, _, page = self.curl("GetRecords", {"ShardIterator": body["ShardIterator"]})
        self.assertEqual(status, 200, page)
        self.assertEqual([r["Data"] for r in page["Records"]], [data])
        self.assertEqual(page["Records"][0]["PartitionKey"], "gateway")
        self.assertIsInstance(page["Records"][0]["ApproximateArrivalTimestamp"], (int, float))

    def test_h2c_prior_knowledge(self):
        name = self.create_active_stream()
        data = base64.b64encode(b"over h2c").decode()
        status, version, headers, body = self.curl(
            "PutRecord", {"StreamName": name, "Data": data, "PartitionKey": "h2"}, http2=True)
        self.assertEqual(status, 200, body)
        self.assertEqual(version, "2")
        self.assertIn("x-amzn-requestid:", headers.lower())
        self.assertIn("SequenceNumber", body)
        status, version, _, body = self.curl("DescribeStream", {"StreamName": unique_name("missing")},
                                             http2=True)
        self.assertEqual((status, version), (400, "2"))
        self.assertEqual(body["__type"], "ResourceNotFoundException")


if __name__ == "__main__":
    unittest.main(verbosity=2)
