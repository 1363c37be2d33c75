"""The CBOR 1.1 wire format as the Java SDKs write it: indefinite-length maps
(Jackson), byte strings for blobs and tag 1 + epoch milliseconds for
timestamps. The tiny codec below covers what those bodies use."""
import base64
import json
import os
import struct
import time
import unittest

from kinesis_helpers import (CBOR_TYPE, JSON_TYPE, MAX_HASH_KEY, KinesdTestCase, not_found_message, raw_request,
                             unique_name)


class Tag:
    def __init__(self, number, value):
        self.number = number
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.number, self.value) == (other.number, other.value)

    def __repr__(self):
        return "Tag(%d, %r)" % (self.number, self.value)


class IndefiniteMap(dict):
    """A map written with 0xbf ... 0xff, as Jackson writes every object."""


class DefiniteMap(dict):
    """A map written with its length up front."""


class IndefiniteList(list):
    """An array written with 0x9f ... 0xff, as Jackson writes every list."""


class Chunked:
    """A byte or text string of indefinite length, sent in chunks of `size` bytes."""

    def __init__(self, value, size):
        self.value = value
        self.size = size


def timestamp_ms(ms):
    return Tag(1, ms)


def _head(major, value):
    if value < 24:
        return bytes([(major << 5) | value])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if value < 1 << (8 * struct.calcsize(fmt)):
            return bytes([(major << 5) | extra]) + struct.pack(fmt, value)
    raise ValueError("integer too large for CBOR: %d" % value)


def encode(value):
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, Tag):
        return _head(6, value.number) + encode(value.value)
    if isinstance(value, Chunked):
        major = 2 if isinstance(value.value, (bytes, bytearray)) else 3
        raw = bytes(value.value) if major == 2 else value.value.encode("utf-8")
        chunks = [raw[i:i + value.size] for i in range(0, len(raw), value.size)]
        return bytes([major << 5 | 31]) + b"".join(_head(major, len(c)) + c for c in chunks) + b"\xff"
    if isinstance(value, IndefiniteList):
        return b"\x9f" + b"".join(encode(v) for v in value) + b"\xff"
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, DefiniteMap):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, dict):
        return b"\xbf" + b"".join(encode(k) + encode(v) for k, v in value.items()) + b"\xff"
    raise TypeError("cannot encode %r" % type(value))


class DecodeError(ValueError):
    pass


class _Decoder:
    BREAK = object()

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, count):
        if self.pos + count > len(self.data):
            raise DecodeError("truncated CBOR")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def argument(self, info):
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            return int.from_bytes(self.take(size), "big")
        if info == 31:
            return None
        raise DecodeError("reserved additional information %d" % info)

    def item(self):
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if initial == 0xFF:
            return self.BREAK
        if major == 7:
            return self.simple(info)
        arg = self.argument(info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major in (2, 3):
            if arg is None:
                parts = []
                while True:
                    part = self.item()
                    if part is self.BREAK:
                        break
                    parts.append(part)
                joined = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
            else:
                joined = self.take(arg)
            return joined if major == 2 else joined.decode("utf-8")
        if major == 4:
            result = []
            while arg is None or len(result) < arg:
                value = self.item()
                if value is self.BREAK:
                    if arg is not None:
                        raise DecodeError("unexpected break")
                    break
                result.append(value)
            return result
        if major == 5:
            result = {}
            count = 0
            while arg is None or count < arg:
                key = self.item()
                if key is self.BREAK:
                    if arg is not None:
                        raise DecodeError("unexpected break")
                    break
                result[key] = self.item()
                count += 1
            return result
        return Tag(arg, self.item())

    def simple(self, info):
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            bits = int.from_bytes(self.take(2), "big")
            return struct.unpack(">e", bits.to_bytes(2, "big"))[0]
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise DecodeError("unsupported simple value %d" % info)


def decode(data):
    decoder = _Decoder(data)
    value = decoder.item()
    if value is _Decoder.BREAK or decoder.pos != len(data):
        raise DecodeError("trailing bytes or stray break")
    return value


class CodecSelfTest(unittest.TestCase):
    """The test codec itself, against RFC 8949 appendix A examples."""

    def test_known_encodings(self):
        self.assertEqual(encode(1000000), bytes.fromhex("1a000f4240"))
        self.assertEqual(encode(-1000), bytes.fromhex("3903e7"))
        self.assertEqual(encode(b"\x01\x02\x03\x04"), bytes.fromhex("4401020304"))
        self.assertEqual(encode("IETF"), bytes.fromhex("6449455446"))
        self.assertEqual(encode(Tag(1, 1363896240)), bytes.fromhex("c11a514b67b0"))
        self.assertEqual(encode({"a": 1}), bytes.fromhex("bf616101ff"))
        self.assertEqual(encode(DefiniteMap({"a": 1})), bytes.fromhex("a1616101"))
        self.assertEqual(encode(IndefiniteList([1, 2])), bytes.fromhex("9f0102ff"))
        self.assertEqual(encode(Chunked(b"\x01\x02\x03", 2)), bytes.fromhex("5f42010241 03ff".replace(" ", "")))
        self.assertEqual(encode(Chunked("abc", 2)), bytes.fromhex("7f62616261 63ff".replace(" ", "")))

    def test_round_trip(self):
        value = {"a": [1, -2, b"\x00\xff", "t", None, True, False, Tag(1, 1700000000123)],
                 "b": {"c": 1.5}}
        self.assertEqual(decode(encode(value)), value)
        self.assertEqual(decode(bytes.fromhex("5f42010243030405ff")), b"\x01\x02\x03\x04\x05")
        self.assertEqual(decode(bytes.fromhex("f93c00")), 1.0)


class CborCase(KinesdTestCase):
    """Calls in CBOR and the answers decoded."""

    def call(self, action, body, raw=None, expect=200):
        response = raw_request(self.server.endpoint, action,
                               raw if raw is not None else encode(body), content_type=CBOR_TYPE)
        self.assertTrue(response.headers.get("x-amzn-RequestId"))
        self.assertEqual(response.status, expect, self.describe(response))
        if response.body:
            self.assertEqual(response.headers.get("Content-Type"), CBOR_TYPE)
            return decode(response.body)
        return None

    @staticmethod
    def describe(response):
        try:
            return "%d %r" % (response.status, decode(response.body))
        except (DecodeError, UnicodeDecodeError):
            return repr(response)

    def create(self, shards=1):
        name = unique_name("cbor")
        reply = self.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        self.assertIn(reply, (None, {}))
        summary = None
        for _ in range(600):
            summary = self.call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
            if summary["StreamStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        self.assertEqual(summary["StreamStatus"], "ACTIVE")
        return name, summary

    def read_all(self, name, shard_id="shardId-000000000000", **iterator_args):
        args = {"StreamName": name, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
        args.update(iterator_args)
        iterator = self.call("GetShardIterator", args)["ShardIterator"]
        self.assertIsInstance(iterator, str)
        return self.call("GetRecords", {"ShardIterator": iterator})

    def assertTimestampMs(self, value, near_ms):
        self.assertIsInstance(value, Tag)
        self.assertEqual(value.number, 1)
        self.assertIsInstance(value.value, int, "timestamps are integer milliseconds")
        # Same machine clock; an hour catches seconds-vs-milliseconds mistakes.
        self.assertLess(abs(value.value - near_ms), 3600 * 1000)



class CborTest(CborCase):

    def test_create_and_describe(self):
        name, summary = self.create(shards=2)
        self.assertEqual(summary["StreamName"], name)
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertTimestampMs(summary["StreamCreationTimestamp"], time.time() * 1000)

    def test_definite_length_map_accepted(self):
        name = unique_name("cbor")
        self.call("CreateStream", None, raw=encode(DefiniteMap({"StreamName": name, "ShardCount": 1})))
        reply = self.call("ListStreams", None, raw=encode(DefiniteMap({})))
        self.assertIn(name, reply["StreamNames"])

    def test_put_and_get_records(self):
        name, _ = self.create()
        payloads = [bytes(range(256)), b"", b"\x00\xff\x00", os.urandom(3000)]
        put = self.call("PutRecord", {"StreamName": name, "Data": payloads[0], "PartitionKey": "p"})
        self.assertEqual(put["ShardId"], "shardId-000000000000")
        self.assertIsInstance(put["SequenceNumber"], str)
        batch = self.call("PutRecords", {"StreamName": name, "Records": [
            {"Data": data, "PartitionKey": "k%d" % i} for i, data in enumerate(payloads[1:])]})
        self.assertEqual(batch.get("FailedRecordCount", 0), 0)
        self.assertEqual(len(batch["Records"]), 3)
        numbers = [put["SequenceNumber"]] + [r["SequenceNumber"] for r in batch["Records"]]

        now_ms = time.time() * 1000
        page = self.read_all(name)
        records = page["Records"]
        self.assertEqual([r["Data"] for r in records], payloads)
        for record in records:
            self.assertIsInstance(record["Data"], bytes, "Data must be a CBOR byte string")
            self.assertTimestampMs(record["ApproximateArrivalTimestamp"], now_ms)
        self.assertEqual([r["SequenceNumber"] for r in records], numbers)
        self.assertEqual([r["PartitionKey"] for r in records], ["p", "k0", "k1", "k2"])
        self.assertIsInstance(page["MillisBehindLatest"], int)
        self.assertIsInstance(page["NextShardIterator"], str)

    def test_at_timestamp_with_tagged_milliseconds(self):
        name, _ = self.create()
        for i in range(3):
            self.call("PutRecord", {"StreamName": name, "Data": b"early%d" % i, "PartitionKey": "p"})
        early = self.read_all(name)["Records"]
        newest_early = max(r["ApproximateArrivalTimestamp"].value for r in early)
        # Arrival times have millisecond precision; make the two batches differ.
        while time.time() * 1000 < newest_early + 20:
            time.sleep(0.01)
        for i in range(3):
            self.call("PutRecord", {"StreamName": name, "Data": b"late%d" % i, "PartitionKey": "p"})
        everything = self.read_all(name)["Records"]
        first_late = everything[3]
        self.assertEqual(first_late["Data"], b"late0")
        cut = first_late["ApproximateArrivalTimestamp"].value
        self.assertGreater(cut, newest_early)

        for at in (cut, cut + 1, newest_early):
            expected = [r["Data"] for r in everything if r["ApproximateArrivalTimestamp"].value >= at]
            page = self.read_all(name, ShardIteratorType="AT_TIMESTAMP", Timestamp=timestamp_ms(at))
            self.assertEqual([r["Data"] for r in page["Records"]], expected, at)

    def test_error_body_is_cbor(self):
        name = unique_name("missing")
        error = self.call("DescribeStream", {"StreamName": name}, expect=400)
        self.assertEqual(error["__type"], "ResourceNotFoundException")
        self.assertEqual(error["message"], not_found_message(name))

        error = self.call("CreateStream", {"StreamName": name, "ShardCount": 0}, expect=400)
        self.assertEqual(error["__type"], "ValidationException")
        self.assertEqual(error["message"],
                         "1 validation error detected: Value '0' at 'shardCount' failed to satisfy "
                         "constraint: Member must have value greater than or equal to 1")

    def test_malformed_cbor(self):
        bodies = [b"\xbf\x6aStreamN", b"\xbf\x61", b"\x1c", b"\xff", bytes.fromhex("bf6161")]
        for body in bodies:
            with self.subTest(body=body):
                error = self.call("ListStreams", None, raw=body, expect=400)
                self.assertEqual(error["__type"], "SerializationException")
        for body in [encode([1, 2]), encode("text"), encode(7)]:
            with self.subTest(body=body):
                error = self.call("ListStreams", None, raw=body, expect=400)
                self.assertEqual(error["__type"], "SerializationException")
        self.assertIn("StreamNames", self.call("ListStreams", {}))

    def test_member_type_error_in_cbor(self):
        error = self.call("CreateStream", {"StreamName": unique_name(), "ShardCount": "1"}, expect=400)
        self.assertEqual(error["__type"], "SerializationException")


class CborRecordsTest(CborCase):
    """PutRecord and PutRecords bodies in every form a CBOR client may use, and
    GetRecords answers, checked against what the same server says in JSON."""

    def call_json(self, action, body):
        response = raw_request(self.server.endpoint, action, json.dumps(body).encode(), content_type=JSON_TYPE)
        return response.status, json.loads(response.body) if response.body else None

    def read_json(self, name, shard_id="shardId-000000000000"):
        status, reply = self.call_json("GetShardIterator", {"StreamName": name, "ShardId": shard_id,
                                                            "ShardIteratorType": "TRIM_HORIZON"})
        self.assertEqual(status, 200, reply)
        status, page = self.call_json("GetRecords", {"ShardIterator": reply["ShardIterator"]})
        self.assertEqual(status, 200, page)
        return page

    def test_every_body_form_is_stored_alike(self):
        name, _ = self.create()
        payloads = [os.urandom(n) for n in (0, 1, 23, 24, 255, 256, 70000)]
        bodies = [
            # Jackson: maps and lists of indefinite length.
            {"StreamName": name, "Records": IndefiniteList(
                {"Data": data, "PartitionKey": "jackson-%d" % i} for i, data in enumerate(payloads))},
            # Definite lengths throughout.
            DefiniteMap({"Records": [DefiniteMap({"PartitionKey": "definite-%d" % i, "Data": data})
                                     for i, data in enumerate(payloads)], "StreamName": name}),
            # Chunked strings, tags in front of items, an explicit hash key.
            {"Records": [{"Data": Chunked(data, 1000), "PartitionKey": Chunked("chunked-%d" % i, 3),
                          "ExplicitHashKey": Tag(55799, str(MAX_HASH_KEY // 3))}
                         for i, data in enumerate(payloads)],
             Chunked("StreamName", 4): Tag(24, name)},
        ]
        sent = []
        for body in bodies:
            reply = self.call("PutRecords", body)
            self.assertEqual(reply["FailedRecordCount"], 0)
            self.assertEqual(reply["EncryptionType"], "NONE")
            self.assertEqual([r["ShardId"] for r in reply["Records"]], ["shardId-000000000000"] * len(payloads))
            sent += [r["SequenceNumber"] for r in reply["Records"]]
        single = self.call("PutRecord", DefiniteMap({"StreamName": name, "Data": Chunked(b"single", 2),
                                                     "PartitionKey": "one"}))
        self.assertEqual(set(single), {"ShardId", "SequenceNumber", "EncryptionType"})
        sent.append(single["SequenceNumber"])

        records = self.read_all(name)["Records"]
        self.assertEqual([r["SequenceNumber"] for r in records], sent)
        expected = [(d, "%s-%d" % (kind, i)) for kind in ("jackson", "definite", "chunked")
                    for i, d in enumerate(payloads)] + [(b"single", "one")]
        self.assertEqual([(r["Data"], r["PartitionKey"]) for r in records], expected)

    def test_errors_are_worded_as_in_json(self):
        name, _ = self.create()
        missing = unique_name("missing")
        cases = [
            {"StreamName": name, "Records": [{"Data": b"x", "PartitionKey": ""}]},
            {"StreamName": name, "Records": [{"Data": b"x"}]},
            {"StreamName": name, "Records": []},
            {"StreamName": name, "Records": [{"Data": b"x", "PartitionKey": "k"}] * 501},
            {"StreamName": name, "Records": [{"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": "x1"}]},
            {"StreamName": name, "Records": [{"Data": b"x", "PartitionKey": "k",
                                              "ExplicitHashKey": str(MAX_HASH_KEY + 1)}]},
            {"StreamName": name, "Records": [{"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}]},
            {"StreamName": missing, "Records": [{"Data": b"x", "PartitionKey": "k"}]},
            {"StreamName": "bad name!", "Records": [{"Data": b"x", "PartitionKey": "k"}]},
            {"Records": [{"Data": b"x", "PartitionKey": "k" * 257}]},
        ]
        for body in cases:
            with self.subTest(body=repr(body)[:120]):
                as_json = {k: v if k != "Records" else [
                    {m: base64.b64encode(x).decode() if m == "Data" else x for m, x in r.items()} for r in v]
                    for k, v in body.items()}
                status, want = self.call_json("PutRecords", as_json)
                self.assertEqual(status, 400, want)
                got = self.call("PutRecords", body, expect=400)
                self.assertEqual(got, want)
        single = {"StreamName": name, "Data": b"x", "PartitionKey": "k", "SequenceNumberForOrdering": "12x"}
        status, want = self.call_json("PutRecord", dict(single, Data="eA=="))
        self.assertEqual(status, 400, want)
        self.assertEqual(self.call("PutRecord", single, expect=400), want)

    def test_bodies_the_fast_reader_leaves_alone_still_work(self):
        name, _ = self.create()
        # Base64 text for Data, a non-ASCII key, null and unknown members: the general path's.
        self.call("PutRecords", {"StreamName": name, "Other": 1, "StreamARN": None, "Records": [
            {"Data": "aGVsbG8=", "PartitionKey": "caf\u00e9"}, {"Data": b"raw", "PartitionKey": "k", "X": None}]})
        self.call("PutRecord", {"StreamName": name, "Data": b"one", "PartitionKey": "\u2603", "Extra": [1]})
        records = self.read_all(name)["Records"]
        self.assertEqual([(r["Data"], r["PartitionKey"]) for r in records],
                         [(b"hello", "caf\u00e9"), (b"raw", "k"), (b"one", "\u2603")])

    def test_get_records_agrees_with_json(self):
        name, _ = self.create()
        payloads = [os.urandom(n) for n in (0, 5, 100, 300, 66000)] * 3
        keys = ["k", "a-key-longer-than-23-bytes", "x" * 256, "caf\u00e9"]
        self.call("PutRecords", {"StreamName": name, "Records": [
            {"Data": d, "PartitionKey": keys[i % len(keys)]} for i, d in enumerate(payloads)]})
        self.call("StartStreamEncryption", {"StreamName": name, "EncryptionType": "KMS",
                                            "KeyId": "alias/aws/kinesis"})
        put = self.call("PutRecord", {"StreamName": name, "Data": b"later", "PartitionKey": "k"})
        self.assertEqual(put["EncryptionType"], "KMS")
        page, page_json = self.read_all(name), self.read_json(name)
        self.assertEqual(len(page["Records"]), len(payloads) + 1)
        self.assertEqual(len(page_json["Records"]), len(page["Records"]))
        for got, want in zip(page["Records"], page_json["Records"]):
            self.assertEqual(got["Data"], base64.b64decode(want["Data"]))
            self.assertEqual(got["PartitionKey"], want["PartitionKey"])
            self.assertEqual(got["SequenceNumber"], want["SequenceNumber"])
            self.assertEqual(got.get("EncryptionType"), want.get("EncryptionType"))
            self.assertEqual(got["ApproximateArrivalTimestamp"], timestamp_ms(round(want["ApproximateArrivalTimestamp"] * 1000)))
            self.assertEqual(sorted(got), sorted(want))
        self.assertEqual(page["Records"][-1].get("EncryptionType"), "KMS")
        self.assertNotIn("EncryptionType", page["Records"][0])
        self.assertEqual(sorted(page), ["MillisBehindLatest", "NextShardIterator", "Records"])
        self.assertEqual(page["MillisBehindLatest"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
