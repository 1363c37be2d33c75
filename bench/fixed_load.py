#!/usr/bin/env python3
"""A fixed amount of work, for instruction counts rather than rates.

Creates a stream, sends exactly N PutRecords calls of R records of S random
bytes (random partition keys, pre-built bodies), then reads the stream back
with GetRecords until every shard is drained. Between the phases it can run
a command, which is how a profile is split into a put part and a get part:

    valgrind --tool=callgrind --collect-atstart=no kinesd --port P ... &
    bench/fixed_load.py --port P --between 'callgrind_control -i on' \\
        --after-put 'callgrind_control -d put' --after-get 'callgrind_control -d get'

Wall-clock time is printed but means little under a profiler; the counts
are what to compare between two builds.
"""

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import KinesisClient  # noqa: E402


def run_hook(command):
    if command:
        subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)


def put_bodies(stream, per_request, size, count, rng):
    bodies = []
    for _ in range(count):
        records = [{"Data": base64.b64encode(rng.randbytes(size)).decode(),
                    "PartitionKey": "pk-%d" % rng.getrandbits(48)} for _ in range(per_request)]
        bodies.append({"StreamName": stream, "Records": records})
    return bodies


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stream", default="fixed-load")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--requests", type=int, default=200, help="PutRecords calls")
    p.add_argument("--records", type=int, default=500, help="records per PutRecords call")
    p.add_argument("--size", type=int, default=100, help="bytes per record")
    p.add_argument("--put-record", type=int, default=0, help="single-record PutRecord calls after the batches")
    p.add_argument("--limit", type=int, default=10000, help="GetRecords Limit")
    p.add_argument("--between", help="command run after the stream is ACTIVE, before the first put")
    p.add_argument("--after-put", help="command run after the last put")
    p.add_argument("--after-get", help="command run after the drain")
    args = p.parse_args()

    rng = random.Random(42)
    client = KinesisClient(args.host, args.port, timeout=600)
    client.call("CreateStream", {"StreamName": args.stream, "ShardCount": args.shards})
    while client.call("DescribeStreamSummary", {"StreamName": args.stream})[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.1)
    bodies = put_bodies(args.stream, args.records, args.size, min(args.requests, 16), rng)
    singles = [{"StreamName": args.stream, "Data": base64.b64encode(rng.randbytes(args.size)).decode(),
                "PartitionKey": "pk-%d" % i} for i in range(min(args.put_record, 64))]

    run_hook(args.between)
    t0 = time.perf_counter()
    written = 0
    for i in range(args.requests):
        out = client.call("PutRecords", bodies[i % len(bodies)])
        written += args.records - out["FailedRecordCount"]
    for i in range(args.put_record):
        client.call("PutRecord", singles[i % len(singles)])
        written += 1
    t_put = time.perf_counter() - t0
    run_hook(args.after_put)

    t0 = time.perf_counter()
    read = calls = 0
    shards = [s["ShardId"] for s in client.call("ListShards", {"StreamName": args.stream})["Shards"]]
    for shard in shards:
        it = client.call("GetShardIterator", {"StreamName": args.stream, "ShardId": shard,
                                              "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        while it:
            out = client.call("GetRecords", {"ShardIterator": it, "Limit": args.limit})
            calls += 1
            read += len(out["Records"])
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
            it = out.get("NextShardIterator")
    t_get = time.perf_counter() - t0
    run_hook(args.after_get)
    client.close()

    print(f"RESULT kind=fixed_load written={written} read={read} get_calls={calls} "
          f"put_s={t_put:.3f} get_s={t_get:.3f}")
    return 0 if read == written else 1


if __name__ == "__main__":
    sys.exit(main())
