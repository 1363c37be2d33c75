"""Helpers shared by the integration suites: clients, raw requests, waits,
hash-key arithmetic and a TestCase base that owns one kinesd per class."""
import base64
import hashlib
import http.client
import json
import re
import sys
import time
import unittest
import uuid

import boto3
import botocore.config
import botocore.exceptions

import nats_storage
from kinesd_server import KinesdServer

REGION = "us-east-1"
ACCOUNT = "000000000000"
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/x-amz-cbor-1.1"
TARGET_PREFIX = "Kinesis_20131202."
MAX_HASH_KEY = 2 ** 128 - 1
MIB = 1024 * 1024
# Generous: only a hung server should ever reach it.
WAIT_TIMEOUT = 60.0


def unique_name(prefix="s"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def stream_arn(name):
    return "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, ACCOUNT, name)


def not_found_message(name):
    return "Stream %s under account %s not found." % (name, ACCOUNT)


def make_client(endpoint, service="kinesis"):
    # One attempt in all: botocore's "max_attempts" counts retries, and a
    # retry would hide the server's first answer (a throttled call retried
    # after a backoff finds the budget refilled).
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=10, read_timeout=120)
    client = boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test", config=config)
    if nats_storage.front_ends() > 1:
        # Each call on a connection of its own, so that the address in front
        # of several front ends (kinesd_server.py) hands consecutive calls to
        # different ones, as a load balancer without affinity would.
        client.meta.events.register("before-send", _close_after_answer)
    return client


def _close_after_answer(request, **kwargs):
    request.headers["Connection"] = "close"


def md5_hash_key(partition_key):
    """The 128-bit hash key Kinesis routes a partition key by."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for_hash_key(shards, hash_key):
    """The id of the open shard whose inclusive hash range holds hash_key."""
    matches = [s["ShardId"] for s in shards
               if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
               and int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
               <= int(s["HashKeyRange"]["EndingHashKey"])]
    if len(matches) != 1:
        raise AssertionError("hash key %d is in %d open shards: %r" % (hash_key, len(matches), matches))
    return matches[0]


def wait_until(predicate, what, timeout=WAIT_TIMEOUT, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def wait_active(client, name):
    def active():
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary if summary["StreamStatus"] == "ACTIVE" else None
    return wait_until(active, "stream %s to become ACTIVE" % name)


def wait_gone(client, name):
    def gone():
        try:
            client.describe_stream_summary(StreamName=name)
            return False
        except client.exceptions.ResourceNotFoundException:
            return True
    wait_until(gone, "stream %s to disappear" % name)


def create_stream(client, name=None, shards=1, **kwargs):
    """Creates a provisioned stream and waits until it is ACTIVE."""
    name = name or unique_name()
    client.create_stream(StreamName=name, ShardCount=shards, **kwargs)
    wait_active(client, name)
    return name


def list_all_shards(client, name):
    shards, token = [], None
    while True:
        page = (client.list_shards(NextToken=token) if token
                else client.list_shards(StreamName=name))
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            return shards


def read_shard(client, name, shard_id, iterator_type="TRIM_HORIZON", limit=None, **kwargs):
    """Reads a shard from the given position until GetRecords reports it is
    caught up (MillisBehindLatest == 0) and returns no more records."""
    iterator = client.get_shard_iterator(
        StreamName=name, ShardId=shard_id, ShardIteratorType=iterator_type,
        **kwargs)["ShardIterator"]
    records = []
    for _ in range(100000):
        args = {"ShardIterator": iterator}
        if limit:
            args["Limit"] = limit
        page = client.get_records(**args)
        records += page["Records"]
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            return records
        iterator = page.get("NextShardIterator")
        if iterator is None:
            return records
    raise AssertionError("shard %s never caught up" % shard_id)


# -- raw HTTP ---------------------------------------------------------------------


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get()
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "RawResponse(%d, %r)" % (self.status, self.body[:500])


def raw_request(endpoint, target=None, body=b"{}", content_type=JSON_TYPE,
                headers=None, method="POST", path="/"):
    """One unsigned request, as an API Gateway integration or curl sends it.

    `target` is the bare action name ("PutRecord") or a full X-Amz-Target value
    (anything with a dot); None leaves the header out. A dict or list body is
    sent as JSON.
    """
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode("utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8")
    all_headers = {}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if target is not None:
        all_headers["X-Amz-Target"] = target if "." in target else TARGET_PREFIX + target
    all_headers.update(headers or {})
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return RawResponse(response.status, response.headers, response.read())
    finally:
        conn.close()


def b64(data):
    return base64.b64encode(data).decode("ascii")


VALIDATION_PREFIX = re.compile(r"^(\d+) validation errors? detected: ")


def validation_items(message):
    """Splits a ValidationException message into its count and items."""
    match = VALIDATION_PREFIX.match(message)
    if not match:
        raise AssertionError("not a validation message: %r" % message)
    items = message[match.end():].split("; ")
    return int(match.group(1)), items


# -- test case base -----------------------------------------------------------------


class ServerLogOnFailure(unittest.TestCase):
    """Prints the class's kinesd log (self.server) after a failed test."""

    server = None

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before and self.server is not None:
            sys.stderr.write("\n%s failed; server log follows\n" % self.id())
            self.server.dump_log()
        return outcome


class KinesdTestCase(ServerLogOnFailure):
    """Starts one kinesd for the class; prints its log when a test fails."""

    server = None
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = KinesdServer(extra_args=cls.server_args)
        cls.client = make_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        server, cls.server = cls.server, None
        if server is None:
            return
        try:
            server.stop()  # a crash or an unclean exit fails the class
        finally:
            server.close()

    # -- assertions --

    def assertClientError(self, call, code, message=None, *args, **kwargs):
        """Runs a boto3 call that must fail with `code` (and exactly `message`)."""
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, caught.exception.response)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        if message is not None:
            self.assertEqual(error.get("Message"), message)
        return caught.exception.response

    def assertRawError(self, response, status, error_type, message=None, message_key=None):
        """Checks a raw JSON error response; message None means not checked."""
        self.assertEqual(response.status, status, response)
        self.assertTrue(response.headers.get("x-amzn-RequestId"), "no x-amzn-RequestId")
        body = response.json()
        self.assertEqual(body.get("__type"), error_type, body)
        if message is not None:
            if message_key is None:
                got = body.get("message", body.get("Message"))
            else:
                got = body.get(message_key)
            self.assertEqual(got, message, body)
        return body

    def assertValidationMessage(self, message, expected_items):
        """AWS lists validation items in its own member order: compare as a set."""
        count, items = validation_items(message)
        self.assertEqual(count, len(expected_items), message)
        self.assertEqual(sorted(items), sorted(expected_items), message)
