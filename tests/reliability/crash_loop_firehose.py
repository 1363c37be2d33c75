#!/usr/bin/env python3
"""Crash loop for Firehose delivery to S3: concurrent producers (PutRecord
and PutRecordBatch) into a DirectPut delivery stream, SIGKILL at random
moments while records are buffered and uploaded, restart on the same data
directory, and at the end a read-back of every object in the bucket.

Every acknowledged record must reach S3 intact. Delivery is at least once,
so duplicates are counted and reported but allowed. Exit status 0 when no
acknowledged record is missing and nothing is damaged, 1 otherwise.
"""
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import boto3

import crash_common as cc
from firehose_helpers import DECODERS, ROLE_ARN, S3_KEY, S3Server, bucket_arn

STREAM = "crash-loop"
BUCKET = "crash-loop"
LARGEST = 1024000 - 1  # Firehose's record limit, less the newline
BATCH_BYTES = int(3.5 * cc.MIB)  # under PutRecordBatch's 4 MiB
BATCH_SIZES = (1, 2, 5, 10, 50, 100, 250, 500)


class Ledger:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.acked = {}  # id -> size
        self.unacked = set()
        self.requests = collections.Counter()
        self._log = open(path, "w", buffering=1024 * 1024)

    def ack(self, record_id, record_digest, size):
        with self.lock:
            self.acked[record_id] = size
            self._log.write("%s\t%s\n" % (record_id, record_digest))

    def fail(self, record_ids):
        with self.lock:
            self.unacked.update(record_ids)

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
        self.next_id += 1
        record_id = "f%d-%d" % (self.index, self.next_id)
        size = cc.record_size(self.rng, LARGEST)
        return record_id, cc.make_payload(record_id, size, self.rng, text=True) + b"\n"

    def next_request(self):
        if not self.batch:
            return [self.new_record()]
        wanted = self.rng.choice(BATCH_SIZES)
        records, total = [], 0
        while len(records) < wanted:
            record_id, data = self.new_record()
            if records and total + len(data) > BATCH_BYTES:
                self.next_id -= 1
                break
            records.append((record_id, data))
            total += len(data)
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
                    client, generation = cc.client(session, "firehose", url), current
                ok = self.send(client, records)
            except Exception as error:  # a harness bug must not pass as a quiet producer
                h.crashed(self.name, error)
                return
            finally:
                h.gate.leave()
            if not ok:
                time.sleep(0.02)

    def send(self, client, records):
        ledger = self.harness.ledger
        try:
            if self.batch:
                result = client.put_record_batch(
                    DeliveryStreamName=STREAM, Records=[{"Data": data} for _, data in records])
                outcomes = result["RequestResponses"]
            else:
                outcomes = [client.put_record(DeliveryStreamName=STREAM,
                                              Record={"Data": records[0][1]})]
        except Exception:  # the server died under the request: no answer
            ledger.fail([record_id for record_id, _ in records])
            ledger.count("failed")
            return False
        ledger.count("answered")
        if len(outcomes) != len(records):
            ledger.fail([record_id for record_id, _ in records])
            self.harness.violation("PutRecordBatch answered %d entries for %d"
                                   % (len(outcomes), len(records)))
            return True
        for (record_id, data), outcome in zip(records, outcomes):
            if outcome.get("RecordId") and "ErrorCode" not in outcome:
                ledger.ack(record_id, cc.digest(data), len(data))
            else:
                ledger.fail([record_id])
        return True


class Bucket:
    """The bucket's objects, each read once (delivered objects never change)."""

    def __init__(self, s3, fmt):
        self.s3 = s3
        self.decode = DECODERS[fmt]
        self.seen = collections.Counter()  # id -> times delivered
        self.damaged = []
        self.objects = 0
        self.bytes = 0
        self._read = set()

    def refresh(self):
        token = None
        while True:
            kwargs = {"Bucket": BUCKET}
            if token:
                kwargs["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                if item["Key"] not in self._read:
                    self._take(item["Key"])
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def _take(self, key):
        body = self.decode(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        self._read.add(key)
        self.objects += 1
        self.bytes += len(body)
        if body and not body.endswith(b"\n"):
            self.damaged.append("%s does not end with a newline" % key)
        for line in body.split(b"\n"):
            if not line:
                continue
            record_id, intact = cc.parse_payload(line)
            if record_id is None or not intact:
                self.damaged.append("%s holds a damaged record %r" % (key, line[:80]))
                if record_id is None:
                    continue
            self.seen[record_id] += 1


class Harness:
    def __init__(self, args, work_dir):
        self.args = args
        self.work_dir = work_dir
        self.gate = cc.Gate()
        self.pacer = cc.Pacer(args.rate)
        self.ledger = Ledger(os.path.join(work_dir, "acknowledged.tsv"))
        self.violations = []
        self.restarts = 0
        self.lost = 0
        self.s3_server = S3Server()
        self.s3_server.create_bucket(BUCKET)
        data_dir = os.path.join(work_dir, "data")
        os.makedirs(data_dir)
        self.server = cc.KinesdServer(
            data_dir=data_dir, binary=args.kinesd, start=False,
            extra_args=["--s3-endpoint", self.s3_server.endpoint, "--s3-access-key", S3_KEY,
                        "--s3-secret-key", S3_KEY, "--worker-threads", "4"] + args.kinesd_arg)
        self.endpoint = None
        self.bucket = Bucket(self.s3_server.client(), args.compression)

    def log(self, text):
        print(text, flush=True)

    def crashed(self, name, error):
        self.violation("%s stopped: %r" % (name, error))

    def violation(self, text):
        self.violations.append(text)
        if len(self.violations) <= 50:
            self.log("VIOLATION: " + text)

    def firehose(self):
        return cc.client(boto3.session.Session(), "firehose", self.server.endpoint, read_timeout=120)

    def start(self):
        self.server.start()
        self.endpoint = cc.Endpoint(self.server.endpoint)
        client = self.firehose()
        client.create_delivery_stream(
            DeliveryStreamName=STREAM, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(BUCKET),
                "CompressionFormat": self.args.compression,
                "BufferingHints": {"SizeInMBs": self.args.buffer_mb,
                                   "IntervalInSeconds": self.args.buffer_seconds}})
        deadline = time.monotonic() + 60
        while client.describe_delivery_stream(DeliveryStreamName=STREAM)[
                "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError("the delivery stream never became ACTIVE")
            time.sleep(0.1)

    def on_restart(self, round_number):
        self.restarts = round_number
        # The delivery stream must come back with the server.
        status = self.firehose().describe_delivery_stream(DeliveryStreamName=STREAM)[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"]
        if status != "ACTIVE":
            self.violation("after restart %d the delivery stream is %s" % (round_number, status))

    def missing(self):
        with self.ledger.lock:
            acked = list(self.ledger.acked)
        return [record_id for record_id in acked if self.bucket.seen[record_id] == 0]

    def run(self):
        self.start()
        producers = [Producer(i, batch=(i % 2 == 0), harness=self) for i in range(self.args.producers)]
        for producer in producers:
            producer.start()
        cc.kill_loop(self.args, self.server, self.gate, self.endpoint, self.on_restart,
                                self.log)
        time.sleep(self.args.max_load)
        self.gate.stop()
        for producer in producers:
            producer.join(60)
        # Delivery carries on by itself: poll until everything arrived.
        deadline = time.monotonic() + self.args.delivery_timeout
        waited = time.monotonic()
        while True:
            self.bucket.refresh()
            missing = self.missing()
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.log("delivery finished %.0f s after the producers stopped" % (time.monotonic() - waited))
        for record_id in missing[:20]:
            self.violation("acknowledged %s (%d bytes) never reached S3"
                           % (record_id, self.ledger.acked[record_id]))
        self.lost = len(missing)
        if missing:
            self.violation("%d acknowledged records never reached S3" % len(missing))
        for text in self.bucket.damaged[:20]:
            self.violation(text)
        with self.ledger.lock:
            known = set(self.ledger.acked) | self.ledger.unacked
        for record_id in self.bucket.seen:
            if record_id not in known:
                self.violation("%s reached S3 but was never sent" % record_id)
        cc.clean_stop(self.server, self.violation, "SIGTERM at the end")

    def summary(self, restarts, lost, elapsed):
        with self.ledger.lock:
            acked = self.ledger.acked
            unacked = self.ledger.unacked
            seen = self.bucket.seen
            # Whether acknowledged or not, a record delivered twice is a duplicate.
            duplicated = sum(1 for count in seen.values() if count > 1)
            extra_copies = sum(count - 1 for count in seen.values() if count > 1)
            unacked_present = sum(1 for record_id in unacked if seen[record_id])
            return ("SUMMARY firehose: acknowledged=%d bytes=%d restarts=%d lost=%d duplicated=%d "
                    "extra_copies=%d corrupted=%d unacknowledged_present=%d/%d violations=%d "
                    "objects=%d object_bytes=%d requests=%d failed_requests=%d seconds=%.0f"
                    % (len(acked), sum(acked.values()), restarts, lost, duplicated, extra_copies,
                       len(self.bucket.damaged), unacked_present, len(unacked), len(self.violations),
                       self.bucket.objects, self.bucket.bytes, self.ledger.requests["answered"],
                       self.ledger.requests["failed"], elapsed))


def main():
    parser = cc.common_arguments(__doc__.split("\n")[0], default_producers=4, default_rate=1500)
    parser.add_argument("--compression", default="GZIP", choices=sorted(DECODERS),
                        help="CompressionFormat of the delivery stream (default GZIP)")
    parser.add_argument("--buffer-mb", type=int, default=1, help="BufferingHints SizeInMBs")
    parser.add_argument("--buffer-seconds", type=int, default=1,
                        help="BufferingHints IntervalInSeconds")
    parser.add_argument("--delivery-timeout", type=float, default=300,
                        help="how long to wait for delivery after the last put, seconds")
    args = parser.parse_args()
    cc.check_binary(args, parser)
    work_dir = tempfile.mkdtemp(prefix="kinesd-crash-loop-firehose-")
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
        harness.s3_server.close()
        print(harness.summary(harness.restarts, harness.lost, time.monotonic() - started), flush=True)
        if failed or args.keep:
            print("work directory kept: %s" % work_dir, flush=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
