"""SubscribeToShard: put-to-push latency and fan-out throughput.

Two measurements against a server on 127.0.0.1 (any Kinesis emulator with
SubscribeToShard over HTTP/1.1):

latency   One shard, 1, 4 and 16 subscribers (LATEST). One producer puts
          single records at --rate per second for --duration seconds. A
          record's latency is the time its event is read from a subscriber's
          socket minus the time its PutRecord was sent, both taken from this
          process's monotonic clock. Every subscriber counts: 16 subscribers
          give 16 latencies per record.
backlog   --backlog-records records are put into another shard first; then
          --backlog-subscribers subscribe from TRIM_HORIZON at once and read
          them all. Rate = records delivered to all subscribers together,
          divided by the time from the first subscribe request to the last
          subscriber's last record.

The subscribers share one thread and one epoll loop; each socket's bytes are
timestamped when recv returns, before any parsing. The backlog phase only
counts records (it does not decode their JSON), so the client's own CPU time
is printed next to the rate (client_cpu_s): a client near one core of CPU
means the figure is the client's limit, not the server's.

Prints one machine-readable RESULT line per measurement, for example

  RESULT kind=subscribe_latency subscribers=4 records=1000 pushes=4000 p50_ms=0.61 p99_ms=1.90 ...
  RESULT kind=subscribe_backlog subscribers=16 records_each=500000 records=8000000 records_per_s=...

Standard library only.
"""
import argparse
import base64
import json
import multiprocessing
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import TARGET_PREFIX, CONTENT_TYPE, KinesisClient, KinesisError, auth_headers  # noqa: E402

SEQ_KEY = b'"SequenceNumber"'


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * (len(sorted_values) - 1)))))
    return sorted_values[index]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- setup ----------------------------------------------------------------------------


def create_stream(client, name, timeout):
    try:
        client.call("CreateStream", {"StreamName": name, "ShardCount": 1})
    except KinesisError as e:
        if e.error_type != "ResourceInUseException":
            raise
    deadline = time.monotonic() + timeout
    while True:
        summary = client.call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary["StreamARN"]
        if time.monotonic() > deadline:
            raise RuntimeError("stream %s is not ACTIVE after %.0f s" % (name, timeout))
        time.sleep(0.1)


def register_consumers(client, stream_arn, count, timeout):
    arns = []
    deadline = time.monotonic() + timeout
    for i in range(count):
        while True:
            try:
                arns.append(client.call("RegisterStreamConsumer", {"StreamARN": stream_arn,
                                                                   "ConsumerName": "bench-%d" % i})
                            ["Consumer"]["ConsumerARN"])
                break
            except KinesisError as e:
                # As in AWS, at most 5 consumers may be CREATING at once.
                if e.error_type != "LimitExceededException" or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    for arn in arns:
        while client.call("DescribeStreamConsumer", {"ConsumerARN": arn})["ConsumerDescription"]["ConsumerStatus"] \
                != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError("consumer %s is not ACTIVE after %.0f s" % (arn, timeout))
            time.sleep(0.1)
    return arns


def shard_id(client, name):
    return client.call("ListShards", {"StreamName": name})["Shards"][0]["ShardId"]


# -- one subscription on a non-blocking socket -------------------------------------------


class Subscriber:
    """Sends SubscribeToShard over HTTP/1.1 and splits the (chunked or
    connection-delimited) body into event-stream messages. `on_message` gets
    (headers, payload, arrival_ns); headers are decoded only as far as the
    two names this client needs."""

    def __init__(self, host, port, consumer_arn, shard, position, on_message):
        body = json.dumps({"ConsumerARN": consumer_arn, "ShardId": shard, "StartingPosition": position}).encode()
        headers = {"Host": "%s:%d" % (host, port), "Content-Type": CONTENT_TYPE,
                   "X-Amz-Target": TARGET_PREFIX + "SubscribeToShard", "Content-Length": str(len(body))}
        headers.update(auth_headers())
        request = "POST / HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.sendall(request.encode() + body)
        self.sock.setblocking(False)
        self.on_message = on_message
        self.raw = bytearray()
        self.body = bytearray()
        self.head_done = False
        self.chunked = False
        self.status = None
        self.error = None
        self.ended = False
        self.messages = 0

    def readable(self):
        """Reads what is there; False once the connection is finished."""
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as e:
            self.error = repr(e)
            self.ended = True
            return False
        now = time.monotonic_ns()
        if not data:
            self.ended = True
            if self.body:
                self._split(now)
            return False
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return True
            head = bytes(self.raw[:end]).decode("latin-1").split("\r\n")
            del self.raw[:end + 4]
            self.status = int(head[0].split()[1])
            fields = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in head[1:]}
            self.chunked = "chunked" in fields.get("transfer-encoding", "").lower()
            self.head_done = True
            if self.status != 200:
                self.error = "HTTP %d" % self.status
        if self.chunked:
            self._dechunk()
        else:
            self.body += self.raw
            self.raw = bytearray()
        if self.status != 200:
            return not self.ended
        self._split(now)
        return not self.ended

    def _dechunk(self):
        raw = self.raw
        pos = 0
        while True:
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(bytes(raw[pos:line_end]).split(b";")[0], 16)
            if len(raw) < line_end + 2 + size + 2:
                break
            if size == 0:
                self.ended = True
                pos = line_end + 4
                break
            self.body += raw[line_end + 2:line_end + 2 + size]
            pos = line_end + 2 + size + 2
        del raw[:pos]

    def _split(self, now):
        body = self.body
        pos = 0
        while len(body) - pos >= 12:
            total, headers_length = struct.unpack_from(">II", body, pos)
            if len(body) - pos < total:
                break
            headers = parse_some_headers(body, pos + 12, pos + 12 + headers_length)
            payload = bytes(body[pos + 12 + headers_length:pos + total - 4])
            self.messages += 1
            self.on_message(headers, payload, now)
            pos += total
        del body[:pos]

    def close(self):
        self.sock.close()


def parse_some_headers(data, pos, end):
    """String-valued headers of one message (the only kind the three names
    this client reads have); other types are skipped by their sizes."""
    headers = {}
    sizes = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
    while pos < end:
        name_length = data[pos]
        name = bytes(data[pos + 1:pos + 1 + name_length])
        kind = data[pos + 1 + name_length]
        pos += 2 + name_length
        if kind in (6, 7):
            (length,) = struct.unpack_from(">H", data, pos)
            headers[name] = bytes(data[pos + 2:pos + 2 + length])
            pos += 2 + length
        else:
            pos += sizes.get(kind, 0)
    return headers


def event_loop(subscribers, done, deadline):
    """Reads every subscriber until done() or the monotonic deadline."""
    selector = selectors.EpollSelector() if hasattr(selectors, "EpollSelector") else selectors.DefaultSelector()
    for s in subscribers:
        selector.register(s.sock, selectors.EVENT_READ, s)
    try:
        while not done() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                if not key.data.readable():
                    selector.unregister(key.fileobj)
    finally:
        selector.close()


# -- latency ---------------------------------------------------------------------------


def produce(host, port, stream, total, rate, pad, results):
    """Puts `total` single records at `rate` a second; sends back when each was sent and answered."""
    sent, acked = {}, {}
    producer = KinesisClient(host, port)
    t0 = time.monotonic()
    try:
        for i in range(total):
            when = t0 + i / rate
            delay = when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[i] = time.monotonic_ns()
            producer.call("PutRecord", {"StreamName": stream, "PartitionKey": "p",
                                        "Data": base64.b64encode(b"%012d" % i + pad).decode()})
            acked[i] = time.monotonic_ns()
    finally:
        producer.close()
        results.send((sent, acked))
        results.close()


def measure_latency(args, client, count):
    # A stream of its own for each run: some servers hold a consumer's
    # subscription for a while after its client has gone.
    stream = "%s-%d" % (args.latency_stream, count)
    arns = register_consumers(client, create_stream(client, stream, args.timeout), count, args.timeout)
    shard = shard_id(client, stream)
    pad = b"x" * max(0, args.size - 12)
    arrivals = {}   # (subscriber index, record id) -> arrival ns
    duplicates = [0]
    exceptions = []

    def handler(index):
        def on_message(headers, payload, now):
            kind = headers.get(b":message-type")
            if kind == b"exception":
                exceptions.append((headers.get(b":exception-type"), payload[:200]))
                return
            if headers.get(b":event-type") != b"SubscribeToShardEvent":
                return
            for record in json.loads(payload)["Records"]:
                data = base64.b64decode(record["Data"])
                key = (index, int(data[:12]))
                if key in arrivals:
                    duplicates[0] += 1
                else:
                    arrivals[key] = now
        return on_message

    subs = [Subscriber(args.host, args.port, arns[i], shard, {"Type": "LATEST"}, handler(i)) for i in range(count)]
    # Subscribed once each has had an answer (initial response or a first event).
    event_loop(subs, lambda: all(s.messages > 0 or s.ended for s in subs), time.monotonic() + args.timeout)
    failed = [s.error or "no answer" for s in subs if s.messages == 0]
    if failed:
        for s in subs:
            s.close()
        raise RuntimeError("subscriptions failed: %s" % failed[:3])

    total = int(args.rate * args.duration)
    # The producer runs in a process of its own: in a thread it shared the
    # interpreter lock with the subscribers' reader, and each put and each
    # arrival waited for the other (its own round trip measured 1.3 ms where
    # wrk measures 0.18). CLOCK_MONOTONIC is one clock for both processes.
    context = multiprocessing.get_context("fork")
    results, results_in = context.Pipe(duplex=False)
    producer = context.Process(target=produce, args=(args.host, args.port, stream, total, args.rate, pad, results_in),
                               daemon=True)
    producer.start()
    results_in.close()
    event_loop(subs, lambda: len(arrivals) >= total * count or not producer.is_alive(),
               time.monotonic() + args.duration + args.timeout)
    # Stragglers: a little longer for the last records.
    if len(arrivals) < total * count:
        event_loop(subs, lambda: len(arrivals) >= total * count, time.monotonic() + 5)
    sent, acked = results.recv() if results.poll(args.timeout) else ({}, {})
    producer.join(timeout=args.timeout)
    for s in subs:
        s.close()
    latencies = sorted((arrivals[key] - sent[key[1]]) / 1e6 for key in arrivals if key[1] in sent)
    missing = len(sent) * count - len(latencies)
    # The PutRecord round trip, for comparison: a push cannot come before
    # the record is committed, which is also when the put is answered.
    puts = sorted((acked[i] - sent[i]) / 1e6 for i in acked)
    print("RESULT kind=subscribe_latency subscribers=%d records=%d pushes=%d p50_ms=%.3f p90_ms=%.3f "
          "p99_ms=%.3f max_ms=%.3f missing=%d duplicates=%d exceptions=%d put_p50_ms=%.3f put_p99_ms=%.3f"
          % (count, len(sent), len(latencies), percentile(latencies, 0.5), percentile(latencies, 0.9),
             percentile(latencies, 0.99), latencies[-1] if latencies else float("nan"), missing,
             duplicates[0], len(exceptions), percentile(puts, 0.5), percentile(puts, 0.99)), flush=True)
    if exceptions:
        log("exception events: %r" % exceptions[:3])


# -- backlog ---------------------------------------------------------------------------


def fill_backlog(args, stream):
    per_call = min(500, max(1, (4 << 20) // args.size))
    data = base64.b64encode(os.urandom(args.size)).decode()
    body = {"StreamName": stream, "Records": [{"Data": data, "PartitionKey": "k%d" % i} for i in range(per_call)]}
    calls = (args.backlog_records + per_call - 1) // per_call
    next_call = [0]
    lock = threading.Lock()
    put = [0]
    errors = []

    def worker():
        c = KinesisClient(args.host, args.port, timeout=300)
        try:
            while True:
                with lock:
                    if next_call[0] >= calls or errors:
                        return
                    next_call[0] += 1
                status, raw = c.call_raw("PutRecords", body)
                reply = json.loads(raw)
                if status != 200:
                    errors.append(raw[:200])
                    return
                with lock:
                    put[0] += per_call - reply.get("FailedRecordCount", 0)
        finally:
            c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("PutRecords failed: %r" % errors[0])
    log("backlog: %d records of %d B put in %.1f s" % (put[0], args.size, time.monotonic() - t0))
    return put[0]


def measure_backlog(args, client):
    arn = create_stream(client, args.backlog_stream, args.timeout)
    arns = register_consumers(client, arn, args.backlog_subscribers, args.timeout)
    shard = shard_id(client, args.backlog_stream)
    expected = fill_backlog(args, args.backlog_stream)
    counts = [0] * len(arns)
    finished = [None] * len(arns)
    exceptions = []

    def handler(index):
        def on_message(headers, payload, now):
            if headers.get(b":message-type") == b"exception":
                exceptions.append((headers.get(b":exception-type"), payload[:200]))
                return
            counts[index] += payload.count(SEQ_KEY)
            if counts[index] >= expected and finished[index] is None:
                finished[index] = now
        return on_message

    cpu0 = cpu_seconds()
    t0 = time.monotonic_ns()
    subs = [Subscriber(args.host, args.port, a, shard, {"Type": "TRIM_HORIZON"}, handler(i))
            for i, a in enumerate(arns)]
    event_loop(subs, lambda: all(f is not None for f in finished) or all(s.ended for s in subs),
               time.monotonic() + args.timeout)
    cpu = cpu_seconds() - cpu0
    end = max((f for f in finished if f is not None), default=time.monotonic_ns())
    for s in subs:
        s.close()
    duration = (end - t0) / 1e9
    delivered = sum(min(c, expected) for c in counts)
    slowest = min(counts[i] / ((finished[i] - t0) / 1e9) if finished[i] else 0 for i in range(len(arns)))
    errors = [s.error for s in subs if s.error]
    print("RESULT kind=subscribe_backlog subscribers=%d records_each=%d records=%d duration_s=%.3f "
          "records_per_s=%.1f slowest_subscriber_per_s=%.1f incomplete=%d client_cpu_s=%.2f exceptions=%d"
          % (len(arns), expected, delivered, duration, delivered / duration if duration > 0 else 0,
             slowest, sum(1 for f in finished if f is None), cpu, len(exceptions)), flush=True)
    if errors or exceptions:
        log("errors: %r exceptions: %r" % (errors[:3], exceptions[:3]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-stream", default="sub-latency", help="prefix: one stream per subscriber count")
    parser.add_argument("--backlog-stream", default="sub-backlog")
    parser.add_argument("--subscribers", default="1,4,16", help="subscriber counts for the latency runs")
    parser.add_argument("--rate", type=float, default=100.0, help="records per second the producer puts")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of putting per latency run")
    parser.add_argument("--size", type=int, default=100, help="record size in bytes (at least 12)")
    parser.add_argument("--backlog-records", type=int, default=500000)
    parser.add_argument("--backlog-subscribers", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-backlog", action="store_true")
    args = parser.parse_args()
    sys.setswitchinterval(0.0002)  # the producer thread must not hold up the subscribers' loop

    client = KinesisClient(args.host, args.port, timeout=args.timeout)
    if not args.skip_latency:
        for count in [int(c) for c in args.subscribers.split(",")]:
            log("latency: %d subscriber(s), %.0f records/s for %.0f s" % (count, args.rate, args.duration))
            measure_latency(args, client, count)
    if not args.skip_backlog:
        log("backlog: %d records to %d subscribers" % (args.backlog_records, args.backlog_subscribers))
        measure_backlog(args, client)
    client.close()


if __name__ == "__main__":
    main()
