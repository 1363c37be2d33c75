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
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import boto3

import crash_common as cc
from kinesis_helpers import JSON_TYPE, TARGET_PREFIX, list_all_shards, md5_hash_key, shard_for_hash_key

STREAM = "crash-loop"
MAX_HASH_KEY = 2 ** 128 - 1
BATCH_BYTES = int(4.5 * cc.MIB)  # under PutRecords' 5 MiB of data and keys
BATCH_SIZES = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500)


Ack = collections.namedtuple("Ack", "shard seq digest key epoch size")


class Ledger:
    """What the producers were told, shared by every thread."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.acked = {}  # id -> Ack
        self.unacked = set()
        self.requests = collections.Counter()
        self.problems = []  # violations seen at put time
        self._log = open(path, "w", buffering=1024 * 1024)

    def ack(self, record_id, ack):
        with self.lock:
            self.acked[record_id] = ack
            self._log.write("%s\t%s\t%s\t%s\t%d\n" % (ack.shard, ack.seq, ack.digest, record_id, ack.epoch))

    def fail(self, record_ids):
        with self.lock:
            self.unacked.update(record_ids)

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def count(self, what):
        with self.lock:
            self.requests[what] += 1

    def close(self):
        self._log.close()


class Producer(threading.Thread):
    def __init__(self, index, batch, harness):
        super().__init__(name="producer-%d" % index, daemon=True)
        self.index = index
        self.batch = batch
        self.harness = harness
        self.rng = random.Random(harness.args.seed * 1000 + index)
        self.next_id = 0

    def new_record(self):
        rng = self.rng
        self.next_id += 1
        record_id = "p%d-%d" % (self.index, self.next_id)
        if rng.random() < 0.05:
            key = "long-%d-" % rng.randrange(1000) + "k" * rng.randint(1, 230)
        else:
            key = "pk-%d" % rng.randrange(5000)
        size = cc.record_size(rng, cc.MIB - len(key.encode()))
        entry = {"PartitionKey": key, "Data": cc.make_payload(record_id, size, rng)}
        if rng.random() < 0.2:
            entry["ExplicitHashKey"] = str(rng.randint(0, MAX_HASH_KEY))
        return record_id, entry

    def next_request(self):
        if not self.batch:
            return [self.new_record()]
        wanted = self.rng.choice(BATCH_SIZES)
        records, total = [], 0
        while len(records) < wanted:
            record_id, entry = self.new_record()
            size = len(entry["Data"]) + len(entry["PartitionKey"].encode())
            if records and total + size > BATCH_BYTES:
                self.next_id -= 1  # not sent: the id is free again
                break
            records.append((record_id, entry))
            total += size
        return records

    def run(self):
        h = self.harness
        session = boto3.session.Session()
        client, generation = None, None
        while True:
            records = self.next_request()
            h.pacer.take(len(records))
            if not h.gate.enter():
                return
            try:
                url, current = h.endpoint.get()
                if current != generation:
                    client, generation = cc.client(session, "kinesis", url), current
                epoch = h.epoch
                ok = self.send(client, records, epoch)
            except Exception as error:  # a harness bug must not pass as a quiet producer
                h.crashed(self.name, error)
                return
            finally:
                h.gate.leave()
            if not ok:
                time.sleep(0.02)  # the server is down: do not spin

    def send(self, client, records, epoch):
        h = self.harness
        try:
            if self.batch:
                result = client.put_records(
                    StreamName=STREAM, Records=[entry for _, entry in records])
                outcomes = result["Records"]
            else:
                outcomes = [client.put_record(StreamName=STREAM, **records[0][1])]
        except Exception:  # connection refused or reset, timeout, 5xx: no answer
            h.ledger.fail([record_id for record_id, _ in records])
            h.ledger.count("failed")
            return False
        h.ledger.count("answered")
        if len(outcomes) != len(records):
            h.ledger.problem("PutRecords answered %d entries for %d" % (len(outcomes), len(records)))
            h.ledger.fail([record_id for record_id, _ in records])
            return True
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
            h.ledger.ack(record_id, Ack(shard, seq, cc.digest(entry["Data"]), entry["PartitionKey"],
                                        epoch, len(entry["Data"])))
        return True


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


class Harness:
    def __init__(self, args, work_dir):
        self.args = args
        self.work_dir = work_dir
        self.gate = cc.Gate()
        self.pacer = cc.Pacer(args.rate)
        self.ledger = Ledger(os.path.join(work_dir, "acknowledged.tsv"))
        self.epoch = 0
        self.restarts = 0
        self.floors = {}  # epoch -> {shard: highest sequence number stored when it began}
        self.lost, self.duplicated, self.corrupted = set(), set(), set()
        self.violations = []
        self.unacked_present = 0
        self.checks = 0
        data_dir = os.path.join(work_dir, "data")
        os.makedirs(data_dir)
        self.server = cc.KinesdServer(data_dir=data_dir, binary=args.kinesd,
                                      extra_args=["--worker-threads", "4"] + args.kinesd_arg,
                                      start=False)
        self.endpoint = None
        self.shards = None

    def log(self, text):
        print(text, flush=True)

    def start(self):
        self.server.start()
        self.endpoint = cc.Endpoint(self.server.endpoint)
        client = self.reader()
        client.create_stream(StreamName=STREAM, ShardCount=self.args.shards)
        deadline = time.monotonic() + 60
        while client.describe_stream_summary(StreamName=STREAM)[
                "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError("the stream never became ACTIVE")
            time.sleep(0.1)
        self.shards = list_all_shards(client, STREAM)

    def reader(self):
        return cc.client(boto3.session.Session(), "kinesis", self.server.endpoint, read_timeout=120)

    def crashed(self, name, error):
        self.violation("%s stopped: %r" % (name, error))

    def violation(self, text):
        self.violations.append(text)
        if len(self.violations) <= 50:
            self.log("VIOLATION: " + text)

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
        self.restarts = round_number
        self.floors[round_number] = self.verify("after restart %d" % round_number)
        self.epoch = round_number

    # -- campaign --

    def run(self):
        self.start()
        producers = [Producer(i, batch=(i % 3 != 2), harness=self) for i in range(self.args.producers)]
        for producer in producers:
            producer.start()
        restarts = cc.kill_loop(self.args, self.server, self.gate, self.endpoint, self.on_restart,
                                self.log)
        time.sleep(self.args.max_load)  # some load after the last restart too
        self.gate.stop()
        for producer in producers:
            producer.join(60)
        self.verify("final")
        # A clean stop must succeed and keep everything as well.
        cc.clean_stop(self.server, self.violation, "SIGTERM after the campaign")
        self.server.start()
        self.verify("after a clean restart")
        cc.clean_stop(self.server, self.violation, "SIGTERM at the end")
        return restarts

    def summary(self, restarts, elapsed):
        with self.ledger.lock:
            acked = self.ledger.acked
            total_bytes = sum(a.size for a in acked.values())
            largest = max((a.size for a in acked.values()), default=0)
            unacked = len(self.ledger.unacked)
            answered, failed = self.ledger.requests["answered"], self.ledger.requests["failed"]
        return ("SUMMARY streams: acknowledged=%d bytes=%d largest=%d restarts=%d lost=%d "
                "duplicated=%d corrupted=%d unacknowledged_present=%d/%d violations=%d "
                "requests=%d failed_requests=%d checks=%d seconds=%.0f"
                % (len(acked), total_bytes, largest, restarts, len(self.lost), len(self.duplicated),
                   len(self.corrupted), self.unacked_present, unacked, len(self.violations),
                   answered, failed, self.checks, elapsed))


def main():
    parser = cc.common_arguments(__doc__.split("\n")[0], default_producers=6, default_rate=2000)
    parser.add_argument("--shards", type=int, default=4, help="shards of the stream (default 4)")
    args = parser.parse_args()
    cc.check_binary(args, parser)
    work_dir = tempfile.mkdtemp(prefix="kinesd-crash-loop-")
    harness = Harness(args, work_dir)
    started = time.monotonic()
    failed = True
    try:
        harness.run()
        failed = bool(harness.violations)
        if args.expect_loss:
            failed = not harness.lost
            print("self-check: %s" % ("losses were detected, as expected" if not failed
                                      else "no loss was detected although one was expected"))
    except Exception:
        harness.gate.stop()
        raise
    finally:
        harness.ledger.close()
        if os.path.exists(harness.server.log_path):
            shutil.copy(harness.server.log_path, os.path.join(work_dir, "kinesd.log"))
        if failed:
            sys.stderr.write(harness.server.log_tail(8000) + "\n")
        harness.server.close()
        print(harness.summary(harness.restarts, time.monotonic() - started), flush=True)
        if failed or args.keep:
            print("work directory kept: %s" % work_dir, flush=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
