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
import sys
import time

import crash_common as cc
from firehose_helpers import DECODERS, ROLE_ARN, S3_KEY, S3Server, bucket_arn

STREAM = "crash-loop"
BUCKET = "crash-loop"
LARGEST = 1024000 - 1  # Firehose's record limit, less the newline


class Producer(cc.Producer):
    ID_PREFIX = "f"
    BATCH_ACTION = "PutRecordBatch"
    BATCH_SIZES = (1, 2, 5, 10, 50, 100, 250, 500)
    BATCH_BYTES = int(3.5 * cc.MIB)  # under PutRecordBatch's 4 MiB

    def new_record(self):
        record_id = self.take_id()
        size = cc.record_size(self.rng, LARGEST)
        return record_id, cc.make_payload(record_id, size, self.rng, text=True) + b"\n"

    def request_bytes(self, data):
        return len(data)

    def put(self, client, records):
        if self.batch:
            return client.put_record_batch(
                DeliveryStreamName=STREAM,
                Records=[{"Data": data} for _, data in records])["RequestResponses"]
        return [client.put_record(DeliveryStreamName=STREAM, Record={"Data": records[0][1]})]

    def settle(self, records, outcomes):
        ledger = self.harness.ledger
        for (record_id, data), outcome in zip(records, outcomes):
            if outcome.get("RecordId") and "ErrorCode" not in outcome:
                ledger.ack(record_id, len(data), record_id, cc.digest(data))
            else:
                ledger.fail([record_id])


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


class Harness(cc.Harness):
    SERVICE = "firehose"
    PRODUCER = Producer

    def __init__(self, args, work_dir):
        self.s3_server = S3Server()
        self.s3_server.create_bucket(BUCKET)
        super().__init__(args, work_dir, server_args=[
            "--s3-endpoint", self.s3_server.endpoint, "--s3-access-key", S3_KEY,
            "--s3-secret-key", S3_KEY])
        self.lost = 0
        self.bucket = Bucket(self.s3_server.client(), args.compression)

    @staticmethod
    def uses_batches(index):
        return index % 2 == 0

    def set_up(self, client):
        client.create_delivery_stream(
            DeliveryStreamName=STREAM, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": ROLE_ARN, "BucketARN": bucket_arn(BUCKET),
                "CompressionFormat": self.args.compression,
                "BufferingHints": {"SizeInMBs": self.args.buffer_mb,
                                   "IntervalInSeconds": self.args.buffer_seconds}})
        cc.wait_until_active(lambda: self.status(client), "the delivery stream")

    @staticmethod
    def status(client):
        return client.describe_delivery_stream(DeliveryStreamName=STREAM)[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"]

    def on_restart(self, round_number):
        # The delivery stream must come back with the server.
        status = self.status(self.control_client())
        if status != "ACTIVE":
            self.violation("after restart %d the delivery stream is %s" % (round_number, status))

    def missing(self):
        with self.ledger.lock:
            acked = list(self.ledger.acked)
        return [record_id for record_id in acked if self.bucket.seen[record_id] == 0]

    def finish(self):
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
        self.clean_stop("SIGTERM at the end")

    def close(self, failed):
        super().close(failed)
        self.s3_server.close()

    def summary(self, elapsed):
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
                    % (len(acked), sum(acked.values()), self.restarts, self.lost, duplicated, extra_copies,
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
    return cc.run_campaign(parser, Harness, "kinesd-crash-loop-firehose-")


if __name__ == "__main__":
    sys.exit(main())
