"""Pieces shared by the crash-loop harnesses: self-checking payloads, the
record-size mix, a gate that lets the killer quiesce the producers, and the
kill/restart campaign loop.

A payload says which record it is and carries a digest of its own body, so a
reader can tell a lost, duplicated or damaged record without any other state:

    CL1 <id> <sha256 of body, hex> <body length>|<body>
"""
import argparse
import hashlib
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

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


def client(session, service, endpoint, read_timeout=30, **kwargs):
    """A client that never retries: a retried put could store a record twice
    under an id the harness already counts as acknowledged once."""
    config = botocore.config.Config(
        retries={"mode": "standard", "max_attempts": 1},
        connect_timeout=3, read_timeout=read_timeout, tcp_keepalive=True)
    return session.client(service, endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id=kwargs.get("key", "test"),
                          aws_secret_access_key=kwargs.get("secret", "test"), config=config)


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


def check_binary(args, parser):
    if not args.kinesd:
        parser.error("give --kinesd PATH or set KINESD_BIN")
    if not os.access(args.kinesd, os.X_OK):
        parser.error("%s is not an executable file" % args.kinesd)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2 ** 32)
    if not 0 <= args.min_load <= args.max_load:
        parser.error("need 0 <= --min-load <= --max-load")
    print("seed %d (rerun with --seed %d)" % (args.seed, args.seed), flush=True)


def clean_stop(server, violation, label):
    """SIGTERM must end the server with status 0; anything else (a crash on
    the way out, a hang) is a violation, not a harness error."""
    try:
        server.stop()
    except ServerError as error:
        violation("%s: %s" % (label, str(error).split("\n")[0]))
        server.kill9()


def kill_loop(args, server, gate, endpoint, on_restart, log=print):
    """Kills the server `args.kills` times at random moments of load and
    restarts it on the same data directory. Between the restart and the next
    stretch of load the producers are held and `on_restart(round)` runs.
    Returns the number of restarts done."""
    rng = random.Random(args.seed ^ 0x5EED)
    for round_number in range(1, args.kills + 1):
        time.sleep(rng.uniform(args.min_load, args.max_load))
        server.kill9()
        gate.pause()
        started = time.monotonic()
        server.start()
        endpoint.set(server.endpoint)
        on_restart(round_number)
        log("kill %d/%d: restarted and checked in %.1f s"
            % (round_number, args.kills, time.monotonic() - started))
        gate.resume()
    return args.kills
