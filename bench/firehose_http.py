#!/usr/bin/env python3
"""Measures Firehose delivery throughput to an HTTP endpoint: records/s and
MB/s from the first PutRecordBatch to the last record the endpoint got.

Starts kinesd and a fast local receiver on loopback. With --source
directput (the default) the clock runs from the first PutRecordBatch to the
last record received, puts and delivery overlapping; with --source kinesis
the records are first put into a Kinesis stream, and the clock runs from
CreateDeliveryStream to the last record received: the rate at which kinesd
drains a backlog to the endpoint, without the putting clients in the way. The receiver answers
every request 200 with its requestId at once and counts records and data
bytes (decoded from base64), so the figure is kinesd's: reading, buffering,
building the JSON, base64, (gzip with --gzip) and the POSTs. The backup
bucket is never written (every request succeeds), so no S3 server runs.

Prints `RESULT kind=firehose_http records=<n> mb=<...> seconds=<...>
records_per_s=<...> mb_per_s=<...>`. Every loop is bounded; nothing leaves
127.0.0.1.

    python3 bench/firehose_http.py --kinesd build/kinesd --megabytes 128
"""

import argparse
import base64
import gzip
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesd_proc import Kinesd  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/firehose"


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = 0
        self.bytes = 0
        self.requests = 0
        self.last = None


def start_receiver(counter):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            doc = json.loads(body)
            size = sum(len(base64.b64decode(r["data"])) for r in doc["records"])
            with counter.lock:
                counter.records += len(doc["records"])
                counter.bytes += size
                counter.requests += 1
                counter.last = time.monotonic()
            answer = json.dumps({"requestId": doc["requestId"], "timestamp": int(time.time() * 1000)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinesd", default=os.environ.get("KINESD_BIN", os.path.join(ROOT, "build", "kinesd")))
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--record-size", type=int, default=1024)
    parser.add_argument("--buffer-mb", type=int, default=4)
    parser.add_argument("--putters", type=int, default=4)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--source", choices=["directput", "kinesis"], default="directput")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()

    counter = Counter()
    receiver = start_receiver(counter)
    work = tempfile.mkdtemp(prefix="kinesd-bench-http-")
    kinesd = Kinesd(args.kinesd, os.path.join(work, "data"), extra_args=["--durability", "flush"],
                    log_path=os.path.join(work, "kinesd.log"))
    try:
        kinesd.start()
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=300,
                                        max_pool_connections=args.putters)
        firehose = boto3.session.Session().client(
            "firehose", endpoint_url="http://127.0.0.1:%d" % kinesd.port, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench", config=config)
        kinesis = boto3.session.Session().client(
            "kinesis", endpoint_url="http://127.0.0.1:%d" % kinesd.port, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench", config=config)
        name = "bench-http"
        per_call = max(1, min(500, (4 << 20) // args.record_size))
        total = (args.megabytes << 20) // args.record_size
        calls = [min(per_call, total - start) for start in range(0, total, per_call)]
        payload = os.urandom(args.record_size)
        source = {}
        if args.source == "kinesis":
            kinesis.create_stream(StreamName="bench-src", ShardCount=args.shards)
            kinesis.get_waiter("stream_exists").wait(StreamName="bench-src", WaiterConfig={"Delay": 0.2})
            arn = kinesis.describe_stream_summary(StreamName="bench-src")["StreamDescriptionSummary"]["StreamARN"]
            per_kinesis_call = max(1, min(500, (4 << 20) // args.record_size))

            def put_kinesis(i):
                n = min(per_kinesis_call, total - i)
                result = kinesis.put_records(StreamName="bench-src", Records=[
                    {"Data": payload, "PartitionKey": "pk%d" % (i + j)} for j in range(n)])
                if result["FailedRecordCount"]:
                    raise RuntimeError("%d records refused" % result["FailedRecordCount"])

            with ThreadPoolExecutor(args.putters) as pool:
                list(pool.map(put_kinesis, range(0, total, per_kinesis_call)))
            source = {"DeliveryStreamType": "KinesisStreamAsSource",
                      "KinesisStreamSourceConfiguration": {"KinesisStreamARN": arn, "RoleARN": ROLE}}
        t_create = time.monotonic()
        firehose.create_delivery_stream(
            DeliveryStreamName=name, **source,
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": "http://127.0.0.1:%d/in" % receiver.server_address[1]},
                "BufferingHints": {"SizeInMBs": args.buffer_mb, "IntervalInSeconds": 1},
                "RequestConfiguration": {"ContentEncoding": "GZIP" if args.gzip else "NONE"},
                "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::unused"}})
        deadline = time.monotonic() + 60
        while firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
                "DeliveryStreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                sys.exit("the delivery stream did not become ACTIVE")
            time.sleep(0.1)

        def put(n):
            result = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": payload}] * n)
            if result["FailedPutCount"]:
                raise RuntimeError("%d records refused" % result["FailedPutCount"])

        t0 = time.monotonic()
        if args.source == "kinesis":
            t0 = t_create
        else:
            with ThreadPoolExecutor(args.putters) as pool:
                list(pool.map(put, calls))
        put_done = time.monotonic()
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            with counter.lock:
                if counter.records >= total:
                    break
            time.sleep(0.05)
        with counter.lock:
            got, got_bytes, last, requests = counter.records, counter.bytes, counter.last, counter.requests
        if got < total:
            sys.exit("only %d of %d records arrived within %d s" % (got, total, args.timeout))
        seconds = last - t0
        mb = got_bytes / (1 << 20)
        if args.source == "directput":
            print("puts took %.2f s; %d requests" % (put_done - t0, requests))
        print("RESULT kind=firehose_http source=%s records=%d mb=%.1f seconds=%.2f records_per_s=%.0f "
              "mb_per_s=%.1f gzip=%s" % (args.source, got, mb, seconds, got / seconds, mb / seconds,
                                         "on" if args.gzip else "off"))
    finally:
        kinesd.stop()
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
