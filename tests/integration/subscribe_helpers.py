"""Helpers for the SubscribeToShard suites: consumers, a boto3 subscription
read on its own thread, and a raw HTTP/1.1 subscription that decodes the
AWS event-stream framing itself (prelude, headers, both CRC32s)."""
import json
import queue
import socket
import struct
import threading
import time
import zlib

import botocore.exceptions

from kinesis_helpers import JSON_TYPE, TARGET_PREFIX, WAIT_TIMEOUT, stream_arn, unique_name, wait_until

EVENT_STREAM_TYPE = "application/vnd.amazon.eventstream"


# -- consumers ------------------------------------------------------------------------


def register_consumer(client, stream, name=None, wait=True):
    """Registers a consumer on `stream`; with `wait`, until it is ACTIVE. Returns its ARN."""
    consumer = client.register_stream_consumer(
        StreamARN=stream_arn(stream), ConsumerName=name or unique_name("c"))["Consumer"]
    arn = consumer["ConsumerARN"]
    if wait:
        def active():
            d = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
            return d["ConsumerStatus"] == "ACTIVE"
        wait_until(active, "consumer %s to become ACTIVE" % arn)
    return arn


# -- boto3 --------------------------------------------------------------------------


class Subscription:
    """One boto3 subscribe_to_shard, read by a thread into a queue so that a
    test can wait for events with a timeout.

    Queue items: ("event", SubscribeToShardEvent dict), ("error", exception)
    for an exception event or a broken stream, ("end", None) when the stream
    ended without an exception.
    """

    def __init__(self, client, consumer_arn, shard_id, position):
        self.response = client.subscribe_to_shard(
            ConsumerARN=consumer_arn, ShardId=shard_id, StartingPosition=position)
        self.stream = self.response["EventStream"]
        self.queue = queue.Queue()
        self.events = []
        self.finished = None  # ("end"|"error", value) once the stream is over
        self._closing = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for event in self.stream:
                if "SubscribeToShardEvent" in event:
                    self.queue.put(("event", event["SubscribeToShardEvent"]))
                else:
                    self.queue.put(("error", AssertionError("unexpected event %r" % event)))
            self.queue.put(("end", None))
        except botocore.exceptions.EventStreamError as e:
            self.queue.put(("error", e))
        except Exception as e:  # noqa: BLE001 - a broken stream is an outcome to report
            self.queue.put(("error", e))

    def next(self, timeout=WAIT_TIMEOUT):
        """The next item: ("event", dict), ("error", exc) or ("end", None).
        Raises AssertionError when nothing comes within `timeout`."""
        if self.finished is not None:
            return self.finished
        try:
            kind, value = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event within %.0f s" % timeout) from None
        if kind == "event":
            self.events.append(value)
        else:
            self.finished = (kind, value)
        return kind, value

    def next_event(self, timeout=WAIT_TIMEOUT):
        kind, value = self.next(timeout)
        if kind != "event":
            raise AssertionError("the subscription ended (%s: %r) where an event was expected" % (kind, value))
        return value

    def records_until(self, count, timeout=WAIT_TIMEOUT):
        """Records from the next events until at least `count` have come."""
        records = []
        deadline = time.monotonic() + timeout
        while len(records) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%d of %d records after %.0f s" % (len(records), count, timeout))
            records += self.next_event(left)["Records"]
        return records

    def drain_until_finished(self, timeout=WAIT_TIMEOUT):
        """Reads until the stream ends; returns (records, finished item)."""
        records = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the subscription did not end within %.0f s" % timeout)
            kind, value = self.next(left)
            if kind != "event":
                return records, (kind, value)
            records += value["Records"]

    def last_continuation(self):
        for event in reversed(self.events):
            if event.get("ContinuationSequenceNumber"):
                return event["ContinuationSequenceNumber"]
        return None

    def close(self):
        self.stream.close()
        self._thread.join(timeout=10)


def error_code(exc):
    """The AWS error code of a boto3 exception (EventStreamError included)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


# -- event-stream framing -----------------------------------------------------------


class FrameError(ValueError):
    pass


def _header_value(kind, data, pos):
    """Decodes one header value of type `kind` at `pos`; returns (value, new pos)."""
    if kind == 0:
        return True, pos
    if kind == 1:
        return False, pos
    fixed = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}
    if kind in fixed:
        size = struct.calcsize(fixed[kind])
        return struct.unpack_from(fixed[kind], data, pos)[0], pos + size
    if kind in (6, 7):
        (length,) = struct.unpack_from(">H", data, pos)
        raw = bytes(data[pos + 2:pos + 2 + length])
        if len(raw) != length:
            raise FrameError("truncated header value")
        return (raw.decode("utf-8") if kind == 7 else raw), pos + 2 + length
    if kind == 9:
        return bytes(data[pos:pos + 16]), pos + 16
    raise FrameError("unknown header value type %d" % kind)


def parse_headers(data):
    headers, pos = {}, 0
    while pos < len(data):
        name_length = data[pos]
        name = bytes(data[pos + 1:pos + 1 + name_length]).decode("utf-8")
        pos += 1 + name_length
        if pos >= len(data):
            raise FrameError("header %r has no value type" % name)
        kind = data[pos]
        value, pos = _header_value(kind, data, pos + 1)
        headers[name] = value
    if pos != len(data):
        raise FrameError("headers overrun their length")
    return headers


def split_frame(buffer):
    """Takes one whole message off the front of `buffer` (a bytearray),
    checking both CRC32s. Returns (headers, payload) or None if incomplete."""
    if len(buffer) < 12:
        return None
    total, headers_length, prelude_crc = struct.unpack_from(">III", buffer, 0)
    if zlib.crc32(bytes(buffer[:8])) != prelude_crc:
        raise FrameError("prelude CRC mismatch")
    if total < 16 or headers_length > total - 16:
        raise FrameError("impossible lengths total=%d headers=%d" % (total, headers_length))
    if len(buffer) < total:
        return None
    (message_crc,) = struct.unpack_from(">I", buffer, total - 4)
    if zlib.crc32(bytes(buffer[:total - 4])) != message_crc:
        raise FrameError("message CRC mismatch")
    headers = parse_headers(buffer[12:12 + headers_length])
    payload = bytes(buffer[12 + headers_length:total - 4])
    del buffer[:total]
    return headers, payload


# -- raw HTTP/1.1 subscription ------------------------------------------------------


class RawSubscription:
    """SubscribeToShard over a plain socket: sends the request, reads the
    response head, then de-chunks the body and splits it into messages.

    `read=False` only sends the request (a subscriber that never reads);
    `rcvbuf` shrinks the socket's receive buffer before connecting.
    """

    def __init__(self, port, body, content_type=JSON_TYPE, read=True, rcvbuf=None, timeout=60.0,
                 extra_headers=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        request = ("POST / HTTP/1.1\r\nHost: kinesd\r\nContent-Type: %s\r\n"
                   "X-Amz-Target: %sSubscribeToShard\r\nContent-Length: %d\r\n%s\r\n"
                   % (content_type, TARGET_PREFIX, len(body),
                      "".join("%s: %s\r\n" % h for h in extra_headers))).encode() + body
        self.sock.sendall(request)
        self.pending = bytearray()
        self.body = bytearray()   # de-chunked bytes not yet split into messages
        self.status = None
        self.headers = {}
        self.chunked = False
        self.length = None
        self.ended = False
        if read:
            self._read_head()

    def _recv(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("connection closed")
        self.pending += chunk

    def _read_head(self):
        while b"\r\n\r\n" not in self.pending:
            self._recv()
        head, rest = bytes(self.pending).split(b"\r\n\r\n", 1)
        self.pending = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, value = line.split(":", 1)
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if not self.chunked:
            self.length = int(self.headers.get("content-length", "0"))

    def whole_body(self):
        """For a non-streamed (error) answer: its whole body."""
        if self.chunked:
            while not self.ended:
                self._dechunk_some()
            return bytes(self.body)
        while len(self.pending) < self.length:
            self._recv()
        return bytes(self.pending[:self.length])

    def _dechunk_some(self):
        """Moves at least one chunk from `pending` to `body` (reading as needed)."""
        while True:
            line_end = self.pending.find(b"\r\n")
            if line_end >= 0:
                size = int(bytes(self.pending[:line_end]).split(b";")[0], 16)
                need = line_end + 2 + size + 2
                if len(self.pending) >= need:
                    self.body += self.pending[line_end + 2:line_end + 2 + size]
                    del self.pending[:need]
                    if size == 0:
                        self.ended = True
                    return
            self._recv()

    def next_message(self):
        """(headers, payload) of the next message, or None once the body has ended."""
        while True:
            message = split_frame(self.body)
            if message is not None:
                return message
            if self.ended:
                if self.body:
                    raise FrameError("%d stray bytes at the end of the stream" % len(self.body))
                return None
            if self.chunked:
                self._dechunk_some()
            else:
                try:
                    self._recv()
                except ConnectionError:
                    self.ended = True
                self.body += self.pending
                self.pending = bytearray()

    def close(self):
        self.sock.close()


def json_subscribe_body(consumer_arn, shard_id, position):
    return json.dumps({"ConsumerARN": consumer_arn, "ShardId": shard_id,
                       "StartingPosition": position}).encode()
