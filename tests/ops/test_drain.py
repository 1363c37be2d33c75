"""Draining on SIGTERM: kinesd stops accepting at once, answers every request
already begun before its connections close, and closes idle connections at
once.

- HTTP/1.1: a PutRecords whose body is half sent when the signal arrives is
  finished and answered 200 with Connection: close; under load from several
  keep-alive clients, no request sent in full before the signal goes
  unanswered; the records acknowledged are there after a restart.
- HTTP/2 (frames written by hand, to control what is in flight): the client
  gets a GOAWAY naming the last stream kinesd took, and an answer for a
  stream whose body was still arriving.
- Idle keep-alive connections of both protocols see the connection close and
  do not hold the exit back.
"""
import base64
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from kinesd_server import KinesdServer
from kinesis_helpers import (ServerLogOnFailure, create_stream, list_all_shards, make_client, read_shard,
                             unique_name, wait_until)

EXIT_TIMEOUT = 60.0
SOCKET_TIMEOUT = 30.0
TARGET = "Kinesis_20131202.PutRecords"
JSON_TYPE = "application/x-amz-json-1.1"
# What kinesd logs when the drain's time ran out with connections still open.
STILL_BUSY = "still busy"


def put_records_body(name, tag, records, size):
    """A PutRecords body of `records` records of `size` bytes each; the data
    of each starts with its tag, so that it can be found after a restart."""
    entries = []
    payloads = []
    for i in range(records):
        data = (b"%s-%d-" % (tag, i)).ljust(size, b"x")
        payloads.append(data)
        entries.append({"Data": base64.b64encode(data).decode(), "PartitionKey": "pk-%d" % i})
    return json.dumps({"StreamName": name, "Records": entries}).encode(), payloads


def http11_head(port, length, keep_alive=True):
    return ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\nX-Amz-Target: %s\r\n"
            "Content-Length: %d\r\n%s\r\n" % (port, JSON_TYPE, TARGET, length,
                                               "" if keep_alive else "Connection: close\r\n")).encode()


def read_http11_response(sock):
    """(status, headers with lower-case names, body) of one response; None when
    the connection ends (or is reset) before a whole response arrived."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
        return status, headers, body[:length]
    except (ConnectionResetError, BrokenPipeError):
        return None


def sees_eof(sock):
    """True when the peer closed the connection (FIN or reset) without
    sending anything more."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


# ---- a minimal HTTP/2 client: frames and HPACK literals ------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0x0, 0x1, 0x4, 0x6, 0x7, 0x8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def h2_frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A literal header field without indexing, new name (RFC 7541 §6.2.2),
    no Huffman coding."""
    name, value = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


class H2Connection:
    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        self.buffer = b""
        self.sock.sendall(H2_PREFACE + h2_frame(SETTINGS, 0, 0))
        # The server's SETTINGS (its stream window among them) apply once
        # acknowledged; its connection WINDOW_UPDATE follows them.
        seen = set()
        while not {"settings", "window"} <= seen:
            kind, flags, stream_id, payload = self.read_frame()
            if kind == SETTINGS and not flags & ACK:
                self.sock.sendall(h2_frame(SETTINGS, ACK, 0))
                seen.add("settings")
            elif kind == WINDOW_UPDATE and stream_id == 0:
                seen.add("window")

    def read_frame(self):
        """(type, flags, stream id, payload), or None at the end of the connection."""
        while True:
            if len(self.buffer) >= 9:
                length = struct.unpack(">I", b"\x00" + self.buffer[:3])[0]
                if len(self.buffer) >= 9 + length:
                    kind, flags = self.buffer[3], self.buffer[4]
                    stream_id = struct.unpack(">I", self.buffer[5:9])[0] & 0x7FFFFFFF
                    payload = self.buffer[9:9 + length]
                    self.buffer = self.buffer[9 + length:]
                    return kind, flags, stream_id, payload
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk

    def send_headers(self, stream_id, length):
        block = b"".join(hpack_literal(n, v) for n, v in (
            (":method", "POST"), (":scheme", "http"), (":path", "/"), (":authority", "127.0.0.1:%d" % self.port),
            ("content-type", JSON_TYPE), ("x-amz-target", TARGET), ("content-length", str(length))))
        self.sock.sendall(h2_frame(HEADERS, END_HEADERS, stream_id, block))

    def send_data(self, stream_id, data, end):
        # Frames of at most 16 KiB, the default SETTINGS_MAX_FRAME_SIZE.
        pieces = [data[i:i + 16384] for i in range(0, len(data), 16384)] or [b""]
        for i, piece in enumerate(pieces):
            last = end and i == len(pieces) - 1
            self.sock.sendall(h2_frame(DATA, END_STREAM if last else 0, stream_id, piece))


class H2Responses:
    """Collects the responses of streams from the frames read."""

    def __init__(self):
        self.status = {}    # stream id -> True when :status is 200
        self.body = {}
        self.done = set()   # streams whose response ended
        self.goaway = None  # (last stream id, error code)

    def take(self, frame):
        kind, flags, stream_id, payload = frame
        if kind == HEADERS:
            # nghttp2 sends :status first; 200 is static table entry 8.
            self.status[stream_id] = payload[:1] == b"\x88"
            self.body.setdefault(stream_id, b"")
        elif kind == DATA:
            self.body[stream_id] = self.body.get(stream_id, b"") + payload
        elif kind == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            self.goaway = (last & 0x7FFFFFFF, code)
        if kind in (HEADERS, DATA) and flags & END_STREAM:
            self.done.add(stream_id)


# ---- the tests --------------------------------------------------------------------

class DrainTestCase(ServerLogOnFailure):

    def setUp(self):
        self.server = KinesdServer(extra_args=["--log-level", "info"])
        self.addCleanup(self.server.close)
        self.kinesis = make_client(self.server.endpoint)
        self.stream = create_stream(self.kinesis, shards=2)

    def signal_and_wait(self):
        self.server.process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def wait_exit(self):
        try:
            return self.server.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.server.kill9()
            self.fail("kinesd did not exit within %.0f s of SIGTERM" % EXIT_TIMEOUT)

    def stored_after_restart(self):
        self.server.start()
        self.kinesis = make_client(self.server.endpoint)
        stored = set()
        for shard in list_all_shards(self.kinesis, self.stream):
            stored.update(r["Data"] for r in read_shard(self.kinesis, self.stream, shard["ShardId"]))
        return stored

    def assertPutRecordsAnswer(self, body, count):
        answer = json.loads(body)
        self.assertEqual(answer["FailedRecordCount"], 0, answer)
        self.assertEqual(len(answer["Records"]), count)
        self.assertTrue(all("SequenceNumber" in r for r in answer["Records"]), answer)


class Http11DrainTest(DrainTestCase):

    def test_request_half_sent_at_the_signal_is_answered_with_connection_close(self):
        port = self.server.port
        body, payloads = put_records_body(self.stream, b"half", 4, 256 * 1024)
        # An idle keep-alive connection, after one answered request.
        idle = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        warm_body, _ = put_records_body(self.stream, b"warm", 1, 10)
        idle.sendall(http11_head(port, len(warm_body)) + warm_body)
        status, headers, _ = read_http11_response(idle)
        self.assertEqual(status, 200)
        self.assertNotEqual(headers.get("connection"), "close")

        busy = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        half = len(body) // 2
        busy.sendall(http11_head(port, len(body)) + body[:half])
        time.sleep(0.2)  # the server reads the head and starts on the body

        self.server.process.send_signal(signal.SIGTERM)
        # The idle connection closes at once, and new connections are refused,
        # while the request in progress is still waiting for its body.
        self.assertTrue(sees_eof(idle), "the idle keep-alive connection got data instead of its end")
        wait_until(lambda: refuses_connections(port), "new connections refused")
        self.assertIsNone(self.server.process.poll(), "kinesd exited with a request half received")

        try:
            busy.sendall(body[half:])
        except (BrokenPipeError, ConnectionResetError) as e:
            self.fail("the connection with a request in progress was closed: %r" % e)
        response = read_http11_response(busy)
        self.assertIsNotNone(response, "the request in progress got no answer")
        status, headers, answer = response
        self.assertEqual(status, 200, answer)
        self.assertEqual(headers.get("connection"), "close", headers)
        self.assertPutRecordsAnswer(answer, len(payloads))
        self.assertTrue(sees_eof(busy), "the connection stayed open after its last answer")

        self.assertEqual(self.wait_exit(), 0, self.server.log_tail())
        self.assertNotIn(STILL_BUSY, self.server.log_text())
        missing = set(payloads) - self.stored_after_restart()
        self.assertEqual(missing, set(), "%d acknowledged records lost" % len(missing))

    def test_no_get_records_sent_before_the_signal_goes_unanswered(self):
        # Reads of several MiB keep the workers busy with requests that
        # write nothing, so nothing else holds the shutdown back for them.
        self.check_no_request_unanswered(writes=False)

    def test_no_put_records_sent_before_the_signal_goes_unanswered(self):
        self.check_no_request_unanswered(writes=True)

    def check_no_request_unanswered(self, writes):
        """Eight keep-alive clients, each sending its next request as soon as
        the last is answered: large PutRecords batches when `writes`, else
        GetRecords of a shard holding several MiB."""
        port = self.server.port
        read_body = None
        if not writes:
            prefill, _ = put_records_body(self.stream, b"prefill", 8, 448 * 1024)
            for _ in range(3):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT)
                conn.request("POST", "/", body=prefill, headers={"Content-Type": JSON_TYPE, "X-Amz-Target": TARGET})
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
            iterator = self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=list_all_shards(self.kinesis, self.stream)[0]["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            read_body = json.dumps({"ShardIterator": iterator}).encode()

        lock = threading.Lock()
        sent_before = {}  # request -> answered in full (True) or not
        acknowledged = []
        completed = [0]
        signalled_at = [None]

        def client(worker):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT)
            n = 0
            while True:
                tag = b"w%d-%d" % (worker, n)
                n += 1
                if writes:
                    body, payloads = put_records_body(self.stream, tag, 8, 448 * 1024)
                    target = TARGET
                else:
                    body, payloads, target = read_body, [], "Kinesis_20131202.GetRecords"
                try:
                    conn.request("POST", "/", body=body, headers={"Content-Type": JSON_TYPE, "X-Amz-Target": target})
                except OSError:
                    return  # not sent: the server is gone
                sent = time.monotonic()
                with lock:
                    before = signalled_at[0] is None or sent < signalled_at[0]
                try:
                    response = conn.getresponse()
                    answer = response.read()
                    ok = response.status == 200
                    if ok and writes:
                        self.assertPutRecordsAnswer(answer, len(payloads))
                    elif ok:
                        ok = len(json.loads(answer)["Records"]) > 0
                except (OSError, http.client.HTTPException, ValueError, AssertionError):
                    ok = False
                with lock:
                    if before:
                        sent_before[tag] = ok
                    if ok:
                        acknowledged.extend(payloads)
                        completed[0] += 1
                if not ok:
                    return

        threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(8)]
        for t in threads:
            t.start()
        wait_until(lambda: completed[0] >= 40, "40 answered requests")
        with lock:
            signalled_at[0] = time.monotonic()
        self.server.process.send_signal(signal.SIGTERM)
        status = self.wait_exit()
        for t in threads:
            t.join(EXIT_TIMEOUT)
        self.assertEqual(status, 0, self.server.log_tail())
        unanswered = sorted(tag for tag, ok in sent_before.items() if not ok)
        self.assertEqual(unanswered, [], "%d of %d requests sent before the signal went unanswered"
                         % (len(unanswered), len(sent_before)))
        missing = set(acknowledged) - self.stored_after_restart()
        self.assertEqual(missing, set(), "%d of %d acknowledged records lost" % (len(missing), len(acknowledged)))


class Http2DrainTest(DrainTestCase):

    def test_goaway_and_answers_for_the_streams_in_flight(self):
        conn = H2Connection(self.server.port)
        bodies = {}
        for stream_id in (1, 3, 5):
            bodies[stream_id] = put_records_body(self.stream, b"h2-%d" % stream_id, 4, 8 * 1024)
        # Stream 1 starts first and stays half sent; 3 and 5 are whole, and
        # their answers show that kinesd has read stream 1's start.
        first, _ = bodies[1]
        half = len(first) // 2
        conn.send_headers(1, len(first))
        conn.send_data(1, first[:half], end=False)
        for stream_id in (3, 5):
            body, _ = bodies[stream_id]
            conn.send_headers(stream_id, len(body))
            conn.send_data(stream_id, body, end=True)
        responses = H2Responses()
        while not {3, 5} <= responses.done:
            frame = conn.read_frame()
            self.assertIsNotNone(frame, "the connection ended before streams 3 and 5 were answered")
            responses.take(frame)

        self.server.process.send_signal(signal.SIGTERM)
        while responses.goaway is None:
            frame = conn.read_frame()
            self.assertIsNotNone(frame, "the connection ended without a GOAWAY")
            responses.take(frame)
        last_stream, code = responses.goaway
        self.assertEqual(code, 0, "GOAWAY with an error code")
        self.assertEqual(last_stream, 5, "GOAWAY must name the last stream taken")
        wait_until(lambda: refuses_connections(self.server.port), "new connections refused")

        try:
            conn.send_data(1, first[half:], end=True)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.fail("the connection with a stream in flight was closed: %r" % e)
        while True:
            frame = conn.read_frame()
            if frame is None:
                break
            responses.take(frame)
        self.assertIn(1, responses.done, "the stream in flight got no (complete) answer")
        for stream_id in (1, 3, 5):
            self.assertTrue(responses.status.get(stream_id), "stream %d not answered 200" % stream_id)
            self.assertPutRecordsAnswer(responses.body[stream_id], len(bodies[stream_id][1]))

        self.assertEqual(self.wait_exit(), 0, self.server.log_tail())
        self.assertNotIn(STILL_BUSY, self.server.log_text())
        expected = set(p for _, payloads in bodies.values() for p in payloads)
        missing = expected - self.stored_after_restart()
        self.assertEqual(missing, set(), "%d acknowledged records lost" % len(missing))


class IdleDrainTest(DrainTestCase):

    def test_idle_connections_close_at_once_and_do_not_hold_the_exit(self):
        port = self.server.port
        idle = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
            body, _ = put_records_body(self.stream, b"idle", 1, 10)
            sock.sendall(http11_head(port, len(body)) + body)
            self.assertEqual(read_http11_response(sock)[0], 200)
            idle.append(sock)
        # A connection that never sent a byte, and an HTTP/2 one without streams.
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT))
        h2 = H2Connection(port)

        self.assertEqual(self.signal_and_wait(), 0, self.server.log_tail())
        for sock in idle:
            self.assertTrue(sees_eof(sock), "an idle connection got data instead of its end")
        responses = H2Responses()
        while True:
            frame = h2.read_frame()
            if frame is None:
                break
            responses.take(frame)
        self.assertEqual(responses.goaway, (0, 0), "the idle HTTP/2 connection must get GOAWAY naming no stream")
        # Had an idle connection held the drain, kinesd would have waited out
        # its slice of the shutdown timeout and said so.
        self.assertNotIn(STILL_BUSY, self.server.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
