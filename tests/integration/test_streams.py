"""Stream control plane through boto3: create, delete, describe, list, shards,
waiters, tags, limits, and StreamARN in place of StreamName."""
import datetime
import unittest

from kinesis_helpers import (ACCOUNT, MAX_HASH_KEY, KinesdTestCase, create_stream,
                             not_found_message, stream_arn, unique_name, wait_active,
                             wait_gone)

FAST_WAITER = {"Delay": 1, "MaxAttempts": 60}


def even_ranges(count):
    width = 2 ** 128 // count
    ranges = [(i * width, (i + 1) * width - 1) for i in range(count)]
    ranges[-1] = (ranges[-1][0], MAX_HASH_KEY)
    return ranges


class CreateDescribeTest(KinesdTestCase):

    def test_provisioned_stream_description(self):
        name = unique_name("desc")
        before = datetime.datetime.now(datetime.timezone.utc)
        self.client.create_stream(StreamName=name, ShardCount=3)
        wait_active(self.client, name)
        description = self.client.describe_stream(StreamName=name)["StreamDescription"]

        self.assertEqual(description["StreamName"], name)
        self.assertEqual(description["StreamARN"], stream_arn(name))
        self.assertEqual(description["StreamStatus"], "ACTIVE")
        self.assertEqual(description["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.assertEqual(description["RetentionPeriodHours"], 24)
        self.assertEqual(description["EncryptionType"], "NONE")
        self.assertFalse(description["HasMoreShards"])
        self.assertIsInstance(description["StreamCreationTimestamp"], datetime.datetime)
        # Same machine, same clock: only a unit mistake (ms read as s) is this far off.
        self.assertLess(abs((description["StreamCreationTimestamp"] - before).total_seconds()), 3600)

        shards = description["Shards"]
        self.assertEqual([s["ShardId"] for s in shards],
                         ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
        self.assertEqual([(int(s["HashKeyRange"]["StartingHashKey"]),
                           int(s["HashKeyRange"]["EndingHashKey"])) for s in shards],
                         even_ranges(3))
        for shard in shards:
            self.assertNotIn("ParentShardId", shard)
            self.assertRegex(shard["SequenceNumberRange"]["StartingSequenceNumber"], r"^(0|[1-9]\d*)$")
            self.assertNotIn("EndingSequenceNumber", shard["SequenceNumberRange"])

    def test_three_shard_ranges_match_aws_sample(self):
        # The AWS CLI documentation's three-shard stream ends at these keys.
        name = create_stream(self.client, shards=3)
        shards = self.client.list_shards(StreamName=name)["Shards"]
        self.assertEqual([s["HashKeyRange"]["EndingHashKey"] for s in shards],
                         ["113427455640312821154458202477256070484",
                          "226854911280625642308916404954512140969",
                          "340282366920938463463374607431768211455"])

    def test_on_demand_stream(self):
        name = unique_name("od")
        self.client.create_stream(StreamName=name,
                                  StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = wait_active(self.client, name)
        self.assertEqual(summary["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        self.assertGreaterEqual(summary["OpenShardCount"], 1)
        shards = self.client.list_shards(StreamName=name)["Shards"]
        self.assertEqual(len(shards), summary["OpenShardCount"])
        # The open shards cover the whole hash key space without gaps or overlaps.
        ranges = sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                         int(s["HashKeyRange"]["EndingHashKey"])) for s in shards)
        self.assertEqual(ranges[0][0], 0)
        self.assertEqual(ranges[-1][1], MAX_HASH_KEY)
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            self.assertEqual(start, end + 1)
        put = self.client.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        self.assertIn(put["ShardId"], [s["ShardId"] for s in shards])

    def test_create_existing_stream_is_resource_in_use(self):
        name = create_stream(self.client)
        self.assertClientError(
            self.client.create_stream, "ResourceInUseException",
            "Stream %s under account %s already exists." % (name, ACCOUNT),
            StreamName=name, ShardCount=1)

    def test_describe_stream_summary(self):
        name = create_stream(self.client, shards=2)
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamName"], name)
        self.assertEqual(summary["StreamARN"], stream_arn(name))
        self.assertEqual(summary["StreamStatus"], "ACTIVE")
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertEqual(summary["ConsumerCount"], 0)
        self.assertEqual(summary["RetentionPeriodHours"], 24)
        self.assertEqual(summary["EncryptionType"], "NONE")
        self.assertEqual(summary["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.assertEqual(summary["EnhancedMonitoring"], [{"ShardLevelMetrics": []}])
        self.assertIsInstance(summary["StreamCreationTimestamp"], datetime.datetime)
        self.assertNotIn("Shards", summary)

    def test_describe_stream_paging(self):
        name = create_stream(self.client, shards=5)
        first = self.client.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in first["Shards"]],
                         ["shardId-000000000000", "shardId-000000000001"])
        self.assertTrue(first["HasMoreShards"])
        second = self.client.describe_stream(
            StreamName=name, Limit=2, ExclusiveStartShardId="shardId-000000000001")["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in second["Shards"]],
                         ["shardId-000000000002", "shardId-000000000003"])
        self.assertTrue(second["HasMoreShards"])
        last = self.client.describe_stream(
            StreamName=name, Limit=2, ExclusiveStartShardId="shardId-000000000003")["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in last["Shards"]], ["shardId-000000000004"])
        self.assertFalse(last["HasMoreShards"])

    def test_describe_stream_paginator(self):
        name = create_stream(self.client, shards=5)
        pages = list(self.client.get_paginator("describe_stream").paginate(
            StreamName=name, PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 3)
        ids = [s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]]
        self.assertEqual(ids, ["shardId-%012d" % i for i in range(5)])

    def test_describe_missing_stream(self):
        name = unique_name("missing")
        self.assertClientError(self.client.describe_stream, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)
        self.assertClientError(self.client.describe_stream_summary, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)


class DeleteTest(KinesdTestCase):

    def test_delete_stream(self):
        name = create_stream(self.client)
        self.client.delete_stream(StreamName=name)
        wait_gone(self.client, name)
        self.assertClientError(self.client.describe_stream, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)
        self.assertNotIn(name, self.client.list_streams()["StreamNames"])

    def test_delete_missing_stream(self):
        name = unique_name("missing")
        self.assertClientError(self.client.delete_stream, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)

    def test_name_reusable_after_delete(self):
        name = create_stream(self.client)
        self.client.put_record(StreamName=name, Data=b"old", PartitionKey="k")
        self.client.delete_stream(StreamName=name)
        wait_gone(self.client, name)
        create_stream(self.client, name)
        shard = self.client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        iterator = self.client.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(self.client.get_records(ShardIterator=iterator)["Records"], [])

    def test_waiters(self):
        name = unique_name("wait")
        self.client.create_stream(StreamName=name, ShardCount=1)
        self.client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig=FAST_WAITER)
        status = self.client.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"]
        self.assertEqual(status, "ACTIVE")
        self.client.delete_stream(StreamName=name)
        self.client.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig=FAST_WAITER)
        self.assertClientError(self.client.describe_stream, "ResourceNotFoundException", None,
                               StreamName=name)


class ListStreamsTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        prefix = unique_name("ls")
        cls.names = ["%s-%d" % (prefix, i) for i in range(5)]
        for name in cls.names:
            cls.client.create_stream(StreamName=name, ShardCount=1)
        for name in cls.names:
            wait_active(cls.client, name)

    def mine(self, names):
        return [n for n in names if n in self.names]

    def test_list_all(self):
        page = self.client.list_streams()
        self.assertEqual(self.mine(page["StreamNames"]), self.names)
        self.assertEqual(page["StreamNames"], sorted(page["StreamNames"]))
        self.assertFalse(page["HasMoreStreams"])
        self.assertNotIn("NextToken", page)
        summaries = {s["StreamName"]: s for s in page["StreamSummaries"]}
        self.assertEqual([s["StreamName"] for s in page["StreamSummaries"]], page["StreamNames"])
        for name in self.names:
            self.assertEqual(summaries[name]["StreamARN"], stream_arn(name))
            self.assertEqual(summaries[name]["StreamStatus"], "ACTIVE")
            self.assertEqual(summaries[name]["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
            self.assertIsInstance(summaries[name]["StreamCreationTimestamp"], datetime.datetime)

    def test_limit_and_next_token(self):
        seen, token, pages = [], None, 0
        while True:
            page = (self.client.list_streams(Limit=2, NextToken=token) if token
                    else self.client.list_streams(Limit=2))
            pages += 1
            self.assertLessEqual(len(page["StreamNames"]), 2)
            self.assertEqual(len(page["StreamSummaries"]), len(page["StreamNames"]))
            seen += page["StreamNames"]
            if not page["HasMoreStreams"]:
                break
            token = page.get("NextToken")
            self.assertTrue(token, "HasMoreStreams without NextToken")
            self.assertLess(pages, 100)
        self.assertEqual(seen, sorted(set(seen)))
        self.assertEqual(self.mine(seen), self.names)

    def test_exclusive_start_stream_name(self):
        page = self.client.list_streams(ExclusiveStartStreamName=self.names[1], Limit=2)
        self.assertEqual(page["StreamNames"], self.names[2:4])
        self.assertTrue(page["HasMoreStreams"])
        rest = self.client.list_streams(ExclusiveStartStreamName=self.names[3])
        self.assertEqual(rest["StreamNames"][0], self.names[4])

    def test_paginator(self):
        pages = list(self.client.get_paginator("list_streams").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertGreaterEqual(len(pages), 3)
        names = [n for p in pages for n in p["StreamNames"]]
        self.assertEqual(names, sorted(set(names)))
        self.assertEqual(self.mine(names), self.names)
        summaries = [s["StreamName"] for p in pages for s in p["StreamSummaries"]]
        self.assertEqual(summaries, names)


class ListShardsTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = create_stream(cls.client, shards=5)
        cls.all_ids = ["shardId-%012d" % i for i in range(5)]

    def test_all_shards(self):
        page = self.client.list_shards(StreamName=self.name)
        self.assertEqual([s["ShardId"] for s in page["Shards"]], self.all_ids)
        self.assertNotIn("NextToken", page)
        for shard in page["Shards"]:
            self.assertIn("HashKeyRange", shard)
            self.assertIn("StartingSequenceNumber", shard["SequenceNumberRange"])

    def test_max_results_and_next_token(self):
        first = self.client.list_shards(StreamName=self.name, MaxResults=2)
        ids = [s["ShardId"] for s in first["Shards"]]
        self.assertEqual(ids, self.all_ids[:2])
        token = first["NextToken"]
        while token:
            page = self.client.list_shards(NextToken=token, MaxResults=2)
            self.assertLessEqual(len(page["Shards"]), 2)
            ids += [s["ShardId"] for s in page["Shards"]]
            token = page.get("NextToken")
            self.assertLessEqual(len(ids), 5)
        self.assertEqual(ids, self.all_ids)

    def test_exclusive_start_shard_id(self):
        page = self.client.list_shards(StreamName=self.name,
                                       ExclusiveStartShardId="shardId-000000000002")
        self.assertEqual([s["ShardId"] for s in page["Shards"]], self.all_ids[3:])

    def test_next_token_with_stream_name_is_rejected(self):
        token = self.client.list_shards(StreamName=self.name, MaxResults=1)["NextToken"]
        self.assertClientError(self.client.list_shards, "InvalidArgumentException",
                               "NextToken and StreamName cannot be provided together.",
                               StreamName=self.name, NextToken=token)

    def test_neither_next_token_nor_stream(self):
        self.assertClientError(self.client.list_shards, "InvalidArgumentException", None)

    def test_paginator_single_page(self):
        pages = list(self.client.get_paginator("list_shards").paginate(StreamName=self.name))
        self.assertEqual(len(pages), 1)
        self.assertEqual([s["ShardId"] for s in pages[0]["Shards"]], self.all_ids)

    def test_paginator_over_several_pages_fails_as_on_aws(self):
        # botocore's ListShards paginator repeats StreamName beside NextToken on
        # the second page, which Kinesis refuses; clients must page by hand.
        paginator = self.client.get_paginator("list_shards")
        pages = paginator.paginate(StreamName=self.name, PaginationConfig={"PageSize": 2})
        iterator = iter(pages)
        first = next(iterator)
        self.assertEqual([s["ShardId"] for s in first["Shards"]], self.all_ids[:2])
        self.assertClientError(lambda: next(iterator), "InvalidArgumentException",
                               "NextToken and StreamName cannot be provided together.")

    def test_missing_stream(self):
        name = unique_name("missing")
        self.assertClientError(self.client.list_shards, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)


class TagsTest(KinesdTestCase):

    def test_add_list_remove(self):
        name = create_stream(self.client)
        tags = {"env": "test", "team": "data", "a-key": "1", "owner": "", "zeta": "last"}
        self.client.add_tags_to_stream(StreamName=name, Tags=tags)
        listed = self.client.list_tags_for_stream(StreamName=name)
        self.assertFalse(listed["HasMoreTags"])
        self.assertEqual([(t["Key"], t.get("Value", "")) for t in listed["Tags"]],
                         sorted(tags.items()))

        self.client.remove_tags_from_stream(StreamName=name, TagKeys=["team", "zeta", "not-there"])
        listed = self.client.list_tags_for_stream(StreamName=name)
        self.assertEqual([t["Key"] for t in listed["Tags"]], ["a-key", "env", "owner"])

        self.client.add_tags_to_stream(StreamName=name, Tags={"env": "prod"})
        listed = self.client.list_tags_for_stream(StreamName=name)
        self.assertEqual({t["Key"]: t.get("Value", "") for t in listed["Tags"]},
                         {"a-key": "1", "env": "prod", "owner": ""})

    def test_paging(self):
        name = create_stream(self.client)
        keys = ["k%02d" % i for i in range(7)]
        self.client.add_tags_to_stream(StreamName=name, Tags={k: "v" + k for k in keys})
        first = self.client.list_tags_for_stream(StreamName=name, Limit=3)
        self.assertEqual([t["Key"] for t in first["Tags"]], keys[:3])
        self.assertTrue(first["HasMoreTags"])
        seen = [t["Key"] for t in first["Tags"]]
        while True:
            page = self.client.list_tags_for_stream(
                StreamName=name, Limit=3, ExclusiveStartTagKey=seen[-1])
            seen += [t["Key"] for t in page["Tags"]]
            self.assertTrue(all(t["Value"] == "v" + t["Key"] for t in page["Tags"]))
            if not page["HasMoreTags"]:
                break
            self.assertLessEqual(len(seen), len(keys))
        self.assertEqual(seen, keys)

    def test_tags_at_creation(self):
        name = unique_name("tagged")
        self.client.create_stream(StreamName=name, ShardCount=1, Tags={"made": "at-create"})
        wait_active(self.client, name)
        self.assertEqual(self.client.list_tags_for_stream(StreamName=name)["Tags"],
                         [{"Key": "made", "Value": "at-create"}])

    def test_invalid_characters(self):
        name = create_stream(self.client)
        self.assertClientError(
            self.client.add_tags_to_stream, "InvalidArgumentException",
            "Some tags contain invalid characters. Valid characters: "
            "Unicode letters, digits, white space, _ . / = + - % @.",
            StreamName=name, Tags={"bad*key": "v"})

    def test_tags_on_missing_stream(self):
        name = unique_name("missing")
        self.assertClientError(self.client.list_tags_for_stream, "ResourceNotFoundException",
                               not_found_message(name), StreamName=name)


class LimitsAndArnTest(KinesdTestCase):

    def test_describe_limits_counts_open_shards(self):
        before = self.client.describe_limits()
        for key in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount",
                    "OnDemandStreamCountLimit"):
            self.assertIsInstance(before[key], int, key)
        self.assertGreater(before["ShardLimit"], 0)
        create_stream(self.client, shards=3)
        after = self.client.describe_limits()
        self.assertEqual(after["OpenShardCount"], before["OpenShardCount"] + 3)
        self.assertEqual(after["ShardLimit"], before["ShardLimit"])

    def test_describe_limits_counts_on_demand_streams(self):
        before = self.client.describe_limits()
        name = unique_name("od")
        self.client.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = wait_active(self.client, name)
        after = self.client.describe_limits()
        self.assertEqual(after["OnDemandStreamCount"], before["OnDemandStreamCount"] + 1)
        self.assertEqual(after["OpenShardCount"], before["OpenShardCount"] + summary["OpenShardCount"])

    def test_stream_arn_in_place_of_name(self):
        name = create_stream(self.client, shards=2)
        arn = stream_arn(name)
        summary = self.client.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamName"], name)
        description = self.client.describe_stream(StreamARN=arn)["StreamDescription"]
        self.assertEqual(len(description["Shards"]), 2)
        shards = self.client.list_shards(StreamARN=arn)["Shards"]
        self.assertEqual(len(shards), 2)

        put = self.client.put_record(StreamARN=arn, Data=b"by-arn", PartitionKey="k")
        batch = self.client.put_records(StreamARN=arn, Records=[{"Data": b"b", "PartitionKey": "k"}])
        self.assertEqual(batch["FailedRecordCount"], 0)
        iterator = self.client.get_shard_iterator(
            StreamARN=arn, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = self.client.get_records(ShardIterator=iterator, StreamARN=arn)["Records"]
        self.assertEqual([r["Data"] for r in records], [b"by-arn", b"b"])

        self.client.add_tags_to_stream(StreamARN=arn, Tags={"via": "arn"})
        tags = self.client.list_tags_for_stream(StreamARN=arn)["Tags"]
        self.assertEqual(tags, [{"Key": "via", "Value": "arn"}])

        self.client.delete_stream(StreamARN=arn)
        wait_gone(self.client, name)

    def test_arn_of_missing_stream(self):
        arn = stream_arn(unique_name("missing"))
        self.assertClientError(self.client.describe_stream_summary,
                               "ResourceNotFoundException", None, StreamARN=arn)


if __name__ == "__main__":
    unittest.main(verbosity=2)
