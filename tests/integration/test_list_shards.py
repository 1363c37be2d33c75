"""ListShards as the Kinesis Client Library uses it when it starts and while it
runs: every ShardFilter type across a split and a merge, at any instant (the
AT_* answers must cover the hash key space exactly once, which KCL checks),
closed shards past retention, and the members that cannot go together."""
import datetime
import time
import unittest

from kinesis_helpers import (ACCOUNT, MAX_HASH_KEY, KinesdTestCase, create_stream, list_all_shards, make_client,
                             not_found_message, raw_request, stream_arn, unique_name, wait_active)
from kinesd_server import KinesdServer

HOUR_MS = 3600 * 1000


def sid(i):
    return "shardId-%012d" % i


def ids(shards):
    return [s["ShardId"] for s in shards]


def tiles_hash_space(shards):
    """KCL's check of an AT_* answer: sorted by starting hash key, the ranges
    run from 0 to 2^128-1 with no gap and no overlap."""
    ranges = sorted((int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                    for s in shards)
    if not ranges or ranges[0][0] != 0 or ranges[-1][1] != MAX_HASH_KEY:
        return False
    return all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))


def distinct_in_order(answers):
    out = []
    for answer in answers:
        if not out or out[-1] != answer:
            out.append(answer)
    return out


def reshaped_stream(client):
    """shardId-0 and -1 at creation; 0 splits into 2 and 3; 3 and 1 merge
    into 4. Returns the name and the epoch seconds before creation, between
    the split and the merge, and after the merge."""
    name = unique_name("ls")
    before = time.time()
    time.sleep(0.05)
    create_stream(client, name=name, shards=2)
    client.split_shard(StreamName=name, ShardToSplit=sid(0), NewStartingHashKey=str(2 ** 126))
    wait_active(client, name)
    time.sleep(0.3)
    middle = time.time()
    time.sleep(0.3)
    client.merge_shards(StreamName=name, ShardToMerge=sid(3), AdjacentShardToMerge=sid(1))
    wait_active(client, name)
    time.sleep(0.05)
    return name, before, middle, time.time()


class ShardFilterAtEveryInstantTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name, cls.before, cls.middle, cls.after = reshaped_stream(cls.client)

    def raw_list(self, filter_type, seconds):
        """ListShards with a millisecond Timestamp (botocore sends whole seconds)."""
        response = raw_request(self.server.endpoint, "ListShards",
                               {"StreamName": self.name,
                                "ShardFilter": {"Type": filter_type, "Timestamp": round(seconds, 3)}})
        self.assertEqual(response.status, 200, response)
        return response.json()["Shards"]

    def sample_times(self):
        t, step = self.before, 0.02
        while t < self.after + 0.1:
            yield t
            t += step

    def test_at_timestamp_tiles_the_hash_space_at_every_instant(self):
        answers = []
        for t in self.sample_times():
            shards = self.raw_list("AT_TIMESTAMP", t)
            self.assertTrue(tiles_hash_space(shards), "AT_TIMESTAMP %.3f: %r" % (t, ids(shards)))
            answers.append(ids(shards))
        # Before creation means the trim horizon, here the creation.
        self.assertEqual(distinct_in_order(answers),
                         [[sid(0), sid(1)], [sid(1), sid(2), sid(3)], [sid(2), sid(4)]])

    def test_from_timestamp_is_every_shard_open_then_or_later(self):
        answers = [ids(self.raw_list("FROM_TIMESTAMP", t)) for t in self.sample_times()]
        self.assertEqual(distinct_in_order(answers),
                         [[sid(i) for i in range(5)], [sid(1), sid(2), sid(3), sid(4)], [sid(2), sid(4)]])

    def test_boto3_whole_second_timestamps(self):
        middle = datetime.datetime.fromtimestamp(self.middle, datetime.timezone.utc)
        shards = self.client.list_shards(StreamName=self.name,
                                         ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": middle})["Shards"]
        self.assertTrue(tiles_hash_space(shards), ids(shards))
        later = datetime.datetime.fromtimestamp(self.after + 1, datetime.timezone.utc)
        self.assertEqual(ids(self.client.list_shards(
            StreamName=self.name, ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": later})["Shards"]),
            [sid(2), sid(4)])
        self.assertEqual(ids(self.client.list_shards(
            StreamName=self.name, ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": later})["Shards"]),
            [sid(2), sid(4)])

    def test_the_other_types(self):
        def listed(**kwargs):
            return ids(self.client.list_shards(StreamName=self.name, **kwargs)["Shards"])
        self.assertEqual(listed(), [sid(i) for i in range(5)])
        self.assertEqual(listed(ShardFilter={"Type": "FROM_TRIM_HORIZON"}), [sid(i) for i in range(5)])
        self.assertEqual(listed(ShardFilter={"Type": "AT_TRIM_HORIZON"}), [sid(0), sid(1)])
        self.assertEqual(listed(ShardFilter={"Type": "AT_LATEST"}), [sid(2), sid(4)])
        self.assertEqual(listed(ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": sid(2)}), [sid(3), sid(4)])
        # With ExclusiveStartShardId too, the later start wins.
        self.assertEqual(listed(ExclusiveStartShardId=sid(3),
                                ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": sid(0)}), [sid(4)])
        self.assertEqual(listed(ExclusiveStartShardId=sid(0), ShardFilter={"Type": "AT_LATEST"}),
                         [sid(2), sid(4)])

    def test_kcl_sends_name_and_arn_together(self):
        shards = self.client.list_shards(StreamName=self.name, StreamARN=stream_arn(self.name),
                                         ShardFilter={"Type": "AT_LATEST"})["Shards"]
        self.assertEqual(ids(shards), [sid(2), sid(4)])
        shards = self.client.list_shards(StreamARN=stream_arn(self.name),
                                         ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
        self.assertEqual(ids(shards), [sid(0), sid(1)])

    def test_filter_is_kept_by_the_next_token(self):
        pages, token = [], None
        while True:
            page = (self.client.list_shards(NextToken=token, MaxResults=1) if token else
                    self.client.list_shards(StreamName=self.name, MaxResults=1,
                                            ShardFilter={"Type": "FROM_TIMESTAMP",
                                                         "Timestamp": self.middle}))
            pages.append(ids(page["Shards"]))
            token = page.get("NextToken")
            if not token:
                break
            self.assertLess(len(pages), 10)
        # botocore truncates the timestamp to the second: shard 0 closed
        # within that second or before it.
        flat = [s for page in pages for s in page]
        self.assertEqual(flat[-4:], [sid(1), sid(2), sid(3), sid(4)])
        self.assertTrue(all(len(p) <= 1 for p in pages), pages)


class ListShardsArgumentsTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = create_stream(cls.client, shards=3)
        cls.created = cls.client.describe_stream_summary(
            StreamName=cls.name)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        cls.token = cls.client.list_shards(StreamName=cls.name, MaxResults=1)["NextToken"]

    def invalid(self, message, **kwargs):
        self.assertClientError(self.client.list_shards, "InvalidArgumentException", message, **kwargs)

    def test_next_token_stands_alone(self):
        self.invalid("NextToken and StreamName cannot be provided together.",
                     NextToken=self.token, StreamName=self.name)
        self.invalid("NextToken and StreamARN cannot be provided together.",
                     NextToken=self.token, StreamARN=stream_arn(self.name))
        self.invalid("NextToken and ExclusiveStartShardId cannot be provided together.",
                     NextToken=self.token, ExclusiveStartShardId=sid(0))
        self.invalid("NextToken and StreamCreationTimestamp cannot be provided together.",
                     NextToken=self.token, StreamCreationTimestamp=self.created)
        self.invalid("NextToken and ShardFilter cannot be provided together.",
                     NextToken=self.token, ShardFilter={"Type": "AT_LATEST"})
        # Alone, with MaxResults, it pages on.
        page = self.client.list_shards(NextToken=self.token, MaxResults=5)
        self.assertEqual(ids(page["Shards"]), [sid(1), sid(2)])
        self.assertNotIn("NextToken", page)

    def test_a_stream_or_a_token(self):
        self.invalid("Either NextToken or StreamName should be provided.")
        self.invalid("Either NextToken or StreamName should be provided.", MaxResults=3)

    def test_filter_members_by_type(self):
        self.invalid("Must specify ShardId in ShardFilter for ShardFilter type AFTER_SHARD_ID.",
                     StreamName=self.name, ShardFilter={"Type": "AFTER_SHARD_ID"})
        for kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            self.invalid("Must specify Timestamp in ShardFilter for ShardFilter type %s." % kind,
                         StreamName=self.name, ShardFilter={"Type": kind})
            self.invalid("ShardId in ShardFilter can only be used with ShardFilter type AFTER_SHARD_ID.",
                         StreamName=self.name, ShardFilter={"Type": kind, "Timestamp": self.created,
                                                            "ShardId": sid(0)})
        for kind in ("AT_LATEST", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AFTER_SHARD_ID"):
            extra = {"ShardId": sid(0)} if kind == "AFTER_SHARD_ID" else {}
            self.invalid("Timestamp in ShardFilter can only be used with ShardFilter types AT_TIMESTAMP and "
                         "FROM_TIMESTAMP.",
                         StreamName=self.name, ShardFilter={"Type": kind, "Timestamp": self.created, **extra})
        for kind in ("AT_LATEST", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON"):
            self.invalid("ShardId in ShardFilter can only be used with ShardFilter type AFTER_SHARD_ID.",
                         StreamName=self.name, ShardFilter={"Type": kind, "ShardId": sid(0)})

    def test_filter_type_is_an_enum(self):
        response = raw_request(self.server.endpoint, "ListShards",
                               {"StreamName": self.name, "ShardFilter": {"Type": "AT_SOMETIME"}})
        body = self.assertRawError(response, 400, "ValidationException")
        self.assertIn("shardFilter.type", body["message"])

    def test_stream_creation_timestamp_picks_the_incarnation(self):
        shards = self.client.list_shards(StreamName=self.name, StreamCreationTimestamp=self.created)["Shards"]
        self.assertEqual(ids(shards), [sid(0), sid(1), sid(2)])
        earlier = self.created - datetime.timedelta(days=1)
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException", not_found_message(self.name),
                               StreamName=self.name, StreamCreationTimestamp=earlier)

    def test_next_token_of_a_deleted_and_recreated_stream(self):
        name = create_stream(self.client, shards=2)
        token = self.client.list_shards(StreamName=name, MaxResults=1)["NextToken"]
        self.client.delete_stream(StreamName=name)
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException", not_found_message(name),
                               NextToken=token)
        create_stream(self.client, name=name, shards=2)
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException", not_found_message(name),
                               NextToken=token)

    def test_arn_addressing(self):
        arn = stream_arn(self.name)
        self.assertEqual(ids(self.client.list_shards(StreamARN=arn)["Shards"]), [sid(0), sid(1), sid(2)])
        other = unique_name("other")
        self.invalid("StreamARN %s and StreamName %s do not name the same stream." % (arn, other),
                     StreamName=other, StreamARN=arn)
        foreign = "arn:aws:kinesis:us-east-1:111122223333:stream/%s" % self.name
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException",
                               "Stream %s under account 111122223333 not found." % self.name, StreamARN=foreign)
        elsewhere = "arn:aws:kinesis:eu-west-1:%s:stream/%s" % (ACCOUNT, self.name)
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException", not_found_message(self.name),
                               StreamARN=elsewhere)


class ShardsPastRetentionTest(KinesdTestCase):
    """Closed shards leave every listing once their data has expired; the
    server restarts with its clock moved forward."""

    def setUp(self):
        self.server = KinesdServer()
        self.client = make_client(self.server.endpoint)

    def tearDown(self):
        self.server.stop()

    def run(self, result=None):
        try:
            return super().run(result)
        finally:
            server = self.__dict__.pop("server", None)
            if server is not None:
                server.close()

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def restart_later(self, hours):
        self.server.restart(extra_args=["--clock-offset-ms", str(hours * HOUR_MS)])
        self.client = make_client(self.server.endpoint)

    def listed(self, name, **kwargs):
        return ids(self.client.list_shards(StreamName=name, **kwargs)["Shards"])

    def test_expired_closed_shards_are_not_listed(self):
        name, before, _, _ = reshaped_stream(self.client)
        kept, _, _, _ = reshaped_stream(self.client)
        self.client.increase_stream_retention_period(StreamName=kept, RetentionPeriodHours=48)
        self.restart_later(25)
        for kind in ({}, {"ShardFilter": {"Type": "FROM_TRIM_HORIZON"}},
                     {"ShardFilter": {"Type": "AT_TRIM_HORIZON"}},
                     {"ShardFilter": {"Type": "AT_LATEST"}},
                     {"ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": before}},
                     {"ShardFilter": {"Type": "FROM_TIMESTAMP", "Timestamp": before}},
                     {"ShardFilter": {"Type": "AFTER_SHARD_ID", "ShardId": sid(0)}},
                     {"ExclusiveStartShardId": sid(0)}):
            with self.subTest(kind=kind):
                self.assertEqual(self.listed(name, **kind), [sid(2), sid(4)])
        # Within a longer retention the closed shards are still there.
        self.assertEqual(self.listed(kept), [sid(i) for i in range(5)])
        self.assertEqual(self.listed(kept, ShardFilter={"Type": "AT_TRIM_HORIZON"}), [sid(0), sid(1)])
        self.assertEqual(self.listed(kept, ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": before}),
                         [sid(i) for i in range(5)])
        self.assertEqual([s["ShardId"] for s in list_all_shards(self.client, name)], [sid(2), sid(4)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
