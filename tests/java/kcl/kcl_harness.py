"""What the KCL tests run besides kinesd: a DynamoDB-compatible server for the
leases (moto's server), a loopback listener standing in for CloudWatch that
counts the calls it gets, and the KCL consumer application (a JVM) with the
record log it writes."""
import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))

import boto3  # noqa: E402

from kinesd_server import free_port, _die_with_parent  # noqa: E402

# Only a hung process should ever reach these.
START_TIMEOUT = 60.0
PROCESS_TIMEOUT = 180.0


def _tail(path, max_chars=30000):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log)"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


# Where scripts/deps/kcl.sh puts moto when the test interpreter is externally
# managed (PEP 668) and cannot take it.
MOTO_VENV_PYTHON = os.path.join(os.path.expanduser("~"), ".cache", "kinesd", "moto-venv",
                                "bin", "python")


def _moto_python():
    """An interpreter that has moto's server with its extras."""
    candidates = [os.environ.get("KCL_MOTO_PYTHON"), sys.executable, MOTO_VENV_PYTHON]
    for python in [c for c in candidates if c]:
        if os.access(python, os.X_OK) and subprocess.run(
                [python, "-c", "import moto.server, flask, flask_cors"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return python
    raise RuntimeError("no interpreter with moto's server (tried %s): run "
                       "scripts/install-deps.sh --test" % ", ".join(c for c in candidates if c))


class DynamoServer:
    """moto's server on a free loopback port, holding the KCL's lease tables."""

    def __init__(self):
        python = _moto_python()
        self._dir = tempfile.mkdtemp(prefix="kcl-moto-")
        self.log_path = os.path.join(self._dir, "moto.log")
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, start_new_session=True)
        self.endpoint = "http://127.0.0.1:%d" % self.port
        client = boto3.session.Session().client(
            "dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("moto's server exited\n" + _tail(self.log_path))
            try:
                client.list_tables()
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("moto's server did not answer\n" + _tail(self.log_path))
                time.sleep(0.2)

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class CallCounter:
    """A loopback HTTP listener that answers every request with 500 and counts
    them: the KCL's CloudWatch endpoint, which must never be called."""

    def __init__(self):
        counter = self
        self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                counter.calls.append((self.command, self.path, body[:200]))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class Consumer:
    """One run of the KCL consumer application (kinesd.kcl.ConsumerApp)."""

    def __init__(self, work_dir, kinesis, dynamodb, cloudwatch, stream, app, worker, mode,
                 record_log):
        classpath = _classpath()
        self.worker = worker
        self.log_path = os.path.join(work_dir, "consumer-%s.log" % worker)
        self.record_log = record_log
        command = [
            os.environ.get("KCL_JAVA", "java"),
            "-Xmx384m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + os.environ.get("KCL_LOG_LEVEL", "info"),
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
            "-cp", classpath, "kinesd.kcl.ConsumerApp",
            "--kinesis", kinesis, "--dynamodb", dynamodb, "--cloudwatch", cloudwatch,
            "--stream", stream, "--app", app, "--worker", worker, "--mode", mode,
            "--out", record_log.path]
        env = dict(os.environ)
        # The SDK must not reach for instance metadata or a profile of this machine.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(command)).encode())
            log.flush()
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, preexec_fn=_die_with_parent, start_new_session=True)

    def running(self):
        return self.process.poll() is None

    def log_tail(self, max_chars=30000):
        return "--- consumer %s log (%s) ---\n%s\n--- end ---" % (
            self.worker, self.log_path, _tail(self.log_path, max_chars))

    def log_text(self):
        return _tail(self.log_path, 1 << 30)

    def kill9(self):
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout=60.0):
        """SIGTERM: the application shuts the Scheduler down gracefully."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError("consumer did not exit within %.0f s of SIGTERM\n%s"
                                     % (timeout, self.log_tail()))


def _classpath():
    path = os.environ.get("KCL_CLASSPATH_FILE")
    classes = os.environ.get("KCL_CLASSES_DIR")
    if not path or not classes:
        raise RuntimeError("KCL_CLASSPATH_FILE and KCL_CLASSES_DIR are not set (ctest sets them "
                           "after the kcl.build test has compiled the consumer)")
    if not os.path.isfile(path):
        raise RuntimeError("%s is missing: the kcl.build test must run first" % path)
    with open(path) as f:
        return classes + os.pathsep + f.read().strip()


class RecordLog:
    """Reads the consumer's record log (see LoggingRecordProcessor)."""

    def __init__(self, path):
        self.path = path
        open(path, "ab").close()

    def events(self):
        with open(self.path, "rb") as f:
            text = f.read().decode("utf-8")
        # A line still being written has no newline yet: leave it for the next read.
        lines = text.split("\n")[:-1]
        return [line.split("\t") for line in lines]

    def records(self):
        """(shard, partition key, data, sequence number) in the order processed."""
        return [tuple(e[1:5]) for e in self.events() if e[0] == "R"]
