"""Data plane through boto3: PutRecord, PutRecords, routing, sequence numbers,
record sizes, every shard iterator type and GetRecords paging."""
import base64
import concurrent.futures
import datetime
import os
import re
import socket
import time
import urllib.parse
import unittest

from kinesis_helpers import (MAX_HASH_KEY, MIB, KinesdTestCase, create_stream, make_client, md5_hash_key,
                             not_found_message, read_shard, shard_for_hash_key, unique_name)


def seq(value):
    return int(value)


class RecordsTestCase(KinesdTestCase):

    def new_stream(self, shards=1):
        name = create_stream(self.client, shards=shards)
        return name, self.client.list_shards(StreamName=name)["Shards"]

    def iterator(self, name, shard_id, kind, **kwargs):
        return self.client.get_shard_iterator(
            StreamName=name, ShardId=shard_id, ShardIteratorType=kind, **kwargs)["ShardIterator"]

    def assertStrictlyIncreasing(self, sequence_numbers):
        values = [seq(s) for s in sequence_numbers]
        for earlier, later in zip(values, values[1:]):
            self.assertLess(earlier, later, sequence_numbers)
        # Consumers also compare them as strings of one length.
        self.assertEqual(len({len(s) for s in sequence_numbers}), 1, sequence_numbers)


class PutTest(RecordsTestCase):

    def test_partition_key_routes_by_md5(self):
        name, shards = self.new_stream(shards=4)
        used = set()
        for i in range(64):
            key = "partition-%d" % i
            result = self.client.put_record(StreamName=name, Data=b"%d" % i, PartitionKey=key)
            self.assertEqual(result["ShardId"], shard_for_hash_key(shards, md5_hash_key(key)), key)
            used.add(result["ShardId"])
        self.assertEqual(len(used), 4)

    def test_unicode_partition_key_hashes_utf8(self):
        name, shards = self.new_stream(shards=4)
        for key in ["\u00e9t\u00e9", "\u65e5\u672c\u8a9e", "\U0001f600-emoji"]:
            result = self.client.put_record(StreamName=name, Data=b"u", PartitionKey=key)
            self.assertEqual(result["ShardId"], shard_for_hash_key(shards, md5_hash_key(key)), key)

    def test_explicit_hash_key_routes_to_range(self):
        name, shards = self.new_stream(shards=3)
        for shard in shards:
            for key in (shard["HashKeyRange"]["StartingHashKey"], shard["HashKeyRange"]["EndingHashKey"]):
                # The partition key alone would go elsewhere for at least one of these.
                result = self.client.put_record(StreamName=name, Data=b"e", PartitionKey="same",
                                                ExplicitHashKey=key)
                self.assertEqual(result["ShardId"], shard["ShardId"], key)
        result = self.client.put_record(StreamName=name, Data=b"e", PartitionKey="p",
                                        ExplicitHashKey=str(MAX_HASH_KEY))
        self.assertEqual(result["ShardId"], shards[-1]["ShardId"])

    def test_explicit_hash_key_out_of_range(self):
        name, _ = self.new_stream()
        too_big = str(MAX_HASH_KEY + 1)
        self.assertClientError(
            self.client.put_record, "InvalidArgumentException",
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            "Specified value was " + too_big,
            StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey=too_big)

    def test_sequence_numbers_grow(self):
        name, shards = self.new_stream(shards=2)
        per_shard = {}
        for i in range(30):
            result = self.client.put_record(StreamName=name, Data=b"x", PartitionKey="k%d" % (i % 3))
            per_shard.setdefault(result["ShardId"], []).append(result["SequenceNumber"])
        for numbers in per_shard.values():
            self.assertStrictlyIncreasing(numbers)
        everything = [n for numbers in per_shard.values() for n in numbers]
        self.assertEqual(len(set(everything)), len(everything))
        for shard in shards:
            start = seq(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            for number in per_shard.get(shard["ShardId"], []):
                self.assertGreater(seq(number), start)

    def test_sequence_number_for_ordering(self):
        name, _ = self.new_stream(shards=2)
        first = self.client.put_record(StreamName=name, Data=b"1", PartitionKey="a")
        second = self.client.put_record(StreamName=name, Data=b"2", PartitionKey="a",
                                        SequenceNumberForOrdering=first["SequenceNumber"])
        self.assertEqual(second["ShardId"], first["ShardId"])
        self.assertGreater(seq(second["SequenceNumber"]), seq(first["SequenceNumber"]))
        third = self.client.put_record(StreamName=name, Data=b"3", PartitionKey="a",
                                       SequenceNumberForOrdering=second["SequenceNumber"])
        self.assertGreater(seq(third["SequenceNumber"]), seq(second["SequenceNumber"]))
        records = read_shard(self.client, name, first["ShardId"])
        self.assertEqual([r["Data"] for r in records], [b"1", b"2", b"3"])

    def test_put_records_500_in_order(self):
        name, shards = self.new_stream(shards=4)
        entries = [{"Data": os.urandom(i % 50), "PartitionKey": "pk-%d" % i} for i in range(500)]
        result = self.client.put_records(StreamName=name, Records=entries)
        self.assertEqual(result.get("FailedRecordCount", 0), 0)
        self.assertEqual(len(result["Records"]), 500)
        per_shard = {}
        for entry, outcome in zip(entries, result["Records"]):
            self.assertNotIn("ErrorCode", outcome)
            expected_shard = shard_for_hash_key(shards, md5_hash_key(entry["PartitionKey"]))
            self.assertEqual(outcome["ShardId"], expected_shard, entry["PartitionKey"])
            per_shard.setdefault(expected_shard, []).append((outcome["SequenceNumber"], entry))
        for shard_id, expected in per_shard.items():
            self.assertStrictlyIncreasing([number for number, _ in expected])
            records = read_shard(self.client, name, shard_id)
            self.assertEqual([(r["SequenceNumber"], r["PartitionKey"], r["Data"]) for r in records],
                             [(n, e["PartitionKey"], e["Data"]) for n, e in expected])

    def test_put_records_results_follow_request_order(self):
        name, shards = self.new_stream(shards=3)
        order = [2, 0, 1, 1, 0, 2, 2, 0]
        entries = [{"Data": b"r%d" % i, "PartitionKey": "same",
                    "ExplicitHashKey": shards[target]["HashKeyRange"]["StartingHashKey"]}
                   for i, target in enumerate(order)]
        result = self.client.put_records(StreamName=name, Records=entries)
        self.assertEqual([r["ShardId"] for r in result["Records"]],
                         [shards[t]["ShardId"] for t in order])
        for index, shard in enumerate(shards):
            records = read_shard(self.client, name, shard["ShardId"])
            self.assertEqual([r["Data"] for r in records],
                             [b"r%d" % i for i, t in enumerate(order) if t == index])

    def test_replies_carry_fresh_request_ids(self):
        # The HTTP/1.1 head is written by hand: botocore must still find the
        # ids, the date and the length in it.
        name, _ = self.new_stream()
        v4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        seen = set()
        for i in range(20):
            meta = self.client.put_record(StreamName=name, Data=b"x", PartitionKey="p%d" % i)["ResponseMetadata"]
            self.assertRegex(meta["RequestId"], v4)
            self.assertNotIn(meta["RequestId"], seen)
            seen.add(meta["RequestId"])
            headers = meta["HTTPHeaders"]
            self.assertEqual(len(base64.b64decode(headers["x-amz-id-2"])), 54)
            self.assertTrue(headers["date"].endswith(" GMT"), headers["date"])
            self.assertEqual(meta["HTTPStatusCode"], 200)

    def test_binary_data_round_trips(self):
        name, shards = self.new_stream()
        payloads = [b"", b"\x00", bytes(range(256)), os.urandom(1000), "\u00e9".encode("utf-8")]
        numbers = [self.client.put_record(StreamName=name, Data=p, PartitionKey="b")["SequenceNumber"]
                   for p in payloads]
        records = read_shard(self.client, name, shards[0]["ShardId"])
        self.assertEqual([r["Data"] for r in records], payloads)
        self.assertEqual([r["SequenceNumber"] for r in records], numbers)
        self.assertEqual({r["PartitionKey"] for r in records}, {"b"})

    def test_put_to_missing_stream(self):
        name = unique_name("missing")
        self.assertClientError(self.client.put_record, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name, Data=b"x", PartitionKey="k")
        self.assertClientError(self.client.put_records, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name,
                               Records=[{"Data": b"x", "PartitionKey": "k"}])


class RecordSizeTest(RecordsTestCase):

    def test_one_mib_record_with_key_is_accepted(self):
        name, shards = self.new_stream()
        key = "k" * 16
        data = os.urandom(MIB - len(key))
        self.client.put_record(StreamName=name, Data=data, PartitionKey=key)
        records = read_shard(self.client, name, shards[0]["ShardId"])
        self.assertEqual(len(records), 1)
        self.assertEqual(records[0]["Data"], data)

    def assertTooLarge(self, call, **kwargs):
        # The 2025 model bounds Data at 10 MiB, so the 1 MiB stream limit is a
        # service check; which of these two AWS uses for it is not documented.
        with self.assertRaises(self.client.exceptions.ClientError,
                               msg="an oversize record was accepted") as caught:
            call(**kwargs)
        response = caught.exception.response
        self.assertIn(response["Error"]["Code"], ("ValidationException", "InvalidArgumentException"))
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_data_plus_key_one_byte_over(self):
        name, shards = self.new_stream()
        key = "k" * 16
        self.assertTooLarge(self.client.put_record, StreamName=name,
                            Data=b"\x01" * (MIB - len(key) + 1), PartitionKey=key)
        self.assertTooLarge(self.client.put_record, StreamName=name,
                            Data=b"\x01" * (MIB + 1), PartitionKey="k")
        # Nothing was stored.
        self.assertEqual(read_shard(self.client, name, shards[0]["ShardId"]), [])

    def test_put_records_with_one_mib_entries(self):
        name, shards = self.new_stream()
        entries = [{"Data": bytes([i]) * (MIB - 1), "PartitionKey": "p"} for i in range(3)]
        result = self.client.put_records(StreamName=name, Records=entries)
        self.assertEqual(result.get("FailedRecordCount", 0), 0)
        records = read_shard(self.client, name, shards[0]["ShardId"])
        self.assertEqual([r["Data"] for r in records], [e["Data"] for e in entries])


class IteratorTest(RecordsTestCase):

    def setUp(self):
        self.name, shards = self.new_stream()
        self.shard_id = shards[0]["ShardId"]
        self.numbers = [self.client.put_record(StreamName=self.name, Data=b"d%d" % i,
                                               PartitionKey="p")["SequenceNumber"]
                        for i in range(5)]

    def data_from(self, iterator):
        return [r["Data"] for r in self.client.get_records(ShardIterator=iterator)["Records"]]

    def test_trim_horizon(self):
        it = self.iterator(self.name, self.shard_id, "TRIM_HORIZON")
        self.assertEqual(self.data_from(it), [b"d%d" % i for i in range(5)])

    def test_latest(self):
        it = self.iterator(self.name, self.shard_id, "LATEST")
        page = self.client.get_records(ShardIterator=it)
        self.assertEqual(page["Records"], [])
        self.assertEqual(page["MillisBehindLatest"], 0)
        self.client.put_record(StreamName=self.name, Data=b"new", PartitionKey="p")
        # The empty read's iterator still points at the old tip.
        self.assertEqual(self.data_from(page["NextShardIterator"]), [b"new"])

    def test_at_and_after_sequence_number(self):
        it = self.iterator(self.name, self.shard_id, "AT_SEQUENCE_NUMBER",
                           StartingSequenceNumber=self.numbers[2])
        self.assertEqual(self.data_from(it), [b"d2", b"d3", b"d4"])
        it = self.iterator(self.name, self.shard_id, "AFTER_SEQUENCE_NUMBER",
                           StartingSequenceNumber=self.numbers[2])
        self.assertEqual(self.data_from(it), [b"d3", b"d4"])
        it = self.iterator(self.name, self.shard_id, "AFTER_SEQUENCE_NUMBER",
                           StartingSequenceNumber=self.numbers[-1])
        self.assertEqual(self.data_from(it), [])

    def test_sequence_number_from_another_shard(self):
        name, shards = self.new_stream(shards=2)
        put = self.client.put_record(StreamName=name, Data=b"x", PartitionKey="p",
                                     ExplicitHashKey=shards[1]["HashKeyRange"]["StartingHashKey"])
        self.assertEqual(put["ShardId"], shards[1]["ShardId"])
        self.assertClientError(
            self.client.get_shard_iterator, "InvalidArgumentException",
            "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s"
            % (shards[1]["ShardId"], shards[0]["ShardId"]),
            StreamName=name, ShardId=shards[0]["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"])

    def test_type_and_sequence_number_mismatch(self):
        self.assertClientError(
            self.client.get_shard_iterator, "InvalidArgumentException",
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
            "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
            StreamName=self.name, ShardId=self.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER")
        self.assertClientError(
            self.client.get_shard_iterator, "InvalidArgumentException",
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
            "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            "Request specified TRIM_HORIZON and also a StartingSequenceNumber.",
            StreamName=self.name, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON",
            StartingSequenceNumber=self.numbers[0])

    def test_missing_shard(self):
        self.assertClientError(self.client.get_shard_iterator, "ResourceNotFoundException", None,
                               StreamName=self.name, ShardId="shardId-000000000007",
                               ShardIteratorType="TRIM_HORIZON")

    def test_at_timestamp(self):
        first = self.client.get_records(
            ShardIterator=self.iterator(self.name, self.shard_id, "TRIM_HORIZON"))["Records"]
        last_arrival = max(r["ApproximateArrivalTimestamp"] for r in first).timestamp()
        # botocore sends whole seconds: put the second batch in a later second.
        while time.time() < int(last_arrival) + 1.05:
            time.sleep(0.05)
        for i in range(3):
            self.client.put_record(StreamName=self.name, Data=b"late%d" % i, PartitionKey="p")
        everything = self.client.get_records(
            ShardIterator=self.iterator(self.name, self.shard_id, "TRIM_HORIZON"))["Records"]
        late = everything[5:]
        self.assertEqual([r["Data"] for r in late], [b"late0", b"late1", b"late2"])

        cut = int(late[0]["ApproximateArrivalTimestamp"].timestamp())
        stamp = datetime.datetime.fromtimestamp(cut, datetime.timezone.utc)
        self.assertGreater(cut, last_arrival)
        it = self.iterator(self.name, self.shard_id, "AT_TIMESTAMP", Timestamp=stamp)
        expected = [r["Data"] for r in everything if r["ApproximateArrivalTimestamp"].timestamp() >= cut]
        self.assertEqual(self.data_from(it), expected)
        self.assertEqual(expected, [b"late0", b"late1", b"late2"])

        early = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
        it = self.iterator(self.name, self.shard_id, "AT_TIMESTAMP", Timestamp=early)
        self.assertEqual(self.data_from(it), [r["Data"] for r in everything])

    def test_at_timestamp_in_the_future(self):
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        response = self.assertClientError(
            self.client.get_shard_iterator, "InvalidArgumentException", None,
            StreamName=self.name, ShardId=self.shard_id, ShardIteratorType="AT_TIMESTAMP",
            Timestamp=future)
        self.assertTrue(response["Error"]["Message"].startswith(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
            "timestampInMillis: %d" % (int(future.timestamp()) * 1000)), response["Error"]["Message"])

    def test_at_timestamp_without_timestamp(self):
        self.assertClientError(
            self.client.get_shard_iterator, "InvalidArgumentException",
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
            "Current request has no timestamp parameter.",
            StreamName=self.name, ShardId=self.shard_id, ShardIteratorType="AT_TIMESTAMP")


class GetRecordsTest(RecordsTestCase):

    def test_limit_and_next_iterator(self):
        name, shards = self.new_stream()
        shard_id = shards[0]["ShardId"]
        sent = [b"m%02d" % i for i in range(10)]
        self.client.put_records(StreamName=name,
                                Records=[{"Data": d, "PartitionKey": "p"} for d in sent])
        iterator = self.iterator(name, shard_id, "TRIM_HORIZON")
        received, behind = [], []
        for _ in range(4):
            page = self.client.get_records(ShardIterator=iterator, Limit=3)
            self.assertLessEqual(len(page["Records"]), 3)
            received += [r["Data"] for r in page["Records"]]
            behind.append(page["MillisBehindLatest"])
            iterator = page["NextShardIterator"]
        self.assertEqual(received, sent)
        for value in behind:
            self.assertIsInstance(value, int)
            self.assertGreaterEqual(value, 0)
        self.assertEqual(behind[-1], 0)
        page = self.client.get_records(ShardIterator=iterator)
        self.assertEqual(page["Records"], [])
        self.assertEqual(page["MillisBehindLatest"], 0)
        self.assertTrue(page["NextShardIterator"])

    def test_record_fields(self):
        name, shards = self.new_stream()
        before = datetime.datetime.now(datetime.timezone.utc)
        put = self.client.put_record(StreamName=name, Data=b"fields", PartitionKey="the-key")
        records = self.client.get_records(
            ShardIterator=self.iterator(name, shards[0]["ShardId"], "TRIM_HORIZON"))["Records"]
        self.assertEqual(len(records), 1)
        record = records[0]
        self.assertEqual(record["Data"], b"fields")
        self.assertEqual(record["PartitionKey"], "the-key")
        self.assertEqual(record["SequenceNumber"], put["SequenceNumber"])
        arrival = record["ApproximateArrivalTimestamp"]
        self.assertIsInstance(arrival, datetime.datetime)
        # Same clock on both sides; only a unit mistake lands an hour away.
        self.assertLess(abs((arrival - before).total_seconds()), 3600)

    def test_iterators_can_be_reused(self):
        name, shards = self.new_stream()
        self.client.put_record(StreamName=name, Data=b"once", PartitionKey="p")
        iterator = self.iterator(name, shards[0]["ShardId"], "TRIM_HORIZON")
        first = self.client.get_records(ShardIterator=iterator)["Records"]
        second = self.client.get_records(ShardIterator=iterator)["Records"]
        self.assertEqual([r["Data"] for r in first], [b"once"])
        self.assertEqual(second, first)

    def test_concurrent_readers_of_large_backlogs_get_every_record_in_order(self):
        # Concurrent GetRecords calls share a memory budget, so answers come
        # smaller while others are being built: nothing may be lost, repeated
        # or reordered across the extra pages.
        name, shards = self.new_stream(shards=4)
        sent = {}
        for n, shard in enumerate(shards):
            key = shard["HashKeyRange"]["StartingHashKey"]
            data = [bytes([n, i]) * (256 * 1024) for i in range(24)]  # 12 MiB a shard
            for start in range(0, len(data), 8):
                out = self.client.put_records(StreamName=name, Records=[
                    {"Data": d, "PartitionKey": "k", "ExplicitHashKey": key} for d in data[start:start + 8]])
                self.assertEqual(out["FailedRecordCount"], 0)
            sent[shard["ShardId"]] = data

        def drain(shard_id):
            client = make_client(self.server.endpoint)
            iterator = client.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records, largest_page = [], 0
            while True:
                page = client.get_records(ShardIterator=iterator)
                largest_page = max(largest_page, sum(len(r["Data"]) + len(r["PartitionKey"])
                                                     for r in page["Records"]))
                records += page["Records"]
                if not page["Records"] and page["MillisBehindLatest"] == 0:
                    return records, largest_page
                iterator = page["NextShardIterator"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = dict(zip(sent, pool.map(drain, sent)))
        for shard_id, (records, largest_page) in results.items():
            self.assertEqual([r["Data"] for r in records], sent[shard_id], shard_id)
            self.assertStrictlyIncreasing([r["SequenceNumber"] for r in records])
            # One record may end a page past the limit, as in AWS.
            self.assertLessEqual(largest_page, 10 * MIB + 512 * 1024)

    def test_an_answer_not_yet_read_keeps_its_share_of_the_read_budget(self):
        # A large answer that its client does not read holds its share of the
        # read budget (about 14 of 16 MB of answer text) until it is written,
        # so a second reader gets a small page meanwhile and everything once
        # it is gone. The answer is larger than what the kernel buffers, so
        # its write cannot complete while the client reads nothing.
        name, shards = self.new_stream(shards=2)
        keys = [shard["HashKeyRange"]["StartingHashKey"] for shard in shards]
        for _ in range(3):
            out = self.client.put_records(StreamName=name, Records=[
                {"Data": b"b" * (MIB - 1), "PartitionKey": "k", "ExplicitHashKey": keys[0]} for _ in range(4)])
            self.assertEqual(out["FailedRecordCount"], 0)
        small = [bytes([i]) * (100 * 1024) for i in range(40)]
        for part in (small[:20], small[20:]):
            out = self.client.put_records(StreamName=name, Records=[
                {"Data": d, "PartitionKey": "k", "ExplicitHashKey": keys[1]} for d in part])
            self.assertEqual(out["FailedRecordCount"], 0)

        endpoint = urllib.parse.urlsplit(self.server.endpoint)
        held = []
        for shard in shards[:1]:
            body = ('{"ShardIterator":"%s"}' % self.iterator(name, shard["ShardId"], "TRIM_HORIZON")).encode()
            sock = socket.socket()
            # A small window, so that a 14 MB answer cannot all be written.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.connect((endpoint.hostname, endpoint.port))
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.GetRecords\r\n"
                         b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
                         + body)
            held.append(sock)
        try:
            for sock in held:
                sock.settimeout(30)
                # The answer has started: it was built and holds its share.
                self.assertTrue(sock.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 200"))
            second = self.client.get_records(
                ShardIterator=self.iterator(name, shards[1]["ShardId"], "TRIM_HORIZON"))["Records"]
            self.assertGreater(len(second), 0)
            self.assertLess(len(second), len(small))
            self.assertEqual([r["Data"] for r in second], small[:len(second)])
        finally:
            for sock in held:
                sock.close()

        # Closed connections give their shares back once the server notices.
        for _ in range(100):
            again = self.client.get_records(
                ShardIterator=self.iterator(name, shards[1]["ShardId"], "TRIM_HORIZON"))["Records"]
            if len(again) == len(small):
                break
            time.sleep(0.1)
        self.assertEqual([r["Data"] for r in again], small)

    def test_bogus_iterator(self):
        self.assertClientError(self.client.get_records, "InvalidArgumentException",
                               "Invalid ShardIterator.", ShardIterator="not-an-iterator")


if __name__ == "__main__":
    unittest.main(verbosity=2)
