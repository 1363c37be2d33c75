#!/usr/bin/env python3
"""Crash loop for Kinesis streams: concurrent producers, SIGKILL at random
moments, restart on the same data directory, and a full read-back after
every restart.

An acknowledged record must be present exactly once, byte for byte, in the
shard and under the sequence number it was acknowledged with. A record whose
request failed (the server died under it) may be present at most once.
Sequence numbers grow strictly within a shard, and the ones handed out after
a restart are larger than everything the shard held before it.

Exit status 0 when nothing was violated, 1 otherwise.
"""
import base64
import collections
import http.client
import json
import sys

import crash_common as cc
from kinesis_helpers import JSON_TYPE, TARGET_PREFIX, list_all_shards, md5_hash_key, shard_for_hash_key

STREAM = "crash-loop"
MAX_HASH_KEY = 2 ** 128 - 1


Ack = collections.namedtuple("Ack", "shard seq digest key epoch size")


class Ledger(cc.Ledger):
    """Also keeps the violations producers see at put time, reported at the
    next check."""

    def __init__(self, path):
        super().__init__(path)
        self.problems = []

    def problem(self, text):
        with self.lock:
            self.problems.append(text)


class Producer(cc.Producer):
    ID_PREFIX = "p"
    BATCH_ACTION = "PutRecords"
    BATCH_SIZES = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500)
    BATCH_BYTES = int(4.5 * cc.MIB)  # under PutRecords' 5 MiB of data and keys

    def new_record(self):
        rng = self.rng
        record_id = self.take_id()
        if rng.random() < 0.05:
            key = "long-%d-" % rng.randrange(1000) + "k" * rng.randint(1, 230)
        else:
            key = "pk-%d" % rng.randrange(5000)
        size = cc.record_size(rng, cc.MIB - len(key.encode()))
        entry = {"PartitionKey": key, "Data": cc.make_payload(record_id, size, rng)}
        if rng.random() < 0.2:
            entry["ExplicitHashKey"] = str(rng.randint(0, MAX_HASH_KEY))
        return record_id, entry

    def request_bytes(self, entry):
        return len(entry["Data"]) + len(entry["PartitionKey"].encode())

    def put(self, client, records):
        if self.batch:
            return client.put_records(
                StreamName=STREAM, Records=[entry for _, entry in records])["Records"]
        return [client.put_record(StreamName=STREAM, **records[0][1])]

    def problem(self, text):
        self.harness.ledger.problem(text)

    def settle(self, records, outcomes):
        h = self.harness
        # The gate holds restarts off while a request is out, so the epoch
        # is the one the request was sent in.
        epoch = h.epoch
        last_in_shard = {}
        for (record_id, entry), outcome in zip(records, outcomes):
            if "SequenceNumber" not in outcome:
                h.ledger.fail([record_id])
                continue
            shard, seq = outcome["ShardId"], outcome["SequenceNumber"]
            hash_key = (int(entry["ExplicitHashKey"]) if "ExplicitHashKey" in entry
                        else md5_hash_key(entry["PartitionKey"]))
            expected = shard_for_hash_key(h.shards, hash_key)
            if shard != expected:
                h.ledger.problem("%s acknowledged in %s, its hash key belongs to %s"
                                 % (record_id, shard, expected))
            if int(seq) <= last_in_shard.get(shard, -1):
                h.ledger.problem("%s: sequence number %s not above the previous entry's in %s"
                                 % (record_id, seq, shard))
            last_in_shard[shard] = int(seq)
            ack = Ack(shard, seq, cc.digest(entry["Data"]), entry["PartitionKey"], epoch,
                      len(entry["Data"]))
            h.ledger.ack(record_id, ack, shard, seq, ack.digest, record_id, str(epoch))


class ShardReader:
    """Reads whole shards over plain HTTP/1.1 and JSON: botocore's parsing of
    every record (timestamps included) would make the read-back after each
    restart slower than the load it checks."""

    def __init__(self, endpoint):
        host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def call(self, action, body):
        self.conn.request("POST", "/", body=json.dumps(body), headers={
            "Content-Type": JSON_TYPE, "X-Amz-Target": TARGET_PREFIX + action})
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError("%s answered %d: %r" % (action, response.status, payload[:300]))
        return json.loads(payload)

    def read(self, stream, shard):
        """Every record of the shard from TRIM_HORIZON: (sequence number,
        partition key, data)."""
        iterator = self.call("GetShardIterator", {
            "StreamName": stream, "ShardId": shard,
            "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        records = []
        while iterator:
            page = self.call("GetRecords", {"ShardIterator": iterator})
            records += [(r["SequenceNumber"], r["PartitionKey"], base64.b64decode(r["Data"]))
                        for r in page["Records"]]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
        return records

    def close(self):
        self.conn.close()


class Harness(cc.Harness):
    SERVICE = "kinesis"
    PRODUCER = Producer
    LEDGER = Ledger

    def __init__(self, args, work_dir):
        super().__init__(args, work_dir)
        self.epoch = 0
        self.floors = {}  # epoch -> {shard: highest sequence number stored when it began}
        self.lost, self.duplicated, self.corrupted = set(), set(), set()
        self.unacked_present = 0
        self.checks = 0
        self.shards = None

    @staticmethod
    def uses_batches(index):
        return index % 3 != 2

    def set_up(self, client):
        client.create_stream(StreamName=STREAM, ShardCount=self.args.shards)
        cc.wait_until_active(lambda: client.describe_stream_summary(StreamName=STREAM)[
            "StreamDescriptionSummary"]["StreamStatus"], "the stream")
        self.shards = list_all_shards(client, STREAM)

    # -- read-back --

    def verify(self, label):
        """Reads every shard from TRIM_HORIZON while no producer runs and
        checks the store against the ledger. Returns {shard: highest number}."""
        self.checks += 1
        reader = ShardReader(self.server.endpoint)
        with self.ledger.lock:
            acked = dict(self.ledger.acked)
            unacked = set(self.ledger.unacked)
            problems, self.ledger.problems = self.ledger.problems, []
        for text in problems:
            self.violation(text)
        found = {}  # id -> [(shard, seq, digest, key)]
        highest = {}
        for shard in (s["ShardId"] for s in self.shards):
            previous = -1
            for number, key, data in reader.read(STREAM, shard):
                seq = int(number)
                if seq <= previous:
                    self.violation("%s: %s follows %d in %s" % (label, seq, previous, shard))
                previous = max(previous, seq)
                record_id, intact = cc.parse_payload(data)
                if record_id is None or not intact:
                    self.corrupted.add(record_id or "%s/%s" % (shard, seq))
                    self.violation("%s: damaged record %s at %s/%s" % (label, record_id, shard, seq))
                    if record_id is None:
                        continue
                found.setdefault(record_id, []).append((shard, number, cc.digest(data), key))
            highest[shard] = previous
        reader.close()

        for record_id, places in found.items():
            if len(places) > 1:
                self.duplicated.add(record_id)
                self.violation("%s: %s stored %d times: %r" % (label, record_id, len(places),
                                                              [p[:2] for p in places]))
            if record_id not in acked and record_id not in unacked:
                self.corrupted.add(record_id)
                self.violation("%s: %s was never sent" % (label, record_id))
        present_unacked = 0
        for record_id, ack in acked.items():
            places = found.get(record_id)
            if not places:
                if record_id not in self.lost:
                    self.violation("%s: acknowledged %s (%s %s, %d bytes, epoch %d) is missing"
                                   % (label, record_id, ack.shard, ack.seq, ack.size, ack.epoch))
                self.lost.add(record_id)
                continue
            shard, seq, data_digest, key = places[0]
            if (shard, seq) != (ack.shard, ack.seq):
                self.violation("%s: %s acknowledged as %s %s, stored as %s %s"
                               % (label, record_id, ack.shard, ack.seq, shard, seq))
            if (data_digest, key) != (ack.digest, ack.key):
                self.corrupted.add(record_id)
                self.violation("%s: %s differs from what was acknowledged" % (label, record_id))
            floor = self.floors.get(ack.epoch, {}).get(ack.shard, -1)
            if int(ack.seq) <= floor:
                self.violation("%s: %s acknowledged after restart %d with %s, not above %d"
                               % (label, record_id, ack.epoch, ack.seq, floor))
        for record_id in unacked:
            if record_id in found:
                present_unacked += 1
        self.unacked_present = present_unacked
        # Numbers given out later must pass everything stored and everything
        # acknowledged so far, even a record that has since gone missing.
        for ack in acked.values():
            highest[ack.shard] = max(highest.get(ack.shard, -1), int(ack.seq))
        return highest

    def on_restart(self, round_number):
        self.floors[round_number] = self.verify("after restart %d" % round_number)
        self.epoch = round_number

    def finish(self):
        self.verify("final")
        # A clean stop must succeed and keep everything as well.
        self.clean_stop("SIGTERM after the campaign")
        self.server.start()
        self.verify("after a clean restart")
        self.clean_stop("SIGTERM at the end")

    def summary(self, elapsed):
        with self.ledger.lock:
            acked = self.ledger.acked
            total_bytes = sum(a.size for a in acked.values())
            largest = max((a.size for a in acked.values()), default=0)
            unacked = len(self.ledger.unacked)
            answered, failed = self.ledger.requests["answered"], self.ledger.requests["failed"]
        return ("SUMMARY streams: acknowledged=%d bytes=%d largest=%d restarts=%d lost=%d "
                "duplicated=%d corrupted=%d unacknowledged_present=%d/%d violations=%d "
                "requests=%d failed_requests=%d checks=%d seconds=%.0f"
                % (len(acked), total_bytes, largest, self.restarts, len(self.lost), len(self.duplicated),
                   len(self.corrupted), self.unacked_present, unacked, len(self.violations),
                   answered, failed, self.checks, elapsed))


def main():
    parser = cc.common_arguments(__doc__.split("\n")[0], default_producers=6, default_rate=2000)
    parser.add_argument("--shards", type=int, default=4, help="shards of the stream (default 4)")
    return cc.run_campaign(parser, Harness, "kinesd-crash-loop-")


if __name__ == "__main__":
    sys.exit(main())
