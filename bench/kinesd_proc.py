"""One kinesd process for the memory, start-up and scale benchmarks.

Starts the binary on a free loopback port, times exec to the first answered
ListStreams, and reads the process's memory, file descriptors, threads and CPU
time from /proc: figures that stay meaningful on a busy machine, unlike
wall-clock rates.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import KinesisClient, KinesisError  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def proc_stats(pid):
    """rss/hwm/anon in MiB, fds, threads, cpu_s (user + system)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024.0
            elif key == "Threads":
                out["threads"] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


class Kinesd:
    def __init__(self, binary, data_dir, extra_args="", log_path=None, env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.extra_args = shlex.split(extra_args) if isinstance(extra_args, str) else list(extra_args)
        self.log_path = log_path or os.path.join(data_dir, "..", "kinesd-bench.log")
        self.env = env
        self.process = None
        self.port = None

    def start(self, timeout=120.0):
        """Starts the server; returns seconds from exec to the first answered ListStreams."""
        self.port = free_port()
        cmd = [self.binary, "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data_dir,
               "--log-level", "warn"] + self.extra_args
        log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        env=self.env)
        log.close()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kinesd exited with status {self.process.returncode} (log: {self.log_path})")
            client = KinesisClient("127.0.0.1", self.port, timeout=10)
            try:
                client.call("ListStreams", {"Limit": 1})
                return time.monotonic() - t0
            except (OSError, KinesisError):
                time.sleep(0.002)
            finally:
                client.close()
        self.stop()
        raise RuntimeError(f"kinesd did not answer within {timeout:.0f} s (log: {self.log_path})")

    def stats(self):
        return proc_stats(self.process.pid)

    def client(self):
        return KinesisClient("127.0.0.1", self.port, timeout=120)

    def stop(self, timeout=120.0):
        """SIGTERM and wait; returns the seconds shutdown took."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        t0 = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("kinesd ignored SIGTERM")
        return time.monotonic() - t0


def wait_active(client, names, timeout=300.0):
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            desc = client.call("DescribeStreamSummary", {"StreamName": name})
            if desc["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                pending.discard(name)
        if pending:
            time.sleep(0.05)
    if pending:
        raise RuntimeError(f"{len(pending)} streams still not ACTIVE")
