"""SubscribeToShard (enhanced fan-out) with boto3 over HTTP/1.1, and raw
requests where the wire itself is checked: the event-stream framing, JSON
and CBOR payloads.

Covers the initial response, every StartingPosition type, records pushed as
they are put, empty events while idle, the 5-second rule and take-over,
errors before the stream starts, the end of a closed shard (split and
merge), subscriptions ended by deregistering the consumer or deleting the
stream, the subscription lifetime and resubscribing from
ContinuationSequenceNumber. Crashes and stalled subscribers are in
test_subscribe_faults.py.
"""
import datetime
import json
import threading
import time
import unittest

import botocore.exceptions

from kinesis_helpers import (CBOR_TYPE, MAX_HASH_KEY, KinesdTestCase, create_stream, make_client, read_shard,
                             unique_name, wait_until)
from subscribe_helpers import (EVENT_STREAM_TYPE, RawSubscription, Subscription, error_code,
                               json_subscribe_body, register_consumer)
from test_cbor import Tag, decode as cbor_decode, encode as cbor_encode

SHARD0 = "shardId-000000000000"
HEARTBEAT_MS = 300


class SubscribeTestCase(KinesdTestCase):

    def setUp(self):
        self.subscriptions = []

    def tearDown(self):
        for s in self.subscriptions:
            s.close()

    def subscribe(self, consumer, position, shard=SHARD0):
        s = Subscription(self.client, consumer, shard, position)
        self.subscriptions.append(s)
        return s

    def stream_with_consumer(self, shards=1):
        name = create_stream(self.client, shards=shards)
        return name, register_consumer(self.client, name)

    def put(self, name, data, key="p", **kwargs):
        return self.client.put_record(StreamName=name, Data=data, PartitionKey=key, **kwargs)["SequenceNumber"]

    def assertEventShape(self, event):
        self.assertIsInstance(event["Records"], list)
        self.assertIsInstance(event["MillisBehindLatest"], int)
        self.assertGreaterEqual(event["MillisBehindLatest"], 0)
        if "ChildShards" not in event:
            self.assertRegex(event["ContinuationSequenceNumber"], r"^(0|[1-9]\d{0,128})$")


class SubscribeTest(SubscribeTestCase):
    server_args = ("--subscribe-heartbeat-ms", str(HEARTBEAT_MS))

    # -- the stream on the wire --

    def test_initial_response_then_records_on_the_wire(self):
        name, consumer = self.stream_with_consumer()
        numbers = [self.put(name, b"wire-%d" % i) for i in range(3)]
        raw = RawSubscription(self.server.port, json_subscribe_body(consumer, SHARD0, {"Type": "TRIM_HORIZON"}))
        try:
            self.assertEqual(raw.status, 200, raw.headers)
            self.assertEqual(raw.headers.get("content-type"), EVENT_STREAM_TYPE)
            self.assertTrue(raw.headers.get("x-amzn-requestid"))
            headers, payload = raw.next_message()
            self.assertEqual(headers[":message-type"], "event")
            self.assertEqual(headers[":event-type"], "initial-response")
            self.assertEqual(json.loads(payload or b"{}"), {})
            records = []
            while len(records) < 3:
                headers, payload = raw.next_message()
                self.assertEqual(headers[":message-type"], "event")
                self.assertEqual(headers[":event-type"], "SubscribeToShardEvent")
                event = json.loads(payload)
                self.assertIsInstance(event["MillisBehindLatest"], int)
                records += event["Records"]
        finally:
            raw.close()
        self.assertEqual([r["SequenceNumber"] for r in records], numbers)
        for record in records:
            # JSON timestamps are epoch seconds, a number.
            self.assertIsInstance(record["ApproximateArrivalTimestamp"], (int, float))
            self.assertLess(abs(record["ApproximateArrivalTimestamp"] - time.time()), 3600)
            self.assertEqual(record["PartitionKey"], "p")

    # -- starting positions --

    def test_trim_horizon(self):
        name, consumer = self.stream_with_consumer()
        payloads = [b"th-%d" % i for i in range(5)] + [b"", bytes(range(256))]
        numbers = [self.put(name, p) for p in payloads]
        s = self.subscribe(consumer, {"Type": "TRIM_HORIZON"})
        records = s.records_until(len(payloads))
        self.assertEqual([r["Data"] for r in records], payloads)
        self.assertEqual([r["SequenceNumber"] for r in records], numbers)
        for event in s.events:
            self.assertEventShape(event)
        self.assertTrue(all(isinstance(r["ApproximateArrivalTimestamp"], datetime.datetime) for r in records))

    def test_latest_skips_what_was_there_and_pushes_what_comes(self):
        name, consumer = self.stream_with_consumer()
        for i in range(3):
            self.put(name, b"before-%d" % i)
        s = self.subscribe(consumer, {"Type": "LATEST"})
        # Wait for the first (empty) event so the subscription is surely in place.
        first = s.next_event()
        self.assertEqual(first["Records"], [])
        after = [self.put(name, b"after-%d" % i) for i in range(4)]
        records = s.records_until(4)
        self.assertEqual([r["SequenceNumber"] for r in records], after)
        self.assertEqual([r["Data"] for r in records], [b"after-%d" % i for i in range(4)])

    def test_at_and_after_sequence_number(self):
        name, consumer_at = self.stream_with_consumer()
        consumer_after = register_consumer(self.client, name)
        numbers = [self.put(name, b"seq-%d" % i) for i in range(6)]
        at = self.subscribe(consumer_at, {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": numbers[2]})
        after = self.subscribe(consumer_after, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": numbers[2]})
        self.assertEqual([r["SequenceNumber"] for r in at.records_until(4)], numbers[2:])
        self.assertEqual([r["SequenceNumber"] for r in after.records_until(3)], numbers[3:])

    def test_at_timestamp(self):
        name, consumer = self.stream_with_consumer()
        for i in range(3):
            self.put(name, b"early-%d" % i)
        # A whole second as the boundary: exact whatever precision the
        # client sends timestamps with.
        boundary = int(time.time()) + 1
        while time.time() < boundary + 0.05:
            time.sleep(0.02)
        late = [self.put(name, b"late-%d" % i) for i in range(3)]
        stored = read_shard(self.client, name, SHARD0)
        self.assertTrue(all(r["ApproximateArrivalTimestamp"].timestamp() >= boundary for r in stored[3:]))
        self.assertTrue(all(r["ApproximateArrivalTimestamp"].timestamp() < boundary for r in stored[:3]))
        when = datetime.datetime.fromtimestamp(boundary, tz=datetime.timezone.utc)
        s = self.subscribe(consumer, {"Type": "AT_TIMESTAMP", "Timestamp": when})
        self.assertEqual([r["SequenceNumber"] for r in s.records_until(3)], late)

    def test_records_put_after_subscribing_are_pushed_in_order(self):
        name, consumer = self.stream_with_consumer()
        s = self.subscribe(consumer, {"Type": "TRIM_HORIZON"})
        s.next_event()
        expected = []
        for round_ in range(5):
            expected += [self.put(name, b"push-%d-%d" % (round_, i)) for i in range(3)]
            batch = self.client.put_records(StreamName=name, Records=[
                {"Data": b"batch-%d-%d" % (round_, i), "PartitionKey": "k%d" % i} for i in range(10)])
            self.assertEqual(batch["FailedRecordCount"], 0)
            expected += [r["SequenceNumber"] for r in batch["Records"]]
            time.sleep(0.05)
        records = s.records_until(len(expected))
        self.assertEqual([r["SequenceNumber"] for r in records], expected)
        for event in s.events:
            self.assertEventShape(event)
        # Once caught up, the stream says so.
        self.assertEqual(s.events[-1]["MillisBehindLatest"], 0)

    def test_empty_events_while_idle(self):
        name, consumer = self.stream_with_consumer()
        last = self.put(name, b"only")
        s = self.subscribe(consumer, {"Type": "TRIM_HORIZON"})
        self.assertEqual([r["SequenceNumber"] for r in s.records_until(1)], [last])
        empty = 0
        # Three heartbeats, 30 s allowed for each: only a missing heartbeat fails.
        while empty < 3:
            event = s.next_event(timeout=30)
            self.assertEqual(event["Records"], [], "nothing was put, yet records came")
            self.assertEqual(event["MillisBehindLatest"], 0)
            self.assertGreaterEqual(int(event["ContinuationSequenceNumber"]), int(last))
            empty += 1
        # The continuation point of an idle stream resumes after the last record.
        s.close()
        time.sleep(5.2)
        newer = self.put(name, b"newer")
        again = self.subscribe(consumer, {"Type": "AFTER_SEQUENCE_NUMBER",
                                          "SequenceNumber": s.last_continuation()})
        self.assertEqual([r["SequenceNumber"] for r in again.records_until(1)], [newer])

    def test_empty_shard_gives_a_usable_continuation(self):
        name, consumer = self.stream_with_consumer()
        s = self.subscribe(consumer, {"Type": "TRIM_HORIZON"})
        event = s.next_event()
        self.assertEqual(event["Records"], [])
        continuation = event["ContinuationSequenceNumber"]
        s.close()
        first = self.put(name, b"first")
        time.sleep(5.2)
        again = self.subscribe(consumer, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation})
        self.assertEqual([r["SequenceNumber"] for r in again.records_until(1)], [first])

    # -- one subscription per consumer and shard --

    def test_second_subscription_within_five_seconds_then_take_over(self):
        name, consumer = self.stream_with_consumer()
        first = self.subscribe(consumer, {"Type": "LATEST"})
        first.next_event()
        started = time.monotonic()
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            Subscription(self.client, consumer, SHARD0, {"Type": "LATEST"})
        self.assertEqual(error_code(caught.exception), "ResourceInUseException", caught.exception.response)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        # The refused attempt did not disturb the first one.
        seq = self.put(name, b"still-first")
        self.assertEqual([r["SequenceNumber"] for r in first.records_until(1)], [seq])
        # Another consumer on the same shard is a different subscription.
        other = self.subscribe(register_consumer(self.client, name), {"Type": "LATEST"})
        other.next_event()

        while time.monotonic() < started + 5.5:
            time.sleep(0.1)
        second = self.subscribe(consumer, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq})
        second.next_event()
        # The first one is taken over: it ends with ResourceInUseException.
        _, (kind, value) = first.drain_until_finished(timeout=30)
        self.assertEqual(kind, "error", "the first subscription ended without an exception event")
        self.assertIsInstance(value, botocore.exceptions.EventStreamError, repr(value))
        self.assertEqual(error_code(value), "ResourceInUseException", repr(value))
        seq2 = self.put(name, b"to-second")
        self.assertEqual([r["SequenceNumber"] for r in second.records_until(1)], [seq2])

    def test_take_over_exception_event_on_the_wire(self):
        name, consumer = self.stream_with_consumer()
        raw = RawSubscription(self.server.port, json_subscribe_body(consumer, SHARD0, {"Type": "LATEST"}))
        try:
            self.assertEqual(raw.status, 200)
            self.assertEqual(raw.next_message()[0][":event-type"], "initial-response")
            time.sleep(5.2)
            self.subscribe(consumer, {"Type": "LATEST"}).next_event()
            while True:
                message = raw.next_message()
                self.assertIsNotNone(message, "the stream ended without an exception event")
                headers, payload = message
                if headers[":message-type"] != "event":
                    break
            self.assertEqual(headers[":message-type"], "exception")
            self.assertEqual(headers[":exception-type"], "ResourceInUseException")
            self.assertTrue(json.loads(payload)["message"])
            # Nothing follows the exception.
            self.assertIsNone(raw.next_message())
        finally:
            raw.close()

    # -- errors before the stream starts --

    def test_errors_before_the_stream(self):
        name, consumer = self.stream_with_consumer(shards=2)
        seq = self.put(name, b"x", ExplicitHashKey="0")
        other_shard_seq = self.put(name, b"y", ExplicitHashKey=str(MAX_HASH_KEY))
        cases = [
            ("unknown consumer", consumer.replace("/consumer/", "/consumer/nobody-"), SHARD0,
             {"Type": "LATEST"}, "ResourceNotFoundException"),
            ("consumer of a missing stream", consumer.replace(":stream/" + name, ":stream/" + unique_name("gone")),
             SHARD0, {"Type": "LATEST"}, "ResourceNotFoundException"),
            ("unknown shard", consumer, "shardId-000000000099", {"Type": "LATEST"}, "ResourceNotFoundException"),
            ("sequence number of no record", consumer, SHARD0,
             {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": "1234"}, "InvalidArgumentException"),
            ("sequence number of another shard", consumer, SHARD0,
             {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": other_shard_seq}, "InvalidArgumentException"),
            ("sequence number missing", consumer, SHARD0, {"Type": "AT_SEQUENCE_NUMBER"},
             "InvalidArgumentException"),
            ("timestamp missing", consumer, SHARD0, {"Type": "AT_TIMESTAMP"}, "InvalidArgumentException"),
        ]
        for what, arn, shard, position, code in cases:
            with self.subTest(what):
                with self.assertRaises(botocore.exceptions.ClientError) as caught:
                    Subscription(self.client, arn, shard, position).close()
                response = caught.exception.response
                self.assertEqual(error_code(caught.exception), code, response)
                self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
                self.assertTrue(response["Error"].get("Message"), response)
        # Not a sequence number at all, and an unknown type: the request
        # fails validation (sent raw: boto3 validates these itself).
        for position in ({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": "abc"}, {"Type": "SOMEWHERE"}):
            with self.subTest(position=position):
                raw = RawSubscription(self.server.port, json_subscribe_body(consumer, SHARD0, position))
                try:
                    self.assertEqual(raw.status, 400)
                    self.assertEqual(json.loads(raw.whole_body())["__type"], "ValidationException")
                finally:
                    raw.close()
        # None of these took the consumer's place on the shard.
        s = self.subscribe(consumer, {"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": seq})
        self.assertEqual([r["SequenceNumber"] for r in s.records_until(1)], [seq])

    # -- closed shards --

    def children_of(self, name, parent):
        return sorted(s["ShardId"] for s in self.client.list_shards(StreamName=name)["Shards"]
                      if parent in (s.get("ParentShardId"), s.get("AdjacentParentShardId")))

    def assertShardEnd(self, subscription, expected_children, parents):
        records, finished = subscription.drain_until_finished()
        last = subscription.events[-1]
        self.assertIn("ChildShards", last, "the last event does not name the child shards")
        self.assertNotIn("ContinuationSequenceNumber", last)
        self.assertEqual(sorted(c["ShardId"] for c in last["ChildShards"]), expected_children)
        for child in last["ChildShards"]:
            self.assertEqual(sorted(child["ParentShards"]), sorted(parents))
            self.assertIn("StartingHashKey", child["HashKeyRange"])
        self.assertEqual(finished, ("end", None))
        for event in subscription.events[:-1]:
            self.assertNotIn("ChildShards", event)
        return records

    def test_end_of_a_split_shard(self):
        name, consumer = self.stream_with_consumer()
        late_consumer = register_consumer(self.client, name)
        before = [self.put(name, b"before-split-%d" % i) for i in range(5)]
        live = self.subscribe(consumer, {"Type": "TRIM_HORIZON"})
        self.assertEqual([r["SequenceNumber"] for r in live.records_until(5)], before)
        self.client.split_shard(StreamName=name, ShardToSplit=SHARD0, NewStartingHashKey=str(2 ** 127))
        wait_until(lambda: self.client.describe_stream_summary(StreamName=name)
                   ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "the split")
        children = self.children_of(name, SHARD0)
        self.assertEqual(len(children), 2)
        # A subscription running when the shard closed ...
        self.assertEqual(self.assertShardEnd(live, children, [SHARD0]), [])
        # ... and one that starts reading the closed shard from its beginning.
        late = self.subscribe(late_consumer, {"Type": "TRIM_HORIZON"})
        self.assertEqual([r["SequenceNumber"] for r in self.assertShardEnd(late, children, [SHARD0])], before)

    def test_end_of_merged_shards(self):
        name, consumer = self.stream_with_consumer(shards=2)
        low = self.put(name, b"low", ExplicitHashKey="0")
        high = self.put(name, b"high", ExplicitHashKey=str(MAX_HASH_KEY))
        self.client.merge_shards(StreamName=name, ShardToMerge=SHARD0,
                                 AdjacentShardToMerge="shardId-000000000001")
        wait_until(lambda: self.client.describe_stream_summary(StreamName=name)
                   ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "the merge")
        children = self.children_of(name, SHARD0)
        self.assertEqual(len(children), 1)
        parents = [SHARD0, "shardId-000000000001"]
        for shard, seq in zip(parents, (low, high)):
            with self.subTest(shard=shard):
                s = self.subscribe(consumer, {"Type": "TRIM_HORIZON"}, shard=shard)
                self.assertEqual([r["SequenceNumber"] for r in self.assertShardEnd(s, children, parents)], [seq])
        # The child is an ordinary open shard.
        child = self.subscribe(consumer, {"Type": "TRIM_HORIZON"}, shard=children[0])
        seq = self.put(name, b"child")
        self.assertEqual([r["SequenceNumber"] for r in child.records_until(1)], [seq])

    # -- the consumer or the stream goes away --

    def assertEnds(self, subscription):
        _, (kind, value) = subscription.drain_until_finished(timeout=30)
        if kind == "error":
            # An exception event is fine; a broken connection is not.
            self.assertIsInstance(value, botocore.exceptions.EventStreamError, repr(value))
        return kind, value

    def test_deregistering_the_consumer_ends_its_subscription(self):
        name, consumer = self.stream_with_consumer()
        s = self.subscribe(consumer, {"Type": "LATEST"})
        s.next_event()
        self.client.deregister_stream_consumer(ConsumerARN=consumer)
        self.assertEnds(s)
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            Subscription(self.client, consumer, SHARD0, {"Type": "LATEST"})
        self.assertEqual(error_code(caught.exception), "ResourceNotFoundException")

    def test_deleting_the_stream_ends_its_subscriptions(self):
        name = create_stream(self.client, shards=2)
        consumers = [register_consumer(self.client, name) for _ in range(2)]
        subs = [self.subscribe(c, {"Type": "LATEST"}, shard=shard)
                for c in consumers for shard in (SHARD0, "shardId-000000000001")]
        for s in subs:
            s.next_event()
        self.client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        for s in subs:
            self.assertEnds(s)

    # -- CBOR --

    def test_cbor_subscription(self):
        name, consumer = self.stream_with_consumer()
        payloads = [bytes(range(256)), b"", b"cbor"]
        numbers = [self.put(name, p) for p in payloads]
        body = cbor_encode({"ConsumerARN": consumer, "ShardId": SHARD0,
                            "StartingPosition": {"Type": "AT_TIMESTAMP", "Timestamp": Tag(1, 0)}})
        raw = RawSubscription(self.server.port, body, content_type=CBOR_TYPE)
        try:
            self.assertEqual(raw.status, 200, raw.headers)
            self.assertEqual(raw.headers.get("content-type"), EVENT_STREAM_TYPE)
            headers, payload = raw.next_message()
            self.assertEqual((headers[":message-type"], headers[":event-type"]), ("event", "initial-response"))
            self.assertIn(cbor_decode(payload) if payload else {}, ({},))
            records = []
            events = []
            while len(records) < len(payloads):
                headers, payload = raw.next_message()
                self.assertEqual(headers[":event-type"], "SubscribeToShardEvent")
                event = cbor_decode(payload)
                events.append(event)
                records += event["Records"]
        finally:
            raw.close()
        now_ms = time.time() * 1000
        self.assertEqual([r["Data"] for r in records], payloads)
        self.assertEqual([r["SequenceNumber"] for r in records], numbers)
        for record in records:
            self.assertIsInstance(record["Data"], bytes)
            stamp = record["ApproximateArrivalTimestamp"]
            self.assertIsInstance(stamp, Tag)
            self.assertEqual(stamp.number, 1)
            self.assertIsInstance(stamp.value, int, "CBOR timestamps are integer milliseconds")
            self.assertLess(abs(stamp.value - now_ms), 3600 * 1000)
        for event in events:
            self.assertIsInstance(event["ContinuationSequenceNumber"], str)
            self.assertIsInstance(event["MillisBehindLatest"], int)

    def test_cbor_error_before_the_stream(self):
        name, consumer = self.stream_with_consumer()
        body = cbor_encode({"ConsumerARN": consumer, "ShardId": "shardId-000000000042",
                            "StartingPosition": {"Type": "LATEST"}})
        raw = RawSubscription(self.server.port, body, content_type=CBOR_TYPE)
        try:
            self.assertEqual(raw.status, 400)
            self.assertEqual(raw.headers.get("content-type"), CBOR_TYPE)
            self.assertEqual(cbor_decode(raw.whole_body())["__type"], "ResourceNotFoundException")
        finally:
            raw.close()


class CreatingConsumerTest(SubscribeTestCase):
    # Streams and consumers stay CREATING this long.
    server_args = ("--create-stream-ms", "3000")

    def test_consumer_still_creating(self):
        name = create_stream(self.client)
        consumer = register_consumer(self.client, name, wait=False)
        self.assertEqual(self.client.describe_stream_consumer(ConsumerARN=consumer)
                         ["ConsumerDescription"]["ConsumerStatus"], "CREATING")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            Subscription(self.client, consumer, SHARD0, {"Type": "LATEST"})
        self.assertEqual(error_code(caught.exception), "ResourceInUseException", caught.exception.response)
        wait_until(lambda: self.client.describe_stream_consumer(ConsumerARN=consumer)
                   ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", "the consumer to become ACTIVE")
        s = self.subscribe(consumer, {"Type": "LATEST"})
        s.next_event()


class LifetimeTest(SubscribeTestCase):
    # Longer than the 5 s between subscriptions, so a subscriber can follow
    # its subscription's end with the next one at once, as KCL does.
    LIFETIME_MS = 6000
    server_args = ("--subscription-lifetime-ms", str(LIFETIME_MS), "--subscribe-heartbeat-ms", "500")

    def test_resubscribing_from_the_continuation_loses_and_repeats_nothing(self):
        name, consumer = self.stream_with_consumer()
        acknowledged, stop, failures = [], threading.Event(), []

        def produce():
            producer = make_client(self.server.endpoint)
            i = 0
            while not stop.is_set():
                try:
                    acknowledged.append(producer.put_record(
                        StreamName=name, Data=b"r%d" % i, PartitionKey="k%d" % i)["SequenceNumber"])
                except Exception as e:  # noqa: BLE001
                    failures.append(repr(e))
                i += 1
                time.sleep(0.01)

        thread = threading.Thread(target=produce)
        thread.start()
        received, ends = [], []
        position = {"Type": "TRIM_HORIZON"}
        try:
            for _ in range(3):
                started = time.monotonic()
                s = self.subscribe(consumer, position)
                records, finished = s.drain_until_finished(timeout=self.LIFETIME_MS / 1000 + 60)
                ends.append((time.monotonic() - started, finished))
                self.assertEqual(finished, ("end", None), "a subscription ended with an error")
                received += [r["SequenceNumber"] for r in records]
                continuation = s.last_continuation()
                self.assertIsNotNone(continuation)
                position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuation}
        finally:
            stop.set()
            thread.join()
        self.assertEqual(failures, [])
        # Every subscription lived about its lifetime: not cut short.
        for lived, _ in ends:
            self.assertGreaterEqual(lived, self.LIFETIME_MS / 1000 * 0.9, ends)
        # Catch up with what was put after the last subscription ended.
        s = self.subscribe(consumer, position)
        tail = []
        while len(received) + len(tail) < len(acknowledged):
            tail += [r["SequenceNumber"] for r in s.next_event()["Records"]]
        received += tail
        self.assertEqual(len(received), len(set(received)), "a record came twice")
        self.assertEqual(received, acknowledged)
        self.assertGreater(len(acknowledged), 100)


if __name__ == "__main__":
    unittest.main(verbosity=2)
