#!/usr/bin/env python3
"""Start-up time: exec to the first answered ListStreams.

Measures an empty data directory, then (with --streams) one holding that many
streams with --shards shards each and about --data-mb of records spread over
all of them. Each case is started --runs times after a clean stop; the table
gives the median and the slowest run, the memory and descriptors right after
start, and the load average, since a busy machine stretches every figure.

  bench/startup.py --kinesd build-release/kinesd --streams 1000 --shards 4 --data-mb 1024

--keep DIR keeps (or reuses) the populated data directory, so a second run can
skip the minutes it takes to create it.
"""

import argparse
import base64
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesd_proc import Kinesd, load_average, wait_active  # noqa: E402
from kinesis_client import KinesisError  # noqa: E402

RECORD_BYTES = 64 * 1024
RECORDS_PER_CALL = 16  # 1 MiB of data per PutRecords


def stream_name(i):
    return f"scale-{i:05d}"


def create_streams(server, count, shards):
    client = server.client()
    names = [stream_name(i) for i in range(count)]
    for name in names:
        try:
            client.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        except KinesisError as e:
            # Reusing a kept data directory: the stream is already there.
            if e.error_type != "ResourceInUseException":
                raise
    wait_active(client, names)
    client.close()
    return names


def put_data(server, names, data_mb, connections=4):
    """Writes about data_mb MiB in 1 MiB PutRecords calls, round-robin over the streams."""
    calls = max(1, data_mb)
    payload = base64.b64encode(os.urandom(RECORD_BYTES)).decode()
    counter = iter(range(calls))
    lock = threading.Lock()
    errors = []

    def worker():
        client = server.client()
        try:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                records = [{"Data": payload, "PartitionKey": f"k{n}-{j}"} for j in range(RECORDS_PER_CALL)]
                out = client.call("PutRecords", {"StreamName": names[n % len(names)], "Records": records})
                if out.get("FailedRecordCount"):
                    errors.append(out["FailedRecordCount"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"PutRecords failed: {errors[:3]}")


def du_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1048576


def measure(args, data_dir, label):
    times, rows = [], []
    for _ in range(args.runs):
        server = Kinesd(args.kinesd, data_dir, args.kinesd_args, log_path=args.log)
        load = load_average()
        t = server.start()
        st = server.stats()
        server.stop()
        times.append(t)
        rows.append((st, load))
    st = max(rows, key=lambda r: r[0]["VmRSS"])[0]
    loads = [r[1] for r in rows]
    return (f"| {label} | {du_mb(data_dir):.0f} | {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} "
            f"| {st['VmRSS']:.1f} | {st['fds']} | {st['threads']} | {min(loads):.1f}–{max(loads):.1f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinesd", required=True, help="kinesd binary")
    p.add_argument("--kinesd-args", default="", help='extra options, e.g. "--write-buffer-mb 32"')
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--streams", type=int, default=0, help="also measure with this many streams")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--data-mb", type=int, default=0, help="MiB of records to store over those streams")
    p.add_argument("--keep", help="data directory to populate (or reuse) and keep")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="kinesd-startup-")
    args.log = os.path.join(work, "kinesd.log")
    lines = ["| data directory | MiB on disk | start ms (median) | start ms (slowest) | RSS after start MiB "
             "| fds | threads | load average |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    try:
        empty = os.path.join(work, "empty")
        os.makedirs(empty)
        # A fresh directory every run: the first start creates the database.
        for i in range(args.runs):
            d = os.path.join(work, f"fresh{i}")
            os.makedirs(d)
        fresh_times, fresh_load = [], []
        for i in range(args.runs):
            server = Kinesd(args.kinesd, os.path.join(work, f"fresh{i}"), args.kinesd_args, log_path=args.log)
            fresh_load.append(load_average())
            fresh_times.append(server.start())
            st = server.stats()
            server.stop()
        lines.append(f"| new (created on start) | 0 | {statistics.median(fresh_times) * 1000:.0f} "
                     f"| {max(fresh_times) * 1000:.0f} | {st['VmRSS']:.1f} | {st['fds']} | {st['threads']} "
                     f"| {min(fresh_load):.1f}–{max(fresh_load):.1f} |")
        lines.append(measure(args, os.path.join(work, "fresh0"), "empty (existing)"))

        if args.streams:
            data_dir = args.keep or os.path.join(work, "populated")
            os.makedirs(data_dir, exist_ok=True)
            server = Kinesd(args.kinesd, data_dir, args.kinesd_args, log_path=args.log)
            server.start()
            t0 = time.monotonic()
            names = create_streams(server, args.streams, args.shards)
            created = time.monotonic() - t0
            stored = du_mb(data_dir)
            if args.data_mb > stored:
                t0 = time.monotonic()
                put_data(server, names, int(args.data_mb - stored))
                print(f"stored {args.data_mb - stored:.0f} MiB in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            st = server.stats()
            shutdown = server.stop()
            print(f"{args.streams} streams ready in {created:.0f} s; before restart: RSS {st['VmRSS']:.1f} MiB "
                  f"(peak {st['VmHWM']:.1f}), {st['fds']} fds; clean stop took {shutdown:.2f} s", file=sys.stderr)
            label = f"{args.streams} streams × {args.shards} shards"
            lines.append(measure(args, data_dir, label))
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
