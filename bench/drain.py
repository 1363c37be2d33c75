#!/usr/bin/env python3
"""Reads every record of a stream back with GetRecords and reports the rate.

ListShards, one TRIM_HORIZON iterator per shard, then GetRecords on each shard
until it returns an empty batch with MillisBehindLatest 0 (or the shard is
closed). One keep-alive connection, large batches, and no base64 decoding:
byte counts come from the encoded length, so the client stays cheap.

Prints `RESULT kind=drain ...` for run.sh and a human summary on stderr.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import KinesisClient, KinesisError  # noqa: E402

THROTTLE_TYPES = {"ProvisionedThroughputExceededException", "LimitExceededException"}


def decoded_len(b64):
    n = len(b64)
    if n == 0:
        return 0
    pad = 2 if b64.endswith("==") else 1 if b64.endswith("=") else 0
    return n // 4 * 3 - pad


def list_shards(client, stream):
    shards = []
    try:
        body = {"StreamName": stream, "MaxResults": 1000}
        while True:
            out = client.call("ListShards", body)
            shards += [s["ShardId"] for s in out.get("Shards", [])]
            token = out.get("NextToken")
            if not token:
                return shards
            body = {"NextToken": token, "MaxResults": 1000}
    except KinesisError as e:
        if e.error_type not in ("UnknownOperationException", "InvalidAction"):
            raise
    # Older servers without ListShards: page through DescribeStream instead.
    body = {"StreamName": stream}
    while True:
        desc = client.call("DescribeStream", body)["StreamDescription"]
        shards += [s["ShardId"] for s in desc["Shards"]]
        if not desc.get("HasMoreShards") or not desc["Shards"]:
            return shards
        body = {"StreamName": stream, "ExclusiveStartShardId": shards[-1]}


class Throttled(Exception):
    pass


def get_records(client, iterator, limit):
    status, data = client.call_raw("GetRecords", {"ShardIterator": iterator, "Limit": limit})
    out = json.loads(data) if data else {}
    if status != 200:
        error_type = str(out.get("__type", "")).rsplit("#", 1)[-1]
        if error_type in THROTTLE_TYPES:
            raise Throttled(error_type)
        raise KinesisError(status, error_type, out.get("message") or out.get("Message") or "")
    return out


def drain(args):
    client = KinesisClient(args.host, args.port)
    deadline = time.monotonic() + args.timeout
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    shards = list_shards(client, args.stream)
    records = nbytes = calls = empty_calls = throttled = 0
    timed_out = False
    for shard in shards:
        it = client.call("GetShardIterator", {
            "StreamName": args.stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON",
        })["ShardIterator"]
        while it:
            if time.monotonic() > deadline:
                timed_out = True
                break
            try:
                out = get_records(client, it, args.limit)
            except Throttled:
                throttled += 1
                time.sleep(0.2)
                continue
            calls += 1
            batch = out.get("Records", [])
            records += len(batch)
            nbytes += sum(decoded_len(r["Data"]) for r in batch)
            it = out.get("NextShardIterator")
            if not batch:
                empty_calls += 1
                if out.get("MillisBehindLatest", 0) == 0:
                    break
        if timed_out:
            break
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    client.close()
    rate = records / elapsed if elapsed > 0 else 0.0
    print(f"RESULT kind=drain shards={len(shards)} records={records} bytes={nbytes} "
          f"duration_s={elapsed:.3f} records_per_s={rate:.1f} "
          f"mb_per_s={nbytes / elapsed / 1e6 if elapsed > 0 else 0:.3f} "
          f"calls={calls} empty_calls={empty_calls} throttled={throttled} "
          f"client_cpu_s={cpu:.3f} timed_out={int(timed_out)}")
    print(f"drained {records} records ({nbytes / 1e6:.1f} MB) from {len(shards)} shards "
          f"in {elapsed:.2f} s: {rate:,.0f} records/s; client CPU {cpu:.2f} s "
          f"({100 * cpu / elapsed if elapsed else 0:.0f}% of wall time)", file=sys.stderr)
    if args.expect is not None and records < args.expect:
        print(f"drain: expected at least {args.expect} records, got {records}", file=sys.stderr)
        return 1
    return 2 if timed_out else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--limit", type=int, default=10000, help="GetRecords Limit (max 10000)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    p.add_argument("--expect", type=int, help="exit 1 when fewer records come back")
    args = p.parse_args()
    try:
        return drain(args)
    except (KinesisError, OSError) as e:
        print(f"drain failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
