#!/usr/bin/env python3
"""Event source mappings: put-to-invoke latency and the rate one mapping
delivers to one function.

Starts its own kinesd (--kinesd, default build/kinesd) and a real Lambda
runtime (the Runtime Interface Emulator with awslambdaric, as the tests
use) running bench/esm_handler/timing.py, which logs the wall time of each
invocation and the data it got.

latency   One shard, a LATEST mapping (BatchSize 100, no batching window).
          --latency-records single PutRecords, one every --interval s. A
          record's latency is the handler's call time minus the time its
          PutRecord was sent (one machine, one wall clock); the PutRecord's
          own round trip is printed beside it. The function is often called
          before the client has finished reading the put's answer: kinesd
          wakes the mapping when the record commits, as it answers the put.
rate      --rate-records records put first (PutRecords of 500), then a
          TRIM_HORIZON mapping with --batch-size; rate = records / time
          from CreateEventSourceMapping to the handler's last call.

Prints one RESULT line per measurement, for example
  RESULT kind=esm_latency records=200 p50_ms=2.1 p90_ms=3.0 p99_ms=9.0 put_p50_ms=2.4
  RESULT kind=esm_rate records=20000 batch_size=1000 records_per_s=...
Reports numbers; it asserts nothing.
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "functions")]

import boto3  # noqa: E402
import botocore.config  # noqa: E402

from kinesd_server import KinesdServer  # noqa: E402
from lambda_runtime import LambdaRuntime, have_runtime  # noqa: E402


def client(endpoint, service):
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=botocore.config.Config(retries={"max_attempts": 2}))


def calls(log_path):
    with open(log_path) as f:
        return [json.loads(line) for line in f]


def wait_stream(kinesis, name):
    while kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.05)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def wait_enabled(lam, uuid):
    while lam.get_event_source_mapping(UUID=uuid)["State"] != "Enabled":
        time.sleep(0.02)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def measure_latency(kinesis, lam, log_path, args):
    open(log_path, "w").close()
    kinesis.create_stream(StreamName="latency", ShardCount=1)
    arn = wait_stream(kinesis, "latency")
    m = lam.create_event_source_mapping(FunctionName="timing", EventSourceArn=arn, StartingPosition="LATEST")
    wait_enabled(lam, m["UUID"])
    acked, round_trips = {}, []
    for i in range(args.latency_records):
        sent = time.time()
        kinesis.put_record(StreamName="latency", PartitionKey="k", Data=("l-%d" % i).encode())
        acked["l-%d" % i] = sent
        round_trips.append((time.time() - sent) * 1000)
        time.sleep(args.interval)
    deadline = time.time() + 60
    seen = {}
    while len(seen) < len(acked) and time.time() < deadline:
        for call in calls(log_path):
            for d in call["data"]:
                seen.setdefault(d, call["t"])
        time.sleep(0.1)
    lat = [(seen[d] - acked[d]) * 1000 for d in acked if d in seen]
    print("RESULT kind=esm_latency records=%d delivered=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f "
          "put_p50_ms=%.1f put_p99_ms=%.1f"
          % (len(acked), len(lat), percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat),
             percentile(round_trips, 50), percentile(round_trips, 99)))
    lam.delete_event_source_mapping(UUID=m["UUID"])


def measure_rate(kinesis, lam, log_path, args, batch_size):
    open(log_path, "w").close()
    name = "rate-%d" % batch_size
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = wait_stream(kinesis, name)
    payload = b"x" * args.record_bytes
    for start in range(0, args.rate_records, 500):
        n = min(500, args.rate_records - start)
        out = kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "k%d" % i, "Data": payload}
                                                            for i in range(n)])
        if out["FailedRecordCount"]:
            raise SystemExit("puts failed")
    t0 = time.time()
    lam.create_event_source_mapping(FunctionName="timing", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=batch_size)
    total, last, deadline = 0, t0, time.time() + 600
    while total < args.rate_records and time.time() < deadline:
        got = calls(log_path)
        total = sum(len(c["data"]) for c in got)
        last = got[-1]["t"] if got else t0
        time.sleep(0.2)
    invocations = len(calls(log_path))
    print("RESULT kind=esm_rate records=%d batch_size=%d record_bytes=%d invocations=%d seconds=%.2f "
          "records_per_s=%.0f" % (total, batch_size, args.record_bytes, invocations, last - t0,
                                  total / max(last - t0, 1e-6)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinesd", default=os.path.join(ROOT, "build", "kinesd"))
    parser.add_argument("--latency-records", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--rate-records", type=int, default=20000)
    parser.add_argument("--record-bytes", type=int, default=100)
    parser.add_argument("--batch-size", type=int, action="append", dest="batch_sizes",
                        help="BatchSize of the rate runs (repeatable; default 100 and 1000)")
    args = parser.parse_args()
    why = have_runtime()
    if why:
        raise SystemExit(why)
    work = tempfile.mkdtemp(prefix="esm-bench-")
    log_path = os.path.join(work, "calls.jsonl")
    with LambdaRuntime(os.path.join(HERE, "esm_handler"), "timing.handler", env={"ESM_BENCH_LOG": log_path}) as fn:
        server = KinesdServer(binary=args.kinesd, extra_args=["--function", "timing=" + fn.invoke_url])
        try:
            kinesis, lam = client(server.endpoint, "kinesis"), client(server.endpoint, "lambda")
            measure_latency(kinesis, lam, log_path, args)
            for batch_size in args.batch_sizes or [100, 1000]:
                measure_rate(kinesis, lam, log_path, args, batch_size)
                # One mapping at a time on the function.
                for m in lam.list_event_source_mappings()["EventSourceMappings"]:
                    lam.delete_event_source_mapping(UUID=m["UUID"])
                time.sleep(1)
        finally:
            server.close()


if __name__ == "__main__":
    main()
