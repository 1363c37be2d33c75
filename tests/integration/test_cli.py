"""The AWS CLI (v1 or v2) against kinesd with fake credentials."""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from kinesis_helpers import ACCOUNT, REGION, KinesdTestCase, unique_name

AWS = shutil.which("aws")


class CliTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        if AWS is None:
            raise AssertionError("the AWS CLI (aws) is not on PATH; the CLI suite needs it")
        super().setUpClass()
        cls.scratch = tempfile.mkdtemp(prefix="kinesd-cli-")
        cls.env = dict(os.environ)
        cls.env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            # Keep the developer's own profiles, pager and metadata lookups out.
            "AWS_CONFIG_FILE": os.path.join(cls.scratch, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(cls.scratch, "credentials"),
            "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
        })
        cls.env.pop("AWS_PROFILE", None)
        cls.env.pop("AWS_SESSION_TOKEN", None)
        version = subprocess.run([AWS, "--version"], capture_output=True, text=True, env=cls.env,
                                 timeout=60)
        match = re.search(r"aws-cli/(\d+)\.", version.stdout + version.stderr)
        if not match:
            raise AssertionError("cannot tell the AWS CLI version from %r" % (version.stdout + version.stderr))
        cls.major = int(match.group(1))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, ignore_errors=True)
        super().tearDownClass()

    def aws(self, *args, check=True):
        command = [AWS, "--endpoint-url", self.server.endpoint, "--output", "json", "kinesis"] + list(args)
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=300)
        if check:
            self.assertEqual(done.returncode, 0, "%s\nstdout: %s\nstderr: %s"
                             % (" ".join(args), done.stdout, done.stderr))
        return done

    def aws_json(self, *args):
        out = self.aws(*args).stdout
        return json.loads(out) if out.strip() else None

    def raw_data_args(self):
        # v2 reads blob arguments as base64 unless told otherwise; v1 takes them raw.
        return ["--cli-binary-format", "raw-in-base64-out"] if self.major >= 2 else []

    def test_stream_life_cycle(self):
        name = unique_name("cli")
        self.aws("create-stream", "--stream-name", name, "--shard-count", "2")
        self.aws("wait", "stream-exists", "--stream-name", name)

        listed = self.aws_json("list-streams")
        self.assertIn(name, listed["StreamNames"])

        summary = self.aws_json("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamStatus"], "ACTIVE")
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertEqual(summary["StreamARN"],
                         "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, ACCOUNT, name))

        shards = self.aws_json("list-shards", "--stream-name", name)["Shards"]
        self.assertEqual([s["ShardId"] for s in shards], ["shardId-000000000000", "shardId-000000000001"])

        text = "hello from the cli"
        put = self.aws_json("put-record", "--stream-name", name, "--partition-key", "cli-key",
                            "--data", text, *self.raw_data_args())
        self.assertIn(put["ShardId"], [s["ShardId"] for s in shards])
        self.assertRegex(put["SequenceNumber"], r"^[1-9]\d*$")

        iterator = self.aws_json("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
                                 "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        records = self.aws_json("get-records", "--shard-iterator", iterator)
        self.assertEqual(len(records["Records"]), 1)
        record = records["Records"][0]
        self.assertEqual(base64.b64decode(record["Data"]), text.encode())
        self.assertEqual(record["PartitionKey"], "cli-key")
        self.assertEqual(record["SequenceNumber"], put["SequenceNumber"])
        self.assertIn("NextShardIterator", records)

        self.aws("delete-stream", "--stream-name", name)
        self.aws("wait", "stream-not-exists", "--stream-name", name)
        self.assertNotIn(name, self.aws_json("list-streams")["StreamNames"])

    def test_error_reaches_the_cli(self):
        name = unique_name("missing")
        done = self.aws("describe-stream", "--stream-name", name, check=False)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ResourceNotFoundException", done.stderr)
        self.assertIn("Stream %s under account %s not found." % (name, ACCOUNT), done.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
