"""Minimal Kinesis JSON 1.1 client over one keep-alive HTTP connection.

Standard library only, so the benchmark needs nothing beyond python3.
Requests are signed (SigV4) when KINESD_BENCH_ACCESS_KEY and
KINESD_BENCH_SECRET_KEY are set, for a kinesd started with a credentials
file; otherwise they carry the well-formed placeholder every SDK-shaped
request has, which the emulators accept.
"""

import hashlib
import hmac
import http.client
import json
import os
import time

TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"


def auth_headers():
    """A well-formed but unsigned SigV4 header, as every SDK sends one.

    kinesalite refuses requests that lack it; no server under test checks the
    signature itself.
    """
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return {
        "X-Amz-Date": date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/{date[:8]}/us-east-1/kinesis/"
                         "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                         "Signature=" + "0" * 64,
    }


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(headers, payload, host, region=None):
    """The SigV4 Date and Authorization for POST / with these headers (every
    one signed, Host added), or the placeholder when no key is configured."""
    key, secret = os.environ.get("KINESD_BENCH_ACCESS_KEY"), os.environ.get("KINESD_BENCH_SECRET_KEY")
    if not key or not secret:
        return auth_headers()
    region = region or os.environ.get("KINESD_BENCH_REGION", "us-east-1")
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed["host"] = host
    signed["x-amz-date"] = date
    names = sorted(signed)
    canonical = "\n".join(["POST", "/", "", "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names),
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{date[:8]}/{region}/kinesis/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), date[:8])
    for part in (region, "kinesis", "aws4_request"):
        k = _hmac(k, part)
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"X-Amz-Date": date,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={';'.join(names)}, "
                             f"Signature={signature}"}


class KinesisError(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(f"HTTP {status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message


class KinesisClient:
    def __init__(self, host, port, timeout=60.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.conn = None
        self._pending = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, action, body):
        """Sends one request without waiting for the answer (see receive)."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + action}
        headers.update(signed_headers(headers, payload, f"{self.host}:{self.port}"))
        self._pending = (payload, headers)
        try:
            self._send_pending()
        except (ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: receive() retries.
            self.close()

    def _send_pending(self):
        if self.conn is None:
            self._connect()
        payload, headers = self._pending
        self.conn.request("POST", "/", payload, headers)

    def receive(self):
        """Reads the answer to the last send(); returns (status, raw bytes)."""
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self._send_pending()
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # One retry on a fresh connection covers a server that closed
                # an idle keep-alive connection, without hiding a dead server.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call_raw(self, action, body):
        """Sends one request and returns (status, raw response bytes)."""
        self.send(action, body)
        return self.receive()

    def call(self, action, body):
        status, data = self.call_raw(action, body)
        parsed = json.loads(data) if data else {}
        if status != 200:
            error_type = str(parsed.get("__type", "")).rsplit("#", 1)[-1] or "?"
            message = parsed.get("message") or parsed.get("Message") or data[:200].decode(errors="replace")
            raise KinesisError(status, error_type, message)
        return parsed
