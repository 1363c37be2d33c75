"""Bad requests sent raw and unsigned (as an API Gateway integration sends
them): each gets the AWS error shape and text, and the server keeps serving."""
import base64
import datetime
import http.client
import re
import select
import socket
import unittest

from kinesis_helpers import (ACCOUNT, JSON_TYPE, MIB, KinesdTestCase, RawResponse, b64,
                             create_stream, not_found_message, raw_request, unique_name)

DEFAULT_BODY_LIMIT = 16 * MIB
UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ITERATOR_TYPES = "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"


def item(value, path, constraint):
    shown = "null" if value is None else "'%s'" % value
    return "Value %s at '%s' failed to satisfy constraint: %s" % (shown, path, constraint)


NOT_NULL = "Member must not be null"
NAME_PATTERN = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
HASH_PATTERN = "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"


class BadInputTestCase(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stream = create_stream(cls.client, shards=1)
        cls.request_ids = set()

    def send(self, target, body, **kwargs):
        response = raw_request(self.server.endpoint, target, body, **kwargs)
        self.assertRequestId(response)
        return response

    def assertRequestId(self, response):
        request_id = response.headers.get("x-amzn-RequestId")
        self.assertTrue(request_id, "response without x-amzn-RequestId: %r" % response)
        self.assertRegex(request_id, UUID_PATTERN)
        self.assertNotIn(request_id, self.request_ids, "request id reused")
        self.request_ids.add(request_id)

    def bad(self, target, body, **kwargs):
        """Sends a bad request, then checks that a good one still works."""
        response = self.send(target, body, **kwargs)
        good = self.send("ListStreams", {})
        self.assertEqual(good.status, 200, good)
        self.assertIn(self.stream, good.json()["StreamNames"])
        return response

    def assertSerialization(self, target, body, message):
        with self.subTest(target=target, body=str(body)[:200]):
            response = self.bad(target, body)
            # Member type mismatches spell the key with a capital M, as AWS does.
            self.assertRawError(response, 400, "SerializationException", message, message_key="Message")

    def assertValidation(self, target, body, items):
        with self.subTest(target=target, body=str(body)[:200]):
            response = self.bad(target, body)
            error = self.assertRawError(response, 400, "ValidationException")
            self.assertValidationMessage(error["message"], items)


class MalformedBodyTest(BadInputTestCase):

    def test_malformed_json(self):
        for body in [b'{"StreamName":', b"{bad json}", b'{"a":1,}', b"\xff\xfe{}"]:
            with self.subTest(body=body):
                response = self.bad("CreateStream", body)
                self.assertRawError(response, 400, "SerializationException")

    def test_top_level_not_an_object(self):
        for body in [b"[]", b'"text"', b"1", b"null", b"true"]:
            with self.subTest(body=body):
                response = self.bad("ListStreams", body)
                self.assertRawError(response, 400, "SerializationException")

    def test_empty_body(self):
        response = self.bad("ListStreams", b"")
        self.assertRawError(response, 400, "SerializationException")
        response = self.bad("Kinesis_20131202.NoSuchAction", b"")
        self.assertRawError(response, 400, "UnknownOperationException")

    def test_error_content_type_is_json(self):
        response = self.bad("DescribeStream", {"StreamName": unique_name("missing")})
        self.assertEqual(response.headers.get("Content-Type"), JSON_TYPE)


class ConnectionTest(BadInputTestCase):

    def test_connection_survives_bad_requests(self):
        # Clients keep connections alive: an error must not poison the next request.
        host, port = self.server.endpoint.split("//", 1)[1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            sequence = [(b"{not json", 400), (b'{"Limit": "x"}', 400), (b"{}", 200),
                        (b'{"Limit": 0}', 400), (b"{}", 200)]
            for body, status in sequence:
                conn.request("POST", "/", body=body, headers={
                    "Content-Type": JSON_TYPE, "X-Amz-Target": "Kinesis_20131202.ListStreams"})
                response = conn.getresponse()
                payload = response.read()
                self.assertEqual(response.status, status, payload)
                self.assertTrue(response.getheader("x-amzn-RequestId"))
        finally:
            conn.close()


class OperationTest(BadInputTestCase):

    def test_unknown_action(self):
        for target in ["Kinesis_20131202.NoSuchAction", "Kinesis_20131202.listStreams",
                       "Kinesis_20131202.ListDeliveryStreams", "Kinesis_20990101.ListStreams",
                       "ListStreams", "Kinesis_20131202.", "kinesis_20131202.ListStreams"]:
            with self.subTest(target=target):
                response = self.bad(None, {}, headers={"X-Amz-Target": target})
                self.assertRawError(response, 400, "UnknownOperationException")

    def test_missing_target(self):
        response = self.bad(None, {})
        self.assertRawError(response, 400, "UnknownOperationException")


class MemberTypeTest(BadInputTestCase):

    def test_string_members(self):
        self.assertSerialization("CreateStream", {"StreamName": 12, "ShardCount": 1},
                                 "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                                 "can not be converted to an String")
        self.assertSerialization("DescribeStream", {"StreamName": True},
                                 "class java.lang.Boolean can not be converted to an String")
        self.assertSerialization("DescribeStream", {"StreamName": ["a"]},
                                 "Start of list found where not expected")
        self.assertSerialization("DescribeStream", {"StreamName": {"a": "b"}},
                                 "Start of structure or map found where not expected.")

    def test_integer_members(self):
        self.assertSerialization("CreateStream", {"StreamName": "x", "ShardCount": "1"},
                                 "class java.lang.String can not be converted to an Integer")
        self.assertSerialization("CreateStream", {"StreamName": "x", "ShardCount": False},
                                 "class java.lang.Boolean can not be converted to an Integer")
        self.assertSerialization("ListStreams", {"Limit": [1]},
                                 "Start of list found where not expected")

    def test_boolean_member(self):
        self.assertSerialization("DeleteStream", {"StreamName": "x", "EnforceConsumerDeletion": "yes"},
                                 "'YES' can not be converted to an Boolean")
        self.assertSerialization("DeleteStream", {"StreamName": "x", "EnforceConsumerDeletion": "23"},
                                 "'23' can not be converted to an Boolean")
        self.assertSerialization("DeleteStream", {"StreamName": "x", "EnforceConsumerDeletion": 1},
                                 "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                                 "can not be converted to an Boolean")

    def test_blob_member(self):
        base = {"StreamName": self.stream, "PartitionKey": "p"}
        self.assertSerialization("PutRecord", dict(base, Data=12),
                                 "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                                 "can not be converted to a Blob")
        self.assertSerialization("PutRecord", dict(base, Data=True),
                                 "class java.lang.Boolean can not be converted to a Blob")
        self.assertSerialization("PutRecord", dict(base, Data="abc"),
                                 "'abc' can not be converted to a Blob: Base64 encoded length is "
                                 "expected a multiple of 4 bytes but found: 3")
        self.assertSerialization("PutRecord", dict(base, Data=34.56),
                                 "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                                 "can not be converted to a Blob")
        self.assertSerialization("PutRecord", dict(base, Data="=+/="),
                                 "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='")
        self.assertSerialization("PutRecord", dict(base, Data="ab$d"),
                                 "'ab$d' can not be converted to a Blob: Invalid Base64 character: '$'")
        self.assertSerialization("PutRecord", dict(base, Data="YR=="),
                                 "'YR==' can not be converted to a Blob: "
                                 "Invalid last non-pad Base64 character dectected")

    def test_timestamp_member(self):
        body = {"StreamName": self.stream, "ShardId": "shardId-000000000000",
                "ShardIteratorType": "AT_TIMESTAMP"}
        self.assertSerialization("GetShardIterator", dict(body, Timestamp="2020-01-01T00:00:00Z"),
                                 "class java.lang.String can not be converted to milliseconds since epoch")
        self.assertSerialization("GetShardIterator", dict(body, Timestamp=True),
                                 "class java.lang.Boolean can not be converted to milliseconds since epoch")

    def test_collection_members(self):
        self.assertSerialization("PutRecords", {"StreamName": self.stream, "Records": "x"},
                                 "Expected list or null")
        self.assertSerialization("PutRecords", {"StreamName": self.stream, "Records": [1]},
                                 "Expected null")
        self.assertSerialization("PutRecords", {"StreamName": self.stream,
                                                "Records": [{"Data": "", "PartitionKey": 5}]},
                                 "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                                 "can not be converted to an String")
        self.assertSerialization("AddTagsToStream", {"StreamName": self.stream, "Tags": "x"},
                                 "Expected map or null")
        self.assertSerialization("AddTagsToStream", {"StreamName": self.stream, "Tags": ["x"]},
                                 "Start of list found where not expected")
        self.assertSerialization("PutRecords", {"StreamName": self.stream, "Records": {}},
                                 "Start of structure or map found where not expected.")
        self.assertSerialization("PutRecords", {"StreamName": self.stream, "Records": [[]]},
                                 "Start of list found where not expected")


class ValidationTest(BadInputTestCase):

    def test_shard_count_below_one(self):
        response = self.bad("CreateStream", {"StreamName": unique_name(), "ShardCount": 0})
        self.assertRawError(
            response, 400, "ValidationException",
            "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1")

    def test_fractional_shard_count_is_truncated(self):
        response = self.bad("CreateStream", {"StreamName": unique_name(), "ShardCount": 0.9})
        self.assertRawError(
            response, 400, "ValidationException",
            "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1")

    def test_stream_names(self):
        self.assertValidation("CreateStream", {"StreamName": "", "ShardCount": 1},
                              [item("", "streamName", NAME_PATTERN),
                               item("", "streamName", "Member must have length greater than or equal to 1")])
        long_name = "a" * 129
        self.assertValidation("CreateStream", {"StreamName": long_name, "ShardCount": 1},
                              [item(long_name, "streamName",
                                    "Member must have length less than or equal to 128")])
        self.assertValidation("CreateStream", {"StreamName": "has space", "ShardCount": 1},
                              [item("has space", "streamName", NAME_PATTERN)])
        self.assertValidation("CreateStream", {"ShardCount": 1},
                              [item(None, "streamName", NOT_NULL)])

    def test_put_record_members(self):
        self.assertValidation("PutRecord", {"StreamName": self.stream},
                              [item(None, "partitionKey", NOT_NULL), item(None, "data", NOT_NULL)])
        self.assertValidation("PutRecord", {"StreamName": self.stream, "Data": "", "PartitionKey": "p",
                                            "ExplicitHashKey": "12x"},
                              [item("12x", "explicitHashKey", HASH_PATTERN)])
        long_key = "k" * 257
        self.assertValidation("PutRecord", {"StreamName": self.stream, "Data": "", "PartitionKey": long_key},
                              [item(long_key, "partitionKey",
                                    "Member must have length less than or equal to 256")])

    def test_put_records_member_paths(self):
        records = [{"Data": "", "PartitionKey": ""}, {"Data": ""}, {"PartitionKey": "p"}]
        self.assertValidation("PutRecords", {"StreamName": self.stream, "Records": records},
                              [item("", "records.1.member.partitionKey",
                                    "Member must have length greater than or equal to 1"),
                               item(None, "records.2.member.partitionKey", NOT_NULL),
                               item(None, "records.3.member.data", NOT_NULL)])
        self.assertValidation("PutRecords", {"StreamName": self.stream,
                                             "Records": [{"Data": "", "PartitionKey": "p",
                                                          "ExplicitHashKey": "x"}]},
                              [item("x", "records.1.member.explicitHashKey", HASH_PATTERN)])
        self.assertValidation("PutRecords", {"StreamName": self.stream, "Records": []},
                              [item("[]", "records", "Member must have length greater than or equal to 1")])
        self.assertValidation("PutRecords", {"StreamName": self.stream},
                              [item(None, "records", NOT_NULL)])

    def test_at_most_ten_items(self):
        records = [{"Data": "", "PartitionKey": ""} for _ in range(12)]
        response = self.bad("PutRecords", {"StreamName": self.stream, "Records": records})
        error = self.assertRawError(response, 400, "ValidationException")
        self.assertTrue(error["message"].startswith("10 validation errors detected: "), error)
        self.assertEqual(error["message"].count("failed to satisfy constraint"), 10, error)

    def test_501_records(self):
        records = [{"Data": "", "PartitionKey": "p"} for _ in range(501)]
        response = self.bad("PutRecords", {"StreamName": self.stream, "Records": records})
        error = self.assertRawError(response, 400, "ValidationException")
        self.assertRegex(error["message"],
                         r"(?s)^1 validation error detected: Value '.*' at 'records' failed to satisfy "
                         r"constraint: Member must have length less than or equal to 500$")

    def test_enum_and_ranges(self):
        self.assertValidation("GetShardIterator", {"StreamName": self.stream, "ShardId": "shardId-000000000000",
                                                   "ShardIteratorType": "OLDEST"},
                              [item("OLDEST", "shardIteratorType",
                                    "Member must satisfy enum value set: " + ITERATOR_TYPES)])
        self.assertValidation("GetShardIterator", {"StreamName": self.stream, "ShardId": "shardId-000000000000"},
                              [item(None, "shardIteratorType", NOT_NULL)])
        self.assertValidation("ListStreams", {"Limit": 0},
                              [item("0", "limit", "Member must have value greater than or equal to 1")])
        self.assertValidation("ListStreams", {"Limit": 10001},
                              [item("10001", "limit", "Member must have value less than or equal to 10000")])
        self.assertValidation("GetRecords", {"ShardIterator": "x", "Limit": 0},
                              [item("0", "limit", "Member must have value greater than or equal to 1")])
        self.assertValidation("GetRecords", {},
                              [item(None, "shardIterator", NOT_NULL)])

    def test_unknown_and_null_members_are_ignored(self):
        name = unique_name("extra")
        response = self.bad("CreateStream", {"StreamName": name, "ShardCount": 1, "Tags": None,
                                             "NoSuchMember": {"nested": [1, 2, {"x": None}]}})
        self.assertEqual(response.status, 200, response)
        response = self.bad("DescribeStreamSummary", {"StreamName": name, "Whatever": 1})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json()["StreamDescriptionSummary"]["StreamName"], name)
        response = self.bad("PutRecord", {"StreamName": self.stream, "Data": b64(b"x"), "PartitionKey": "p",
                                          "ExplicitHashKey": None, "Bogus": "y"})
        self.assertEqual(response.status, 200, response)
        self.assertIn("SequenceNumber", response.json())


class SemanticErrorTest(BadInputTestCase):

    def test_missing_stream(self):
        name = unique_name("missing")
        cases = [("DescribeStream", {"StreamName": name}),
                 ("DescribeStreamSummary", {"StreamName": name}),
                 ("DeleteStream", {"StreamName": name}),
                 ("PutRecord", {"StreamName": name, "Data": "", "PartitionKey": "p"}),
                 ("PutRecords", {"StreamName": name, "Records": [{"Data": "", "PartitionKey": "p"}]}),
                 ("ListShards", {"StreamName": name}),
                 ("AddTagsToStream", {"StreamName": name, "Tags": {"a": "b"}}),
                 ("ListTagsForStream", {"StreamName": name})]
        for target, body in cases:
            with self.subTest(target=target):
                response = self.bad(target, body)
                self.assertRawError(response, 400, "ResourceNotFoundException", not_found_message(name))
        # GetShardIterator names the shard it could not find instead (no period).
        response = self.bad("GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                                                 "ShardIteratorType": "LATEST"})
        self.assertRawError(response, 400, "ResourceNotFoundException",
                            "Shard shardId-000000000000 in stream %s under account %s does not exist"
                            % (name, ACCOUNT))

    def test_bogus_iterators(self):
        bogus = ["x", "AAAAAAAAAAE=", base64.b64encode(b"\x00" * 7 + b"\x01" + b"\x42" * 160).decode(),
                 "not base64 at all!"]
        for iterator in bogus:
            with self.subTest(iterator=iterator):
                response = self.bad("GetRecords", {"ShardIterator": iterator})
                self.assertRawError(response, 400, "InvalidArgumentException", "Invalid ShardIterator.")

    def test_tampered_iterator(self):
        response = self.bad("GetShardIterator", {"StreamName": self.stream, "ShardId": "shardId-000000000000",
                                                 "ShardIteratorType": "TRIM_HORIZON"})
        iterator = response.json()["ShardIterator"]
        raw = bytearray(base64.b64decode(iterator))
        raw[len(raw) // 2] ^= 0x01
        response = self.bad("GetRecords", {"ShardIterator": base64.b64encode(bytes(raw)).decode()})
        self.assertRawError(response, 400, "InvalidArgumentException", "Invalid ShardIterator.")

    def test_expired_iterator(self):
        response = self.bad("GetShardIterator", {"StreamName": self.stream, "ShardId": "shardId-000000000000",
                                                 "ShardIteratorType": "TRIM_HORIZON"})
        iterator = response.json()["ShardIterator"]
        # Iterators live 300 s: restart with the clock 360 s ahead instead of waiting.
        original_args = list(self.server.extra_args)
        self.server.restart(extra_args=original_args + ["--clock-offset-ms", "360000"])
        try:
            response = self.bad("GetRecords", {"ShardIterator": iterator})
            # An iterator issued on the moved clock is good on it.
            fresh = self.bad("GetShardIterator", {"StreamName": self.stream, "ShardId": "shardId-000000000000",
                                                  "ShardIteratorType": "TRIM_HORIZON"}).json()["ShardIterator"]
            self.assertEqual(self.bad("GetRecords", {"ShardIterator": fresh}).status, 200)
        finally:
            self.server.restart(extra_args=original_args)
        error = self.assertRawError(response, 400, "ExpiredIteratorException")
        date = r"(\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4})"
        match = re.match(r"^Iterator expired\. The iterator was created at time %s while right now it is %s "
                         r"which is further in the future than the tolerated delay of 300000 milliseconds\.$"
                         % (date, date), error["message"])
        self.assertTrue(match, error["message"])
        created, now = (datetime.datetime.strptime(text, "%a %b %d %H:%M:%S UTC %Y") for text in match.groups())
        self.assertGreaterEqual((now - created).total_seconds(), 359, error["message"])


class SizeLimitTest(BadInputTestCase):

    def test_record_one_byte_over_one_mib(self):
        response = self.bad("PutRecord", {"StreamName": self.stream, "PartitionKey": "p",
                                          "Data": b64(b"\x07" * (MIB + 1))})
        self.assertEqual(response.status, 400, response)
        self.assertIn(response.json().get("__type"), ("ValidationException", "InvalidArgumentException"))
        response = self.bad("PutRecord", {"StreamName": self.stream, "PartitionKey": "p",
                                          "Data": b64(b"\x07" * (MIB - 1))})
        self.assertEqual(response.status, 200, response)

    def test_body_over_limit_is_413(self):
        response = send_oversize(self.server.endpoint, DEFAULT_BODY_LIMIT + 1)
        self.assertEqual(response.status, 413, response)
        self.assertRequestId(response)
        good = self.send("ListStreams", {})
        self.assertEqual(good.status, 200, good)


def send_oversize(endpoint, length):
    """POSTs a body of `length` bytes, stopping early once the server answers:
    a server may refuse on Content-Length alone, before the body arrives."""
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=120)
    try:
        sock.sendall(("POST / HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n"
                      "X-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: %d\r\n\r\n"
                      % (host, port, JSON_TYPE, length)).encode())
        answered, _, _ = select.select([sock], [], [], 2.0)
        prefix = b'{"StreamName":"x","Records":[{"PartitionKey":"p","Data":"'
        chunk = b"A" * (256 * 1024)
        sent = 0
        while not answered and sent < length:
            piece = prefix if sent == 0 else chunk[:length - sent]
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break
            sent += len(piece)
            answered, _, _ = select.select([sock], [], [], 0)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read() if response.status != 413 or response.length else b""
        return RawResponse(response.status, response.headers, body)
    finally:
        sock.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
