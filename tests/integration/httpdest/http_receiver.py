"""An HTTP endpoint for Firehose HTTP endpoint delivery, on a free loopback
port, that checks every request against the delivery specification
(protocol 1.0) and answers as the test tells it.

Each request is kept as a Request: its headers, decoded records and every
rule it broke (`problems`). Answers are taken from a script (one per
request, in order) and then from `default`:
  "ok"        200, JSON, the request's requestId
  "wrong_id"  200, JSON, another requestId
  "not_json"  200 with a text body
  "413", "500", "302"  that status (302 with a Location to follow)
  "hang"      read the request, answer nothing until released or closed
"""
import base64
import gzip
import http.server
import json
import re
import ssl
import threading
import time
import uuid

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Request:
    def __init__(self, path, headers, raw_body):
        self.received = time.monotonic()
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw_body = raw_body
        self.request_id = self.headers.get("x-amz-firehose-request-id")
        self.body = None
        self.records = []
        self.problems = []
        self.answer = None


class Receiver:
    def __init__(self, tls_cert=None, tls_key=None, path="/ingest?token=t"):
        self.path = path
        self.requests = []
        self.script = []
        self.default = "ok"
        self.expected = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.release_hang = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                receiver._handle(self)

            def do_GET(self):
                self.send_error(405)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.tls = tls_cert is not None
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, self.path)

    def expect(self, source_arn, access_key=None, common_attributes=None, gzip_body=False):
        """What every following request must carry."""
        with self.lock:
            self.expected = {"source_arn": source_arn, "access_key": access_key,
                             "common_attributes": common_attributes, "gzip": gzip_body}

    def answer_with(self, *script, default="ok"):
        with self.lock:
            self.script = list(script)
            self.default = default

    def reset(self):
        self.release_hang.set()
        with self.lock:
            self.requests = []
            self.script = []
            self.default = "ok"
        self.release_hang = threading.Event()

    def close(self):
        self.release_hang.set()
        self.server.shutdown()
        self.server.server_close()

    # -- views --

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def accepted_records(self):
        """Records of the requests answered "ok", in arrival order."""
        return [r for q in self.snapshot() if q.answer == "ok" for r in q.records]

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(list(self.requests)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.5))
            return True

    # -- serving --

    def _check(self, q):
        h = q.headers
        e = self.expected
        p = q.problems
        if q.path != self.path:
            p.append("path %r is not %r" % (q.path, self.path))
        if h.get("content-type") != "application/json":
            p.append("Content-Type %r" % h.get("content-type"))
        if h.get("x-amz-firehose-protocol-version") != "1.0":
            p.append("protocol version %r" % h.get("x-amz-firehose-protocol-version"))
        if not q.request_id or not UUID_RE.match(q.request_id):
            p.append("request id %r is not a UUID" % q.request_id)
        if "source_arn" in e and h.get("x-amz-firehose-source-arn") != e["source_arn"]:
            p.append("source ARN %r is not %r" % (h.get("x-amz-firehose-source-arn"), e["source_arn"]))
        if e.get("access_key") is None:
            if "x-amz-firehose-access-key" in h:
                p.append("an access key was sent although none is set")
        elif h.get("x-amz-firehose-access-key") != e["access_key"]:
            p.append("access key %r is not %r" % (h.get("x-amz-firehose-access-key"), e["access_key"]))
        if e.get("common_attributes") is None:
            if "x-amz-firehose-common-attributes" in h:
                p.append("common attributes sent although none are set")
        else:
            try:
                sent = json.loads(h.get("x-amz-firehose-common-attributes", ""))
            except ValueError:
                sent = None
            if sent != {"commonAttributes": e["common_attributes"]}:
                p.append("common attributes %r" % h.get("x-amz-firehose-common-attributes"))
        body = q.raw_body
        if e.get("gzip"):
            if h.get("content-encoding") != "gzip":
                p.append("Content-Encoding %r, not gzip" % h.get("content-encoding"))
            try:
                body = gzip.decompress(body)
            except OSError:
                p.append("body is not gzip")
                return
        elif "content-encoding" in h:
            p.append("Content-Encoding %r without compression" % h["content-encoding"])
        if "content-length" not in h:
            p.append("no Content-Length")
        try:
            q.body = json.loads(body)
        except ValueError:
            p.append("body is not JSON")
            return
        if set(q.body) != {"requestId", "timestamp", "records"}:
            p.append("body members %r" % sorted(q.body))
        if q.body.get("requestId") != q.request_id:
            p.append("body requestId %r differs from the header" % q.body.get("requestId"))
        ts = q.body.get("timestamp")
        now_ms = time.time() * 1000
        if not isinstance(ts, int) or abs(ts - now_ms) > 600000:
            p.append("timestamp %r is not the time in milliseconds" % ts)
        records = q.body.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= 10000:
            p.append("records: %r" % type(records))
            return
        for r in records:
            if not isinstance(r, dict) or set(r) != {"data"}:
                p.append("record %r" % r)
                continue
            try:
                q.records.append(base64.b64decode(r["data"], validate=True))
            except (ValueError, TypeError):
                p.append("record data is not base64")

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        q = Request(handler.path, handler.headers, raw)
        with self.lock:
            self._check(q)
            q.answer = self.script.pop(0) if self.script else self.default
            self.requests.append(q)
            self.changed.notify_all()
            release = self.release_hang
        answer = q.answer
        if answer == "hang":
            release.wait(600)
            handler.close_connection = True
            return
        status, body, ctype = 200, None, "application/json"
        if answer == "ok":
            body = {"requestId": q.request_id, "timestamp": int(time.time() * 1000)}
        elif answer == "wrong_id":
            body = {"requestId": str(uuid.uuid4()), "timestamp": int(time.time() * 1000)}
        elif answer == "not_json":
            body, ctype = "fine", "text/plain"
        else:
            status = int(answer)
            body = {"requestId": q.request_id, "timestamp": int(time.time() * 1000),
                    "errorMessage": "answered %s by the test" % answer}
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        if status == 302:
            handler.send_header("Location", self.url)
        handler.end_headers()
        handler.wfile.write(data)
