"""Firehose: the delivery stream API and delivery into S3-compatible storage.

Each class runs one S3 server (s3rver) and one kinesd delivering to it. No
assertion depends on how fast anything runs: deliveries are polled for with
generous timeouts, and the time-buffering test checks only a lower bound.
"""
import datetime
import os
import re
import time
import unittest

from firehose_helpers import (DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase, bucket_arn, not_found_message)
from kinesis_helpers import ACCOUNT, create_stream, stream_arn, unique_name, wait_until

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
EXTENSIONS = {"UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy", "HADOOP_SNAPPY": ".snappy"}
ENCODINGS = {"UNCOMPRESSED": None, "GZIP": "gzip", "ZIP": "zip", "Snappy": "snappy-java",
             "HADOOP_SNAPPY": "hadoop-snappy"}
NEWLINE = {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}


def numbered(tag, count, start=0):
    """Newline-free records that say which they are: b"<tag>:<n>:<random hex>"."""
    return [b"%s:%d:%s" % (tag.encode(), i, os.urandom(8 + i % 24).hex().encode())
            for i in range(start, start + count)]


def split_lines(objects):
    """Records of newline-delimited objects, object by object."""
    return [[line for line in body.split(b"\n") if line] for _, body in objects]


class DirectPutDeliveryTest(FirehoseTestCase):

    def check_compression(self, fmt):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=1, CompressionFormat=fmt)
        # Binary records with newlines and zero bytes: delivered as sent.
        payloads = [os.urandom(1 + (i * 37) % 3000) + b"\n\x00" for i in range(300)]
        self.put_batch(name, payloads)
        expected = b"".join(payloads)
        objects = self.wait_for_bytes(bucket, len(expected), fmt)
        # One PutRecordBatch is one durable write, so it lands in one object.
        self.assertEqual(len(objects), 1, [k for k, _ in objects])
        key, body = objects[0]
        self.assertEqual(body, expected)
        self.assertIn("/%s-1-" % name, key)
        self.assertRegex(key, r"-%s%s$" % (UUID, re.escape(EXTENSIONS[fmt])))
        self.assertEqual(self.get(bucket, key).get("ContentEncoding"), ENCODINGS[fmt])

    def test_uncompressed(self):
        self.check_compression("UNCOMPRESSED")

    def test_gzip(self):
        self.check_compression("GZIP")

    def test_zip(self):
        self.check_compression("ZIP")

    def test_snappy(self):
        self.check_compression("Snappy")

    def test_hadoop_snappy(self):
        self.check_compression("HADOOP_SNAPPY")

    def test_put_record_one_by_one_keeps_order(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, ProcessingConfiguration=NEWLINE)
        payloads = numbered("one", 40)
        for p in payloads:
            result = self.firehose.put_record(DeliveryStreamName=name, Record={"Data": p})
            self.assertTrue(result["RecordId"])
            self.assertFalse(result["Encrypted"])
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        delivered = split_lines(objects)
        self.assertEqual(sorted(r for chunk in delivered for r in chunk), sorted(payloads))
        for chunk in delivered:  # each object holds a run of consecutive records
            first = payloads.index(chunk[0])
            self.assertEqual(chunk, payloads[first:first + len(chunk)])

    def test_default_key_layout(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, CompressionFormat="GZIP")
        before = datetime.datetime.now(datetime.timezone.utc)
        self.put_batch(name, [b"layout"])
        [(key, body)] = self.wait_for_bytes(bucket, 6, "GZIP")
        after = datetime.datetime.now(datetime.timezone.utc)
        match = re.fullmatch(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/%s-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-%s\.gz"
                             % (re.escape(name), UUID), key)
        self.assertIsNotNone(match, key)
        self.assertEqual(match.group(1, 2, 3, 4), match.group(5, 6, 7, 8), key)
        when = datetime.datetime(*map(int, match.group(5, 6, 7, 8, 9, 10)), tzinfo=datetime.timezone.utc)
        self.assertLessEqual(before.replace(microsecond=0), when, key)
        self.assertLessEqual(when, after, key)

    def test_custom_prefix_expressions(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, Prefix="logs/!{timestamp:yyyy-MM-dd}/r=!{firehose:random-string}/",
                                  ErrorOutputPrefix="errors/!{firehose:error-output-type}/")
        self.put_batch(name, [b"custom"])
        [(key, body)] = self.wait_for_bytes(bucket, 6)
        self.assertEqual(body, b"custom")
        today = re.escape(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-"))
        self.assertRegex(key, r"^logs/%s\d{2}-\d{2}/r=[0-9a-z]{11}/%s-1-[0-9-]{19}-%s$" % (today, re.escape(name), UUID))

    def test_plain_prefix_gets_the_time_appended(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, Prefix="plain/")
        self.put_batch(name, [b"plain"])
        [(key, _)] = self.wait_for_bytes(bucket, 5)
        self.assertRegex(key, r"^plain/\d{4}/\d{2}/\d{2}/\d{2}/%s-1-" % re.escape(name))

    def test_file_extension_replaces_the_default(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, CompressionFormat="GZIP", FileExtension=".json.gz")
        self.put_batch(name, [b"{}"])
        [(key, body)] = self.wait_for_bytes(bucket, 2, "GZIP")
        self.assertTrue(key.endswith(".json.gz"), key)

    def test_newline_processor(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=1, ProcessingConfiguration=NEWLINE)
        self.put_batch(name, [b"alpha", b"", b"gamma"])
        [(_, body)] = self.wait_for_bytes(bucket, 13)
        self.assertEqual(body, b"alpha\n\ngamma\n")

    def test_many_batches_arrive_complete_and_in_order(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0, ProcessingConfiguration=NEWLINE)
        payloads = numbered("many", 2000)
        self.put_batch(name, payloads)
        objects = self.wait_for_bytes(bucket, sum(len(p) + 1 for p in payloads))
        delivered = split_lines(objects)
        self.assertEqual(sorted(r for chunk in delivered for r in chunk), sorted(payloads))
        for chunk in delivered:
            first = payloads.index(chunk[0])
            self.assertEqual(chunk, payloads[first:first + len(chunk)])

    def test_update_destination_moves_new_objects(self):
        bucket = self.new_bucket()
        name = self.create_direct(bucket, interval=0)
        self.assertEqual(self.describe(name)["VersionId"], "1")
        self.firehose.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "v2/"})
        description = self.describe(name)
        self.assertEqual(description["VersionId"], "2")
        self.assertIn("LastUpdateTimestamp", description)
        destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(destination["Prefix"], "v2/")
        # Members the update left out keep their values.
        self.assertEqual(destination["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 0})
        self.assertEqual(destination["BucketARN"], bucket_arn(bucket))
        self.put_batch(name, [b"second"])
        [(key, _)] = self.wait_for_bytes(bucket, 6)
        self.assertRegex(key, r"^v2/\d{4}/\d{2}/\d{2}/\d{2}/%s-2-" % re.escape(name))


class ApiTest(FirehoseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Records put below are delivered at shutdown; into a bucket that does
        # not exist they would wait for the shutdown timeout (exit status 3).
        for bucket in ("enc-bucket", "limits"):
            cls.s3_server.create_bucket(bucket)

    def extended(self, bucket="api-bucket", **extra):
        config = {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket)}
        config.update(extra)
        return config

    def test_create_and_describe(self):
        name = unique_name("api")
        arn = self.firehose.create_delivery_stream(
            DeliveryStreamName=name, ExtendedS3DestinationConfiguration=self.extended())["DeliveryStreamARN"]
        self.assertEqual(arn, "arn:aws:firehose:us-east-1:%s:deliverystream/%s" % (ACCOUNT, name))
        d = self.describe(name)
        self.assertEqual(d["DeliveryStreamName"], name)
        self.assertEqual(d["DeliveryStreamARN"], arn)
        self.assertEqual(d["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(d["DeliveryStreamType"], "DirectPut")
        self.assertEqual(d["VersionId"], "1")
        self.assertEqual(d["DeliveryStreamEncryptionConfiguration"]["Status"], "DISABLED")
        self.assertIsInstance(d["CreateTimestamp"], datetime.datetime)
        self.assertFalse(d["HasMoreDestinations"])
        self.assertNotIn("FailureDescription", d)
        [destination] = d["Destinations"]
        self.assertEqual(destination["DestinationId"], "destinationId-000000000001")
        self.assertEqual(destination["ExtendedS3DestinationDescription"], {
            "RoleARN": ROLE_ARN, "BucketARN": bucket_arn("api-bucket"), "Prefix": "",
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300}, "CompressionFormat": "UNCOMPRESSED",
            "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
            "CloudWatchLoggingOptions": {"Enabled": False}, "S3BackupMode": "Disabled"})
        self.assertEqual(destination["S3DestinationDescription"]["BucketARN"], bucket_arn("api-bucket"))

    def test_deprecated_s3_destination(self):
        name = unique_name("api")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, S3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn("old"), "CompressionFormat": "GZIP"})
        destination = self.describe(name)["Destinations"][0]
        self.assertEqual(destination["S3DestinationDescription"]["CompressionFormat"], "GZIP")

    def test_list_pages_alphabetically_and_filters_by_type(self):
        base = unique_name("list")
        names = [base + suffix for suffix in ("-c", "-a", "-b")]
        for n in names:
            self.create_direct("list-bucket", name=n)
        source = create_stream(self.kinesis, shards=1)
        kinesis_name = base + "-k"
        self.firehose.create_delivery_stream(
            DeliveryStreamName=kinesis_name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration=self.extended())
        seen, start = [], None
        while True:
            kwargs = {"Limit": 2}
            if start:
                kwargs["ExclusiveStartDeliveryStreamName"] = start
            page = self.firehose.list_delivery_streams(**kwargs)
            self.assertLessEqual(len(page["DeliveryStreamNames"]), 2)
            seen += page["DeliveryStreamNames"]
            if not page["HasMoreDeliveryStreams"]:
                break
            start = page["DeliveryStreamNames"][-1]
        self.assertEqual(seen, sorted(seen))
        for n in names + [kinesis_name]:
            self.assertIn(n, seen)
        direct = self.firehose.list_delivery_streams(DeliveryStreamType="DirectPut", Limit=10000)
        self.assertNotIn(kinesis_name, direct["DeliveryStreamNames"])
        self.assertIn(names[0], direct["DeliveryStreamNames"])
        from_kinesis = self.firehose.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
        self.assertEqual(from_kinesis["DeliveryStreamNames"], [kinesis_name])

    def test_delete(self):
        name = self.create_direct("del-bucket")
        self.firehose.delete_delivery_stream(DeliveryStreamName=name)
        self.assertClientError(self.firehose.describe_delivery_stream, "ResourceNotFoundException",
                               not_found_message(name), DeliveryStreamName=name)
        self.assertNotIn(name, self.firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"])
        self.create_direct("del-bucket", name=name)  # the name is free again
        self.assertEqual(self.describe(name)["VersionId"], "1")

    def test_tags(self):
        name = unique_name("tags")
        self.firehose.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=self.extended(),
                                             Tags=[{"Key": "team", "Value": "data"}])
        self.firehose.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "env", "Value": "test"},
                                                                          {"Key": "team", "Value": "ops"}])
        tags = self.firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)
        self.assertEqual(tags["Tags"], [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "ops"}])
        self.assertFalse(tags["HasMoreTags"])
        page = self.firehose.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=1)
        self.assertEqual(page["Tags"], [{"Key": "env", "Value": "test"}])
        self.assertTrue(page["HasMoreTags"])
        page = self.firehose.list_tags_for_delivery_stream(DeliveryStreamName=name, ExclusiveStartTagKey="env")
        self.assertEqual(page["Tags"], [{"Key": "team", "Value": "ops"}])
        self.firehose.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["env"])
        self.assertEqual(self.firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"],
                         [{"Key": "team", "Value": "ops"}])
        too_many = [{"Key": "k%d" % i, "Value": "v"} for i in range(50)]
        self.assertClientError(self.firehose.tag_delivery_stream, "LimitExceededException",
                               DeliveryStreamName=name, Tags=too_many)

    def test_encryption(self):
        name = self.create_direct("enc-bucket")
        self.firehose.start_delivery_stream_encryption(
            DeliveryStreamName=name, DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
        config = self.describe(name)["DeliveryStreamEncryptionConfiguration"]
        self.assertEqual((config["Status"], config["KeyType"]), ("ENABLED", "AWS_OWNED_CMK"))
        self.assertTrue(self.firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"})["Encrypted"])
        self.firehose.stop_delivery_stream_encryption(DeliveryStreamName=name)
        self.assertEqual(self.describe(name)["DeliveryStreamEncryptionConfiguration"]["Status"], "DISABLED")
        self.assertClientError(self.firehose.start_delivery_stream_encryption, "InvalidArgumentException",
                               DeliveryStreamName=name,
                               DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK"})

    # -- bad input --

    def test_unknown_stream(self):
        name = unique_name("missing")
        for call, kwargs in ((self.firehose.describe_delivery_stream, {}),
                             (self.firehose.delete_delivery_stream, {}),
                             (self.firehose.put_record, {"Record": {"Data": b"x"}}),
                             (self.firehose.put_record_batch, {"Records": [{"Data": b"x"}]}),
                             (self.firehose.list_tags_for_delivery_stream, {})):
            self.assertClientError(call, "ResourceNotFoundException", not_found_message(name),
                                   DeliveryStreamName=name, **kwargs)

    def test_duplicate_name(self):
        name = self.create_direct("dup-bucket")
        self.assertClientError(self.firehose.create_delivery_stream, "ResourceInUseException",
                               "Firehose %s under accountId %s already exists" % (name, ACCOUNT),
                               DeliveryStreamName=name, ExtendedS3DestinationConfiguration=self.extended())

    def test_exactly_one_destination(self):
        message = "Exactly one destination configuration is supported for a Firehose"
        self.assertClientError(self.firehose.create_delivery_stream, "InvalidArgumentException", message,
                               DeliveryStreamName=unique_name("none"))
        self.assertClientError(self.firehose.create_delivery_stream, "InvalidArgumentException", message,
                               DeliveryStreamName=unique_name("two"),
                               ExtendedS3DestinationConfiguration=self.extended(),
                               S3DestinationConfiguration=self.extended())

    def test_bad_destination_values(self):
        bad = [({"BufferingHints": {"SizeInMBs": 129, "IntervalInSeconds": 60}}, "ValidationException",
                "Member must have value less than or equal to 128"),
               ({"CompressionFormat": "gzip"}, "ValidationException", "Member must satisfy enum value set"),
               ({"Prefix": "p/!{timestamp:yyyy}/"}, "InvalidArgumentException", "ErrorOutputPrefix"),
               ({"ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "Lambda"}]}},
                "InvalidArgumentException", "Lambda")]
        for extra, code, text in bad:
            response = self.assertClientError(self.firehose.create_delivery_stream, code,
                                              DeliveryStreamName=unique_name("bad"),
                                              ExtendedS3DestinationConfiguration=self.extended(**extra))
            self.assertIn(text, response["Error"]["Message"])
        response = self.assertClientError(self.firehose.create_delivery_stream, "ValidationException",
                                          DeliveryStreamName=unique_name("bad"),
                                          ExtendedS3DestinationConfiguration={"RoleARN": ROLE_ARN,
                                                                              "BucketARN": "not-an-arn"})
        self.assertIn("'extendedS3DestinationConfiguration.bucketARN'", response["Error"]["Message"])

    def test_too_many_records(self):
        name = self.create_direct("limits")
        response = self.assertClientError(self.firehose.put_record_batch, "ValidationException",
                                          DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
        self.assertIn("'records' failed to satisfy constraint: Member must have length less than or equal to 500",
                      response["Error"]["Message"])

    def test_record_too_large(self):
        name = self.create_direct("limits")
        response = self.assertClientError(self.firehose.put_record_batch, "ValidationException",
                                          DeliveryStreamName=name,
                                          Records=[{"Data": b"ok"}, {"Data": b"x" * 1024001}])
        self.assertIn("Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.2.member.data' "
                      "failed to satisfy constraint: Member must have length less than or equal to 1024000",
                      response["Error"]["Message"])
        self.assertClientError(self.firehose.put_record, "ValidationException", DeliveryStreamName=name,
                               Record={"Data": b"x" * 1024001})
        # The largest record is fine.
        self.firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x" * 1024000})

    def test_batch_over_four_mib(self):
        name = self.create_direct("limits")
        self.assertClientError(self.firehose.put_record_batch, "InvalidArgumentException",
                               "Records size exceeds 4 MB limit", DeliveryStreamName=name,
                               Records=[{"Data": b"x" * 1000000}] * 5)

    def test_wrong_version_id(self):
        name = self.create_direct("version")
        self.assertClientError(self.firehose.update_destination, "ConcurrentModificationException",
                               DeliveryStreamName=name, CurrentDeliveryStreamVersionId="7",
                               DestinationId="destinationId-000000000001",
                               ExtendedS3DestinationUpdate={"Prefix": "x/"})
        self.assertEqual(self.describe(name)["VersionId"], "1")
        self.assertClientError(self.firehose.update_destination, "InvalidArgumentException",
                               DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1",
                               DestinationId="destinationId-000000000009",
                               ExtendedS3DestinationUpdate={"Prefix": "x/"})

    def test_put_on_kinesis_sourced_stream(self):
        source = create_stream(self.kinesis, shards=1)
        name = unique_name("src")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN},
            ExtendedS3DestinationConfiguration=self.extended())
        message = "This operation is not permitted on KinesisStreamAsSource delivery stream type."
        self.assertClientError(self.firehose.put_record, "InvalidArgumentException", message,
                               DeliveryStreamName=name, Record={"Data": b"x"})
        self.assertClientError(self.firehose.put_record_batch, "InvalidArgumentException", message,
                               DeliveryStreamName=name, Records=[{"Data": b"x"}])
        source_description = self.describe(name)["Source"]["KinesisStreamSourceDescription"]
        self.assertEqual(source_description["KinesisStreamARN"], stream_arn(source))
        self.assertIn("DeliveryStartTimestamp", source_description)

    def test_kinesis_source_must_exist(self):
        self.assertClientError(self.firehose.create_delivery_stream, "InvalidArgumentException",
                               DeliveryStreamName=unique_name("src"), DeliveryStreamType="KinesisStreamAsSource",
                               KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn("nope"),
                                                                 "RoleARN": ROLE_ARN},
                               ExtendedS3DestinationConfiguration=self.extended())


if __name__ == "__main__":
    unittest.main(verbosity=2)
