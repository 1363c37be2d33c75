"""Helpers for the Firehose suites: an S3-compatible server on loopback, a
TCP proxy that can hold uploads, decoders for every CompressionFormat, and a
TestCase base that runs one S3 server and one kinesd wired to it.

The S3 server is s3rver from tests/integration/s3/node_modules (`npm ci`
there); moto_server is the fallback when s3rver is not installed.
"""
import gzip
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile

import botocore.exceptions

from kinesd_server import KinesdServer, ServerError, free_port, _die_with_parent
from kinesis_helpers import (ACCOUNT, REGION, WAIT_TIMEOUT, ServerLogOnFailure, make_client, unique_name,
                             wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER = os.path.join(HERE, "s3", "node_modules", ".bin", "s3rver")
# s3rver checks signatures against its one built-in key pair.
S3_KEY = "S3RVER"
ROLE_ARN = "arn:aws:iam::%s:role/firehose" % ACCOUNT
# Delivery is asynchronous: generous, so that only a hung server reaches it.
DELIVERY_TIMEOUT = 120.0


def bucket_arn(bucket):
    return "arn:aws:s3:::%s" % bucket


def not_found_message(name):
    return "Firehose %s under account %s not found." % (name, ACCOUNT)


class S3Server:
    """An S3-compatible server on a fixed loopback port that can be stopped
    and started again with its data kept (to play an outage)."""

    def __init__(self):
        self.work_dir = tempfile.mkdtemp(prefix="kinesd-s3-")
        self.data_dir = os.path.join(self.work_dir, "data")
        os.makedirs(self.data_dir)
        self.log_path = os.path.join(self.work_dir, "s3.log")
        self.port = free_port()
        self.process = None
        self.buckets = []
        # KINESD_TEST_S3=moto forces the fallback (to check that it works).
        use_s3rver = os.access(S3RVER, os.X_OK) and os.environ.get("KINESD_TEST_S3") != "moto"
        self.kind = "s3rver" if use_s3rver else "moto"
        self.start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def _command(self):
        if self.kind == "s3rver":
            return [S3RVER, "-d", self.data_dir, "-a", "127.0.0.1", "-p", str(self.port), "--silent"]
        moto = shutil.which("moto_server")
        if not moto:
            raise ServerError("no S3 server: run 'npm ci' in %s (or install moto[server])"
                              % os.path.join(HERE, "s3"))
        return [moto, "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError("the S3 server exited during start-up:\n" + self.log_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
            except OSError:
                time.sleep(0.1)
                continue
            # moto keeps objects in memory only: give a restarted one its buckets back.
            if self.kind == "moto":
                for bucket in self.buckets:
                    self.client().create_bucket(Bucket=bucket)
            return self
        raise ServerError("the S3 server did not listen within 60 s:\n" + self.log_text())

    def create_bucket(self, bucket):
        self.client().create_bucket(Bucket=bucket)
        self.buckets.append(bucket)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def client(self):
        import boto3
        import botocore.config
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


class HoldingProxy:
    """A TCP proxy in front of the S3 server. While held, it accepts
    connections and reads nothing from them, so an upload stays in flight
    for as long as the test wants."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.connected = threading.Event()
        self.closed = False
        self.generation = 0
        self.forward_held = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connected.set()
            threading.Thread(target=self._serve, args=(client, self.generation), daemon=True).start()

    def release(self, forward_held=True):
        """Lets traffic through. Without forward_held, connections held so
        far are closed unforwarded, as if the uploads never left."""
        self.forward_held = forward_held
        self.generation += 1
        self.open.set()

    def _serve(self, client, generation):
        while not self.open.wait(0.05):
            if self.closed:
                client.close()
                return
        if generation < self.generation and not self.forward_held:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    @staticmethod
    def _pump(source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.listener.close()


# -- decoders for the delivered objects ----------------------------------------


def snappy_block(data):
    """Decompresses one raw snappy block (the format is small enough to
    decode here, so the suite needs no snappy package)."""
    pos, length, shift = 0, 0, 0
    while True:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            size += 1
            out += data[pos:pos + size]
            pos += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset <= 0 or offset > len(out):
            raise ValueError("bad snappy copy offset")
        for _ in range(size):
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError("snappy block length %d, expected %d" % (len(out), length))
    return bytes(out)


def snappy_java(data):
    """snappy-java's stream: magic header, then (length, raw block) pairs."""
    if data[:8] != b"\x82SNAPPY\x00":
        raise ValueError("not a snappy-java stream: %r" % data[:16])
    pos, out = 16, bytearray()
    while pos < len(data):
        (size,) = struct.unpack(">i", data[pos:pos + 4])
        out += snappy_block(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return bytes(out)


def hadoop_snappy(data):
    """Hadoop's block framing: uncompressed length, then (length, raw block)
    chunks until that many bytes came out."""
    pos, out = 0, bytearray()
    while pos < len(data):
        (total,) = struct.unpack(">i", data[pos:pos + 4])
        pos += 4
        block = bytearray()
        while len(block) < total:
            (size,) = struct.unpack(">i", data[pos:pos + 4])
            block += snappy_block(data[pos + 4:pos + 4 + size])
            pos += 4 + size
        out += block
    return bytes(out)


def unzip_single(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if len(names) != 1:
            raise ValueError("expected one entry, found %r" % names)
        return archive.read(names[0])


DECODERS = {
    "UNCOMPRESSED": lambda data: data,
    "GZIP": gzip.decompress,
    "ZIP": unzip_single,
    "Snappy": snappy_java,
    "HADOOP_SNAPPY": hadoop_snappy,
}


# -- test case base -------------------------------------------------------------


class FirehoseTestCase(ServerLogOnFailure):
    """One S3 server and one kinesd delivering to it, per class."""

    kinesd_args = ()

    @classmethod
    def setUpClass(cls):
        cls.s3_server = S3Server()
        cls.s3 = cls.s3_server.client()
        cls.server = None
        try:
            cls.server = KinesdServer(extra_args=cls.server_args(cls.s3_server.endpoint))
        except Exception:
            cls.s3_server.close()
            raise
        cls.connect()

    @classmethod
    def server_args(cls, s3_endpoint):
        return ["--s3-endpoint", s3_endpoint, "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY,
                "--log-level", "info"] + list(cls.kinesd_args)

    @classmethod
    def connect(cls):
        cls.firehose = make_client(cls.server.endpoint, "firehose")
        cls.kinesis = make_client(cls.server.endpoint, "kinesis")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server is not None:
                cls.server.stop()
        finally:
            if cls.server is not None:
                cls.server.close()
            cls.s3_server.close()

    # -- helpers --

    def new_bucket(self):
        bucket = unique_name("b")
        self.s3_server.create_bucket(bucket)
        return bucket

    def create_direct(self, bucket, name=None, size_mb=5, interval=0, **destination):
        name = name or unique_name("fh")
        config = {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket),
                  "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval}}
        config.update(destination)
        self.firehose.create_delivery_stream(DeliveryStreamName=name,
                                             ExtendedS3DestinationConfiguration=config)
        return name

    def describe(self, name):
        return self.firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]

    def put_batch(self, name, payloads):
        for start in range(0, len(payloads), 500):
            chunk = payloads[start:start + 500]
            result = self.firehose.put_record_batch(
                DeliveryStreamName=name, Records=[{"Data": p} for p in chunk])
            self.assertEqual(result["FailedPutCount"], 0, result)
            self.assertEqual(len(result["RequestResponses"]), len(chunk))

    def keys(self, bucket, prefix=""):
        keys, token = [], None
        while True:
            kwargs = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(keys)
            token = page["NextContinuationToken"]

    def get(self, bucket, key):
        return self.s3.get_object(Bucket=bucket, Key=key)

    def objects(self, bucket, fmt="UNCOMPRESSED", prefix=""):
        """(key, decoded body) of every object, oldest key first (keys embed
        the time, and one stream's objects never share a second here)."""
        return [(key, DECODERS[fmt](self.get(bucket, key)["Body"].read()))
                for key in self.keys(bucket, prefix)]

    def wait_for_bytes(self, bucket, expected_total, fmt="UNCOMPRESSED", timeout=DELIVERY_TIMEOUT, prefix=""):
        """Waits until the bucket holds at least expected_total decoded bytes."""
        def enough():
            objects = self.objects(bucket, fmt, prefix)
            return objects if sum(len(body) for _, body in objects) >= expected_total else None
        return wait_until(enough, "%d bytes in s3://%s/%s" % (expected_total, bucket, prefix), timeout, 0.25)

    def assertClientError(self, call, code, message=None, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(**kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, caught.exception.response)
        if message is not None:
            self.assertEqual(error.get("Message"), message)
        return caught.exception.response
