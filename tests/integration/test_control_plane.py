"""The rest of the control plane through boto3 (and a few calls through the AWS
CLI): capacity modes, encryption, enhanced monitoring, ARN-addressed tags and
resource policies, DescribeLimits against a shard limit, the maximum record
size, warm throughput, account settings and stream consumers."""
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from kinesis_helpers import (ACCOUNT, MAX_HASH_KEY, MIB, REGION, KinesdTestCase, create_stream,
                             list_all_shards, make_client, not_found_message, raw_request, read_shard, stream_arn,
                             unique_name, wait_active, wait_gone, wait_until)

SEVEN_METRICS = ["IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
                 "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
                 "IteratorAgeMilliseconds"]
KEY_ID = "arn:aws:kms:us-east-1:%s:key/12345678-1234-1234-1234-123456789012" % ACCOUNT


def open_shards(shards):
    return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


class ControlPlaneTestCase(KinesdTestCase):

    def require(self, operation):
        """Skips when this botocore predates `operation` (a snake_case name)."""
        if not hasattr(self.client, operation):
            self.skipTest("botocore %s has no %s" % (__import__("botocore").__version__, operation))

    def summary(self, name):
        return self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]

    def description(self, name):
        return self.client.describe_stream(StreamName=name)["StreamDescription"]


class CapacityModeTest(ControlPlaneTestCase):

    def test_on_demand_stream(self):
        name = unique_name("od")
        self.client.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.client, name)
        shards = list_all_shards(self.client, name)
        self.assertEqual(len(shards), 4)
        width = 2 ** 128 // 4
        self.assertEqual([(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                          for s in shards],
                         [(0, width - 1), (width, 2 * width - 1), (2 * width, 3 * width - 1),
                          (3 * width, MAX_HASH_KEY)])
        self.assertEqual(self.summary(name)["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        self.assertEqual(self.summary(name)["OpenShardCount"], 4)
        self.assertEqual(self.description(name)["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        listed = [s for s in self.client.list_streams()["StreamSummaries"] if s["StreamName"] == name]
        self.assertEqual(listed[0]["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        put = self.client.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        self.assertIn(put["ShardId"], [s["ShardId"] for s in shards])

    def test_update_stream_mode_both_ways(self):
        self.require("update_stream_mode")
        name = create_stream(self.client, shards=2)
        arn = stream_arn(name)
        self.assertEqual(self.summary(name)["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        summary = wait_active(self.client, name)
        self.assertEqual(summary["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        self.assertEqual(self.description(name)["StreamModeDetails"], {"StreamMode": "ON_DEMAND"})
        self.assertClientError(self.client.split_shard, "ValidationException", None, StreamName=name,
                               ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 64))

        self.client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
        summary = wait_active(self.client, name)
        self.assertEqual(summary["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        # Provisioned again: resharding is allowed.
        self.client.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=str(2 ** 64))
        self.assertEqual(wait_active(self.client, name)["OpenShardCount"], 3)

    def test_resharding_an_on_demand_stream(self):
        name = unique_name("od")
        self.client.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.client, name)
        self.assertClientError(self.client.split_shard, "ValidationException", None, StreamName=name,
                               ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 64))
        self.assertClientError(self.client.merge_shards, "ValidationException", None, StreamName=name,
                               ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000001")
        self.assertClientError(self.client.update_shard_count, "ValidationException", None, StreamName=name,
                               TargetShardCount=5, ScalingType="UNIFORM_SCALING")
        self.assertEqual(len(list_all_shards(self.client, name)), 4)

    def test_warm_throughput(self):
        self.require("update_stream_warm_throughput")
        name = unique_name("warm")
        self.client.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.client, name)
        result = self.client.update_stream_warm_throughput(StreamName=name, WarmThroughputMiBps=100)
        self.assertEqual(result["StreamName"], name)
        self.assertEqual(result["StreamARN"], stream_arn(name))
        self.assertEqual(result["WarmThroughput"]["TargetMiBps"], 100)
        summary = wait_active(self.client, name)
        self.assertEqual(summary["WarmThroughput"]["TargetMiBps"], 100)


class EncryptionTest(ControlPlaneTestCase):

    def test_start_and_stop(self):
        name = create_stream(self.client, shards=1)
        self.assertEqual(self.summary(name)["EncryptionType"], "NONE")
        self.client.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=KEY_ID)
        wait_active(self.client, name)
        for view in (self.summary(name), self.description(name)):
            self.assertEqual(view["EncryptionType"], "KMS")
            self.assertEqual(view["KeyId"], KEY_ID)
        put = self.client.put_record(StreamName=name, Data=b"secret", PartitionKey="k")
        self.assertEqual(put["EncryptionType"], "KMS")
        batch = self.client.put_records(StreamName=name, Records=[{"Data": b"b", "PartitionKey": "k"}])
        self.assertEqual(batch["EncryptionType"], "KMS")
        records = read_shard(self.client, name, "shardId-000000000000")
        self.assertEqual([r["Data"] for r in records], [b"secret", b"b"])
        self.assertEqual({r.get("EncryptionType") for r in records}, {"KMS"})

        self.client.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=KEY_ID)
        wait_active(self.client, name)
        for view in (self.summary(name), self.description(name)):
            self.assertEqual(view["EncryptionType"], "NONE")
            self.assertIsNone(view.get("KeyId"))
        put = self.client.put_record(StreamName=name, Data=b"plain", PartitionKey="k")
        self.assertEqual(put.get("EncryptionType", "NONE"), "NONE")

    def test_records_keep_the_encryption_they_were_written_with(self):
        # Record.EncryptionType is "the encryption type used on the record":
        # switching the stream's encryption does not rewrite stored records.
        name = create_stream(self.client, shards=1)
        self.client.put_record(StreamName=name, Data=b"before", PartitionKey="k")
        self.client.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active(self.client, name)
        self.client.put_record(StreamName=name, Data=b"during", PartitionKey="k")
        self.client.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active(self.client, name)
        self.client.put_record(StreamName=name, Data=b"after", PartitionKey="k")
        records = read_shard(self.client, name, "shardId-000000000000")
        self.assertEqual([(r["Data"], r.get("EncryptionType", "NONE")) for r in records],
                         [(b"before", "NONE"), (b"during", "KMS"), (b"after", "NONE")])

    def test_missing_stream(self):
        missing = unique_name("missing")
        self.assertClientError(self.client.start_stream_encryption, "ResourceNotFoundException",
                               not_found_message(missing), StreamName=missing, EncryptionType="KMS",
                               KeyId=KEY_ID)


class MonitoringTest(ControlPlaneTestCase):

    def assertMetrics(self, response, current, desired, name):
        self.assertEqual(response["StreamName"], name)
        self.assertEqual(response["StreamARN"], stream_arn(name))
        self.assertEqual(sorted(response["CurrentShardLevelMetrics"]), sorted(current))
        self.assertEqual(sorted(response["DesiredShardLevelMetrics"]), sorted(desired))

    def assertDescribed(self, name, metrics):
        for view in (self.summary(name), self.description(name)):
            self.assertEqual(len(view["EnhancedMonitoring"]), 1)
            self.assertEqual(sorted(view["EnhancedMonitoring"][0]["ShardLevelMetrics"]), sorted(metrics))

    def test_enable_and_disable(self):
        name = create_stream(self.client, shards=1)
        self.assertDescribed(name, [])
        response = self.client.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes"])
        self.assertMetrics(response, [], ["IncomingBytes"], name)
        self.assertDescribed(name, ["IncomingBytes"])

        response = self.client.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
        self.assertMetrics(response, ["IncomingBytes"], SEVEN_METRICS, name)
        self.assertDescribed(name, SEVEN_METRICS)

        response = self.client.disable_enhanced_monitoring(
            StreamName=name, ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
        remaining = [m for m in SEVEN_METRICS if m not in ("IncomingBytes", "OutgoingRecords")]
        self.assertMetrics(response, SEVEN_METRICS, remaining, name)
        self.assertDescribed(name, remaining)

        response = self.client.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["ALL"])
        self.assertMetrics(response, remaining, [], name)
        self.assertDescribed(name, [])

    def test_unknown_metric(self):
        name = create_stream(self.client, shards=1)
        self.assertClientError(self.client.enable_enhanced_monitoring, "ValidationException", None,
                               StreamName=name, ShardLevelMetrics=["Bogus"])
        self.assertDescribed(name, [])


class ResourceTagTest(ControlPlaneTestCase):

    def tags(self, arn):
        return sorted((t["Key"], t["Value"]) for t in self.client.list_tags_for_resource(ResourceARN=arn)["Tags"])

    def test_tag_untag_list_by_arn(self):
        self.require("tag_resource")
        name = unique_name("tags")
        self.client.create_stream(StreamName=name, ShardCount=1, Tags={"made": "at-create"})
        wait_active(self.client, name)
        arn = stream_arn(name)
        self.assertEqual(self.tags(arn), [("made", "at-create")])
        self.client.tag_resource(ResourceARN=arn, Tags={"team": "data", "env": "test"})
        self.assertEqual(self.tags(arn), [("env", "test"), ("made", "at-create"), ("team", "data")])
        # Same tags through the stream-name API.
        by_name = self.client.list_tags_for_stream(StreamName=name)["Tags"]
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in by_name), self.tags(arn))
        self.client.tag_resource(ResourceARN=arn, Tags={"env": "prod"})
        self.assertIn(("env", "prod"), self.tags(arn))
        self.client.untag_resource(ResourceARN=arn, TagKeys=["made", "not-there"])
        self.assertEqual(self.tags(arn), [("env", "prod"), ("team", "data")])

    def test_fifty_tag_limit(self):
        self.require("tag_resource")
        name = create_stream(self.client, shards=1)
        arn = stream_arn(name)
        self.client.tag_resource(ResourceARN=arn, Tags={"k%02d" % i: "v" for i in range(50)})
        self.assertEqual(len(self.tags(arn)), 50)
        self.assertClientError(self.client.tag_resource, "InvalidArgumentException", None,
                               ResourceARN=arn, Tags={"one-more": "v"})
        self.assertEqual(len(self.tags(arn)), 50)

    def test_missing_stream(self):
        self.require("tag_resource")
        missing = unique_name("missing")
        self.assertClientError(self.client.tag_resource, "ResourceNotFoundException",
                               not_found_message(missing), ResourceARN=stream_arn(missing), Tags={"a": "b"})
        self.assertClientError(self.client.list_tags_for_resource, "ResourceNotFoundException",
                               not_found_message(missing), ResourceARN=stream_arn(missing))


class ResourcePolicyTest(ControlPlaneTestCase):

    def test_put_get_delete(self):
        self.require("put_resource_policy")
        name = create_stream(self.client, shards=1)
        arn = stream_arn(name)
        policy = json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "read", "Effect": "Allow",
                           "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                           "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
                           "Resource": arn}]})
        self.client.put_resource_policy(ResourceARN=arn, Policy=policy)
        self.assertEqual(json.loads(self.client.get_resource_policy(ResourceARN=arn)["Policy"]),
                         json.loads(policy))
        replacement = json.dumps({"Version": "2012-10-17", "Statement": []})
        self.client.put_resource_policy(ResourceARN=arn, Policy=replacement)
        self.assertEqual(json.loads(self.client.get_resource_policy(ResourceARN=arn)["Policy"]),
                         json.loads(replacement))
        self.client.delete_resource_policy(ResourceARN=arn)
        # Without a policy AWS answers either an empty document or not-found.
        try:
            left = json.loads(self.client.get_resource_policy(ResourceARN=arn)["Policy"])
        except self.client.exceptions.ResourceNotFoundException:
            left = {}
        self.assertEqual(left, {})

    def test_missing_stream(self):
        self.require("put_resource_policy")
        missing = unique_name("missing")
        self.assertClientError(self.client.put_resource_policy, "ResourceNotFoundException",
                               not_found_message(missing), ResourceARN=stream_arn(missing),
                               Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))


class ShardLimitTest(ControlPlaneTestCase):
    server_args = ("--shard-limit", "10")

    def limit_message(self, current, added):
        return ("This request would exceed the shard limit for the account %s in %s. Current shard count for "
                "the account: %d. Limit: 10. Number of additional shards that would have resulted from this "
                "request: %d. Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and "
                "how to request higher limits." % (ACCOUNT, REGION, current, added))

    def limits(self):
        return self.client.describe_limits()

    def test_limit_is_enforced_and_reported(self):
        limits = self.limits()
        self.assertEqual(limits["ShardLimit"], 10)
        self.assertEqual(limits["OpenShardCount"], 0)
        self.assertEqual(limits["OnDemandStreamCount"], 0)
        self.assertIn("OnDemandStreamCountLimit", limits)

        six = create_stream(self.client, shards=6)
        self.assertEqual(self.limits()["OpenShardCount"], 6)
        self.assertClientError(self.client.create_stream, "LimitExceededException", self.limit_message(6, 5),
                               StreamName=unique_name("over"), ShardCount=5)
        four = create_stream(self.client, shards=4)
        self.assertEqual(self.limits()["OpenShardCount"], 10)

        self.assertClientError(self.client.split_shard, "LimitExceededException", self.limit_message(10, 1),
                               StreamName=four, ShardToSplit="shardId-000000000000",
                               NewStartingHashKey=str(2 ** 64))
        self.assertClientError(self.client.update_shard_count, "LimitExceededException", None,
                               StreamName=four, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
        self.assertEqual(len(list_all_shards(self.client, four)), 4)

        # Closed shards do not count: after a merge there is room for a split.
        self.client.merge_shards(StreamName=four, ShardToMerge="shardId-000000000000",
                                 AdjacentShardToMerge="shardId-000000000001")
        wait_active(self.client, four)
        self.assertEqual(self.limits()["OpenShardCount"], 9)
        self.client.split_shard(StreamName=four, ShardToSplit="shardId-000000000002",
                                NewStartingHashKey=str(2 ** 127 + 2 ** 64))
        wait_active(self.client, four)
        self.assertEqual(self.limits()["OpenShardCount"], 10)

        self.client.delete_stream(StreamName=six)
        wait_gone(self.client, six)
        self.assertEqual(self.limits()["OpenShardCount"], 4)
        od = unique_name("od")
        self.client.create_stream(StreamName=od, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        wait_active(self.client, od)
        limits = self.limits()
        self.assertEqual(limits["OpenShardCount"], 8)
        self.assertEqual(limits["OnDemandStreamCount"], 1)

    def test_cli_describe_limits(self):
        aws = shutil.which("aws")
        if aws is None:
            self.skipTest("the AWS CLI is not on PATH")
        done = subprocess.run([aws, "--endpoint-url", self.server.endpoint, "--output", "json", "kinesis",
                               "describe-limits"], capture_output=True, text=True, env=cli_env(), timeout=300)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["ShardLimit"], 10)


class MaxRecordSizeTest(ControlPlaneTestCase):

    def test_two_mib_records(self):
        self.require("update_max_record_size")
        name = create_stream(self.client, shards=1)
        key = "k" * 10
        self.assertEqual(self.summary(name)["MaxRecordSizeInKiB"], 1024)
        with self.assertRaises(self.client.exceptions.ClientError, msg="a record above 1 MiB was accepted"):
            self.client.put_record(StreamName=name, Data=b"\x00" * (MIB + 1 - len(key)), PartitionKey=key)

        self.client.update_max_record_size(StreamARN=stream_arn(name), MaxRecordSizeInKiB=2048)
        wait_active(self.client, name)
        self.assertEqual(self.summary(name)["MaxRecordSizeInKiB"], 2048)
        single = os.urandom(2 * MIB - len(key))
        self.client.put_record(StreamName=name, Data=single, PartitionKey=key)
        batch = [os.urandom(2 * MIB - len(key)), os.urandom(MIB)]
        result = self.client.put_records(StreamName=name, Records=[{"Data": d, "PartitionKey": key}
                                                                   for d in batch])
        self.assertEqual(result.get("FailedRecordCount", 0), 0)
        records = read_shard(self.client, name, "shardId-000000000000")
        self.assertEqual([r["Data"] for r in records], [single] + batch)

        with self.assertRaises(self.client.exceptions.ClientError, msg="a record above 2 MiB was accepted") as caught:
            self.client.put_record(StreamName=name, Data=b"\x01" * (2 * MIB + 1 - len(key)), PartitionKey=key)
        self.assertIn(caught.exception.response["Error"]["Code"],
                      ("ValidationException", "InvalidArgumentException"))
        self.assertEqual(len(read_shard(self.client, name, "shardId-000000000000")), 3)

    def test_bounds(self):
        self.require("update_max_record_size")
        name = create_stream(self.client, shards=1)
        # Sent raw: botocore refuses these before sending them.
        for size, constraint in ((1023, "Member must have value greater than or equal to 1024"),
                                 (10241, "Member must have value less than or equal to 10240")):
            with self.subTest(size=size):
                response = raw_request(self.server.endpoint, "UpdateMaxRecordSize",
                                       {"StreamARN": stream_arn(name), "MaxRecordSizeInKiB": size})
                error = self.assertRawError(response, 400, "ValidationException")
                self.assertValidationMessage(error["message"], [
                    "Value '%d' at 'maxRecordSizeInKiB' failed to satisfy constraint: %s" % (size, constraint)])
        self.assertEqual(self.summary(name)["MaxRecordSizeInKiB"], 1024)

    def test_at_creation(self):
        name = unique_name("big")
        self.client.create_stream(StreamName=name, ShardCount=1, MaxRecordSizeInKiB=4096)
        self.assertEqual(wait_active(self.client, name)["MaxRecordSizeInKiB"], 4096)
        data = os.urandom(3 * MIB)
        self.client.put_record(StreamName=name, Data=data, PartitionKey="p")
        self.assertEqual([r["Data"] for r in read_shard(self.client, name, "shardId-000000000000")], [data])


class AccountSettingsTest(ControlPlaneTestCase):

    def test_commitment(self):
        self.require("update_account_settings")
        settings = self.client.describe_account_settings()
        self.assertEqual(settings["MinimumThroughputBillingCommitment"]["Status"], "DISABLED")
        updated = self.client.update_account_settings(
            MinimumThroughputBillingCommitment={"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
        self.assertEqual(updated["Status"], "ENABLED")
        self.assertIsInstance(updated["StartedAt"], datetime.datetime)
        self.assertGreater(updated["EarliestAllowedEndAt"], updated["StartedAt"])
        described = self.client.describe_account_settings()["MinimumThroughputBillingCommitment"]
        self.assertEqual(described, updated)

        # Account settings are stored, not just remembered.
        self.server.restart()
        self.client = make_client(self.server.endpoint)
        self.assertEqual(self.client.describe_account_settings()["MinimumThroughputBillingCommitment"], updated)


class ConsumerTest(ControlPlaneTestCase):

    def register(self, name, consumer):
        return self.client.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName=consumer)["Consumer"]

    def wait_consumer_active(self, arn):
        def active():
            d = self.client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
            return d if d["ConsumerStatus"] == "ACTIVE" else None
        return wait_until(active, "consumer %s to become ACTIVE" % arn)

    def test_register_describe_list_deregister(self):
        name = create_stream(self.client, shards=1)
        arn = stream_arn(name)
        first = self.register(name, "alpha")
        self.assertEqual(first["ConsumerName"], "alpha")
        self.assertIn(first["ConsumerStatus"], ("CREATING", "ACTIVE"))
        created = int(first["ConsumerCreationTimestamp"].timestamp())
        self.assertEqual(first["ConsumerARN"], "%s/consumer/alpha:%d" % (arn, created))
        second = self.register(name, "beta")

        described = self.wait_consumer_active(first["ConsumerARN"])
        self.assertEqual(described["StreamARN"], arn)
        self.assertEqual(described["ConsumerARN"], first["ConsumerARN"])
        by_name = self.client.describe_stream_consumer(StreamARN=arn, ConsumerName="beta")["ConsumerDescription"]
        self.assertEqual(by_name["ConsumerARN"], second["ConsumerARN"])

        listed = self.client.list_stream_consumers(StreamARN=arn)["Consumers"]
        self.assertEqual(sorted(c["ConsumerName"] for c in listed), ["alpha", "beta"])
        page = self.client.list_stream_consumers(StreamARN=arn, MaxResults=1)
        self.assertEqual(len(page["Consumers"]), 1)
        rest = self.client.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])
        self.assertEqual(sorted(c["ConsumerName"] for c in page["Consumers"] + rest["Consumers"]),
                         ["alpha", "beta"])

        self.assertEqual(self.summary(name)["ConsumerCount"], 2)

        self.client.deregister_stream_consumer(ConsumerARN=first["ConsumerARN"])
        wait_until(lambda: [c["ConsumerName"] for c in
                            self.client.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["beta"],
                   "alpha to be deregistered")
        self.assertClientError(self.client.describe_stream_consumer, "ResourceNotFoundException", None,
                               ConsumerARN=first["ConsumerARN"])
        self.client.deregister_stream_consumer(StreamARN=arn, ConsumerName="beta")
        wait_until(lambda: self.client.list_stream_consumers(StreamARN=arn)["Consumers"] == [],
                   "beta to be deregistered")
        self.assertEqual(self.summary(name)["ConsumerCount"], 0)

    def test_duplicate_name(self):
        name = create_stream(self.client, shards=1)
        self.register(name, "dup")
        self.assertClientError(self.client.register_stream_consumer, "ResourceInUseException", None,
                               StreamARN=stream_arn(name), ConsumerName="dup")
        self.assertEqual(len(self.client.list_stream_consumers(StreamARN=stream_arn(name))["Consumers"]), 1)
        # The same name on another stream is fine.
        other = create_stream(self.client, shards=1)
        self.register(other, "dup")

    def test_twenty_consumers_per_stream(self):
        name = create_stream(self.client, shards=1)
        for i in range(20):
            self.register(name, "c%02d" % i)
        self.assertClientError(self.client.register_stream_consumer, "LimitExceededException", None,
                               StreamARN=stream_arn(name), ConsumerName="one-too-many")

    def test_missing_stream_and_consumer(self):
        missing = unique_name("missing")
        self.assertClientError(self.client.register_stream_consumer, "ResourceNotFoundException", None,
                               StreamARN=stream_arn(missing), ConsumerName="c")
        name = create_stream(self.client, shards=1)
        self.assertClientError(self.client.describe_stream_consumer, "ResourceNotFoundException", None,
                               StreamARN=stream_arn(name), ConsumerName="nobody")
        self.assertClientError(self.client.deregister_stream_consumer, "ResourceNotFoundException", None,
                               StreamARN=stream_arn(name), ConsumerName="nobody")

    def test_delete_stream_with_consumers(self):
        name = create_stream(self.client, shards=1)
        self.register(name, "holder")
        self.assertClientError(self.client.delete_stream, "ResourceInUseException", None, StreamName=name)
        self.assertEqual(self.summary(name)["StreamStatus"], "ACTIVE")
        self.client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        wait_gone(self.client, name)


def cli_env():
    scratch = tempfile.gettempdir()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION,
               AWS_REGION=REGION, AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE=os.path.join(scratch, "kinesd-no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(scratch, "kinesd-no-aws-credentials"))
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    return env


class CliControlPlaneTest(ControlPlaneTestCase):

    @classmethod
    def setUpClass(cls):
        cls.aws_path = shutil.which("aws")
        if cls.aws_path is None:
            raise unittest.SkipTest("the AWS CLI is not on PATH")
        super().setUpClass()

    def aws(self, *args):
        done = subprocess.run([self.aws_path, "--endpoint-url", self.server.endpoint, "--output", "json",
                               "kinesis"] + list(args), capture_output=True, text=True, env=cli_env(), timeout=300)
        self.assertEqual(done.returncode, 0, "%s\nstdout: %s\nstderr: %s" % (" ".join(args), done.stdout, done.stderr))
        return json.loads(done.stdout) if done.stdout.strip() else None

    def test_settings_from_the_command_line(self):
        name = create_stream(self.client, shards=2)
        self.aws("start-stream-encryption", "--stream-name", name, "--encryption-type", "KMS",
                 "--key-id", "alias/aws/kinesis")
        wait_active(self.client, name)
        summary = self.aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
        self.assertEqual((summary["EncryptionType"], summary["KeyId"]), ("KMS", "alias/aws/kinesis"))

        monitoring = self.aws("enable-enhanced-monitoring", "--stream-name", name, "--shard-level-metrics", "ALL")
        self.assertEqual(sorted(monitoring["DesiredShardLevelMetrics"]), sorted(SEVEN_METRICS))

        scaled = self.aws("update-shard-count", "--stream-name", name, "--target-shard-count", "4",
                          "--scaling-type", "UNIFORM_SCALING")
        self.assertEqual((scaled["CurrentShardCount"], scaled["TargetShardCount"]), (2, 4))
        wait_active(self.client, name)
        latest = self.aws("list-shards", "--stream-name", name, "--shard-filter", "Type=AT_LATEST")["Shards"]
        self.assertEqual(len(latest), 4)
        self.assertEqual(latest, open_shards(list_all_shards(self.client, name)))

        consumer = self.aws("register-stream-consumer", "--stream-arn", stream_arn(name),
                            "--consumer-name", "cli-consumer")["Consumer"]
        self.assertTrue(consumer["ConsumerARN"].startswith(stream_arn(name) + "/consumer/cli-consumer:"))
        listed = self.aws("list-stream-consumers", "--stream-arn", stream_arn(name))["Consumers"]
        self.assertEqual([c["ConsumerName"] for c in listed], ["cli-consumer"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
