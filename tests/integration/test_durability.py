"""Acknowledged writes survive a crash (SIGKILL) and a clean restart."""
import base64
import http.client
import json
import os
import threading
import time
import unittest

from kinesis_helpers import (KinesdTestCase, create_stream, make_client, read_shard,
                             stream_arn, unique_name, wait_active, wait_gone)


class DurabilityTest(KinesdTestCase):

    def setUp(self):
        self.name = create_stream(self.client, shards=3)
        self.shards = [s["ShardId"] for s in self.client.list_shards(StreamName=self.name)["Shards"]]

    def put_many(self, count, tag):
        """Puts `count` records (both APIs) and returns what was acknowledged,
        per shard, in acknowledgement order."""
        acked = {}
        batch = []
        for i in range(count):
            entry = {"Data": tag + b"-%d-" % i + os.urandom(i % 40), "PartitionKey": "pk-%d" % (i % 17)}
            if i % 10 == 0:
                result = self.client.put_record(StreamName=self.name, **entry)
                acked.setdefault(result["ShardId"], []).append(
                    (result["SequenceNumber"], entry["PartitionKey"], entry["Data"]))
                continue
            batch.append(entry)
            if len(batch) == 50 or i == count - 1:
                result = self.client.put_records(StreamName=self.name, Records=batch)
                self.assertEqual(result.get("FailedRecordCount", 0), 0)
                for sent, outcome in zip(batch, result["Records"]):
                    acked.setdefault(outcome["ShardId"], []).append(
                        (outcome["SequenceNumber"], sent["PartitionKey"], sent["Data"]))
                batch = []
        return acked

    def stored(self):
        return {shard: [(r["SequenceNumber"], r["PartitionKey"], r["Data"])
                        for r in read_shard(self.client, self.name, shard)]
                for shard in self.shards}

    def merge(self, *parts):
        merged = {shard: [] for shard in self.shards}
        for part in parts:
            for shard, records in part.items():
                merged[shard] += records
        return merged

    def reconnect(self):
        self.client = make_client(self.server.endpoint)

    def assertNewNumbersLarger(self, old, new):
        for shard, records in new.items():
            if old.get(shard):
                newest_old = max(int(number) for number, _, _ in old[shard])
                self.assertGreater(min(int(number) for number, _, _ in records), newest_old, shard)

    def wal_ends_in_zeros(self):
        """Whether a write-ahead log in the data directory ends with zeros
        laid ahead of its records, as a crash leaves it."""
        for name in os.listdir(self.server.data_dir):
            if name.endswith(".log") and name[:-4].isdigit():
                with open(os.path.join(self.server.data_dir, name), "rb") as log:
                    log.seek(0, os.SEEK_END)
                    if log.tell() >= 4096:
                        log.seek(-4096, os.SEEK_END)
                        if log.read() == bytes(4096):
                            return True
        return False

    def test_kill9_keeps_acknowledged_records(self):
        description_before = self.client.describe_stream(StreamName=self.name)["StreamDescription"]
        acked = self.put_many(600, b"before")
        self.server.kill9()
        # Recovery below reads through the zeros after the last record.
        self.assertTrue(self.wal_ends_in_zeros())
        self.server.start()
        self.reconnect()

        description = wait_active(self.client, self.name)
        self.assertEqual(description["StreamARN"], stream_arn(self.name))
        self.assertEqual(description["StreamCreationTimestamp"],
                         description_before["StreamCreationTimestamp"])
        shards_after = self.client.describe_stream(StreamName=self.name)["StreamDescription"]["Shards"]
        self.assertEqual(shards_after, description_before["Shards"])
        self.assertEqual(self.stored(), self.merge(acked))

        later = self.put_many(60, b"after")
        self.assertNewNumbersLarger(acked, later)
        self.assertEqual(self.stored(), self.merge(acked, later))

    def test_repeated_crashes(self):
        everything = []
        for round_number in range(3):
            part = self.put_many(40, b"round%d" % round_number)
            if everything:
                self.assertNewNumbersLarger(self.merge(*everything), part)
            everything.append(part)
            self.server.kill9()
            self.server.start()
            self.reconnect()
        self.assertEqual(self.stored(), self.merge(*everything))

    def test_clean_restart(self):
        acked = self.put_many(100, b"clean")
        self.server.restart()
        self.reconnect()
        self.assertEqual(self.stored(), self.merge(acked))
        later = self.put_many(10, b"again")
        self.assertNewNumbersLarger(acked, later)

    def test_iterator_survives_restart(self):
        acked = self.put_many(20, b"iter")
        shard = max(acked, key=lambda s: len(acked[s]))
        iterator = self.client.get_shard_iterator(
            StreamName=self.name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.server.kill9()
        self.server.start()
        self.reconnect()
        records = self.client.get_records(ShardIterator=iterator)["Records"]
        self.assertEqual([r["SequenceNumber"] for r in records], [n for n, _, _ in acked[shard]])

    def test_deleted_stream_stays_deleted_and_tags_stay(self):
        self.client.add_tags_to_stream(StreamName=self.name, Tags={"keep": "me"})
        doomed = create_stream(self.client)
        self.client.delete_stream(StreamName=doomed)
        wait_gone(self.client, doomed)
        other = unique_name("late")
        self.client.create_stream(StreamName=other, ShardCount=2)
        wait_active(self.client, other)
        self.server.kill9()
        self.server.start()
        self.reconnect()
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.describe_stream_summary(StreamName=doomed)
        names = self.client.list_streams()["StreamNames"]
        self.assertIn(self.name, names)
        self.assertIn(other, names)
        self.assertNotIn(doomed, names)
        self.assertEqual(wait_active(self.client, other)["OpenShardCount"], 2)
        self.assertEqual(self.client.list_tags_for_stream(StreamName=self.name)["Tags"],
                         [{"Key": "keep", "Value": "me"}])

    def test_sigterm_under_load_exits_cleanly_and_keeps_what_it_acknowledged(self):
        """SIGTERM while puts are still queued for the disk: the server exits
        with status 0 (it used to crash now and then, completing those puts
        after its network loop was gone) and keeps every acknowledged record."""
        body = json.dumps({"StreamName": self.name, "Records": [
            {"Data": base64.b64encode(b"load-%d-" % i + bytes(600)).decode(), "PartitionKey": "pk-%d" % i}
            for i in range(300)]}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": "Kinesis_20131202.PutRecords"}
        acknowledged = 0
        for _ in range(6):
            stop = threading.Event()
            counts = []

            def hammer(port=self.server.port):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                n = 0
                try:
                    while not stop.is_set():
                        conn.request("POST", "/", body, headers)
                        response = conn.getresponse()
                        answer = response.read()
                        if response.status == 200:
                            n += 300 - json.loads(answer)["FailedRecordCount"]
                except (OSError, http.client.HTTPException):
                    pass  # the server went away mid-request: that one was not acknowledged
                finally:
                    counts.append(n)
                    conn.close()

            threads = [threading.Thread(target=hammer) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.8)
            try:
                self.server.stop()  # raises, with the log, unless the exit status is 0
            finally:
                stop.set()
                for t in threads:
                    t.join()
            acknowledged += sum(counts)
            self.server.start()
            self.reconnect()
        self.assertGreater(acknowledged, 0)
        self.assertGreaterEqual(sum(self.count_stored(shard) for shard in self.shards), acknowledged)

    def count_stored(self, shard):
        """Counts a shard's records over plain HTTP: boto3 takes far longer
        to decode the hundreds of thousands this load writes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)

        def call(action, payload):
            conn.request("POST", "/", json.dumps(payload).encode(),
                         {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + action})
            response = conn.getresponse()
            answer = json.loads(response.read())
            self.assertEqual(response.status, 200, answer)
            return answer

        try:
            iterator = call("GetShardIterator", {"StreamName": self.name, "ShardId": shard,
                                                 "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
            count = 0
            while True:
                page = call("GetRecords", {"ShardIterator": iterator, "Limit": 10000})
                count += len(page["Records"])
                if not page["Records"] and page["MillisBehindLatest"] == 0:
                    return count
                iterator = page["NextShardIterator"]
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
