"""Shared pieces of the event source mapping suites: a real Lambda runtime
(the Runtime Interface Emulator running handlers/recorder.py through
awslambdaric), kinesd started with that function registered, and readers
of what the function saw."""
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for extra in (os.path.join(ROOT, "tests", "integration"), os.path.join(ROOT, "tests", "functions")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import ACCOUNT, REGION, ServerLogOnFailure, make_client, unique_name  # noqa: E402
from lambda_runtime import LambdaRuntime, have_runtime  # noqa: E402

FUNCTION = "recorder"
HANDLERS = os.path.join(HERE, "handlers")


def wait_until(check, timeout=60.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class RuntimeTestCase(ServerLogOnFailure):
    """One recorder function under the real runtime and one kinesd that may
    invoke it, per class. Tests share them and use streams of their own."""

    kinesd_args = ()

    @classmethod
    def setUpClass(cls):
        # Missing is a failure, not a skip: install-deps.sh --test provides it.
        why = have_runtime()
        if why:
            raise RuntimeError(why)
        cls.work = __import__("tempfile").mkdtemp(prefix="kinesd-esm-")
        cls.log_path = os.path.join(cls.work, "seen.jsonl")
        cls.control_path = os.path.join(cls.work, "control.json")
        open(cls.log_path, "w").close()
        cls.runtime = LambdaRuntime(HANDLERS, "recorder.handler",
                                    env={"ESM_LOG": cls.log_path, "ESM_CONTROL": cls.control_path})
        cls.runtime.start()
        cls.server = None
        try:
            cls.server = KinesdServer(extra_args=cls.server_args())
        except Exception:
            cls.runtime.stop()
            raise
        cls.connect()

    @classmethod
    def server_args(cls):
        return ["--function", "%s=%s" % (FUNCTION, cls.runtime.invoke_url), "--log-level", "info"] + \
            list(cls.kinesd_args)

    @classmethod
    def connect(cls):
        cls.kinesis = make_client(cls.server.endpoint, "kinesis")
        cls.lam = make_client(cls.server.endpoint, "lambda")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server is not None:
                cls.server.close()
        finally:
            cls.runtime.stop()

    def set_control(self, **control):
        with open(self.control_path, "w") as f:
            json.dump(control, f)

    def new_stream(self, shards=1):
        name = unique_name("esm")
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        wait_until(lambda: self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                   ["StreamStatus"] == "ACTIVE", what="stream ACTIVE")
        arn = self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        return name, arn

    def map(self, arn, **settings):
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        m = self.lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn, **settings)
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled",
                   what="mapping Enabled")
        return m

    def events(self, arn):
        """Every event the function received for this stream, in order."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                event = json.loads(line)
                records = event.get("Records", [])
                source = records[0]["eventSourceARN"] if records else event.get("eventSourceARN")
                if source == arn:
                    out.append(event)
        return out

    def seen_records(self, arn):
        return [r for e in self.events(arn) for r in e.get("Records", [])]
