#!/usr/bin/env python3
"""Reads every record of a stream back with GetRecords and reports the rate.

ListShards, one TRIM_HORIZON iterator per shard, then GetRecords on each shard
until it returns an empty batch with MillisBehindLatest 0 (or the shard is
closed). One keep-alive connection and large batches. The client keeps its
own work small and overlapped with the server's: it picks the next iterator
out of an answer with a quick scan, sends the next call, and only then counts
the answer it holds, with substring searches rather than a JSON parse (the
first answer of each shard is parsed in full as a check). Byte counts come
from the base64 length, with no decoding.

Prints `RESULT kind=drain ...` for run.sh and a human summary on stderr.
"""

import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import KinesisClient, KinesisError  # noqa: E402

THROTTLE_TYPES = {"ProvisionedThroughputExceededException", "LimitExceededException"}

# Quoted member names cannot occur unescaped inside a JSON string value, so
# these scans only ever match the top-level members they name.
NEXT_ITERATOR_RE = re.compile(rb'"NextShardIterator"\s*:\s*"((?:[^"\\]|\\.)*)"')
BEHIND_RE = re.compile(rb'"MillisBehindLatest"\s*:\s*(\d+)')
EMPTY_RECORDS_RE = re.compile(rb'"Records"\s*:\s*\[\s*\]')


SEQUENCE_KEY = b'"SequenceNumber"'


DATA_RE = re.compile(rb'"Data":"([^"]*)"')


def fast_count(data):
    """(records, decoded bytes) found without a JSON parse, or None.

    Every step runs in C: the Data strings are collected with one regex
    pass and measured joined. Each base64 string is a whole number of
    4-character groups and '=' appears in base64 only as padding, so the
    decoded size is len/4*3 minus the '=' count. Returns None when the
    answer is not laid out as expected (e.g. whitespace after the colon),
    and the caller then parses it properly.
    """
    blobs = DATA_RE.findall(data)
    if len(blobs) != data.count(SEQUENCE_KEY):
        return None
    joined = b"".join(blobs)
    return len(blobs), len(joined) // 4 * 3 - joined.count(b"=")


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


def quick_scan(data):
    """(next iterator or None, MillisBehindLatest, batch is empty) without parsing."""
    m = NEXT_ITERATOR_RE.search(data)
    next_it = json.loads(b'"' + m.group(1) + b'"') if m else None
    b = BEHIND_RE.search(data)
    return next_it, int(b.group(1)) if b else 0, EMPTY_RECORDS_RE.search(data) is not None


class Stats:
    def __init__(self):
        self.records = self.bytes = self.calls = self.empty_calls = self.throttled = 0


def error_of(status, data):
    try:
        out = json.loads(data) if data else {}
    except ValueError:
        out = {}
    error_type = str(out.get("__type", "")).rsplit("#", 1)[-1] or "?"
    message = out.get("message") or out.get("Message") or data[:200].decode(errors="replace")
    return KinesisError(status, error_type, message)


def drain_shard(client, iterator, limit, deadline, stats):
    """Reads one shard to its end; returns False when the deadline stopped it."""
    client.send("GetRecords", {"ShardIterator": iterator, "Limit": limit})
    first = True
    while True:
        status, data = client.receive()
        if status != 200:
            err = error_of(status, data)
            if err.error_type not in THROTTLE_TYPES:
                raise err
            stats.throttled += 1
            time.sleep(0.2)
            client.send("GetRecords", {"ShardIterator": iterator, "Limit": limit})
            continue
        stats.calls += 1
        next_it, behind, empty = quick_scan(data)
        done = next_it is None or (empty and behind == 0)
        timed_out = not done and time.monotonic() > deadline
        if not done and not timed_out:
            iterator = next_it
            client.send("GetRecords", {"ShardIterator": iterator, "Limit": limit})
        # The server now works on the next call while this answer is counted.
        # The first answer of each shard is also parsed in full, to check the
        # cheap scans against the real thing.
        counted = fast_count(data)
        if counted is None or first:
            out = json.loads(data)
            batch = out.get("Records", [])
            parsed = (len(batch), sum(decoded_len(r["Data"]) for r in batch))
            if (out.get("NextShardIterator") != next_it or (not batch) != empty
                    or counted not in (None, parsed)):
                raise ValueError("GetRecords answer scan disagrees with its JSON parse")
            counted = parsed
            first = False
        stats.records += counted[0]
        stats.bytes += counted[1]
        if empty:
            stats.empty_calls += 1
        if done:
            return True
        if timed_out:
            return False


def drain(args):
    client = KinesisClient(args.host, args.port)
    deadline = time.monotonic() + args.timeout
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    shards = list_shards(client, args.stream)
    stats = Stats()
    timed_out = False
    for shard in shards:
        it = client.call("GetShardIterator", {
            "StreamName": args.stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON",
        })["ShardIterator"]
        if not drain_shard(client, it, args.limit, deadline, stats):
            timed_out = True
            break
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    client.close()
    rate = stats.records / elapsed if elapsed > 0 else 0.0
    mbps = stats.bytes / elapsed / 1e6 if elapsed > 0 else 0.0
    print(f"RESULT kind=drain shards={len(shards)} records={stats.records} bytes={stats.bytes} "
          f"duration_s={elapsed:.3f} records_per_s={rate:.1f} mb_per_s={mbps:.3f} "
          f"calls={stats.calls} empty_calls={stats.empty_calls} throttled={stats.throttled} "
          f"client_cpu_s={cpu:.3f} timed_out={int(timed_out)}")
    print(f"drained {stats.records} records ({stats.bytes / 1e6:.1f} MB) from {len(shards)} shards "
          f"in {elapsed:.2f} s: {rate:,.0f} records/s; client CPU {cpu:.2f} s "
          f"({100 * cpu / elapsed if elapsed else 0:.0f}% of wall time, mostly overlapped with the server)",
          file=sys.stderr)
    if args.expect is not None and stats.records < args.expect:
        print(f"drain: expected at least {args.expect} records, got {stats.records}", file=sys.stderr)
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
    except (KinesisError, OSError, ValueError) as e:
        print(f"drain failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
