#!/usr/bin/env python3
"""Measures Firehose delivery throughput into S3, in MB/s, from DirectPut and
from a Kinesis stream as source.

Starts an S3-compatible server (s3rver from tests/integration/s3, installed by
`npm ci` there) and kinesd on loopback, writes --megabytes of records, and
times how long kinesd takes until every byte is in the bucket:

- directput: PutRecordBatch calls, timed from the first put to the last
  delivered byte (puts and delivery overlap, as in production);
- kinesis:   the records are put into a Kinesis stream first; the clock runs
  from CreateDeliveryStream until the last byte is delivered, so this is the
  rate at which kinesd drains a backlog from its shard logs into S3.

Prints `RESULT kind=firehose source=<...> mb=<...> seconds=<...> mb_per_s=<...>`
lines. Every loop is bounded; nothing leaves 127.0.0.1.

    python3 bench/firehose_delivery.py --kinesd build/kinesd --megabytes 256
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S3RVER = os.path.join(ROOT, "tests", "integration", "s3", "node_modules", ".bin", "s3rver")
KEY = "S3RVER"
ROLE = "arn:aws:iam::000000000000:role/firehose"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("%s exited during start-up" % what)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("%s did not listen within %d s" % (what, timeout))


def client(service, endpoint):
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=300,
                                    s3={"addressing_style": "path"}, max_pool_connections=4)
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id=KEY, aws_secret_access_key=KEY, config=config)


def delivered_bytes(s3, bucket):
    total, token = 0, None
    while True:
        kwargs = {"Bucket": bucket}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        total += sum(o["Size"] for o in page.get("Contents", []))
        if not page.get("IsTruncated"):
            return total
        token = page["NextContinuationToken"]


def wait_delivered(s3, bucket, expected, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if delivered_bytes(s3, bucket) >= expected:
            return time.monotonic()
        time.sleep(0.2)
    sys.exit("delivery did not finish within %d s" % timeout)


def batches(total_bytes, record_size):
    """PutRecordBatch-sized lists of records (500 records, under 4 MiB)."""
    per_batch = min(500, (4 * 1024 * 1024 - 1) // record_size)
    record = os.urandom(record_size)
    count = max(1, total_bytes // record_size)
    for start in range(0, count, per_batch):
        yield [record] * min(per_batch, count - start)


def destination(bucket, args):
    # Uncompressed, so that the delivered byte count says when all arrived.
    return {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::" + bucket, "BufferingHints": {"SizeInMBs": args.buffer_mb, "IntervalInSeconds": 1}}


def run_directput(firehose, s3, args):
    bucket = "bench-direct-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    name = "bench-direct-" + uuid.uuid4().hex[:8]
    firehose.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=destination(bucket, args))
    sent, started = 0, time.monotonic()
    for records in batches(args.megabytes << 20, args.record_size):
        result = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
        if result["FailedPutCount"]:
            sys.exit("PutRecordBatch failed %d records" % result["FailedPutCount"])
        sent += sum(len(r) for r in records)
    put_done = time.monotonic()
    finished = wait_delivered(s3, bucket, sent, args.timeout)
    report("directput", sent, finished - started, put_seconds=put_done - started)


def run_kinesis(firehose, kinesis, s3, args):
    bucket = "bench-kinesis-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    stream = "bench-src-" + uuid.uuid4().hex[:8]
    kinesis.create_stream(StreamName=stream, ShardCount=args.shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    sent, n = 0, 0
    for records in batches(args.megabytes << 20, args.record_size):
        result = kinesis.put_records(StreamName=stream, Records=[
            {"Data": r, "PartitionKey": "pk-%d" % (n + i)} for i, r in enumerate(records)])
        if result.get("FailedRecordCount"):
            sys.exit("PutRecords failed %d records" % result["FailedRecordCount"])
        sent += sum(len(r) for r in records)
        n += len(records)
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream
    started = time.monotonic()
    firehose.create_delivery_stream(
        DeliveryStreamName="bench-ks-" + uuid.uuid4().hex[:8], DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=destination(bucket, args))
    finished = wait_delivered(s3, bucket, sent, args.timeout)
    report("kinesis", sent, finished - started)


def report(source, sent, seconds, put_seconds=None):
    mb = sent / 1e6
    extra = "" if put_seconds is None else " put_mb_per_s=%.1f" % (mb / put_seconds)
    print("RESULT kind=firehose source=%s mb=%.1f seconds=%.2f mb_per_s=%.1f%s"
          % (source, mb, seconds, mb / seconds, extra), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinesd", default=os.environ.get("KINESD_BIN", os.path.join(ROOT, "build", "kinesd")))
    parser.add_argument("--megabytes", type=int, default=128)
    parser.add_argument("--record-size", type=int, default=8192)
    parser.add_argument("--buffer-mb", type=int, default=64)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--source", choices=["directput", "kinesis", "both"], default="both")
    args = parser.parse_args()
    if not os.access(S3RVER, os.X_OK):
        sys.exit("s3rver is not installed: run 'npm ci' in tests/integration/s3")

    work = tempfile.mkdtemp(prefix="kinesd-bench-firehose-")
    processes = []
    try:
        s3_port, port = free_port(), free_port()
        s3_dir, data_dir = os.path.join(work, "s3"), os.path.join(work, "data")
        os.makedirs(s3_dir)
        log = open(os.path.join(work, "log"), "wb")
        s3rver = subprocess.Popen([S3RVER, "-d", s3_dir, "-a", "127.0.0.1", "-p", str(s3_port), "--silent"],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(s3rver)
        wait_port(s3_port, s3rver, "s3rver")
        kinesd = subprocess.Popen([args.kinesd, "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir,
                                   "--log-level", "warn", "--s3-endpoint", "http://127.0.0.1:%d" % s3_port,
                                   "--s3-access-key", KEY, "--s3-secret-key", KEY],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(kinesd)
        wait_port(port, kinesd, "kinesd")
        endpoint = "http://127.0.0.1:%d" % port
        firehose, kinesis = client("firehose", endpoint), client("kinesis", endpoint)
        s3 = client("s3", "http://127.0.0.1:%d" % s3_port)
        if args.source in ("directput", "both"):
            run_directput(firehose, s3, args)
        if args.source in ("kinesis", "both"):
            run_kinesis(firehose, kinesis, s3, args)
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
