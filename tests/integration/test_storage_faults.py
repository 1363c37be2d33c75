"""Storage faults: a full disk and data directories kinesd cannot use.

A full disk (a size-limited tmpfs holding the data directory, filled with a
ballast file) must turn puts into AWS-shaped 5xx errors without touching
anything already acknowledged; reads keep working, writes come back by
themselves once space is freed, and a restart finds every acknowledged
record. The tmpfs needs root (CI runs as root); without it the test skips.

A corrupted, foreign, unwritable data directory, or a path that is a file,
must stop kinesd at start-up with one clear line and a non-zero exit status,
never a crash.
"""
import errno
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import botocore.exceptions

from kinesd_server import KinesdServer
from kinesis_helpers import (MIB, create_stream, make_client, raw_request, read_shard, wait_until)

BALLAST_CHUNK = 1 * MIB
# RocksDB resumes writes by itself only once the free space reaches its
# reserved disk buffer (the largest column family write buffer, 64 MiB for
# column families on RocksDB's defaults); the file system must be able to
# offer that much once the ballast is gone.
TMPFS_SIZE = "128m"


def fill(path):
    """Writes zeros to `path` until the file system is full; returns bytes written."""
    written = 0
    chunk = b"\0" * BALLAST_CHUNK
    with open(path, "wb", buffering=0) as ballast:
        while True:
            try:
                n = ballast.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                # Fill the last partial chunk too, a page at a time.
                for _ in range(BALLAST_CHUNK // 4096):
                    try:
                        written += ballast.write(b"\0" * 4096)
                    except OSError:
                        break
                return written
            written += n


class DiskFullTest(unittest.TestCase):
    """One server on a 64 MiB tmpfs through fill, failure, recovery, restart."""

    @classmethod
    def setUpClass(cls):
        cls.mount_point = tempfile.mkdtemp(prefix="kinesd-tmpfs-")
        if os.geteuid() != 0:
            os.rmdir(cls.mount_point)
            raise unittest.SkipTest("mounting a size-limited tmpfs needs root")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", cls.mount_point],
                              capture_output=True, text=True)
        if done.returncode != 0:
            os.rmdir(cls.mount_point)
            raise unittest.SkipTest("cannot mount a tmpfs for the data directory: %s" % done.stderr.strip())

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", "-l", cls.mount_point], capture_output=True)
        shutil.rmtree(cls.mount_point, ignore_errors=True)

    def setUp(self):
        self.data_dir = os.path.join(self.mount_point, "data")
        self.ballast = os.path.join(self.mount_point, "ballast")
        self.server = KinesdServer(data_dir=self.data_dir)

    def run(self, result=None):
        # The server is closed here rather than in tearDown so that a failing
        # test can still show its log.
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self.server = None
        try:
            return super().run(result)
        finally:
            if self.server is not None:
                if len(result.failures) + len(result.errors) > before:
                    self.server.dump_log()
                self.server.close()
            if os.path.exists(os.path.join(self.mount_point, "ballast")):
                os.remove(os.path.join(self.mount_point, "ballast"))
            shutil.rmtree(os.path.join(self.mount_point, "data"), ignore_errors=True)

    def check_all_acknowledged(self, client, name, shard, acknowledged):
        records = read_shard(client, name, shard)
        got = {r["SequenceNumber"]: r["Data"] for r in records}
        missing = [seq for seq in acknowledged if seq not in got]
        self.assertEqual(missing, [], "acknowledged records missing")
        for seq, data in acknowledged.items():
            self.assertEqual(got[seq], data, "record %s changed" % seq)
        # Sequence numbers were handed out in order and never reused.
        sequence = [int(r["SequenceNumber"]) for r in records]
        self.assertEqual(sequence, sorted(set(sequence)))

    def test_full_disk_fails_puts_cleanly_and_recovers(self):
        client = make_client(self.server.endpoint)
        name = create_stream(client, shards=1)
        shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        acknowledged = {}
        rng = random.Random(7)

        def put(size):
            data = rng.randbytes(size)
            response = client.put_record(StreamName=name, Data=data, PartitionKey="p")
            acknowledged[response["SequenceNumber"]] = data

        for _ in range(50):
            put(1000)

        fill(self.ballast)
        # Space RocksDB set aside beforehand (a preallocated WAL) may still
        # take a few puts; keep going until the disk refuses one.
        failure = None
        for _ in range(2000):
            try:
                put(64 * 1024)
            except botocore.exceptions.ClientError as e:
                failure = e.response
                break
        self.assertIsNotNone(failure, "puts never failed on a full disk")
        self.assertIn(failure["ResponseMetadata"]["HTTPStatusCode"], (500, 503), failure)

        # The wire shape, as any client sees it.
        raw = raw_request(self.server.endpoint, "PutRecord",
                          {"StreamName": name, "Data": "AAAA", "PartitionKey": "p"})
        self.assertIn(raw.status, (500, 503), raw)
        body = raw.json()
        self.assertIn(body.get("__type"), ("InternalFailure", "ServiceUnavailableException"), body)
        self.assertTrue(body.get("message"), body)
        self.assertTrue(raw.headers.get("x-amzn-RequestId"))
        # Still full: still refused, and the server keeps answering.
        for _ in range(5):
            with self.assertRaises(botocore.exceptions.ClientError):
                put(1000)
        self.assertTrue(self.server.running())

        # Reads keep working and show every acknowledged record, intact.
        self.check_all_acknowledged(client, name, shard, acknowledged)
        self.assertEqual(self.server.log_text().count("storage write failed"), 1,
                         "expected one error line for the episode")

        os.remove(self.ballast)
        freed = time.monotonic()

        def writable():
            try:
                put(1000)
                return True
            except botocore.exceptions.ClientError as e:
                self.assertIn(e.response["ResponseMetadata"]["HTTPStatusCode"], (500, 503))
                return False
        wait_until(writable, "puts to succeed again after space was freed", timeout=60, interval=0.1)
        recovered_after = time.monotonic() - freed
        sys.stderr.write("\nwrites resumed %.2f s after space was freed\n" % recovered_after)
        for _ in range(20):
            put(1000)
        self.check_all_acknowledged(client, name, shard, acknowledged)
        self.assertIn("storage writable again", self.server.log_text())

        # A clean restart on the same directory finds everything.
        self.server.restart()
        client = make_client(self.server.endpoint)
        self.check_all_acknowledged(client, name, shard, acknowledged)
        put(1000)
        self.check_all_acknowledged(client, name, shard, acknowledged)

    def test_kill_during_disk_full_loses_nothing_acknowledged(self):
        client = make_client(self.server.endpoint)
        name = create_stream(client, shards=1)
        shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        acknowledged = {}
        for i in range(30):
            data = ("before-%d" % i).encode()
            acknowledged[client.put_record(StreamName=name, Data=data, PartitionKey="p")["SequenceNumber"]] = data
        fill(self.ballast)
        for i in range(2000):
            data = os.urandom(64 * 1024)
            try:
                response = client.put_record(StreamName=name, Data=data, PartitionKey="p")
            except botocore.exceptions.ClientError:
                break
            acknowledged[response["SequenceNumber"]] = data
        self.server.kill9()
        os.remove(self.ballast)
        self.server.start()
        client = make_client(self.server.endpoint)
        self.check_all_acknowledged(client, name, shard, acknowledged)
        seq = client.put_record(StreamName=name, Data=b"after", PartitionKey="p")["SequenceNumber"]
        self.assertGreater(int(seq), max(int(s) for s in acknowledged))


class BadDataDirTest(unittest.TestCase):
    """kinesd refuses a data directory it cannot use, at once and clearly."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="kinesd-baddir-")
        self.binary = os.environ.get("KINESD_BIN")
        if not self.binary:
            self.fail("KINESD_BIN is not set: point it at the kinesd binary")

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def start_fails(self, data_dir, preexec_fn=None):
        """Runs kinesd on `data_dir`; returns its output after checking that
        it exited by itself with a non-zero status and no signal."""
        done = subprocess.run(
            [self.binary, "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir, "--log-level", "warn"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, preexec_fn=preexec_fn)
        output = done.stdout + done.stderr
        self.assertGreater(done.returncode, 0, "expected a non-zero exit status, not a crash:\n" + output)
        lines = [line for line in output.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, "expected one line:\n" + output)
        self.assertIn(data_dir, lines[0])
        return lines[0]

    def test_current_pointing_nowhere(self):
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        with open(os.path.join(data, "CURRENT"), "w") as f:
            f.write("MANIFEST-000042\n")
        line = self.start_fails(data)
        self.assertIn("critical", line)

    def test_garbage_manifest(self):
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        rng = random.Random(11)
        with open(os.path.join(data, "CURRENT"), "w") as f:
            f.write("MANIFEST-000001\n")
        for name in ("MANIFEST-000001", "000003.log", "000004.sst", "OPTIONS-000005", "IDENTITY"):
            with open(os.path.join(data, name), "wb") as f:
                f.write(rng.randbytes(rng.randint(10, 20000)))
        self.start_fails(data)

    def test_garbage_current(self):
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        with open(os.path.join(data, "CURRENT"), "wb") as f:
            f.write(random.Random(3).randbytes(300))
        self.start_fails(data)

    def test_another_programs_directory(self):
        data = os.path.join(self.work, "pgdata")
        os.makedirs(os.path.join(data, "base"))
        for name in ("PG_VERSION", "postgresql.conf", "pg_hba.conf"):
            with open(os.path.join(data, name), "w") as f:
                f.write("not ours\n")
        before = sorted(os.listdir(data))
        line = self.start_fails(data)
        self.assertIn("holds no kinesd store", line)
        # Nothing was created in someone else's directory.
        self.assertEqual(sorted(os.listdir(data)), before)

    def test_data_dir_is_a_regular_file(self):
        path = os.path.join(self.work, "data")
        with open(path, "w") as f:
            f.write("a file\n")
        line = self.start_fails(path)
        self.assertIn("not a directory", line)

    def test_unwritable_directory(self):
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        os.chmod(data, 0o555)
        os.chmod(self.work, 0o755)
        preexec_fn = None
        if os.geteuid() == 0:
            # Root writes anywhere: run kinesd as nobody instead, if it can
            # reach the binary.
            nobody = 65534
            check = subprocess.run([self.binary, "--version"], capture_output=True,
                                   preexec_fn=lambda: (os.setgid(nobody), os.setuid(nobody)))
            if check.returncode != 0:
                self.skipTest("running as root and the binary is not executable by nobody")
            preexec_fn = lambda: (os.setgid(nobody), os.setuid(nobody))  # noqa: E731
        line = self.start_fails(data, preexec_fn=preexec_fn)
        self.assertIn("not writable", line)

    def test_an_empty_directory_is_fine(self):
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        with KinesdServer(data_dir=data) as server:
            client = make_client(server.endpoint)
            self.assertEqual(client.list_streams()["StreamNames"], [])
            server.stop()


if __name__ == "__main__":
    unittest.main()
