"""TLS on kinesd's one port: boto3, the AWS CLI and hand-made HTTP/2 over
https with the self-signed certificate kinesd makes, plain http beside it,
--tls-only with a certificate of our own, and clients that misbehave."""
import base64
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from tls_helpers import (DATA, HEADERS, SETTINGS, TlsServer, client_hello, h2_post, https_client, make_cert,
                         recv_until_closed, tls_context)
from kinesis_helpers import REGION, create_stream, make_client, unique_name
from subscribe_helpers import Subscription, register_consumer

AWS = shutil.which("aws")


class SelfSignedTest(unittest.TestCase):
    """One server with no certificate configured: it makes its own."""

    @classmethod
    def setUpClass(cls):
        # info: the certificate's path is logged there.
        cls.server = TlsServer(extra_args=["--log-level", "info", "--read-timeout-ms", "2000"])
        cls.client = https_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def run(self, result=None):
        outcome = super().run(result)
        if result is not None and (result.failures or result.errors):
            self.server.dump_log()
        return outcome

    def test_certificate_is_made_private_and_logged(self):
        cert = self.server.generated_cert
        key = os.path.join(os.path.dirname(cert), "key.pem")
        self.assertTrue(os.path.isfile(cert))
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertIn(cert, self.server.log_text())

    def test_boto3_create_put_get(self):
        name = create_stream(self.client)
        records = [b"tls-%d" % i for i in range(20)]
        put = self.client.put_records(StreamName=name, Records=[
            {"Data": data, "PartitionKey": "k"} for data in records])
        self.assertEqual(put["FailedRecordCount"], 0)
        single = self.client.put_record(StreamName=name, Data=b"one more", PartitionKey="k")
        shard = single["ShardId"]
        iterator = self.client.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = self.client.get_records(ShardIterator=iterator, Limit=100)["Records"]
        self.assertEqual([r["Data"] for r in got], records + [b"one more"])

    def test_large_replies_over_http11(self):
        # Replies bigger than one TLS record: the head and the body's start
        # share a record, the rest follows in others.
        name = create_stream(self.client)
        records = [os.urandom(4096) for _ in range(300)]
        put = self.client.put_records(StreamName=name, Records=[
            {"Data": data, "PartitionKey": "k"} for data in records])
        self.assertEqual(put["FailedRecordCount"], 0)
        self.assertGreater(len(json.dumps(put["Records"])), 16 * 1024)
        shard = put["Records"][0]["ShardId"]
        iterator = self.client.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = self.client.get_records(ShardIterator=iterator)["Records"]
        self.assertEqual([r["Data"] for r in got], records)

    def test_plain_http_on_the_same_port(self):
        name = create_stream(self.client)
        plain = make_client(self.server.endpoint)
        plain.put_record(StreamName=name, Data=b"plain", PartitionKey="p")
        summary = plain.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual(summary["StreamName"], name)

    def test_subscribe_to_shard_over_tls(self):
        name = create_stream(self.client)
        consumer = register_consumer(self.client, name)
        shard = self.client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        subscription = Subscription(self.client, consumer, shard, {"Type": "LATEST"})
        try:
            # The first event comes at once, before any record.
            subscription.next_event()
            sent = [b"pushed-%d" % i for i in range(5)]
            for data in sent:
                self.client.put_record(StreamName=name, Data=data, PartitionKey="k")
            got = [r["Data"] for r in subscription.records_until(len(sent))]
            self.assertEqual(got, sent)
        finally:
            subscription.close()

    def test_http2_prior_knowledge_inside_tls_without_alpn(self):
        # What the Java SDK's Netty client does: TLS with no ALPN, then the
        # HTTP/2 preface.
        context = tls_context(self.server.trusted)
        with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertIsNone(tls.selected_alpn_protocol())
                frames, body = h2_post(tls, b"127.0.0.1", "ListStreams", b"{}")
        kinds = [kind for kind, _, _ in frames]
        self.assertIn(SETTINGS, kinds)
        self.assertIn((HEADERS, 1), [(kind, sid) for kind, _, sid in frames])
        self.assertIn("StreamNames", json.loads(body))

    def test_alpn_picks_the_protocol(self):
        for offered, chosen in [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1"), (["spdy/3"], None)]:
            context = tls_context(self.server.trusted, alpn=offered)
            with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    self.assertEqual(tls.selected_alpn_protocol(), chosen, offered)
                    if chosen == "h2":
                        _, body = h2_post(tls, b"localhost", "ListStreams", b"{}")
                    else:
                        tls.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                                    b"application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n"
                                    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                        body = recv_until_closed(tls, 30)
                        self.assertTrue(body.startswith(b"HTTP/1.1 200"), body[:100])
                        body = body.split(b"\r\n\r\n", 1)[1]
                    self.assertIn("StreamNames", json.loads(body))

    def test_garbage_after_a_handshake_byte_is_closed(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
            raw.sendall(b"\x16\x03\x01\x00\x10" + b"not a client hello at all" * 4)
            # A TLS alert at most, then the connection closes.
            answer = recv_until_closed(raw, 30)
            self.assertFalse(answer.startswith(b"HTTP/"), answer[:50])
        self.assertEqual(self.client.list_streams()["ResponseMetadata"]["HTTPStatusCode"], 200)

    def test_stalled_handshake_is_closed_by_the_read_timeout(self):
        hello = client_hello()
        self.assertEqual(hello[0], 0x16)
        with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
            raw.sendall(hello[:len(hello) // 2])
            # Others are served meanwhile.
            for _ in range(3):
                self.client.list_streams()
            started = time.monotonic()
            answer = recv_until_closed(raw, 30)
            self.assertEqual(answer, b"")
            # Well after the 2 s read timeout would be a hang, not a timeout.
            self.assertLess(time.monotonic() - started, 25)

    def test_stalled_after_handshake_is_closed(self):
        context = tls_context(self.server.trusted)
        with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
                self.client.list_streams()
                tls.settimeout(25)
                try:
                    answer = tls.recv(65536)
                except (ssl.SSLError, ConnectionResetError):
                    answer = b""
                self.assertEqual(answer, b"")

    def test_aws_cli_with_ca_bundle(self):
        if AWS is None:
            self.fail("the AWS CLI (aws) is not on PATH")
        scratch = tempfile.mkdtemp(prefix="kinesd-tls-cli-")
        self.addCleanup(shutil.rmtree, scratch, True)
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.path.join(scratch, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(scratch, "credentials"),
            "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"})
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
            env.pop(var, None)

        def aws(*args, ca=self.server.trusted):
            command = [AWS, "--endpoint-url", self.server.https_endpoint, "--ca-bundle", ca,
                       "--output", "json", "kinesis"] + list(args)
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

        name = unique_name()
        done = aws("create-stream", "--stream-name", name, "--shard-count", "1")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
        version = subprocess.run([AWS, "--version"], capture_output=True, text=True, env=env, timeout=60)
        data = "hello over tls"
        blob = (base64.b64encode(data.encode()).decode()
                if "aws-cli/2" in version.stdout + version.stderr else data)
        done = aws("put-record", "--stream-name", name, "--partition-key", "k", "--data", blob)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("SequenceNumber", json.loads(done.stdout))
        done = aws("describe-stream-summary", "--stream-name", name)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["StreamDescriptionSummary"]["StreamName"], name)

        # A bundle without our certificate fails verification.
        other, _ = make_cert(scratch, "other")
        done = aws("list-streams", ca=other)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("SSL", done.stderr.upper())


class RestartTest(unittest.TestCase):

    def test_certificate_survives_a_restart(self):
        with TlsServer() as server:
            with open(server.generated_cert, "rb") as f:
                first = f.read()
            server.restart()
            with open(server.generated_cert, "rb") as f:
                self.assertEqual(f.read(), first)
            self.assertIn("StreamNames", https_client(server).list_streams())


class TlsOnlyTest(unittest.TestCase):
    """--tls-only with a certificate and key given on the command line."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="kinesd-tls-only-")
        cls.cert, cls.key = make_cert(cls.scratch, "given")
        cls.server = TlsServer(ca_file=cls.cert, extra_args=[
            "--tls-only", "true", "--tls-cert", cls.cert, "--tls-key", cls.key, "--log-level", "debug"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def test_https_uses_the_given_certificate(self):
        client = https_client(self.server)
        name = create_stream(client)
        client.put_record(StreamName=name, Data=b"x", PartitionKey="k")
        # No certificate of its own was made.
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "tls")))
        # The served certificate is ours, byte for byte.
        served = ssl.get_server_certificate((self.server.host, self.server.port))
        with open(self.cert) as f:
            self.assertEqual(ssl.PEM_cert_to_DER_cert(served), ssl.PEM_cert_to_DER_cert(f.read()))
        # A client trusting another certificate refuses the connection.
        other, _ = make_cert(self.scratch, "other")
        with self.assertRaises(Exception) as caught:
            https_client(self.server, verify=other).list_streams()
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(caught.exception))

    def test_plain_http_is_refused_unanswered(self):
        with socket.create_connection((self.server.host, self.server.port), timeout=30) as raw:
            raw.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                        b"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\n\r\n{}")
            self.assertEqual(recv_until_closed(raw, 30), b"")
        with self.assertRaises(Exception):
            make_client(self.server.endpoint).list_streams()
        # Still serving https afterwards.
        https_client(self.server).list_streams()
        self.assertIn("TLS only", self.server.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
