#!/usr/bin/env python3
"""Measures the records/s Firehose dynamic partitioning sustains, beside the
same records delivered unpartitioned.

Starts s3rver (tests/integration/s3, `npm ci` there) and kinesd on loopback,
puts --records JSON records ({"customer": "c<k>", ...}, --partitions distinct
customers) into a Kinesis stream, then drains that backlog twice, each time
with a new delivery stream reading the stream from its start:

- plain:       AppendDelimiterToRecord only, one buffer;
- partitioned: MetadataExtraction `{customer: .customer}` (jq) into
               data/customer=!{partitionKeyFromQuery:customer}/, one buffer
               per partition, plus AppendDelimiterToRecord.

The clock runs from CreateDeliveryStream until every byte is in the bucket.
Prints `RESULT kind=firehose_partitioning mode=<...> records=<...>
partitions=<...> seconds=<...> records_per_s=<...> objects=<...>` lines.
Every loop is bounded; nothing leaves 127.0.0.1.

    python3 bench/firehose_partitioning.py --kinesd build/kinesd --records 200000 --partitions 100
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from firehose_delivery import KEY, ROLE, S3RVER, client, free_port, wait_port  # noqa: E402


def bucket_stats(s3, bucket):
    total, objects, token = 0, 0, None
    while True:
        kwargs = {"Bucket": bucket}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        total += sum(o["Size"] for o in page.get("Contents", []))
        objects += len(page.get("Contents", []))
        if not page.get("IsTruncated"):
            return total, objects
        token = page["NextContinuationToken"]


def put_backlog(kinesis, stream, args):
    sent, n = 0, 0
    while n < args.records:
        chunk = []
        for i in range(n, min(n + 500, args.records)):
            body = json.dumps({"customer": "c%d" % (i % args.partitions), "seq": i,
                               "payload": "x" * args.padding}).encode()
            chunk.append({"Data": body, "PartitionKey": "pk-%d" % i})
        result = kinesis.put_records(StreamName=stream, Records=chunk)
        if result.get("FailedRecordCount"):
            sys.exit("PutRecords failed %d records" % result["FailedRecordCount"])
        sent += sum(len(r["Data"]) + 1 for r in chunk)  # + the appended newline
        n += len(chunk)
    return sent


def drain(firehose, s3, arn, expected, mode, args):
    bucket = "bench-%s-%s" % (mode, uuid.uuid4().hex[:8])
    s3.create_bucket(Bucket=bucket)
    newline = {"Type": "AppendDelimiterToRecord"}
    destination = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::" + bucket,
                   "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": args.interval}}
    if mode == "partitioned":
        destination.update({
            "Prefix": "data/customer=!{partitionKeyFromQuery:customer}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [
                {"Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer: .customer}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
                newline]}})
    else:
        destination["ProcessingConfiguration"] = {"Enabled": True, "Processors": [newline]}
    started = time.monotonic()
    firehose.create_delivery_stream(
        DeliveryStreamName="bench-" + mode + "-" + uuid.uuid4().hex[:8], DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=destination)
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        total, objects = bucket_stats(s3, bucket)
        if total >= expected:
            seconds = time.monotonic() - started
            print("RESULT kind=firehose_partitioning mode=%s records=%d partitions=%d seconds=%.2f "
                  "records_per_s=%.0f objects=%d" % (mode, args.records, args.partitions if mode == "partitioned"
                                                     else 1, seconds, args.records / seconds, objects), flush=True)
            return
        time.sleep(0.2)
    sys.exit("%s delivery did not finish within %d s" % (mode, args.timeout))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinesd", default=os.environ.get("KINESD_BIN", "build/kinesd"))
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--padding", type=int, default=64, help="payload characters per record")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--interval", type=int, default=1, help="BufferingHints.IntervalInSeconds")
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args()
    if not os.access(S3RVER, os.X_OK):
        sys.exit("s3rver is not installed: run 'npm ci' in tests/integration/s3")

    work = tempfile.mkdtemp(prefix="kinesd-bench-partitioning-")
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
        stream = "bench-src-" + uuid.uuid4().hex[:8]
        kinesis.create_stream(StreamName=stream, ShardCount=args.shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        expected = put_backlog(kinesis, stream, args)
        arn = "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream
        drain(firehose, s3, arn, expected, "plain", args)
        drain(firehose, s3, arn, expected, "partitioned", args)
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
