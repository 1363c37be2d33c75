#!/usr/bin/env python3
"""kinesd on RocksDB against kinesd over a 3-node NATS JetStream cluster.

  bench/scale_out.py --kinesd build-release/kinesd

For each backend and each shard count (--shards, default 1,4,16) a fresh
stream takes PutRecords of --records records of --size bytes per call from
--threads client threads for --duration seconds: records acknowledged per
second, and CPU seconds per 1,000 records of the kinesd process and of the
three nats-server processes together (user + system, from /proc/<pid>/stat:
steadier than rates on a shared machine). Then the failover: under the same
load on --failover-shards shards, the node leading the busiest shard's
JetStream stream is killed with SIGKILL; the longest time without an
acknowledgement and the time until a put sent after the kill is acknowledged
are printed, and the node is started again.

nats-server: --nats-server, else KINESD_NATS_SERVER_CURRENT, else where
scripts/deps/nats.sh installs the current release, else nats-server on PATH.
The NATS cluster runs with --nats-replicas 3. Everything listens on 127.0.0.1.
"""

import argparse
import base64
import os
import random
import shutil
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from kinesd_proc import Kinesd, load_average, wait_active  # noqa: E402
from kinesis_client import KinesisClient  # noqa: E402
from nats_cluster import (NatsCluster, find_nats_server, nats_args, proc_cpu_seconds,  # noqa: E402
                          unique_prefix)


class Load:
    """--threads PutRecords loops against one kinesd; each call's send and
    answer times and how many of its records were acknowledged."""

    def __init__(self, port, stream, threads, records, size):
        self.port = port
        self.stream = stream
        self.records = records
        self.size = size
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.calls = []  # (sent, answered, acknowledged records)
        self.errors = 0
        self.failed_records = 0
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _bodies(self, seed):
        # A few prepared bodies per thread keep the client's CPU off the
        # server's figures; partition keys are random so every shard gets load.
        rng = random.Random(seed)
        data = base64.b64encode(b"r" * self.size).decode()
        return [{"StreamName": self.stream,
                 "Records": [{"Data": data, "PartitionKey": "%x" % rng.getrandbits(64)}
                             for _ in range(self.records)]} for _ in range(4)]

    def _run(self, index):
        bodies = self._bodies(index)
        client = KinesisClient("127.0.0.1", self.port, timeout=120)
        n = 0
        while not self.stop_event.is_set():
            sent = time.monotonic()
            try:
                answer = client.call("PutRecords", bodies[n % len(bodies)])
            except Exception:  # noqa: BLE001  (counted; the load goes on)
                client.close()
                with self.lock:
                    self.errors += 1
                self.stop_event.wait(0.05)
                continue
            n += 1
            failed = answer.get("FailedRecordCount", 0)
            with self.lock:
                self.calls.append((sent, time.monotonic(), self.records - failed))
                self.failed_records += failed
        client.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=180)

    def acked(self, start=0.0, end=float("inf")):
        with self.lock:
            return sum(n for _, answered, n in self.calls if start <= answered < end)


def measure(kinesd, cluster, stream, args):
    """(records/s, records, failed records, kinesd CPU s, nats CPU s) of one load phase."""
    load = Load(kinesd.port, stream, args.threads, args.records, args.size).start()
    time.sleep(1.0)  # warm-up: connections open, first calls through
    t0 = time.monotonic()
    k0 = proc_cpu_seconds(kinesd.process.pid)
    n0 = sum(cluster.cpu_seconds().values()) if cluster else 0.0
    time.sleep(args.duration)
    t1 = time.monotonic()
    k1 = proc_cpu_seconds(kinesd.process.pid)
    n1 = sum(cluster.cpu_seconds().values()) if cluster else 0.0
    load.stop()
    records = load.acked(t0, t1)
    return records / (t1 - t0), records, load.failed_records, load.errors, k1 - k0, n1 - n0


def create_stream(kinesd, name, shards):
    client = kinesd.client()
    client.call("CreateStream", {"StreamName": name, "ShardCount": shards})
    wait_active(client, [name])
    client.close()


def throughput_rows(kinesd, cluster, backend, args):
    rows = []
    for shards in args.shards:
        stream = "bench-%s-%d-%d" % (backend.split()[0], shards, random.getrandbits(24))
        create_stream(kinesd, stream, shards)
        rate, records, failed, errors, kcpu, ncpu = measure(kinesd, cluster, stream, args)
        per_k = lambda cpu: "%.4f" % (cpu * 1000.0 / records) if records else "-"  # noqa: E731
        rows.append([backend, str(shards), "%.0f" % rate, str(records), str(failed), str(errors),
                     per_k(kcpu), per_k(ncpu) if cluster else "-", "%.2f" % load_average()])
        print("  %s, %d shards: %.0f records/s" % (backend, shards, rate), file=sys.stderr)
    return rows


def failover(kinesd, cluster, prefix, args):
    """Kills the leader of the busiest shard stream under load; returns a description."""
    stream = "bench-failover-%d" % random.getrandbits(24)
    create_stream(kinesd, stream, args.failover_shards)
    load = Load(kinesd.port, stream, args.threads, args.records, args.size).start()
    time.sleep(max(2.0, args.duration / 2))
    target = cluster.busiest_shard_stream(prefix)
    victim = cluster.stream_leader(target)
    killed = time.monotonic()
    cluster.kill9(victim)
    resumed = None
    while time.monotonic() - killed < 60:
        with load.lock:
            resumed = min((answered for sent, answered, n in load.calls if sent >= killed and n), default=None)
        if resumed is not None:
            break
        time.sleep(0.02)
    time.sleep(3.0)
    end = time.monotonic()
    with load.lock:
        times = sorted(answered for _, answered, n in load.calls if n and killed - 1.0 <= answered <= end)
    points = [killed] + [t for t in times if t >= killed] + [end]
    gap = max(b - a for a, b in zip(points, points[1:]))
    new_leader = cluster.streams(target).get(target, (None,))[0]
    cluster.restart(victim)
    load.stop()
    return ("killed %s (leader of %s, %d shards, %d client threads); new leader %s; longest gap without an "
            "acknowledgement %.2f s; first acknowledgement of a put sent after the kill %s; %d calls failed"
            % (victim.name, target, args.failover_shards, args.threads, new_leader, gap,
               "%.2f s after it" % (resumed - killed) if resumed else "not within 60 s", load.errors))


def table(rows):
    head = ["backend", "shards", "records/s", "records", "failed", "call errors",
            "kinesd CPU s/1k rec", "nats CPU s/1k rec", "load avg"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def default_kinesd():
    for candidate in ("build-release/kinesd", "build/kinesd"):
        path = os.path.join(ROOT, candidate)
        if os.access(path, os.X_OK):
            return path
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinesd", default=default_kinesd(), help="kinesd binary built with the NATS backend")
    p.add_argument("--nats-server", help="nats-server binary (see above for the default)")
    p.add_argument("--shards", default="1,4,16", help="shard counts (default 1,4,16)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per row (default 10)")
    p.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    p.add_argument("--records", type=int, default=500, help="records per PutRecords (default 500)")
    p.add_argument("--size", type=int, default=100, help="bytes per record (default 100)")
    p.add_argument("--failover-shards", type=int, default=4)
    p.add_argument("--no-rocksdb", action="store_true", help="skip the RocksDB rows")
    p.add_argument("--no-failover", action="store_true", help="skip the failover measurement")
    p.add_argument("--kinesd-args", default="", help="extra kinesd options for both backends")
    args = p.parse_args()
    args.shards = [int(s) for s in args.shards.split(",") if s]
    if not args.kinesd:
        p.error("no kinesd binary found: pass --kinesd")
    nats_binary = args.nats_server
    if not nats_binary:
        nats_binary, _ = find_nats_server("current")
    if not nats_binary:
        nats_binary, why = find_nats_server("debian")
        if not nats_binary:
            p.error(why)

    work = tempfile.mkdtemp(prefix="kinesd-scale-out-")
    rows, failover_text, nats_failure, version = [], None, None, "?"
    try:
        if not args.no_rocksdb:
            kinesd = Kinesd(args.kinesd, os.path.join(work, "rocksdb"), args.kinesd_args,
                            log_path=os.path.join(work, "kinesd-rocksdb.log"))
            os.makedirs(kinesd.data_dir)
            kinesd.start()
            try:
                rows += throughput_rows(kinesd, None, "rocksdb", args)
            finally:
                kinesd.stop()
        with NatsCluster(nats_binary) as cluster:
            prefix = unique_prefix("bench")
            kinesd = Kinesd(args.kinesd, os.path.join(work, "nats"),
                            nats_args(cluster, prefix, 3) + args.kinesd_args.split(),
                            log_path=os.path.join(work, "kinesd-nats.log"))
            os.makedirs(kinesd.data_dir)
            version = cluster.version
            try:
                kinesd.start()
            except RuntimeError:
                with open(kinesd.log_path, errors="replace") as log:
                    nats_failure = log.read()[-2000:].strip()
            if nats_failure is None:
                try:
                    rows += throughput_rows(kinesd, cluster, "nats R3", args)
                    if not args.no_failover:
                        failover_text = failover(kinesd, cluster, prefix, args)
                finally:
                    kinesd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("PutRecords, %d x %d-byte records per call, %d client threads, %.0f s per row; "
          "nats-server %s, 3 nodes, replicas 3; %d cores"
          % (args.records, args.size, args.threads, args.duration, version, os.cpu_count()))
    print()
    print(table(rows))
    if failover_text:
        print()
        print("Failover: " + failover_text)
    if nats_failure:
        print()
        print("kinesd did not start on NATS:\n" + nats_failure)
        sys.exit(1)


if __name__ == "__main__":
    main()
