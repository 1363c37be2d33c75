"""SigV4 authentication and accounts: kinesd started with a credentials file of
two profiles in two accounts, driven by boto3, the AWS CLI and raw signed
requests (botocore's own signer) that are then broken in each way AWS
refuses; and the audit log of control-plane calls."""
import datetime
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import boto3  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.config  # noqa: E402
import botocore.credentials  # noqa: E402
import botocore.exceptions  # noqa: E402

from kinesd_server import KinesdServer  # noqa: E402

REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
ALICE = {"profile": "alice", "key": "AKIAALICE0000000001", "secret": "alice/secret+1", "account": "111111111111"}
BOB = {"profile": "bob", "key": "AKIABOB00000000000002", "secret": "bob-secret-2", "account": "222222222222"}
# A profile without aws_account_id: the server's default account.
CAROL = {"profile": "carol", "key": "AKIACAROL0000000003", "secret": "carol-secret-3", "account": None}
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/x-amz-cbor-1.1"
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


def credentials_text():
    out = ["# two accounts and the default one"]
    for p in (ALICE, BOB, CAROL):
        out += ["[%s]" % p["profile"], "aws_access_key_id = %s" % p["key"],
                "aws_secret_access_key = %s" % p["secret"]]
        if p["account"]:
            out.append("aws_account_id = %s" % p["account"])
        out.append("")
    return "\n".join(out)


def client(server, who, service="kinesis"):
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1},
                                    connect_timeout=10, read_timeout=60)
    return boto3.session.Session().client(
        service, endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=who["key"], aws_secret_access_key=who["secret"], config=config)


def unique(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), time.monotonic_ns() % 10 ** 9)


class AuthServerCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="kinesd-auth-")
        cls.creds_path = os.path.join(cls.scratch, "credentials")
        with open(cls.creds_path, "w") as f:
            f.write(credentials_text())
        cls.audit_path = os.path.join(cls.scratch, "audit.log")
        cls.server = KinesdServer(extra_args=["--credentials-file", cls.creds_path, "--audit-log", cls.audit_path])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        shutil.rmtree(cls.scratch, ignore_errors=True)

    # -- raw requests ----------------------------------------------------------

    def signed(self, who, target, body, content_type=JSON_TYPE, when=None, service="kinesis"):
        """Headers botocore's SigV4 signer gives the request, signed at `when`."""
        url = self.server.endpoint + "/"
        req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers={
            "Content-Type": content_type, "X-Amz-Target": target})
        signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(who["key"], who["secret"]), service,
                                         REGION)
        if when is None:
            signer.add_auth(req)
        else:
            # botocore reads the time from datetime.datetime.utcnow.
            real = datetime.datetime

            class Frozen(real):
                @classmethod
                def utcnow(cls):
                    return when

                @classmethod
                def now(cls, tz=None):
                    return when.replace(tzinfo=tz) if tz else when
            botocore.auth.datetime.datetime = Frozen
            try:
                signer.add_auth(req)
            finally:
                botocore.auth.datetime.datetime = real
        return dict(req.headers.items())

    def post(self, headers, body):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def assert_refused(self, headers, body, error_type, message):
        status, resp_headers, payload = self.post(headers, body)
        self.assertEqual(status, 400, payload)
        self.assertEqual(resp_headers.get("x-amzn-ErrorType"), error_type)
        doc = json.loads(payload)
        self.assertEqual(doc["__type"], error_type)
        if hasattr(message, "match"):
            self.assertRegex(doc["message"], message)
        else:
            self.assertEqual(doc["message"], message)
        self.assert_still_serving()

    def assert_still_serving(self):
        names = client(self.server, ALICE).list_streams()["StreamNames"]
        self.assertIsInstance(names, list)


class SignatureTest(AuthServerCase):
    TARGET = "Kinesis_20131202.ListStreams"

    def test_real_clients_with_the_right_key_are_accepted(self):
        for who in (ALICE, BOB, CAROL):
            self.assertIn("StreamNames", client(self.server, who).list_streams())
        status, _, payload = self.post(self.signed(ALICE, self.TARGET, b"{}"), b"{}")
        self.assertEqual(status, 200, payload)

    def test_firehose_calls_are_checked_too(self):
        out = client(self.server, BOB, "firehose").list_delivery_streams()
        self.assertEqual(out["DeliveryStreamNames"], [])
        headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"}
        self.assert_refused(headers, b"{}", "MissingAuthenticationTokenException", "Missing Authentication Token")

    def test_no_authorization(self):
        headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": self.TARGET}
        self.assert_refused(headers, b"{}", "MissingAuthenticationTokenException", "Missing Authentication Token")

    def test_missing_parts(self):
        good = self.signed(ALICE, self.TARGET, b"{}")
        auth = good["Authorization"]
        credential = re.search(r"Credential=[^, ]+", auth).group(0)
        signed_headers = re.search(r"SignedHeaders=[^, ]+", auth).group(0)
        signature = re.search(r"Signature=[0-9a-f]+", auth).group(0)
        cases = [
            ("AWS4-HMAC-SHA256 %s, %s" % (credential, signed_headers),
             "Authorization header requires 'Signature' parameter. "),
            ("AWS4-HMAC-SHA256 %s, %s" % (signed_headers, signature),
             "Authorization header requires 'Credential' parameter. "),
            ("AWS4-HMAC-SHA256 %s, %s" % (credential, signature),
             "Authorization header requires 'SignedHeaders' parameter. "),
        ]
        for value, missing in cases:
            with self.subTest(value=value):
                headers = dict(good, Authorization=value)
                self.assert_refused(headers, b"{}", "IncompleteSignatureException",
                                    missing + "Authorization=" + value)
        # No X-Amz-Date (nor Date).
        headers = {k: v for k, v in good.items() if k.lower() != "x-amz-date"}
        self.assert_refused(headers, b"{}", "IncompleteSignatureException",
                            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                            "Authorization=" + auth)

    def test_unknown_key(self):
        stranger = {"key": "AKIANOBODY0000000000", "secret": "whatever"}
        self.assert_refused(self.signed(stranger, self.TARGET, b"{}"), b"{}", "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            client(self.server, stranger).list_streams()
        self.assertEqual(caught.exception.response["Error"]["Code"], "UnrecognizedClientException")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_wrong_secret(self):
        wrong = dict(ALICE, secret="not-alices-secret")
        self.assert_refused(self.signed(wrong, self.TARGET, b"{}"), b"{}", "InvalidSignatureException", MISMATCH)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            client(self.server, wrong).list_streams()
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidSignatureException")

    def test_body_changed_after_signing(self):
        headers = self.signed(ALICE, self.TARGET, b'{"Limit": 1}')
        self.assert_refused(headers, b'{"Limit": 2}', "InvalidSignatureException", MISMATCH)

    def test_clock_skew_beyond_five_minutes(self):
        now = datetime.datetime.utcnow()
        past = self.signed(ALICE, self.TARGET, b"{}", when=now - datetime.timedelta(minutes=10))
        self.assert_refused(past, b"{}", "InvalidSignatureException", re.compile(
            r"^Signature expired: %s is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$"
            % re.escape(past["X-Amz-Date"])))
        future = self.signed(ALICE, self.TARGET, b"{}", when=now + datetime.timedelta(minutes=10))
        self.assert_refused(future, b"{}", "InvalidSignatureException", re.compile(
            r"^Signature not yet current: %s is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$"
            % re.escape(future["X-Amz-Date"])))
        # Two minutes off is within the allowed skew.
        near = self.signed(ALICE, self.TARGET, b"{}", when=now - datetime.timedelta(minutes=2))
        self.assertEqual(self.post(near, b"{}")[0], 200)

    def test_cbor_requests_get_cbor_errors(self):
        body = b"\xa0"  # {}
        headers = {"Content-Type": CBOR_TYPE, "X-Amz-Target": self.TARGET}
        status, resp_headers, payload = self.post(headers, body)
        self.assertEqual(status, 400)
        self.assertEqual(resp_headers.get("Content-Type"), CBOR_TYPE)
        self.assertIn(b"MissingAuthenticationTokenException", payload)
        signed = self.signed(BOB, self.TARGET, body, content_type=CBOR_TYPE)
        self.assertEqual(self.post(signed, body)[0], 200)


class AccountsTest(AuthServerCase):
    def wait_active(self, c, name):
        c.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})

    def test_streams_belong_to_the_account_of_the_key(self):
        a, b = client(self.server, ALICE), client(self.server, BOB)
        mine, theirs = unique("alice"), unique("bob")
        a.create_stream(StreamName=mine, ShardCount=1)
        b.create_stream(StreamName=theirs, ShardCount=1)
        self.wait_active(a, mine)
        self.wait_active(b, theirs)
        self.assertIn(mine, a.list_streams()["StreamNames"])
        self.assertNotIn(theirs, a.list_streams()["StreamNames"])
        self.assertIn(theirs, b.list_streams()["StreamNames"])
        self.assertNotIn(mine, b.list_streams()["StreamNames"])
        summary = b.describe_stream_summary(StreamName=theirs)["StreamDescriptionSummary"]
        their_arn = "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, BOB["account"], theirs)
        self.assertEqual(summary["StreamARN"], their_arn)
        self.assertEqual(summary["StreamName"], theirs)

        not_found = "Stream %s under account %s not found." % (theirs, ALICE["account"])
        calls = [
            lambda: a.describe_stream(StreamName=theirs),
            lambda: a.describe_stream_summary(StreamName=theirs),
            lambda: a.put_record(StreamName=theirs, Data=b"x", PartitionKey="k"),
            lambda: a.put_records(StreamName=theirs, Records=[{"Data": b"x", "PartitionKey": "k"}]),
            lambda: a.list_shards(StreamName=theirs),
            lambda: a.delete_stream(StreamName=theirs),
        ]
        for call in calls:
            with self.assertRaises(botocore.exceptions.ClientError) as caught:
                call()
            self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
            self.assertEqual(caught.exception.response["Error"]["Message"], not_found)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            a.get_shard_iterator(StreamName=theirs, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
        # Addressed by ARN, another account's stream is refused as AWS refuses
        # cross-account calls that no resource policy allows.
        arn_calls = [
            ("DescribeStreamSummary", lambda: a.describe_stream_summary(StreamARN=their_arn)),
            ("PutRecord", lambda: a.put_record(StreamARN=their_arn, Data=b"x", PartitionKey="k")),
            ("DeleteStream", lambda: a.delete_stream(StreamARN=their_arn)),
            ("RegisterStreamConsumer", lambda: a.register_stream_consumer(StreamARN=their_arn, ConsumerName="c")),
            ("ListTagsForResource", lambda: a.list_tags_for_resource(ResourceARN=their_arn)),
        ]
        for operation, call in arn_calls:
            with self.assertRaises(botocore.exceptions.ClientError) as caught:
                call()
            self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")
            self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
            self.assertEqual(caught.exception.response["Error"]["Message"],
                             "User: arn:aws:iam::%s:user/alice is not authorized to perform: kinesis:%s on "
                             "resource: %s because no resource-based policy allows the kinesis:%s action"
                             % (ALICE["account"], operation, their_arn, operation))
        # Nor does a stream that does not exist there tell whether it exists.
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            a.describe_stream_summary(StreamARN=their_arn + "-none")
        self.assertEqual(caught.exception.response["Error"]["Code"], "AccessDeniedException")

        # An iterator of B's stream does not read it for A.
        it = b.get_shard_iterator(StreamName=theirs, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        b.put_record(StreamName=theirs, Data=b"bob's", PartitionKey="k")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            a.get_records(ShardIterator=it)
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual([r["Data"] for r in b.get_records(ShardIterator=it)["Records"]], [b"bob's"])

        # B still has it all, and deletes it.
        self.assertEqual(b.describe_stream_summary(StreamARN=their_arn)["StreamDescriptionSummary"]["StreamName"],
                         theirs)
        b.delete_stream(StreamARN=their_arn)
        a.delete_stream(StreamName=mine)

    def test_one_name_in_two_accounts_is_two_streams(self):
        a, b, c = client(self.server, ALICE), client(self.server, BOB), client(self.server, CAROL)
        name = unique("shared")
        a.create_stream(StreamName=name, ShardCount=1)
        b.create_stream(StreamName=name, ShardCount=2)
        c.create_stream(StreamName=name, ShardCount=3)
        for who in (a, b, c):
            self.wait_active(who, name)
        counts = [len(who.list_shards(StreamName=name)["Shards"]) for who in (a, b, c)]
        self.assertEqual(counts, [1, 2, 3])
        arns = [who.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
                for who in (a, b, c)]
        self.assertEqual(arns, ["arn:aws:kinesis:%s:%s:stream/%s" % (REGION, acct, name)
                                for acct in (ALICE["account"], BOB["account"], DEFAULT_ACCOUNT)])
        a.put_record(StreamName=name, Data=b"for alice", PartitionKey="k")
        it = b.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(b.get_records(ShardIterator=it)["Records"], [])
        # Limits are per account: B's open shards are B's.
        self.assertGreaterEqual(b.describe_limits()["OpenShardCount"], 2)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            b.create_stream(StreamName=name, ShardCount=1)
        self.assertEqual(caught.exception.response["Error"]["Message"],
                         "Stream %s under account %s already exists." % (name, BOB["account"]))
        for who in (a, b, c):
            who.delete_stream(StreamName=name)

    def test_delivery_streams_belong_to_the_account_of_the_key(self):
        fa, fb = client(self.server, ALICE, "firehose"), client(self.server, BOB, "firehose")
        name = unique("fh")
        config = {"RoleARN": "arn:aws:iam::%s:role/r" % BOB["account"], "BucketARN": "arn:aws:s3:::bucket"}
        arn = fb.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=config)[
            "DeliveryStreamARN"]
        self.assertEqual(arn, "arn:aws:firehose:%s:%s:deliverystream/%s" % (REGION, BOB["account"], name))
        self.assertIn(name, fb.list_delivery_streams()["DeliveryStreamNames"])
        self.assertNotIn(name, fa.list_delivery_streams()["DeliveryStreamNames"])
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            fa.describe_delivery_stream(DeliveryStreamName=name)
        self.assertEqual(caught.exception.response["Error"]["Message"],
                         "Firehose %s under account %s not found." % (name, ALICE["account"]))
        desc = fb.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(desc["DeliveryStreamName"], name)
        self.assertEqual(desc["DeliveryStreamARN"], arn)
        fb.delete_delivery_stream(DeliveryStreamName=name)

    def test_a_kinesis_source_must_be_a_stream_of_the_same_account(self):
        a, b = client(self.server, ALICE), client(self.server, BOB)
        fb = client(self.server, BOB, "firehose")
        source = unique("src")
        b.create_stream(StreamName=source, ShardCount=1)
        b.get_waiter("stream_exists").wait(StreamName=source, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        destination = {"RoleARN": "arn:aws:iam::%s:role/r" % BOB["account"], "BucketARN": "arn:aws:s3:::bucket"}

        def create(name, stream_arn):
            return fb.create_delivery_stream(
                DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn,
                                                  "RoleARN": destination["RoleARN"]},
                ExtendedS3DestinationConfiguration=destination)

        own_arn = "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, BOB["account"], source)
        name = unique("fh-src")
        create(name, own_arn)
        desc = fb.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(desc["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"], own_arn)
        # Alice's stream is not a source for Bob.
        alices = unique("alice-src")
        a.create_stream(StreamName=alices, ShardCount=1)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            create(unique("fh-other"), "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, ALICE["account"], alices))
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidArgumentException")
        fb.delete_delivery_stream(DeliveryStreamName=name)
        b.delete_stream(StreamName=source)
        a.delete_stream(StreamName=alices)


class AuditLogTest(AuthServerCase):
    def test_control_plane_calls_are_logged_with_key_and_account(self):
        b = client(self.server, BOB)
        name = unique("audited")
        b.create_stream(StreamName=name, ShardCount=1)
        b.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        b.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        b.delete_stream(StreamName=name)
        arn = "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, BOB["account"], name)
        headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": "Kinesis_20131202.DeleteStream"}
        self.post(headers, json.dumps({"StreamName": name}).encode())
        wrong = dict(BOB, secret="not-bobs")
        body = json.dumps({"StreamName": name}).encode()
        self.post(self.signed(wrong, "Kinesis_20131202.DeleteStream", body), body)

        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            with open(self.audit_path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
            if sum(1 for e in lines if e.get("resource") == arn or e["result"] in (
                    "MissingAuthenticationTokenException", "InvalidSignatureException")) >= 4:
                break
            time.sleep(0.1)
        mine = [e for e in lines if e.get("resource") == arn]
        self.assertEqual([(e["action"], e["access_key_id"], e["account"], e["result"]) for e in mine
                          if e["action"] in ("CreateStream", "DeleteStream")],
                         [("CreateStream", BOB["key"], BOB["account"], "ok"),
                          ("DeleteStream", BOB["key"], BOB["account"], "ok")])
        # Data-plane calls are not audited.
        self.assertFalse([e for e in mine if e["action"] == "PutRecord"])
        for e in mine:
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(list(e.keys()), ["time", "access_key_id", "account", "action", "resource", "result"])
        refused = [e for e in lines if e["result"] == "MissingAuthenticationTokenException"
                   and e["action"] == "DeleteStream"]
        self.assertTrue(refused)
        self.assertIsNone(refused[-1]["access_key_id"])
        self.assertIsNone(refused[-1]["account"])
        # A refused signature names the key it claimed, and no account.
        forged = [e for e in lines if e["result"] == "InvalidSignatureException" and e["action"] == "DeleteStream"]
        self.assertEqual([(e["access_key_id"], e["account"]) for e in forged], [(BOB["key"], None)])


class CliTest(AuthServerCase):
    def test_the_cli_signs_with_a_profile_of_the_same_file(self):
        aws = shutil.which("aws")
        if aws is None:
            raise AssertionError("the AWS CLI (aws) is not on PATH")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_SHARED_CREDENTIALS_FILE": self.creds_path,
                    "AWS_CONFIG_FILE": os.path.join(self.scratch, "config"),
                    "AWS_DEFAULT_REGION": REGION, "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_MAX_ATTEMPTS": "1"})
        name = unique("cli")

        def run(profile, *args, env_extra=None):
            e = dict(env, **(env_extra or {}))
            command = [aws, "--endpoint-url", self.server.endpoint, "--output", "json"]
            if profile:
                command += ["--profile", profile]
            return subprocess.run(command + ["kinesis"] + list(args), capture_output=True, text=True, env=e,
                                  timeout=120)

        done = run("bob", "create-stream", "--stream-name", name, "--shard-count", "1")
        self.assertEqual(done.returncode, 0, done.stderr)
        listed = run("bob", "list-streams")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(name, json.loads(listed.stdout)["StreamNames"])
        # Alice, by environment keys, does not see it.
        alice_env = {"AWS_ACCESS_KEY_ID": ALICE["key"], "AWS_SECRET_ACCESS_KEY": ALICE["secret"]}
        listed = run(None, "list-streams", env_extra=alice_env)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertNotIn(name, json.loads(listed.stdout)["StreamNames"])
        refused = run(None, "list-streams", env_extra={"AWS_ACCESS_KEY_ID": ALICE["key"],
                                                       "AWS_SECRET_ACCESS_KEY": "wrong"})
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("InvalidSignatureException", refused.stderr)
        self.assertEqual(run("bob", "delete-stream", "--stream-name", name).returncode, 0)


class DefaultAccountTest(unittest.TestCase):
    def test_streams_made_before_authentication_stay_the_default_accounts(self):
        scratch = tempfile.mkdtemp(prefix="kinesd-auth-default-")
        try:
            server = KinesdServer()
            try:
                plain = boto3.session.Session().client(
                    "kinesis", endpoint_url=server.endpoint, region_name=REGION,
                    aws_access_key_id="any", aws_secret_access_key="any")
                plain.create_stream(StreamName="before", ShardCount=1)
                plain.get_waiter("stream_exists").wait(StreamName="before",
                                                       WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
                plain.put_record(StreamName="before", Data=b"old", PartitionKey="k")
                creds = os.path.join(scratch, "credentials")
                with open(creds, "w") as f:
                    f.write(credentials_text())
                server.restart(extra_args=["--credentials-file", creds])
                carol = client(server, CAROL)
                self.assertEqual(carol.list_streams()["StreamNames"], ["before"])
                it = carol.get_shard_iterator(StreamName="before", ShardId="shardId-000000000000",
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                self.assertEqual([r["Data"] for r in carol.get_records(ShardIterator=it)["Records"]], [b"old"])
                self.assertEqual(client(server, ALICE).list_streams()["StreamNames"], [])
                with self.assertRaises(botocore.exceptions.ClientError) as caught:
                    plain.list_streams()
                self.assertEqual(caught.exception.response["Error"]["Code"], "UnrecognizedClientException")
            finally:
                server.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def test_a_broken_credentials_file_stops_the_start(self):
        scratch = tempfile.mkdtemp(prefix="kinesd-auth-bad-")
        try:
            creds = os.path.join(scratch, "credentials")
            with open(creds, "w") as f:
                f.write("[a]\naws_access_key_id = K\naws_secret_access_key = S\naws_account_id = 12345\n")
            data = os.path.join(scratch, "data")
            done = subprocess.run([os.environ["KINESD_BIN"], "--port", "0", "--data-dir", data,
                                   "--credentials-file", creds], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("%s:4: aws_account_id must be 12 digits" % creds, done.stdout + done.stderr)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
