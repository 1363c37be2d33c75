"""Pieces shared by the crash-loop harnesses: self-checking payloads, the
record-size mix, a gate that lets the killer quiesce the producers, the
acknowledgement ledger, the producer thread, and the campaign itself (kill,
restart, check, report). Each harness adds only what its service differs in:
how records are made and put, and what is checked.

A payload says which record it is and carries a digest of its own body, so a
reader can tell a lost, duplicated or damaged record without any other state:

    CL1 <id> <sha256 of body, hex> <body length>|<body>
"""
import argparse
import collections
import hashlib
import os
import random
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import boto3  # noqa: E402
import botocore.config  # noqa: E402

from kinesd_server import KinesdServer, ServerError  # noqa: E402,F401  (re-exported)
from kinesis_helpers import REGION  # noqa: E402

MIB = 1024 * 1024
MAGIC = b"CL1"


# -- payloads -----------------------------------------------------------------------


def make_payload(record_id, size, rng, text=False):
    """A payload of at most `size` bytes (the header alone when `size` is
    smaller). `text` keeps the body to hex digits so that a newline can
    terminate the record."""
    header_len = len(_header(record_id, b"0" * 64, 0))
    body_len = max(0, size - header_len)
    # The width of the length field must not change the header length.
    body_len = max(0, body_len - (len(str(body_len)) - 1))
    if text:
        body = rng.randbytes((body_len + 1) // 2).hex().encode()[:body_len]
    else:
        body = rng.randbytes(body_len)
    return _header(record_id, hashlib.sha256(body).hexdigest().encode(), body_len) + body


def _header(record_id, digest, length):
    return b"%s %s %s %d|" % (MAGIC, record_id.encode(), digest, length)


def parse_payload(data):
    """(record id, intact) of a payload; (None, False) when it is not one."""
    end = data.find(b"|")
    if end < 0:
        return None, False
    parts = data[:end].split(b" ")
    if len(parts) != 4 or parts[0] != MAGIC:
        return None, False
    record_id = parts[1].decode("ascii", "replace")
    body = data[end + 1:]
    try:
        length = int(parts[3])
    except ValueError:
        return record_id, False
    intact = len(body) == length and hashlib.sha256(body).hexdigest().encode() == parts[2]
    return record_id, intact


def digest(data):
    return hashlib.sha256(data).hexdigest()


def record_size(rng, largest):
    """Mostly small records, some medium ones, an occasional large one and,
    now and then, one of the largest size allowed."""
    roll = rng.random()
    if roll < 0.0002:
        return largest
    if roll < 0.0007:
        return rng.randint(128 * 1024, largest)
    if roll < 0.03:
        return rng.randint(1024, 16 * 1024)
    return rng.randint(1, 600)


# -- clients ------------------------------------------------------------------------


def client_for(session, service, endpoint, read_timeout=30, **kwargs):
    """A client that never retries: a retried put could store a record twice
    under an id the harness already counts as acknowledged once."""
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": 1},  # "max_attempts" counts retries
        connect_timeout=3, read_timeout=read_timeout, tcp_keepalive=True)
    return session.client(service, endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id=kwargs.get("key", "test"),
                          aws_secret_access_key=kwargs.get("secret", "test"), config=config)


# -- ledger -------------------------------------------------------------------------


class Ledger:
    """What the producers were told, shared by every thread. Every
    acknowledgement is also written to a log kept with the work directory."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.acked = {}  # id -> what the checks compare the stored record with
        self.unacked = set()
        self.requests = collections.Counter()
        self._log = open(path, "w", buffering=1024 * 1024)

    def ack(self, record_id, value, *log_fields):
        with self.lock:
            self.acked[record_id] = value
            self._log.write("\t".join(log_fields) + "\n")

    def fail(self, record_ids):
        with self.lock:
            self.unacked.update(record_ids)

    def count(self, what):
        with self.lock:
            self.requests[what] += 1

    def close(self):
        self._log.close()


# -- producer gate ------------------------------------------------------------------


class Gate:
    """Producers pass through it around every request. pause() waits until no
    request is in flight and holds new ones back, so the verifier reads a
    store that nothing is writing to and every request has an outcome."""

    def __init__(self):
        self._cond = threading.Condition()
        self._paused = False
        self._active = 0
        self.stopped = False

    def enter(self):
        """False once the harness is stopping."""
        with self._cond:
            while self._paused and not self.stopped:
                self._cond.wait()
            if self.stopped:
                return False
            self._active += 1
            return True

    def leave(self):
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def pause(self):
        with self._cond:
            self._paused = True
            while self._active:
                self._cond.wait()

    def resume(self):
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self):
        with self._cond:
            self.stopped = True
            self._paused = True
            self._cond.notify_all()
            while self._active:
                self._cond.wait()


class Pacer:
    """Caps the records sent per second across all producers, so that a long
    campaign stays at a volume the read-back after every restart can cover."""

    def __init__(self, rate):
        self._lock = threading.Lock()
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = time.monotonic()

    def take(self, count):
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            # No catching up after a pause: at most a short burst.
            start = max(self._next, now - 0.1)
            self._next = start + count * self._interval
        if start > now:
            time.sleep(start - now)


class Endpoint:
    """The server's current URL: a restart may land on another port, and each
    producer rebuilds its client when the generation changes."""

    def __init__(self, url):
        self._lock = threading.Lock()
        self.url = url
        self.generation = 0

    def set(self, url):
        with self._lock:
            if url != self.url:
                self.url = url
                self.generation += 1

    def get(self):
        with self._lock:
            return self.url, self.generation


# -- producers ----------------------------------------------------------------------


class Producer(threading.Thread):
    """Puts records until the gate stops it. A batching producer fills each
    request with a random count of records, kept under BATCH_BYTES. A subclass
    makes the records, sends a request and books the answer."""

    ID_PREFIX = ""
    BATCH_ACTION = ""  # the batch put, for messages
    BATCH_SIZES = ()
    BATCH_BYTES = 0

    def __init__(self, index, batch, harness):
        super().__init__(name="producer-%d" % index, daemon=True)
        self.index = index
        self.batch = batch
        self.harness = harness
        self.rng = random.Random(harness.args.seed * 1000 + index)
        self.next_id = 0

    def new_record(self):
        """(record id, what a request carries for it)"""
        raise NotImplementedError

    def request_bytes(self, item):
        """How much of a batch request's size limit a record uses."""
        raise NotImplementedError

    def put(self, client, records):
        """Sends one request and returns its per-record outcomes."""
        raise NotImplementedError

    def settle(self, records, outcomes):
        """Books in the ledger what each record's outcome says."""
        raise NotImplementedError

    def problem(self, text):
        self.harness.violation(text)

    def take_id(self):
        self.next_id += 1
        return "%s%d-%d" % (self.ID_PREFIX, self.index, self.next_id)

    def next_request(self):
        if not self.batch:
            return [self.new_record()]
        wanted = self.rng.choice(self.BATCH_SIZES)
        records, total = [], 0
        while len(records) < wanted:
            record_id, item = self.new_record()
            size = self.request_bytes(item)
            if records and total + size > self.BATCH_BYTES:
                self.next_id -= 1  # not sent: the id is free again
                break
            records.append((record_id, item))
            total += size
        return records

    def run(self):
        h = self.harness
        session = boto3.session.Session()
        client, generation = None, None
        while True:
            records = self.next_request()
            h.pacer.take(len(records))
            if not h.gate.enter():
                return
            try:
                url, current = h.endpoint.get()
                if current != generation:
                    client, generation = client_for(session, h.SERVICE, url), current
                ok = self.send(client, records)
            except Exception as error:  # a harness bug must not pass as a quiet producer
                h.crashed(self.name, error)
                return
            finally:
                h.gate.leave()
            if not ok:
                time.sleep(0.02)  # the server is down: do not spin

    def send(self, client, records):
        """False when the request got no answer."""
        ledger = self.harness.ledger
        record_ids = [record_id for record_id, _ in records]
        try:
            outcomes = self.put(client, records)
        except Exception:  # connection refused or reset, timeout, 5xx: no answer
            ledger.fail(record_ids)
            ledger.count("failed")
            return False
        ledger.count("answered")
        if len(outcomes) != len(records):
            self.problem("%s answered %d entries for %d"
                         % (self.BATCH_ACTION, len(outcomes), len(records)))
            ledger.fail(record_ids)
            return True
        self.settle(records, outcomes)
        return True


# -- campaign -----------------------------------------------------------------------


def common_arguments(description, default_producers, default_rate):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--kinesd", default=os.environ.get("KINESD_BIN"),
                        help="kinesd binary (default: $KINESD_BIN)")
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs to deliver (default 50)")
    parser.add_argument("--producers", type=int, default=default_producers,
                        help="concurrent producer threads")
    parser.add_argument("--min-load", type=float, default=0.2,
                        help="shortest time under load before a kill, seconds")
    parser.add_argument("--max-load", type=float, default=2.0,
                        help="longest time under load before a kill, seconds")
    parser.add_argument("--rate", type=float, default=default_rate,
                        help="records per second across all producers, 0 for no limit "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--kinesd-arg", action="append", default=[], metavar="ARG",
                        help="extra kinesd argument, repeatable (--kinesd-arg=--durability "
                             "--kinesd-arg=none shows the harness catching losses)")
    parser.add_argument("--expect-loss", action="store_true",
                        help="self-check of the harness: succeed only if it detects lost records")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (data, logs, acknowledgement log)")
    return parser


def _check_arguments(args, parser):
    if not args.kinesd:
        parser.error("give --kinesd PATH or set KINESD_BIN")
    if not os.access(args.kinesd, os.X_OK):
        parser.error("%s is not an executable file" % args.kinesd)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2 ** 32)
    if not 0 <= args.min_load <= args.max_load:
        parser.error("need 0 <= --min-load <= --max-load")
    print("seed %d (rerun with --seed %d)" % (args.seed, args.seed), flush=True)


def wait_until_active(status, what, timeout=60):
    """Polls `status()` until it says ACTIVE."""
    deadline = time.monotonic() + timeout
    while status() != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError("%s never became ACTIVE" % what)
        time.sleep(0.1)


class Harness:
    """One campaign: kinesd on a data directory under `work_dir`, producers
    under load, `args.kills` SIGKILLs each followed by a restart, and the
    checks. A subclass names its SERVICE, PRODUCER and LEDGER, creates what the
    producers write to (set_up), checks after each restart (on_restart) and at
    the end (finish), sets `lost` (acknowledged records found missing) and
    writes the SUMMARY line."""

    SERVICE = None
    PRODUCER = None
    LEDGER = Ledger

    def __init__(self, args, work_dir, server_args=()):
        self.args = args
        self.work_dir = work_dir
        self.gate = Gate()
        self.pacer = Pacer(args.rate)
        self.ledger = self.LEDGER(os.path.join(work_dir, "acknowledged.tsv"))
        self.violations = []
        self.restarts = 0
        data_dir = os.path.join(work_dir, "data")
        os.makedirs(data_dir)
        self.server = KinesdServer(
            data_dir=data_dir, binary=args.kinesd, start=False,
            extra_args=list(server_args) + ["--worker-threads", "4"] + args.kinesd_arg)
        self.endpoint = None

    # -- what a harness provides --

    @staticmethod
    def uses_batches(index):
        """Whether producer `index` sends batch requests."""
        raise NotImplementedError

    def set_up(self, client):
        raise NotImplementedError

    def on_restart(self, round_number):
        raise NotImplementedError

    def finish(self):
        """Runs once the producers have stopped."""
        raise NotImplementedError

    def summary(self, elapsed):
        raise NotImplementedError

    # -- shared --

    def log(self, text):
        print(text, flush=True)

    def crashed(self, name, error):
        self.violation("%s stopped: %r" % (name, error))

    def violation(self, text):
        self.violations.append(text)
        if len(self.violations) <= 50:
            self.log("VIOLATION: " + text)

    def control_client(self):
        """A client with room for slow control-plane calls on a loaded server."""
        return client_for(boto3.session.Session(), self.SERVICE, self.server.endpoint,
                          read_timeout=120)

    def start(self):
        self.server.start()
        self.endpoint = Endpoint(self.server.endpoint)
        self.set_up(self.control_client())

    def run(self):
        self.start()
        producers = [self.PRODUCER(i, batch=self.uses_batches(i), harness=self)
                     for i in range(self.args.producers)]
        for producer in producers:
            producer.start()
        self.kill_loop()
        time.sleep(self.args.max_load)  # some load after the last restart too
        self.gate.stop()
        for producer in producers:
            producer.join(60)
        self.finish()

    def kill_loop(self):
        """Kills the server at random moments of load and restarts it on the
        same data directory. Between the restart and the next stretch of load
        the producers are held and on_restart runs."""
        rng = random.Random(self.args.seed ^ 0x5EED)
        for round_number in range(1, self.args.kills + 1):
            time.sleep(rng.uniform(self.args.min_load, self.args.max_load))
            self.server.kill9()
            self.gate.pause()
            started = time.monotonic()
            self.server.start()
            self.endpoint.set(self.server.endpoint)
            self.restarts = round_number
            self.on_restart(round_number)
            self.log("kill %d/%d: restarted and checked in %.1f s"
                     % (round_number, self.args.kills, time.monotonic() - started))
            self.gate.resume()

    def clean_stop(self, label):
        """SIGTERM must end the server with status 0; anything else (a crash on
        the way out, a hang) is a violation, not a harness error."""
        try:
            self.server.stop()
        except ServerError as error:
            self.violation("%s: %s" % (label, str(error).split("\n")[0]))
            self.server.kill9()

    def close(self, failed):
        """Keeps the kinesd log in the work directory and stops what runs."""
        self.ledger.close()
        if os.path.exists(self.server.log_path):
            shutil.copy(self.server.log_path, os.path.join(self.work_dir, "kinesd.log"))
        if failed:
            sys.stderr.write(self.server.log_tail(8000) + "\n")
        self.server.close()


def run_campaign(parser, harness_class, work_prefix):
    """Parses the options, runs one campaign and prints its SUMMARY line.
    Returns the exit status: 1 on any violation (with --expect-loss: when no
    loss was detected), else 0."""
    args = parser.parse_args()
    _check_arguments(args, parser)
    work_dir = tempfile.mkdtemp(prefix=work_prefix)
    harness = harness_class(args, work_dir)
    started = time.monotonic()
    failed = True
    try:
        harness.run()
        failed = bool(harness.violations)
        if args.expect_loss:
            failed = not harness.lost
            print("self-check: %s" % ("losses were detected, as expected" if not failed
                                      else "no loss was detected although one was expected"))
    except Exception:
        harness.gate.stop()
        raise
    finally:
        harness.close(failed)
        print(harness.summary(time.monotonic() - started), flush=True)
        if failed or args.keep:
            print("work directory kept: %s" % work_dir, flush=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0
