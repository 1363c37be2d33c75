"""StreamARN in place of StreamName on every call that names a stream, both
together (as KCL and the KPL send them), a name and an ARN that disagree, and
ARNs of another account or region, which name no stream here."""
import unittest

from kinesis_helpers import (ACCOUNT, REGION, KinesdTestCase, create_stream, not_found_message, stream_arn,
                             unique_name, wait_active, wait_gone)

OTHER_ACCOUNT = "111122223333"
OTHER_REGION = "eu-west-1" if REGION != "eu-west-1" else "us-west-2"
KEY_ID = "arn:aws:kms:%s:%s:key/12345678-1234-1234-1234-123456789012" % (REGION, ACCOUNT)


def sid(i):
    return "shardId-%012d" % i


def foreign_account_arn(name):
    return "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, OTHER_ACCOUNT, name)


def foreign_region_arn(name):
    return "arn:aws:kinesis:%s:%s:stream/%s" % (OTHER_REGION, ACCOUNT, name)


# Every call that takes StreamName or StreamARN, with the rest of a valid request.
CALLS = [
    ("put_record", {"Data": b"x", "PartitionKey": "k"}),
    ("put_records", {"Records": [{"Data": b"x", "PartitionKey": "k"}]}),
    ("get_shard_iterator", {"ShardId": sid(0), "ShardIteratorType": "TRIM_HORIZON"}),
    ("list_shards", {}),
    ("describe_stream", {}),
    ("describe_stream_summary", {}),
    ("list_tags_for_stream", {}),
    ("add_tags_to_stream", {"Tags": {"team": "a"}}),
    ("remove_tags_from_stream", {"TagKeys": ["team"]}),
    ("increase_stream_retention_period", {"RetentionPeriodHours": 48}),
    ("decrease_stream_retention_period", {"RetentionPeriodHours": 24}),
    ("enable_enhanced_monitoring", {"ShardLevelMetrics": ["IncomingBytes"]}),
    ("disable_enhanced_monitoring", {"ShardLevelMetrics": ["IncomingBytes"]}),
    ("start_stream_encryption", {"EncryptionType": "KMS", "KeyId": KEY_ID}),
    ("stop_stream_encryption", {"EncryptionType": "KMS", "KeyId": KEY_ID}),
    ("split_shard", {"ShardToSplit": sid(0), "NewStartingHashKey": str(2 ** 126)}),
    ("merge_shards", {"ShardToMerge": sid(0), "AdjacentShardToMerge": sid(1)}),
    ("update_shard_count", {"TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"}),
    ("delete_stream", {}),
]


class StreamArnTest(KinesdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = create_stream(cls.client, shards=2)
        cls.other = create_stream(cls.client, shards=1)

    def test_a_disagreeing_name_is_refused(self):
        arn = stream_arn(self.name)
        for operation, args in CALLS:
            with self.subTest(operation=operation):
                self.assertClientError(
                    getattr(self.client, operation), "InvalidArgumentException",
                    "StreamARN %s and StreamName %s do not name the same stream." % (arn, self.other),
                    StreamName=self.other, StreamARN=arn, **args)
        self.assertUntouched()

    def test_another_account_or_region_has_no_such_stream(self):
        for operation, args in CALLS:
            with self.subTest(operation=operation, where="account"):
                self.assertClientError(getattr(self.client, operation), "ResourceNotFoundException",
                                       "Stream %s under account %s not found." % (self.name, OTHER_ACCOUNT),
                                       StreamARN=foreign_account_arn(self.name), **args)
            with self.subTest(operation=operation, where="region"):
                self.assertClientError(getattr(self.client, operation), "ResourceNotFoundException",
                                       not_found_message(self.name),
                                       StreamARN=foreign_region_arn(self.name), **args)
        self.assertUntouched()

    def assertUntouched(self):
        summary = self.client.describe_stream_summary(StreamName=self.name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamStatus"], "ACTIVE")
        self.assertEqual(summary["OpenShardCount"], 2)
        self.assertEqual(summary["RetentionPeriodHours"], 24)
        self.assertEqual(summary["EncryptionType"], "NONE")
        self.assertEqual(self.client.list_tags_for_stream(StreamName=self.name)["Tags"], [])
        for shard in self.client.list_shards(StreamName=self.name)["Shards"]:
            self.assertNotIn("EndingSequenceNumber", shard["SequenceNumberRange"])
        self.assertEqual(self.client.describe_stream_summary(StreamName=self.other)["StreamDescriptionSummary"]
                         ["StreamStatus"], "ACTIVE")

    def test_each_call_by_arn_and_by_both(self):
        for both in (False, True):
            for operation, args in CALLS:
                with self.subTest(operation=operation, both=both):
                    name = create_stream(self.client, shards=2)
                    if operation == "stop_stream_encryption":
                        self.client.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=KEY_ID)
                        wait_active(self.client, name)
                    if operation == "decrease_stream_retention_period":
                        self.client.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
                    address = {"StreamARN": stream_arn(name)}
                    if both:
                        address["StreamName"] = name
                    answer = getattr(self.client, operation)(**address, **args)
                    self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
                    if operation == "delete_stream":
                        wait_gone(self.client, name)
                        continue
                    wait_active(self.client, name)
                    self.assertEffect(operation, name, answer)

    def assertEffect(self, operation, name, answer):
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if operation in ("put_record", "put_records"):
            records = answer["Records"] if operation == "put_records" else [answer]
            self.assertTrue(all("SequenceNumber" in r for r in records), answer)
        elif operation in ("describe_stream", "describe_stream_summary"):
            key = "StreamDescription" if operation == "describe_stream" else "StreamDescriptionSummary"
            self.assertEqual(answer[key]["StreamName"], name)
            self.assertEqual(answer[key]["StreamARN"], stream_arn(name))
        elif operation == "list_shards":
            self.assertEqual([s["ShardId"] for s in answer["Shards"]], [sid(0), sid(1)])
        elif operation == "add_tags_to_stream":
            self.assertEqual(self.client.list_tags_for_stream(StreamName=name)["Tags"],
                             [{"Key": "team", "Value": "a"}])
        elif operation == "increase_stream_retention_period":
            self.assertEqual(summary["RetentionPeriodHours"], 48)
        elif operation == "decrease_stream_retention_period":
            self.assertEqual(summary["RetentionPeriodHours"], 24)
        elif operation == "start_stream_encryption":
            self.assertEqual(summary["EncryptionType"], "KMS")
        elif operation == "stop_stream_encryption":
            self.assertEqual(summary["EncryptionType"], "NONE")
        elif operation == "split_shard":
            self.assertEqual(summary["OpenShardCount"], 3)
        elif operation == "merge_shards":
            self.assertEqual(summary["OpenShardCount"], 1)
        elif operation == "update_shard_count":
            self.assertEqual(summary["OpenShardCount"], 4)
        elif operation == "enable_enhanced_monitoring":
            self.assertEqual(summary["EnhancedMonitoring"], [{"ShardLevelMetrics": ["IncomingBytes"]}])

    def test_get_records_with_stream_arn(self):
        name = create_stream(self.client, shards=1)
        put = self.client.put_record(StreamARN=stream_arn(name), Data=b"by-arn", PartitionKey="k")
        iterator = self.client.get_shard_iterator(StreamARN=stream_arn(name), ShardId=sid(0),
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        page = self.client.get_records(ShardIterator=iterator, StreamARN=stream_arn(name))
        self.assertEqual([(r["SequenceNumber"], r["Data"]) for r in page["Records"]],
                         [(put["SequenceNumber"], b"by-arn")])
        self.assertIn("NextShardIterator", page)
        self.assertClientError(self.client.get_records, "InvalidArgumentException",
                               "StreamARN %s does not name the stream of the ShardIterator." % stream_arn(self.other),
                               ShardIterator=iterator, StreamARN=stream_arn(self.other))
        self.assertClientError(self.client.get_records, "ResourceNotFoundException",
                               "Stream %s under account %s not found." % (name, OTHER_ACCOUNT),
                               ShardIterator=iterator, StreamARN=foreign_account_arn(name))
        self.assertClientError(self.client.get_records, "ResourceNotFoundException", not_found_message(name),
                               ShardIterator=iterator, StreamARN=foreign_region_arn(name))

    def test_arn_only_calls_of_another_account(self):
        name = create_stream(self.client, shards=1)
        consumer = self.client.register_stream_consumer(StreamARN=stream_arn(name),
                                                        ConsumerName="c1")["Consumer"]
        gone = "Stream %s under account %s not found." % (name, OTHER_ACCOUNT)
        foreign = foreign_account_arn(name)
        self.assertClientError(self.client.register_stream_consumer, "ResourceNotFoundException", gone,
                               StreamARN=foreign, ConsumerName="c2")
        self.assertClientError(self.client.list_stream_consumers, "ResourceNotFoundException", gone,
                               StreamARN=foreign)
        self.assertClientError(self.client.describe_stream_consumer, "ResourceNotFoundException", gone,
                               StreamARN=foreign, ConsumerName="c1")
        foreign_consumer = consumer["ConsumerARN"].replace(":%s:" % ACCOUNT, ":%s:" % OTHER_ACCOUNT)
        self.assertClientError(self.client.describe_stream_consumer, "ResourceNotFoundException", gone,
                               ConsumerARN=foreign_consumer)
        self.assertClientError(self.client.deregister_stream_consumer, "ResourceNotFoundException", gone,
                               ConsumerARN=foreign_consumer)
        self.assertClientError(self.client.tag_resource, "ResourceNotFoundException", gone,
                               ResourceARN=foreign, Tags={"k": "v"})
        self.assertClientError(self.client.list_tags_for_resource, "ResourceNotFoundException", gone,
                               ResourceARN=foreign)
        self.assertClientError(self.client.update_stream_mode, "ResourceNotFoundException", gone,
                               StreamARN=foreign, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        # Nothing changed at home.
        self.assertEqual([c["ConsumerName"] for c in
                          self.client.list_stream_consumers(StreamARN=stream_arn(name))["Consumers"]], ["c1"])
        self.assertEqual(self.client.list_tags_for_resource(ResourceARN=stream_arn(name))["Tags"], [])

    def test_neither_name_nor_arn(self):
        self.assertClientError(self.client.describe_stream_summary, "InvalidArgumentException",
                               "Either StreamName or StreamARN should be provided.")


if __name__ == "__main__":
    unittest.main(verbosity=2)
