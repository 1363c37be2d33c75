"""Helpers for the TLS suites: a kinesd whose readiness probe speaks https,
clients that trust a given certificate, a hand-made HTTP/2 exchange inside
TLS without ALPN, and the first bytes of a real ClientHello."""
import http.client
import os
import socket
import ssl
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import boto3  # noqa: E402
import botocore.config  # noqa: E402

from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import JSON_TYPE, REGION, TARGET_PREFIX  # noqa: E402


def tls_context(ca_file, alpn=None):
    context = ssl.create_default_context(cafile=ca_file)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


class TlsServer(KinesdServer):
    """A kinesd probed over https, so that a --tls-only server counts as up.

    `ca_file` is the certificate clients trust; None means the one the server
    makes in its data directory (known only once it has started)."""

    def __init__(self, ca_file=None, **kwargs):
        self.ca_file = ca_file
        super().__init__(**kwargs)

    @property
    def generated_cert(self):
        return os.path.join(self.data_dir, "tls", "cert.pem")

    @property
    def trusted(self):
        return self.ca_file or self.generated_cert

    @property
    def https_endpoint(self):
        return "https://%s:%d" % (self.host, self.port)

    def _answers(self, port):
        if not os.path.exists(self.trusted):
            return False
        conn = http.client.HTTPSConnection(self.host, port, timeout=5, context=tls_context(self.trusted))
        try:
            conn.request("POST", "/", body=b"{}", headers={
                "Content-Type": JSON_TYPE, "X-Amz-Target": TARGET_PREFIX + "ListStreams"})
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()


def https_client(server, service="kinesis", verify=None):
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=120)
    return boto3.session.Session().client(
        service, endpoint_url=server.https_endpoint, region_name=REGION, verify=verify or server.trusted,
        aws_access_key_id="test", aws_secret_access_key="test", config=config)


def make_cert(directory, name, san="IP:127.0.0.1"):
    """A self-signed P-256 certificate and key made by the openssl tool."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def client_hello(server_hostname="localhost"):
    """The bytes of a real ClientHello, as a client would send them first."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def recv_until_closed(sock, timeout):
    """Reads until the peer closes; returns what arrived. Raises
    socket.timeout when the connection is still open after `timeout`."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


# -- HTTP/2 by hand -------------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, GOAWAY = 0x0, 0x1, 0x4, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def _frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def _hpack_literal(name, value):
    # Literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2).
    def string(s):
        assert len(s) < 127
        return bytes([len(s)]) + s
    return b"\x00" + string(name) + string(value)


def h2_post(sock, authority, target, body):
    """Sends one POST over HTTP/2 with prior knowledge on `sock` (already
    TLS-wrapped) and returns (frames seen, response body of stream 1)."""
    headers = b"".join(_hpack_literal(n, v) for n, v in [
        (b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", authority),
        (b"content-type", JSON_TYPE.encode()), (b"x-amz-target", (TARGET_PREFIX + target).encode()),
        (b"content-length", str(len(body)).encode())])
    sock.sendall(H2_PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS, 1, headers)
                 + _frame(DATA, END_STREAM, 1, body))
    buffer, frames, response = b"", [], b""
    while True:
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags = buffer[3], buffer[4]
            stream_id = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            payload = buffer[9:9 + length]
            buffer = buffer[9 + length:]
            frames.append((kind, flags, stream_id))
            if kind == SETTINGS and not flags & ACK:
                sock.sendall(_frame(SETTINGS, ACK, 0))
            if kind == GOAWAY:
                return frames, response
            if stream_id == 1 and kind == DATA:
                response += payload
            if stream_id == 1 and kind in (DATA, HEADERS) and flags & END_STREAM:
                return frames, response
        chunk = sock.recv(65536)
        if not chunk:
            return frames, response
        buffer += chunk
