"""Resharding through boto3: SplitShard, MergeShards and UpdateShardCount, the
lineage a consumer follows across them (ChildShards from GetRecords,
ParentShardId from ListShards), ListShards' ShardFilter, the UPDATING status
and a crash right after a reshard."""
import datetime
import threading
import time
import unittest

from kinesis_helpers import (ACCOUNT, MAX_HASH_KEY, KinesdTestCase, create_stream, list_all_shards,
                             make_client, md5_hash_key, shard_for_hash_key, stream_arn, wait_active,
                             wait_until)


def parents_of(shard):
    return [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]


def is_open(shard):
    return "EndingSequenceNumber" not in shard["SequenceNumberRange"]


def hash_range(shard):
    return int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])


def even_ranges(count):
    """The ranges AWS gives `count` evenly sized shards."""
    width = 2 ** 128 // count
    ranges = [(i * width, (i + 1) * width - 1) for i in range(count)]
    ranges[-1] = (ranges[-1][0], MAX_HASH_KEY)
    return ranges


def shard_created_s(sequence_number):
    """The shard creation second a sequence number carries (nibbles 1-9 of
    its 47-nibble hexadecimal form)."""
    return int(("%x" % int(sequence_number))[1:10], 16)


class Producer:
    """Puts numbered records over a fixed set of partition keys and remembers
    what was acknowledged. Data is b"<key>|<n>", n counting per key."""

    def __init__(self, client, name, keys=24, prefix="pk"):
        self.client = client
        self.name = name
        self.keys = ["%s-%d" % (prefix, i) for i in range(keys)]
        self.next = {key: 0 for key in self.keys}
        self.acked = {}  # data -> (partition key, sequence number, shard id)
        self.lock = threading.Lock()

    def entries(self, count):
        with self.lock:
            out = []
            for i in range(count):
                key = self.keys[(len(self.acked) + i) % len(self.keys)]
                out.append({"PartitionKey": key, "Data": b"%s|%d" % (key.encode(), self.next[key])})
                self.next[key] += 1
            return out

    def put(self, count, batch=50):
        """Puts `count` records, one in ten through PutRecord."""
        while count > 0:
            entries = self.entries(min(batch, count))
            count -= len(entries)
            if len(entries) == 1:
                result = self.client.put_record(StreamName=self.name, **entries[0])
                outcomes = [result]
            else:
                result = self.client.put_records(StreamName=self.name, Records=entries)
                if result.get("FailedRecordCount", 0):
                    raise AssertionError("PutRecords failed entries: %r" % result)
                outcomes = result["Records"]
            with self.lock:
                for entry, outcome in zip(entries, outcomes):
                    self.acked[entry["Data"]] = (entry["PartitionKey"], outcome["SequenceNumber"],
                                                 outcome["ShardId"])


class LineageTestCase(KinesdTestCase):

    def new_stream(self, shards):
        return create_stream(self.client, shards=shards)

    def shards(self, name, **kwargs):
        return list_all_shards(self.client, name) if not kwargs else \
            self.client.list_shards(StreamName=name, **kwargs)["Shards"]

    def read_shard_to_end(self, name, shard, client=None):
        """Reads one shard from TRIM_HORIZON. A closed shard is read until
        GetRecords stops handing out iterators, and its ChildShards are
        returned; an open shard until it is caught up (ChildShards None)."""
        client = client or self.client
        iterator = client.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records, empty_pages = [], 0
        while True:
            page = client.get_records(ShardIterator=iterator, Limit=97)
            records += page["Records"]
            iterator = page.get("NextShardIterator")
            if iterator is None:
                self.assertFalse(is_open(shard), "an open shard ended: %r" % page)
                self.assertIn("ChildShards", page, "no ChildShards at the end of %s" % shard["ShardId"])
                return records, page["ChildShards"]
            self.assertFalse(page.get("ChildShards"),
                             "ChildShards before the end of %s: %r" % (shard["ShardId"], page))
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                if is_open(shard):
                    return records, None
                empty_pages += 1
                self.assertLess(empty_pages, 50, "closed shard %s never reported its end" % shard["ShardId"])

    def consume_by_lineage(self, name, client=None):
        """Reads the stream as KCL does: a shard only once all of its parents
        are finished. Returns (shards, {shard id: records}, records in the
        order consumed)."""
        shards = list_all_shards(client or self.client, name)
        by_id = {s["ShardId"]: s for s in shards}
        self.assertEqual(len(by_id), len(shards), "a shard is listed twice")
        done, per_shard, consumed = set(), {}, []
        while len(done) < len(shards):
            ready = sorted(sid for sid, s in by_id.items() if sid not in done
                           and all(p in done or p not in by_id for p in parents_of(s)))
            self.assertTrue(ready, "lineage has a cycle or a missing parent: %r" % shards)
            for sid in ready:
                records, children = self.read_shard_to_end(name, by_id[sid], client)
                if children is not None:
                    expected = sorted(c["ShardId"] for c in shards if sid in parents_of(c))
                    self.assertEqual(sorted(c["ShardId"] for c in children), expected,
                                     "ChildShards of %s" % sid)
                    for child in children:
                        listed = by_id[child["ShardId"]]
                        self.assertEqual(sorted(child["ParentShards"]), sorted(parents_of(listed)))
                        self.assertEqual(child["HashKeyRange"], listed["HashKeyRange"])
                per_shard[sid] = records
                consumed += records
                done.add(sid)
        return shards, per_shard, consumed

    def assertLineage(self, shards):
        """Structure alone: parents, ranges, open shards covering the hash space."""
        by_id = {s["ShardId"]: s for s in shards}
        for shard in shards:
            parents = parents_of(shard)
            self.assertLessEqual(len(parents), 2)
            lo, hi = hash_range(shard)
            self.assertLessEqual(lo, hi, shard)
            for parent_id in parents:
                self.assertIn(parent_id, by_id, "parent of %s not listed" % shard["ShardId"])
                self.assertFalse(is_open(by_id[parent_id]), "parent %s is still open" % parent_id)
            if len(parents) == 2:
                (alo, ahi), (blo, bhi) = sorted(hash_range(by_id[p]) for p in parents)
                self.assertEqual(ahi + 1, blo, "merged parents of %s are not adjacent" % shard["ShardId"])
                self.assertEqual((lo, hi), (alo, bhi), "merge child %s is not the union" % shard["ShardId"])
            elif parents:
                plo, phi = hash_range(by_id[parents[0]])
                self.assertTrue(plo <= lo and hi <= phi, "split child %s outside its parent" % shard["ShardId"])
            start = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            if not is_open(shard):
                self.assertGreater(int(shard["SequenceNumberRange"]["EndingSequenceNumber"]), start)
            for parent_id in parents:
                parent = by_id[parent_id]["SequenceNumberRange"]
                self.assertGreater(start, int(parent["EndingSequenceNumber"]),
                                   "%s starts before its parent %s ends" % (shard["ShardId"], parent_id))
        open_ranges = sorted(hash_range(s) for s in shards if is_open(s))
        self.assertTrue(open_ranges, "no open shards")
        self.assertEqual(open_ranges[0][0], 0)
        self.assertEqual(open_ranges[-1][1], MAX_HASH_KEY)
        for (_, hi), (lo, _) in zip(open_ranges, open_ranges[1:]):
            self.assertEqual(hi + 1, lo, "open shards leave a gap or overlap: %r" % open_ranges)
        # A closed shard's children are contiguous and cover its whole range.
        for shard in shards:
            children = sorted(hash_range(c) for c in shards if shard["ShardId"] in parents_of(c))
            if is_open(shard):
                self.assertEqual(children, [], "open shard %s has children" % shard["ShardId"])
                continue
            self.assertTrue(children, "closed shard %s has no children" % shard["ShardId"])
            for (_, hi), (lo, _) in zip(children, children[1:]):
                self.assertEqual(hi + 1, lo, "children of %s leave a gap" % shard["ShardId"])
            lo, hi = hash_range(shard)
            self.assertTrue(children[0][0] <= lo and hi <= children[-1][1],
                            "children of %s do not cover it" % shard["ShardId"])

    def assertConsumedExactlyOnce(self, producer, shards, per_shard, consumed):
        by_id = {s["ShardId"]: s for s in shards}
        data = [r["Data"] for r in consumed]
        self.assertEqual(len(data), len(set(data)), "a record was read twice")
        self.assertEqual(set(data), set(producer.acked), "records missing or unexpected")
        numbers = [r["SequenceNumber"] for r in consumed]
        self.assertEqual(len(numbers), len(set(numbers)), "a sequence number repeats")
        read_from = {r["Data"]: sid for sid, records in per_shard.items() for r in records}
        for record in consumed:
            key, number, shard_id = producer.acked[record["Data"]]
            self.assertEqual(record["PartitionKey"], key)
            self.assertEqual(record["SequenceNumber"], number)
            self.assertEqual(read_from[record["Data"]], shard_id,
                             "record read from another shard than PutRecord named")
            lo, hi = hash_range(by_id[shard_id])
            self.assertTrue(lo <= md5_hash_key(key) <= hi, "%s was put to %s outside its range" % (key, shard_id))
        # Per partition key, the lineage order is the put order.
        last = {}
        for record in consumed:
            key, n = record["Data"].rsplit(b"|", 1)
            self.assertGreater(int(n), last.get(key, -1), "%s out of order" % key)
            last[key] = int(n)
        # Within a shard, numbers grow; a child's are above all of its parents'.
        for sid, records in per_shard.items():
            values = [int(r["SequenceNumber"]) for r in records]
            self.assertEqual(values, sorted(values), sid)
            shard = by_id[sid]
            start = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            for value in values:
                self.assertGreater(value, start)
                if not is_open(shard):
                    self.assertLess(value, int(shard["SequenceNumberRange"]["EndingSequenceNumber"]))
            for parent_id in parents_of(shard):
                parent_values = [int(r["SequenceNumber"]) for r in per_shard[parent_id]]
                if parent_values and values:
                    self.assertGreater(min(values), max(parent_values),
                                       "%s has numbers below its parent %s" % (sid, parent_id))
                if parent_values:
                    self.assertGreater(start, max(parent_values))

    def verify_stream(self, name, producer):
        shards, per_shard, consumed = self.consume_by_lineage(name)
        self.assertLineage(shards)
        self.assertConsumedExactlyOnce(producer, shards, per_shard, consumed)
        description = self.client.describe_stream(StreamName=name)["StreamDescription"]
        described = description["Shards"]
        self.assertEqual(described, shards[:len(described)])
        return shards

    def assertRoutedToOpenShards(self, name, producer, since):
        """Records acknowledged after `since` records went to the open shards."""
        shards = self.shards(name)
        for data, (key, _, shard_id) in list(producer.acked.items())[since:]:
            self.assertEqual(shard_id, shard_for_hash_key(shards, md5_hash_key(key)), data)


class SplitShardTest(LineageTestCase):

    def test_split_shard_lineage(self):
        name = self.new_stream(1)
        producer = Producer(self.client, name)
        producer.put(120)
        parent = self.shards(name)[0]
        middle = 2 ** 127
        self.client.split_shard(StreamName=name, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(middle))
        wait_active(self.client, name)
        before = len(producer.acked)
        producer.put(120)
        self.assertRoutedToOpenShards(name, producer, before)

        shards = self.verify_stream(name, producer)
        self.assertEqual([s["ShardId"] for s in shards],
                         ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
        closed, left, right = shards
        self.assertIn("EndingSequenceNumber", closed["SequenceNumberRange"])
        self.assertEqual(hash_range(left), (0, middle - 1))
        self.assertEqual(hash_range(right), (middle, MAX_HASH_KEY))
        for child in (left, right):
            self.assertEqual(child["ParentShardId"], parent["ShardId"])
            self.assertNotIn("AdjacentParentShardId", child)
            self.assertTrue(is_open(child))
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertEqual(summary["StreamStatus"], "ACTIVE")

    def test_split_by_stream_arn(self):
        name = self.new_stream(2)
        self.client.split_shard(StreamARN=stream_arn(name), ShardToSplit="shardId-000000000001",
                                NewStartingHashKey=str(2 ** 127 + 12345))
        wait_active(self.client, name)
        shards = self.shards(name)
        self.assertEqual([hash_range(s) for s in shards[2:]],
                         [(2 ** 127, 2 ** 127 + 12344), (2 ** 127 + 12345, MAX_HASH_KEY)])
        self.assertLineage(shards)

    def test_new_starting_hash_key_bounds(self):
        name = self.new_stream(2)
        shard = self.shards(name)[1]
        lo, hi = hash_range(shard)
        for key in (0, lo - 1, lo, lo + 1, hi, hi + 1, MAX_HASH_KEY):
            with self.subTest(key=key):
                self.assertClientError(
                    self.client.split_shard, "InvalidArgumentException",
                    "NewStartingHashKey %d used in SplitShard() on shard %s in stream %s under account %s "
                    "is not both greater than one plus the shard's StartingHashKey %d and less than the "
                    "shard's EndingHashKey %d." % (key, shard["ShardId"], name, ACCOUNT, lo, hi),
                    StreamName=name, ShardToSplit=shard["ShardId"], NewStartingHashKey=str(key))
        # Nothing changed.
        self.assertEqual(len(self.shards(name)), 2)
        # The first key that is allowed.
        self.client.split_shard(StreamName=name, ShardToSplit=shard["ShardId"], NewStartingHashKey=str(lo + 2))
        wait_active(self.client, name)
        self.assertEqual([hash_range(s) for s in self.shards(name)[2:]], [(lo, lo + 1), (lo + 2, hi)])

    def test_split_closed_shard(self):
        name = self.new_stream(1)
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(2 ** 127))
        wait_active(self.client, name)
        message = ("Shard shardId-000000000000 in stream %s under account %s has already been merged or "
                   "split, and thus is not eligible for merging or splitting." % (name, ACCOUNT))
        self.assertClientError(self.client.split_shard, "ResourceInUseException", message,
                               StreamName=name, ShardToSplit="shardId-000000000000",
                               NewStartingHashKey=str(2 ** 126))
        self.assertClientError(self.client.merge_shards, "ResourceInUseException", message,
                               StreamName=name, ShardToMerge="shardId-000000000000",
                               AdjacentShardToMerge="shardId-000000000001")
        self.assertEqual(len(self.shards(name)), 3)

    def test_split_missing_shard_and_stream(self):
        name = self.new_stream(1)
        self.assertClientError(
            self.client.split_shard, "ResourceNotFoundException",
            "Could not find shard shardId-000000000009 in stream %s under account %s." % (name, ACCOUNT),
            StreamName=name, ShardToSplit="shardId-000000000009", NewStartingHashKey="12345")
        self.assertClientError(
            self.client.split_shard, "ResourceNotFoundException",
            "Stream missing-%s under account %s not found." % (name, ACCOUNT),
            StreamName="missing-" + name, ShardToSplit="shardId-000000000000", NewStartingHashKey="12345")

    def test_children_sort_after_parent_records_in_the_same_second(self):
        # Split right after writing, so that parent records and the children's
        # creation likely share a wall-clock second.
        name = self.new_stream(1)
        producer = Producer(self.client, name, keys=4)
        for _ in range(3):
            producer.put(10)
            open_shards = [s for s in self.shards(name) if is_open(s)]
            widest = max(open_shards, key=lambda s: hash_range(s)[1] - hash_range(s)[0])
            lo, hi = hash_range(widest)
            self.client.split_shard(StreamName=name, ShardToSplit=widest["ShardId"],
                                    NewStartingHashKey=str((lo + hi) // 2))
            wait_active(self.client, name)
            producer.put(10)
        self.verify_stream(name, producer)


class MergeShardsTest(LineageTestCase):

    def test_merge_shards_lineage(self):
        name = self.new_stream(3)
        producer = Producer(self.client, name)
        producer.put(150)
        first, second, third = self.shards(name)
        self.client.merge_shards(StreamName=name, ShardToMerge=first["ShardId"],
                                 AdjacentShardToMerge=second["ShardId"])
        wait_active(self.client, name)
        before = len(producer.acked)
        producer.put(150)
        self.assertRoutedToOpenShards(name, producer, before)

        shards = self.verify_stream(name, producer)
        self.assertEqual(len(shards), 4)
        child = shards[3]
        self.assertEqual(child["ShardId"], "shardId-000000000003")
        self.assertEqual(child["ParentShardId"], first["ShardId"])
        self.assertEqual(child["AdjacentParentShardId"], second["ShardId"])
        self.assertEqual(hash_range(child), (hash_range(first)[0], hash_range(second)[1]))
        self.assertFalse(is_open(shards[0]))
        self.assertFalse(is_open(shards[1]))
        self.assertTrue(is_open(shards[2]))
        self.assertEqual(shards[2], third)

    def test_both_parents_report_the_same_child(self):
        name = self.new_stream(2)
        self.client.merge_shards(StreamName=name, ShardToMerge="shardId-000000000000",
                                 AdjacentShardToMerge="shardId-000000000001")
        wait_active(self.client, name)
        for parent in ("shardId-000000000000", "shardId-000000000001"):
            iterator = self.client.get_shard_iterator(StreamName=name, ShardId=parent,
                                                      ShardIteratorType="LATEST")["ShardIterator"]
            page = self.client.get_records(ShardIterator=iterator)
            self.assertEqual(page["Records"], [])
            self.assertNotIn("NextShardIterator", page)
            self.assertEqual(page["ChildShards"], [{
                "ShardId": "shardId-000000000002",
                "ParentShards": ["shardId-000000000000", "shardId-000000000001"],
                "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(MAX_HASH_KEY)}}])

    def test_non_adjacent_shards(self):
        name = self.new_stream(3)
        for a, b in (("shardId-000000000000", "shardId-000000000002"),
                     ("shardId-000000000002", "shardId-000000000000"),
                     ("shardId-000000000001", "shardId-000000000001")):
            with self.subTest(a=a, b=b):
                self.assertClientError(
                    self.client.merge_shards, "InvalidArgumentException",
                    "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards "
                    "eligible for merging" % (a, b, name, ACCOUNT),
                    StreamName=name, ShardToMerge=a, AdjacentShardToMerge=b)
        self.assertEqual(len(self.shards(name)), 3)

    def test_merge_missing_shard(self):
        name = self.new_stream(2)
        self.assertClientError(
            self.client.merge_shards, "ResourceNotFoundException",
            "Could not find shard shardId-000000000005 in stream %s under account %s." % (name, ACCOUNT),
            StreamName=name, ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000005")


class UpdateShardCountTest(LineageTestCase):

    def scale(self, initial, target):
        name = self.new_stream(initial)
        producer = Producer(self.client, name, keys=40)
        producer.put(200)
        result = self.client.update_shard_count(StreamName=name, TargetShardCount=target,
                                                ScalingType="UNIFORM_SCALING")
        self.assertEqual(result["CurrentShardCount"], initial)
        self.assertEqual(result["TargetShardCount"], target)
        self.assertEqual(result["StreamName"], name)
        self.assertEqual(result["StreamARN"], stream_arn(name))
        summary = wait_active(self.client, name)
        self.assertEqual(summary["OpenShardCount"], target)
        before = len(producer.acked)
        producer.put(200)
        self.assertRoutedToOpenShards(name, producer, before)

        shards = self.verify_stream(name, producer)
        open_shards = [s for s in shards if is_open(s)]
        self.assertEqual(sorted(hash_range(s) for s in open_shards), even_ranges(target))
        # Shard ids are handed out in creation order, without gaps.
        self.assertEqual([s["ShardId"] for s in shards],
                         ["shardId-%012d" % i for i in range(len(shards))])
        self.assertEqual(self.shards(name, ShardFilter={"Type": "AT_LATEST"}), open_shards)
        return name, producer

    def test_2_to_4(self):
        self.scale(2, 4)

    def test_4_to_2(self):
        self.scale(4, 2)

    def test_3_to_5(self):
        self.scale(3, 5)

    def test_5_to_3(self):
        self.scale(5, 3)

    def test_1_to_2_to_1_then_3(self):
        name, producer = self.scale(1, 2)
        for target in (1, 2, 3):
            self.client.update_shard_count(StreamName=name, TargetShardCount=target,
                                           ScalingType="UNIFORM_SCALING")
            wait_active(self.client, name)
            producer.put(60)
        shards = self.verify_stream(name, producer)
        self.assertEqual(sorted(hash_range(s) for s in shards if is_open(s)), even_ranges(3))

    def test_repeated_scaling_keeps_children_after_parents(self):
        # Enough rounds that shard indexes pass 16: the low nibble of the
        # index sits right after the creation time in a sequence number.
        name, producer = self.scale(3, 5)
        for target in (3, 5, 3, 5, 3):
            self.client.update_shard_count(StreamName=name, TargetShardCount=target,
                                           ScalingType="UNIFORM_SCALING")
            wait_active(self.client, name)
            producer.put(50)
            with self.subTest(target=target):
                self.assertLineage(list_all_shards(self.client, name))
        self.assertGreater(len(list_all_shards(self.client, name)), 32)
        self.verify_stream(name, producer)

    def test_same_count_keeps_the_shards(self):
        name = self.new_stream(3)
        before = self.shards(name)
        result = self.client.update_shard_count(StreamName=name, TargetShardCount=3,
                                                ScalingType="UNIFORM_SCALING")
        self.assertEqual((result["CurrentShardCount"], result["TargetShardCount"]), (3, 3))
        wait_active(self.client, name)
        self.assertEqual(self.shards(name), before)

    def test_over_double_and_under_half(self):
        name = self.new_stream(4)
        for target, message in (
                (9, "UpdateShardCount cannot scale up over double your current open shard count. "
                    "Current open shard count: 4 Target shard count: 9"),
                (1, "UpdateShardCount cannot scale down below half your current open shard count. "
                    "Current open shard count: 4 Target shard count: 1")):
            with self.subTest(target=target):
                self.assertClientError(self.client.update_shard_count, "LimitExceededException", message,
                                       StreamName=name, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
        self.assertEqual(len(self.shards(name)), 4)
        # The bounds themselves are allowed; the count is of open shards.
        self.client.update_shard_count(StreamName=name, TargetShardCount=8, ScalingType="UNIFORM_SCALING")
        wait_active(self.client, name)
        self.assertClientError(
            self.client.update_shard_count, "LimitExceededException",
            "UpdateShardCount cannot scale down below half your current open shard count. "
            "Current open shard count: 8 Target shard count: 3",
            StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
        self.client.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
        wait_active(self.client, name)
        self.assertEqual(len([s for s in self.shards(name) if is_open(s)]), 4)

    def test_missing_stream(self):
        self.assertClientError(self.client.update_shard_count, "ResourceNotFoundException",
                               "Stream no-such-stream-x under account %s not found." % ACCOUNT,
                               StreamName="no-such-stream-x", TargetShardCount=2,
                               ScalingType="UNIFORM_SCALING")


class ListShardsFilterTest(LineageTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # shardId-0 and -1 at creation; 0 splits into 2 and 3; 3 and 1 merge into 4.
        cls.name = create_stream(cls.client, shards=2)
        cls.created = cls.client.describe_stream_summary(
            StreamName=cls.name)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        cls.client.split_shard(StreamName=cls.name, ShardToSplit="shardId-000000000000",
                               NewStartingHashKey=str(2 ** 126))
        wait_active(cls.client, cls.name)
        cls.client.merge_shards(StreamName=cls.name, ShardToMerge="shardId-000000000003",
                                AdjacentShardToMerge="shardId-000000000001")
        wait_active(cls.client, cls.name)
        cls.all_shards = list_all_shards(cls.client, cls.name)
        # A time after every shard's creation and every close, in whole
        # seconds as botocore sends timestamps.
        newest = max(shard_created_s(s["SequenceNumberRange"]["StartingSequenceNumber"])
                     for s in cls.all_shards)
        while time.time() < newest + 1.2:
            time.sleep(0.1)
        cls.after = datetime.datetime.now(datetime.timezone.utc)

    def ids(self, **kwargs):
        return [s["ShardId"] for s in self.client.list_shards(StreamName=self.name, **kwargs)["Shards"]]

    def test_setup_produced_the_expected_lineage(self):
        self.assertEqual([s["ShardId"] for s in self.all_shards], ["shardId-%012d" % i for i in range(5)])
        self.assertEqual([is_open(s) for s in self.all_shards], [False, False, True, False, True])
        self.assertEqual(self.all_shards[4]["ParentShardId"], "shardId-000000000003")
        self.assertEqual(self.all_shards[4]["AdjacentParentShardId"], "shardId-000000000001")
        self.assertLineage(self.all_shards)

    def test_default_lists_closed_shards(self):
        self.assertEqual(self.ids(), ["shardId-%012d" % i for i in range(5)])
        self.assertEqual(self.ids(ShardFilter={"Type": "FROM_TRIM_HORIZON"}), self.ids())

    def test_at_latest_is_open_shards_only(self):
        self.assertEqual(self.ids(ShardFilter={"Type": "AT_LATEST"}),
                         ["shardId-000000000002", "shardId-000000000004"])

    def test_at_trim_horizon_is_the_original_shards(self):
        self.assertEqual(self.ids(ShardFilter={"Type": "AT_TRIM_HORIZON"}),
                         ["shardId-000000000000", "shardId-000000000001"])

    def test_after_shard_id(self):
        self.assertEqual(self.ids(ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000001"}),
                         ["shardId-000000000002", "shardId-000000000003", "shardId-000000000004"])
        self.assertEqual(self.ids(ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000004"}),
                         [])
        self.assertClientError(self.client.list_shards, "InvalidArgumentException", None,
                               StreamName=self.name, ShardFilter={"Type": "AFTER_SHARD_ID"})

    def test_at_timestamp(self):
        self.assertEqual(self.ids(ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": self.created}),
                         ["shardId-000000000000", "shardId-000000000001"])
        self.assertEqual(self.ids(ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": self.after}),
                         ["shardId-000000000002", "shardId-000000000004"])

    def test_from_timestamp(self):
        self.assertEqual(self.ids(ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": self.created}),
                         ["shardId-%012d" % i for i in range(5)])
        self.assertEqual(self.ids(ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": self.after}),
                         ["shardId-000000000002", "shardId-000000000004"])

    def test_timestamp_filters_need_a_timestamp(self):
        for kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            with self.subTest(kind=kind):
                self.assertClientError(self.client.list_shards, "InvalidArgumentException", None,
                                       StreamName=self.name, ShardFilter={"Type": kind})

    def test_filter_survives_paging(self):
        pages, token = [], None
        while True:
            page = (self.client.list_shards(NextToken=token, MaxResults=1) if token else
                    self.client.list_shards(StreamName=self.name, MaxResults=1,
                                            ShardFilter={"Type": "AT_LATEST"}))
            pages.append([s["ShardId"] for s in page["Shards"]])
            token = page.get("NextToken")
            if not token:
                break
            self.assertLess(len(pages), 10)
        self.assertEqual([sid for page in pages for sid in page],
                         ["shardId-000000000002", "shardId-000000000004"])
        self.assertLessEqual(max(len(p) for p in pages), 1)

    def test_describe_stream_shows_ending_sequence_numbers(self):
        shards = self.client.describe_stream(StreamName=self.name)["StreamDescription"]["Shards"]
        self.assertEqual(shards, self.all_shards)
        for shard in shards:
            self.assertEqual("EndingSequenceNumber" in shard["SequenceNumberRange"],
                             shard["ShardId"] in ("shardId-000000000000", "shardId-000000000001",
                                                  "shardId-000000000003"))


class ClosedShardReadTest(LineageTestCase):

    def test_iterators_on_a_closed_shard(self):
        name = self.new_stream(1)
        numbers = [self.client.put_record(StreamName=name, Data=b"r%d" % i, PartitionKey="k")["SequenceNumber"]
                   for i in range(5)]
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(2 ** 127))
        wait_active(self.client, name)
        expected_children = [{"ShardId": "shardId-000000000001", "ParentShards": ["shardId-000000000000"],
                              "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2 ** 127 - 1)}},
                             {"ShardId": "shardId-000000000002", "ParentShards": ["shardId-000000000000"],
                              "HashKeyRange": {"StartingHashKey": str(2 ** 127),
                                               "EndingHashKey": str(MAX_HASH_KEY)}}]

        def first_page(kind, **kwargs):
            iterator = self.client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                      ShardIteratorType=kind, **kwargs)["ShardIterator"]
            return self.client.get_records(ShardIterator=iterator)

        page = first_page("TRIM_HORIZON")
        self.assertEqual([r["Data"] for r in page["Records"]], [b"r%d" % i for i in range(5)])
        self.assertNotIn("NextShardIterator", page)
        self.assertEqual(page["ChildShards"], expected_children)
        self.assertEqual(page["MillisBehindLatest"], 0)

        page = first_page("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[2])
        self.assertEqual([r["Data"] for r in page["Records"]], [b"r3", b"r4"])
        self.assertEqual(page["ChildShards"], expected_children)

        for kind, kwargs in (("LATEST", {}), ("AFTER_SEQUENCE_NUMBER", {"StartingSequenceNumber": numbers[-1]})):
            with self.subTest(kind=kind):
                page = first_page(kind, **kwargs)
                self.assertEqual(page["Records"], [])
                self.assertNotIn("NextShardIterator", page)
                self.assertEqual(page["ChildShards"], expected_children)

        # Paging through a closed shard: ChildShards only on the last page.
        iterator = self.client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        seen = []
        while iterator:
            page = self.client.get_records(ShardIterator=iterator, Limit=2)
            seen += [r["Data"] for r in page["Records"]]
            iterator = page.get("NextShardIterator")
            self.assertEqual("ChildShards" in page, iterator is None, page)
            self.assertLess(len(seen), 20)
        self.assertEqual(seen, [b"r%d" % i for i in range(5)])

        # Writes after the split never land in the closed parent.
        put = self.client.put_record(StreamName=name, Data=b"late", PartitionKey="k")
        self.assertIn(put["ShardId"], ("shardId-000000000001", "shardId-000000000002"))
        self.assertEqual(len(first_page("TRIM_HORIZON")["Records"]), 5)


class ConcurrentReshardTest(LineageTestCase):
    """Writers and a lineage-following reader run while the stream reshards."""

    def test_live_consumer_sees_every_acknowledged_record(self):
        name = self.new_stream(2)
        producers = [Producer(make_client(self.server.endpoint), name, keys=8, prefix="w%d" % i)
                     for i in range(2)]
        stop_writing = threading.Event()
        errors = []

        def write(producer):
            try:
                while not stop_writing.is_set():
                    producer.put(10, batch=10)
            except Exception as error:  # reported below
                errors.append(error)

        consumed, consumed_lock = [], threading.Lock()
        stop_reading = threading.Event()
        reader_client = make_client(self.server.endpoint)

        def read():
            # Like KCL: follow each shard until it ends, start children whose
            # parents have all ended.
            try:
                finished, started, active = set(), set(), {}
                while True:
                    # Read before deciding: the writers may have stopped
                    # after the previous round.
                    stopping = stop_reading.is_set()
                    progress = False
                    shards = list_all_shards(reader_client, name)
                    for shard in shards:
                        sid = shard["ShardId"]
                        if sid not in started and all(p in finished for p in parents_of(shard)):
                            started.add(sid)
                            progress = True
                            active[sid] = reader_client.get_shard_iterator(
                                StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                    for sid in list(active):
                        page = reader_client.get_records(ShardIterator=active[sid])
                        with consumed_lock:
                            consumed.extend((sid, r) for r in page["Records"])
                        if page["Records"]:
                            progress = True
                        if page.get("NextShardIterator") is None:
                            finished.add(sid)
                            del active[sid]
                            progress = True
                        else:
                            active[sid] = page["NextShardIterator"]
                    if stopping and not progress and len(started) == len(shards):
                        return
                    if not progress:
                        time.sleep(0.05)
            except Exception as error:  # reported below
                errors.append(error)

        writers = [threading.Thread(target=write, args=(p,)) for p in producers]
        reader = threading.Thread(target=read)
        for thread in writers + [reader]:
            thread.start()
        try:
            steps = [("update", 4), ("merge", None), ("split", None), ("update", 2), ("update", 3)]
            for kind, target in steps:
                wait_until(lambda: sum(len(p.acked) for p in producers) > 0, "first writes")
                if kind == "update":
                    self.client.update_shard_count(StreamName=name, TargetShardCount=target,
                                                   ScalingType="UNIFORM_SCALING")
                else:
                    open_shards = sorted((s for s in self.shards(name) if is_open(s)), key=hash_range)
                    if kind == "merge":
                        self.client.merge_shards(StreamName=name, ShardToMerge=open_shards[0]["ShardId"],
                                                 AdjacentShardToMerge=open_shards[1]["ShardId"])
                    else:
                        lo, hi = hash_range(open_shards[0])
                        self.client.split_shard(StreamName=name, ShardToSplit=open_shards[0]["ShardId"],
                                                NewStartingHashKey=str((lo + hi) // 2))
                wait_active(self.client, name)
                time.sleep(0.3)  # let some writes land on the new shards
        finally:
            stop_writing.set()
            for thread in writers:
                thread.join(timeout=120)
            stop_reading.set()
            reader.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertFalse(reader.is_alive())

        acked = {}
        for producer in producers:
            acked.update(producer.acked)
        data = [r["Data"] for _, r in consumed]
        self.assertEqual(len(data), len(set(data)), "the live reader saw a record twice")
        missing = set(acked) - set(data)
        self.assertEqual(len(missing), 0, "the live reader missed %d of %d acknowledged records, e.g. %r"
                         % (len(missing), len(acked), sorted(missing)[:5]))
        last = {}
        for _, record in consumed:
            key, n = record["Data"].rsplit(b"|", 1)
            self.assertGreater(int(n), last.get(key, -1), "%s out of order" % key)
            last[key] = int(n)
        # A reader starting now sees the same.
        shards, per_shard, everything = self.consume_by_lineage(name)
        self.assertLineage(shards)
        self.assertEqual(sorted(r["Data"] for r in everything), sorted(acked))


class UpdatingStatusTest(LineageTestCase):
    # Long enough that the calls right after a reshard see UPDATING.
    server_args = ("--update-stream-ms", "3000")

    def test_updating_then_active(self):
        name = self.new_stream(2)
        producer = Producer(self.client, name)
        producer.put(40)
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(2 ** 126))
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamStatus"], "UPDATING")
        self.assertEqual(self.client.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"],
                         "UPDATING")
        listed = [s for s in self.client.list_streams()["StreamSummaries"] if s["StreamName"] == name]
        self.assertEqual(listed[0]["StreamStatus"], "UPDATING")

        busy = "Stream %s under account %s not ACTIVE, instead in state UPDATING" % (name, ACCOUNT)
        self.assertClientError(self.client.split_shard, "ResourceInUseException", busy, StreamName=name,
                               ShardToSplit="shardId-000000000001", NewStartingHashKey=str(3 * 2 ** 126))
        # Which check comes first for shards the pending split creates is not
        # documented: only the type is checked.
        self.assertClientError(self.client.merge_shards, "ResourceInUseException", None, StreamName=name,
                               ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003")
        self.assertClientError(self.client.update_shard_count, "ResourceInUseException", busy,
                               StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
        # Reads and writes keep working while UPDATING.
        producer.put(40)
        self.assertEqual(self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                         ["StreamStatus"], "UPDATING", "the test needs the stream still UPDATING here")

        wait_active(self.client, name)
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000001",
                                NewStartingHashKey=str(3 * 2 ** 126))
        wait_active(self.client, name)
        producer.put(40)
        shards = self.verify_stream(name, producer)
        self.assertEqual(len([s for s in shards if is_open(s)]), 4)

    def test_update_shard_count_marks_updating(self):
        name = self.new_stream(2)
        self.client.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
        self.assertEqual(self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                         ["StreamStatus"], "UPDATING")
        self.assertClientError(self.client.update_shard_count, "ResourceInUseException",
                               "Stream %s under account %s not ACTIVE, instead in state UPDATING" % (name, ACCOUNT),
                               StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
        self.assertEqual(wait_active(self.client, name)["OpenShardCount"], 4)


class CrashAfterReshardTest(LineageTestCase):

    def crash_and_restart(self):
        self.server.kill9()
        self.server.start()
        self.client = make_client(self.server.endpoint)

    def test_kill9_right_after_each_reshard(self):
        name = self.new_stream(2)
        producer = Producer(self.client, name, keys=30)
        producer.put(150)
        steps = [
            lambda: self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000001",
                                            NewStartingHashKey=str(3 * 2 ** 126)),
            lambda: self.client.merge_shards(StreamName=name, ShardToMerge="shardId-000000000002",
                                             AdjacentShardToMerge="shardId-000000000003"),
            lambda: self.client.update_shard_count(StreamName=name, TargetShardCount=4,
                                                   ScalingType="UNIFORM_SCALING"),
        ]
        expected_open = [3, 2, 4]
        for step, open_count in zip(steps, expected_open):
            step()
            self.crash_and_restart()
            producer.client = self.client
            summary = wait_active(self.client, name)
            self.assertEqual(summary["OpenShardCount"], open_count)
            shards = self.verify_stream(name, producer)
            self.assertEqual(len([s for s in shards if is_open(s)]), open_count)
            before = len(producer.acked)
            producer.put(90)
            self.assertRoutedToOpenShards(name, producer, before)
        listed_before = self.shards(name)
        self.server.restart()
        self.client = make_client(self.server.endpoint)
        self.assertEqual(self.shards(name), listed_before)
        self.verify_stream(name, producer)


if __name__ == "__main__":
    unittest.main(verbosity=2)
