"""Records put with boto3 reach a Python handler run by the real Runtime
Interface Emulator and awslambdaric, through an event source mapping:
order per shard, the documented event shape field by field, partial batch
failures, bisection with the S3 on-failure destination, filters, tumbling
windows, and no acknowledged record lost to a kill -9 of kinesd."""
import base64
import json
import os
import threading
import time
import unittest

from esm_helpers import ACCOUNT, FUNCTION, REGION, RuntimeTestCase, unique_name, wait_until
from firehose_helpers import S3_KEY, S3Server

# The documented Kinesis event record, key by key.
RECORD_KEYS = {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion",
               "eventSourceARN"}
KINESIS_KEYS = {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp"}


def data_of(record):
    return base64.b64decode(record["kinesis"]["data"]).decode()


class DeliveryTest(RuntimeTestCase):

    @classmethod
    def setUpClass(cls):
        cls.s3_server = S3Server()
        try:
            super().setUpClass()
        except Exception:
            cls.s3_server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.s3_server.close()

    @classmethod
    def server_args(cls):
        return super().server_args() + ["--s3-endpoint", cls.s3_server.endpoint, "--s3-access-key", S3_KEY,
                                        "--s3-secret-key", S3_KEY]

    def setUp(self):
        self.set_control()

    def put(self, name, items):
        """Puts (partition key, data) pairs one by one; returns what Kinesis answered."""
        out = []
        for key, data in items:
            before = time.time()
            answer = self.kinesis.put_record(StreamName=name, PartitionKey=key, Data=data.encode())
            out.append((key, data, answer["ShardId"], answer["SequenceNumber"], before, time.time()))
        return out

    def test_order_per_shard_and_the_exact_event_shape(self):
        name, arn = self.new_stream(shards=2)
        self.map(arn, BatchSize=7)
        puts = self.put(name, [("key-%d" % (i % 5), "record-%03d" % i) for i in range(60)])
        wait_until(lambda: len(self.seen_records(arn)) >= 60, what="60 records")
        seen = self.seen_records(arn)
        self.assertEqual(len(seen), 60, "each record once when nothing fails")
        by_sequence = {p[3]: p for p in puts}
        for record in seen:
            self.assertEqual(set(record), RECORD_KEYS)
            self.assertEqual(set(record["kinesis"]), KINESIS_KEYS)
            key, data, shard, seq, before, after = by_sequence[record["kinesis"]["sequenceNumber"]]
            self.assertEqual(record["kinesis"]["kinesisSchemaVersion"], "1.0")
            self.assertEqual(record["kinesis"]["partitionKey"], key)
            self.assertEqual(data_of(record), data)
            arrival = record["kinesis"]["approximateArrivalTimestamp"]
            self.assertIsInstance(arrival, float)
            self.assertEqual(round(arrival, 3), arrival, "seconds with a millisecond fraction")
            self.assertTrue(before - 1 <= arrival <= after + 1, (before, arrival, after))
            self.assertEqual(record["eventSource"], "aws:kinesis")
            self.assertEqual(record["eventVersion"], "1.0")
            self.assertEqual(record["eventName"], "aws:kinesis:record")
            self.assertEqual(record["eventID"], "%s:%s" % (shard, seq))
            self.assertEqual(record["awsRegion"], REGION)
            self.assertEqual(record["eventSourceARN"], arn)
            self.assertRegex(record["invokeIdentityArn"], r"^arn:aws:iam::%s:role/.+" % ACCOUNT)
        for event in self.events(arn):
            self.assertEqual(set(event), {"Records"})
            self.assertLessEqual(len(event["Records"]), 7)
            self.assertEqual(len({r["eventID"].split(":")[0] for r in event["Records"]}), 1, "one shard per batch")
        for shard in {p[2] for p in puts}:
            got = [data_of(r) for r in seen if r["eventID"].startswith(shard + ":")]
            want = [p[1] for p in puts if p[2] == shard]
            self.assertEqual(got, want, "in put order within " + shard)
        mapping = self.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]
        self.assertEqual(mapping["LastProcessingResult"], "OK")

    def test_partial_batch_failure_resumes_from_the_failed_record(self):
        name, arn = self.new_stream()
        self.set_control(fail_once=["p-3"])
        self.put(name, [("k", "p-%d" % i) for i in range(8)])
        self.map(arn, BatchSize=8, FunctionResponseTypes=["ReportBatchItemFailures"])
        wait_until(lambda: len(self.events(arn)) >= 2, what="a retry")
        time.sleep(0.5)
        events = [[data_of(r) for r in e["Records"]] for e in self.events(arn)]
        self.assertEqual(events[0], ["p-%d" % i for i in range(8)])
        self.assertEqual(events[1], ["p-%d" % i for i in range(3, 8)], "only from the failed record on")
        self.assertEqual(len(events), 2)

    def test_an_item_failure_without_an_identifier_fails_the_batch(self):
        name, arn = self.new_stream()
        self.set_control(bad_item=True)
        self.put(name, [("k", "b-%d" % i) for i in range(3)])
        self.map(arn, BatchSize=3, FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1)
        wait_until(lambda: len(self.events(arn)) >= 2, what="the whole batch again")
        events = [[data_of(r) for r in e["Records"]] for e in self.events(arn)]
        self.assertEqual(events[:2], [["b-0", "b-1", "b-2"]] * 2)

    def test_bisection_isolates_a_poison_record_that_goes_to_s3(self):
        bucket = unique_name("fail")
        self.s3_server.create_bucket(bucket)
        name, arn = self.new_stream()
        self.set_control(poison="bad")
        items = [("k", "g-%d" % i) for i in range(7)]
        items.insert(5, ("k", "bad"))
        puts = self.put(name, items)
        m = self.map(arn, BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                     DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::" + bucket}})
        s3 = self.s3_server.client()

        def objects():
            return s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        found = wait_until(objects, timeout=60, what="the failure record in S3")
        self.assertEqual(len(found), 1)
        key = found[0]["Key"]
        self.assertTrue(key.startswith("aws/lambda/%s/shardId-000000000000/" % m["UUID"]), key)
        doc = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        self.assertEqual(doc["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(doc["requestContext"]["functionArn"],
                         "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION))
        self.assertEqual(doc["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(doc["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(doc["version"], "1.0")
        info = doc["KinesisBatchInfo"]
        bad_seq = [p[3] for p in puts if p[1] == "bad"][0]
        self.assertEqual((info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]),
                         (1, bad_seq, bad_seq))
        self.assertEqual((info["shardId"], info["streamArn"]), ("shardId-000000000000", arn))
        payload = json.loads(doc["payload"])
        self.assertEqual([data_of(r) for r in payload["Records"]], ["bad"])
        # Every good record reached the function and was taken.
        wait_until(lambda: {"g-%d" % i for i in range(7)} <= {data_of(r) for r in self.seen_records(arn)},
                   what="the good records")

    def test_a_failing_batch_holds_back_only_its_shard(self):
        name, arn = self.new_stream(shards=2)
        self.set_control(poison="stuck")
        shards = [s["ShardId"] for s in self.kinesis.list_shards(StreamName=name)["Shards"]]
        # Explicit hash keys put "stuck" on the first shard and the rest on the second.
        low, high = "0", str(2 ** 127 + 1)
        self.kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"stuck", ExplicitHashKey=low)
        for i in range(5):
            self.kinesis.put_record(StreamName=name, PartitionKey="b", Data=b"free-%d" % i, ExplicitHashKey=high)
        m = self.map(arn)  # retries without end: the stuck shard never moves
        wait_until(lambda: ["free-%d" % i for i in range(5)] ==
                   [data_of(r) for r in self.seen_records(arn) if r["eventID"].startswith(shards[1])],
                   what="the healthy shard's records")
        wait_until(lambda: sum(1 for r in self.seen_records(arn) if data_of(r) == "stuck") >= 2, what="retries")
        self.assertEqual(self.lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"],
                         "PROBLEM: Function call failed")
        self.lam.delete_event_source_mapping(UUID=m["UUID"])

    def test_batching_window_gathers_records(self):
        name, arn = self.new_stream()
        self.map(arn, BatchSize=50, MaximumBatchingWindowInSeconds=2)
        for i in range(3):
            self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"win-%d" % i)
            time.sleep(0.2)
        wait_until(lambda: self.events(arn), what="the batch")
        events = self.events(arn)
        self.assertEqual([[data_of(r) for r in e["Records"]] for e in events], [["win-0", "win-1", "win-2"]])

    def test_filters_drop_what_they_should(self):
        name, arn = self.new_stream()
        patterns = ['{"data": {"kind": ["keep"], "n": [{"numeric": [">", 10]}]}}',
                    '{"data": {"tag": [{"prefix": "vip-"}]}}',
                    '{"partitionKey": [{"anything-but": ["noise"]}], "data": {"kind": [{"equals-ignore-case": "X"}]}}']
        self.map(arn, FilterCriteria={"Filters": [{"Pattern": p} for p in patterns]})
        docs = [({"kind": "keep", "n": 11}, True), ({"kind": "keep", "n": 5}, False), ({"tag": "vip-1"}, True),
                ({"tag": "vip"}, False), ({"kind": "x"}, True), ({"kind": "other"}, False)]
        items = [("k", json.dumps(d)) for d, _ in docs] + [("noise", json.dumps({"kind": "x"})), ("k", "not json")]
        self.put(name, items)
        self.put(name, [("k", json.dumps({"kind": "keep", "n": 99, "last": True}))])
        wait_until(lambda: any('"last"' in data_of(r) for r in self.seen_records(arn)), what="the last record")
        got = [json.loads(data_of(r)) for r in self.seen_records(arn)]
        want = [d for d, keep in docs if keep] + [{"kind": "keep", "n": 99, "last": True}]
        self.assertEqual(got, want)

    def test_tumbling_window_carries_state_and_ends_with_a_final_call(self):
        name, arn = self.new_stream()
        self.map(arn, TumblingWindowInSeconds=2)
        self.put(name, [("k", "w-%d" % i) for i in range(4)])
        wait_until(lambda: any(e.get("isFinalInvokeForWindow") for e in self.events(arn)), timeout=30,
                   what="a final window call")
        events = self.events(arn)
        for e in events:
            self.assertEqual(set(e) >= {"Records", "window", "state", "shardId", "eventSourceARN",
                                        "isFinalInvokeForWindow", "isWindowTerminatedEarly"}, True, e.keys())
            self.assertEqual(e["shardId"], "shardId-000000000000")
        final = [e for e in events if e["isFinalInvokeForWindow"]][0]
        window = final["window"]
        records_in_window = [r for e in events if e["window"] == window for r in e["Records"]]
        self.assertEqual(final["state"], {"count": len(records_in_window)})

    def test_kill9_during_delivery_loses_nothing(self):
        name, arn = self.new_stream(shards=2)
        self.map(arn, BatchSize=20)
        acknowledged = []
        stop = threading.Event()

        def producer():
            i = 0
            while not stop.is_set():
                try:
                    self.kinesis.put_record(StreamName=name, PartitionKey="k%d" % (i % 7), Data=b"kill-%d" % i)
                    acknowledged.append("kill-%d" % i)
                except Exception:
                    pass  # the server is down: not acknowledged
                i += 1
        t = threading.Thread(target=producer)
        t.start()
        try:
            wait_until(lambda: len(self.seen_records(arn)) > 100, what="delivery under way")
            self.server.kill9()
            time.sleep(0.5)
            self.server.start()
            type(self).connect()
            time.sleep(1.0)
        finally:
            stop.set()
            t.join()
        want = set(acknowledged)
        wait_until(lambda: want <= {data_of(r) for r in self.seen_records(arn)}, timeout=120,
                   what="every acknowledged record")


class GivingUpTest(RuntimeTestCase):
    """When records are given up on: MaximumRecordAgeInSeconds (kinesd
    restarted with its clock two minutes ahead finds its records too old for
    a 60-second limit), and never for a function that cannot be reached."""

    @classmethod
    def setUpClass(cls):
        cls.s3_server = S3Server()
        try:
            super().setUpClass()
        except Exception:
            cls.s3_server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.s3_server.close()

    @classmethod
    def server_args(cls):
        from kinesd_server import free_port
        if not hasattr(cls, "dead_url"):
            cls.dead_url = "http://127.0.0.1:%d/2015-03-31/functions/function/invocations" % free_port()
        return super().server_args() + ["--s3-endpoint", cls.s3_server.endpoint, "--s3-access-key", S3_KEY,
                                        "--s3-secret-key", S3_KEY, "--function", "unreachable=" + cls.dead_url]

    def test_an_unreachable_function_uses_no_retries(self):
        bucket = unique_name("dead")
        self.s3_server.create_bucket(bucket)
        name, arn = self.new_stream()
        self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"waiting")
        m = self.lam.create_event_source_mapping(
            FunctionName="unreachable", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::" + bucket}})
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] ==
                   "PROBLEM: Function call failed", what="a failed call")
        # With retries counted, MaximumRetryAttempts 0 would give the record
        # up at the first failure; it must wait instead.
        time.sleep(2)
        self.assertEqual(self.s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount", 0), 0)
        self.lam.delete_event_source_mapping(UUID=m["UUID"])

    def test_records_past_the_maximum_age_go_to_the_destination_uninvoked(self):
        bucket = unique_name("age")
        self.s3_server.create_bucket(bucket)
        name, arn = self.new_stream()
        for i in range(3):
            self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"old-%d" % i)
        self.server.stop()
        self.server.start(extra_args=self.server_args() + ["--clock-offset-ms", "120000"])
        type(self).connect()
        m = self.map(arn, MaximumRecordAgeInSeconds=60,
                     DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::" + bucket}})
        self.kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"fresh")
        wait_until(lambda: self.seen_records(arn), what="the fresh record")
        s3 = self.s3_server.client()
        found = wait_until(lambda: s3.list_objects_v2(Bucket=bucket).get("Contents", []), what="the failure record")
        doc = json.loads(s3.get_object(Bucket=bucket, Key=found[0]["Key"])["Body"].read())
        self.assertEqual(doc["requestContext"]["condition"], "RecordAgeExceeded")
        self.assertEqual(doc["requestContext"]["approximateInvokeCount"], 0)
        self.assertEqual(doc["KinesisBatchInfo"]["batchSize"], 3)
        self.assertTrue(found[0]["Key"].startswith("aws/lambda/%s/" % m["UUID"]))
        self.assertEqual([data_of(r) for r in self.seen_records(arn)], ["fresh"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
