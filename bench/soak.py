#!/usr/bin/env python3
"""Memory over a long run: does kinesd's RSS stay flat as the data grows?

Starts kinesd (Release) on a fresh data directory, creates one stream and
keeps wrk's PutRecords load on it for --minutes, printing every --every
seconds the resident memory, the highest resident memory so far, the bytes
on disk and the server's CPU. Then it reads the whole stream back with the
drain client and prints the memory again, so the table covers writing and
reading the full amount stored.

  bench/soak.py --kinesd build-release/kinesd --minutes 10

The verdict compares the highest RSS of the last third of the put phase
with that of its second third: with memory bounded by the configured caches
and memtables, it does not grow with the data stored.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from kinesd_proc import Kinesd, load_average, wait_active  # noqa: E402
from startup import du_mb  # noqa: E402


def parse_result(text):
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(field.split("=", 1) for field in line.split()[1:] if "=" in field)
    return {}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinesd", required=True, help="kinesd binary")
    p.add_argument("--kinesd-args", default="", help="extra kinesd options")
    p.add_argument("--drain-client", default=None,
                   help="drain client binary (default: build-release/drain_client beside --kinesd)")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--every", type=float, default=30, help="seconds between samples")
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--size", type=int, default=100, help="bytes per record")
    p.add_argument("--records", type=int, default=500, help="records per PutRecords call")
    p.add_argument("--connections", type=int, default=1, help="wrk connections (more writes more to disk)")
    p.add_argument("--keep", help="data directory to use and keep (default: a temporary one)")
    args = p.parse_args()

    drain_client = args.drain_client or os.path.join(os.path.dirname(os.path.abspath(args.kinesd)), "drain_client")
    work = tempfile.mkdtemp(prefix="kinesd-soak-")
    data_dir = args.keep or os.path.join(work, "data")
    os.makedirs(data_dir, exist_ok=True)
    server = Kinesd(args.kinesd, data_dir, args.kinesd_args, log_path=os.path.join(work, "kinesd.log"))
    wrk = None
    try:
        server.start()
        client = server.client()
        client.call("CreateStream", {"StreamName": "soak", "ShardCount": args.shards})
        wait_active(client, ["soak"])
        client.close()

        seconds = int(args.minutes * 60)
        wrk_out = os.path.join(work, "wrk.txt")
        with open(wrk_out, "w") as out:
            wrk = subprocess.Popen(
                ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "60s", "--latency",
                 "-s", os.path.join(BENCH_DIR, "put_records.lua"), f"http://127.0.0.1:{server.port}/", "--",
                 "soak", str(args.records), str(args.size)], stdout=out, stderr=subprocess.STDOUT)

        print("| minute | phase | RSS MiB | peak RSS MiB | MiB on disk | server CPU s | load |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        t0 = time.monotonic()
        samples = []
        while wrk.poll() is None:
            time.sleep(min(args.every, max(0.5, seconds - (time.monotonic() - t0) + 0.5)))
            st = server.stats()
            elapsed = time.monotonic() - t0
            samples.append((elapsed, st["VmRSS"], st["VmHWM"]))
            print(f"| {elapsed / 60:.1f} | put | {st['VmRSS']:.1f} | {st['VmHWM']:.1f} | {du_mb(data_dir):.0f} "
                  f"| {st['cpu_s']:.0f} | {load_average():.1f} |", flush=True)
        result = parse_result(open(wrk_out).read())
        if not result:
            print(open(wrk_out).read(), file=sys.stderr)
            raise RuntimeError("wrk printed no RESULT line")

        drain_start = time.monotonic()
        drain = subprocess.run([drain_client, "--port", str(server.port), "--stream", "soak", "--limit", "10000",
                                "--timeout", "3600"], capture_output=True, text=True)
        drained = parse_result(drain.stdout)
        st = server.stats()
        print(f"| {(time.monotonic() - t0) / 60:.1f} | drain | {st['VmRSS']:.1f} | {st['VmHWM']:.1f} "
              f"| {du_mb(data_dir):.0f} | {st['cpu_s']:.0f} | {load_average():.1f} |")
        print()
        print(f"put: {int(result['records']):,} records in {float(result['duration_s']):.0f} s "
              f"({float(result['records_per_s']):,.0f} records/s, p99 {result['p99_ms']} ms, "
              f"non-200 {result['non200']}, failed records {result['failed_records']})")
        if drain.returncode != 0 or not drained:
            print(drain.stdout + drain.stderr, file=sys.stderr)
            raise RuntimeError("the drain failed")
        print(f"drain: {int(drained['records']):,} records in {float(drained['duration_s']):.0f} s "
              f"({float(drained['records_per_s']):,.0f} records/s) after {time.monotonic() - drain_start:.0f} s")
        if int(drained["records"]) != int(result["records"]):
            print(f"MISMATCH: {result['records']} records acknowledged, {drained['records']} read back")

        # Growth check over the put phase, ignoring the first third (caches
        # and memtables filling up).
        third = [s for s in samples if s[0] >= seconds / 3]
        if len(third) >= 4:
            middle = [s[1] for s in third if s[0] < 2 * seconds / 3]
            last = [s[1] for s in third if s[0] >= 2 * seconds / 3]
            if middle and last:
                print(f"RSS, highest sample of the second third: {max(middle):.1f} MiB; of the last third: "
                      f"{max(last):.1f} MiB ({max(last) - max(middle):+.1f} MiB)")
        return 0
    finally:
        if wrk and wrk.poll() is None:
            wrk.kill()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
