#!/usr/bin/env python3
"""How kinesd's memory and per-request cost change with scale.

  streams   grows one server from 1 to --max-streams streams (--shards each,
            default 4: 1,000 streams are 4,000 RocksDB column families); at
            each step a fixed PutRecords load on one stream (wrk, --duration
            seconds) and a GetRecords sample, then a restart.
  data      grows one 4-shard stream by --step-mb MiB at a time up to --max-mb
            and checks that a PutRecords and a GetRecords at a random older
            position cost the same with more data stored.

Each row gives the server's own CPU time per call (from /proc: far steadier
than wall-clock rates on a shared machine), its RSS and peak RSS, file
descriptors and threads, and the load average while it ran.

  bench/scale.py --kinesd build-release/kinesd streams --max-streams 1000
  bench/scale.py --kinesd build-release/kinesd data --max-mb 2048
"""

import argparse
import base64
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from kinesd_proc import Kinesd, load_average, wait_active  # noqa: E402


def wrk_put(server, stream, seconds, size, per_request):
    """PutRecords from 4 connections for `seconds`; returns (records/s, requests)."""
    out = subprocess.run(
        ["wrk", "-t2", "-c4", f"-d{seconds}s", "--timeout", "60s", "-s", os.path.join(BENCH_DIR, "put_records.lua"),
         f"http://127.0.0.1:{server.port}/", "--", stream, str(per_request), str(size)],
        capture_output=True, text=True, timeout=seconds + 180)
    m = re.search(r"^RESULT .*", out.stdout, re.M)
    if not m:
        raise RuntimeError("wrk failed: " + out.stdout[-500:] + out.stderr[-500:])
    fields = dict(kv.split("=", 1) for kv in m.group(0).split()[1:])
    if int(fields["non200"]) or int(fields["failed_records"]):
        raise RuntimeError("PutRecords failures: " + m.group(0))
    return float(fields["records_per_s"]), int(fields["requests"])


def put_marker(client, stream):
    """One small record; returns its (shard id, sequence number) for later reads."""
    out = client.call("PutRecords", {"StreamName": stream, "Records": [
        {"Data": base64.b64encode(os.urandom(100)).decode(), "PartitionKey": os.urandom(8).hex()}]})
    rec = out["Records"][0]
    return rec["ShardId"], rec["SequenceNumber"]


def get_sample(server, stream, markers, calls, limit):
    """GetRecords at random earlier positions: (server CPU ms per call, wall ms median)."""
    client = server.client()
    walls = []
    cpu0 = server.stats()["cpu_s"]
    for _ in range(calls):
        shard, seq = random.choice(markers)
        it = client.call("GetShardIterator", {"StreamName": stream, "ShardId": shard,
                                              "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                              "StartingSequenceNumber": seq})["ShardIterator"]
        t0 = time.monotonic()
        out = client.call("GetRecords", {"ShardIterator": it, "Limit": limit})
        walls.append(time.monotonic() - t0)
        if not out["Records"]:
            raise RuntimeError("GetRecords at a stored position returned nothing")
    cpu = server.stats()["cpu_s"] - cpu0
    client.close()
    return cpu * 1000 / calls, statistics.median(walls) * 1000


def du_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1048576


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def streams_sweep(args, work):
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    server = Kinesd(args.kinesd, data_dir, args.kinesd_args, log_path=os.path.join(work, "kinesd.log"))
    server.start()
    client = server.client()
    print(row(["streams", "shards", "create s/stream", "PutRecords rec/s", "server CPU µs/record",
               "GetRecords server CPU ms", "RSS MiB", "peak RSS MiB", "fds", "threads", "load"]))
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    steps = [n for n in (1, 10, 100, 250, 500, 1000, 2000, 5000) if n < args.max_streams] + [args.max_streams]
    created = 0
    for target in steps:
        t0 = time.monotonic()
        names = []
        while created < target:
            name = f"scale-{created:05d}"
            client.call("CreateStream", {"StreamName": name, "ShardCount": args.shards})
            names.append(name)
            created += 1
        wait_active(client, names)
        per_stream = (time.monotonic() - t0) / max(1, len(names))
        # A record in every new shard: each column family gets a memtable.
        for name in names:
            for s in range(args.shards):
                client.call("PutRecord", {"StreamName": name, "Data": "eA==", "PartitionKey": f"p{s}",
                                          "ExplicitHashKey": str((2 ** 128 // args.shards) * s)})
        load = load_average()
        before = server.stats()
        rate, requests = wrk_put(server, "scale-00000", args.duration, args.size, args.per_request)
        after = server.stats()
        cpu_us = (after["cpu_s"] - before["cpu_s"]) * 1e6 / max(1, rate * args.duration)
        markers = [put_marker(client, "scale-00000") for _ in range(8)]
        get_cpu, _ = get_sample(server, "scale-00000", markers, 20, 1000)
        st = server.stats()
        print(row([target, target * args.shards, f"{per_stream:.3f}", f"{rate:.0f}", f"{cpu_us:.1f}",
                   f"{get_cpu:.2f}", f"{st['VmRSS']:.1f}", f"{st['VmHWM']:.1f}", st["fds"], st["threads"],
                   f"{load:.1f}"]), flush=True)
    client.close()
    server.stop()
    t = server.start()
    st = server.stats()
    client = server.client()
    count, start = 0, None
    while True:
        body = {"Limit": 1000}
        if start:
            body["ExclusiveStartStreamName"] = start
        page = client.call("ListStreams", body)
        count += len(page["StreamNames"])
        if not page.get("HasMoreStreams") or not page["StreamNames"]:
            break
        start = page["StreamNames"][-1]
    client.close()
    server.stop()
    print(f"\nrestart with {created} streams × {args.shards} shards: first answer after {t * 1000:.0f} ms "
          f"(load {load_average():.1f}), RSS {st['VmRSS']:.1f} MiB, {st['fds']} fds, {st['threads']} threads; "
          f"ListStreams lists {count}")


def data_sweep(args, work):
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    server = Kinesd(args.kinesd, data_dir, args.kinesd_args, log_path=os.path.join(work, "kinesd.log"))
    server.start()
    client = server.client()
    client.call("CreateStream", {"StreamName": "grow", "ShardCount": 4})
    wait_active(client, ["grow"])
    print(row(["MiB stored", "PutRecords rec/s", "server CPU µs/record put", "GetRecords server CPU ms",
               "GetRecords wall ms (median)", "RSS MiB", "peak RSS MiB", "fds", "load"]))
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    markers = [put_marker(client, "grow") for _ in range(4)]
    while True:
        load = load_average()
        before = server.stats()
        target = du_mb(data_dir) + args.step_mb
        put_records, seconds = 0.0, 0
        # Fixed-length phases until the step is stored, so each row's rate covers the same work.
        while du_mb(data_dir) < target:
            rate, _ = wrk_put(server, "grow", args.duration, args.size, args.per_request)
            put_records += rate * args.duration
            seconds += args.duration
        after = server.stats()
        cpu_us = (after["cpu_s"] - before["cpu_s"]) * 1e6 / max(1.0, put_records)
        markers += [put_marker(client, "grow") for _ in range(4)]
        get_cpu, get_wall = get_sample(server, "grow", markers, 40, 1000)
        st = server.stats()
        stored = du_mb(data_dir)
        print(row([f"{stored:.0f}", f"{put_records / max(1, seconds):.0f}", f"{cpu_us:.1f}", f"{get_cpu:.2f}",
                   f"{get_wall:.1f}", f"{st['VmRSS']:.1f}", f"{st['VmHWM']:.1f}", st["fds"], f"{load:.1f}"]),
              flush=True)
        if stored >= args.max_mb:
            break
    client.close()
    server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinesd", required=True, help="kinesd binary")
    p.add_argument("--kinesd-args", default="--create-stream-ms 0", help="extra kinesd options")
    p.add_argument("--duration", type=int, default=5, help="seconds per PutRecords phase")
    p.add_argument("--size", type=int, default=1024, help="record size in bytes")
    p.add_argument("--per-request", type=int, default=500)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("streams")
    s.add_argument("--max-streams", type=int, default=1000)
    s.add_argument("--shards", type=int, default=4)
    d = sub.add_parser("data")
    d.add_argument("--max-mb", type=int, default=1024)
    d.add_argument("--step-mb", type=int, default=256)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("scale.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="kinesd-scale-")
    try:
        print(f"kinesd {args.kinesd_args or '(default options)'}; {args.size} B records, "
              f"{args.per_request} per PutRecords, {args.duration} s phases, {os.cpu_count()} CPUs\n")
        (streams_sweep if args.cmd == "streams" else data_sweep)(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
