"""Runs one kinesd process for an integration test.

The binary comes from the environment variable KINESD_BIN. Each server gets a
free loopback port, a fresh temporary data directory (or the one it is given)
and a log file that collects its stdout and stderr, so a failing test can show
what the server said.

With KINESD_TEST_STORAGE=nats every server keeps its records in NATS
JetStream instead of RocksDB (see nats_storage.py): the same suites then
check the protocol on the other backend. A suite whose prerequisites for
that are missing exits with SKIPPED at import.

With KINESD_TEST_FRONT_ENDS=2 as well, a KinesdServer is two kinesd
processes on one JetStream prefix (each with its own data directory, so its
own node id), behind one address that hands each new connection to the next
of them (round_robin_proxy.py): `port` and `endpoint` are the proxy's, and
start, stop, kill9 and restart act on both. `process` is the first.
"""
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import nats_storage
from round_robin_proxy import RoundRobinProxy

nats_storage.exit_if_unavailable()

# Memory bounds are set for a normal build. Under AddressSanitizer the same
# server needs about twice the memory (shadow memory, quarantine), so the
# sanitizer job scales every bound by KINESD_MEMORY_BOUND_SCALE.
MEMORY_BOUND_SCALE = float(os.environ.get("KINESD_MEMORY_BOUND_SCALE", "1"))

_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """kinesd did not start, did not answer, or did not stop cleanly."""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    # If the test runner is killed (a ctest timeout, say), the server must not
    # outlive it and keep its port and data directory busy.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class KinesdServer:
    """One kinesd process.

    `data_dir=None` makes a temporary data directory that close() removes; a
    given directory is left in place. `extra_args` are appended to the command
    line on every start (for options such as a clock source).
    """

    def __init__(self, data_dir=None, extra_args=(), binary=None, start=True,
                 startup_timeout=60.0, _shared_prefix_dir=None):
        self.binary = binary or os.environ.get("KINESD_BIN")
        if not self.binary:
            raise ServerError("KINESD_BIN is not set: point it at the kinesd binary")
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise ServerError("KINESD_BIN=%r is not an executable file" % self.binary)
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self._work_dir = tempfile.mkdtemp(prefix="kinesd-itest-")
        if data_dir is None:
            self.data_dir = os.path.join(self._work_dir, "data")
            os.makedirs(self.data_dir)
        else:
            self.data_dir = data_dir
        self.log_path = os.path.join(self._work_dir, "kinesd.log")
        self.port = None
        self.process = None
        self._closed = False
        # Front ends besides this one, and the address in front of all.
        self._prefix_dir = _shared_prefix_dir or self.data_dir
        self._partners = []
        self._proxy = None
        self._own_port = None
        if start:
            self.start()

    # -- addresses -------------------------------------------------------------

    @property
    def host(self):
        return "127.0.0.1"

    @property
    def endpoint(self):
        if self.port is None:
            raise ServerError("the server has not been started")
        return "http://%s:%d" % (self.host, self.port)

    # -- life cycle ------------------------------------------------------------

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, extra_args=None):
        """Starts the server and waits until it answers HTTP.

        A restart tries the previous port first so that clients built for the
        old endpoint keep working; another free port is used if it is taken.
        """
        if self.running():
            raise ServerError("the server is already running")
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self._start_own()
        # A partner is one of the front ends, never the address of several.
        wanted = 1 if self._prefix_dir != self.data_dir else nats_storage.front_ends()
        if wanted <= 1:
            self.port = self._own_port
            return self
        while len(self._partners) < wanted - 1:
            self._partners.append(KinesdServer(binary=self.binary, extra_args=self.extra_args, start=False,
                                               startup_timeout=self.startup_timeout,
                                               _shared_prefix_dir=self._prefix_dir))
        for partner in self._partners:
            if not partner.running():
                partner.start(self.extra_args)
        backends = [self._own_port] + [p.port for p in self._partners]
        if self._proxy is None:
            self._proxy = RoundRobinProxy(backends, host=self.host)
        else:
            self._proxy.set_backends(backends)
        self.port = self._proxy.port
        return self

    def _start_own(self):
        # A port set before the first start (a test that must know it early)
        # is tried first, as a restart tries the last one.
        wanted = self._own_port or self.port
        ports = [wanted] if wanted else []
        ports += [free_port() for _ in range(3)]
        for port in ports:
            self._launch(port)
            if self._wait_ready():
                self._own_port = port
                return
            if self.running():
                self.kill9()
                raise ServerError(
                    "kinesd did not answer on port %d within %.0f s\n%s"
                    % (port, self.startup_timeout, self.log_tail()))
            # It exited during start-up; most likely the port was taken
            # between free_port() and bind(). Try another one.
        raise ServerError("kinesd exited during start-up (status %s)\n%s"
                          % (self.process.returncode, self.log_tail()))

    def _command(self, port):
        return [self.binary, "--host", self.host, "--port", str(port),
                "--data-dir", self.data_dir, "--log-level", "warn"] + \
            nats_storage.storage_args(self._prefix_dir) + self.extra_args

    def _launch(self, port):
        command = self._command(port)
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(command)).encode())
            log.flush()
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, start_new_session=True)
        self._probe_port = port

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._answers(self._probe_port):
                return True
            time.sleep(0.05)
        return False

    def _answers(self, port):
        # Any HTTP answer counts: the server is accepting and parsing requests.
        conn = http.client.HTTPConnection(self.host, port, timeout=5)
        try:
            conn.request("POST", "/", body=b"{}", headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "Kinesis_20131202.ListStreams"})
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def stop(self, timeout=30.0, check=True):
        """SIGTERM, then waits. Returns the exit status.

        With `check`, an exit status other than 0 (or a server that has to be
        killed) raises ServerError carrying the log.
        """
        # Front ends behind one address: the first status that is not 0
        # (the one that could not flush, say) is the answer.
        others = [partner.stop(timeout, check) for partner in self._partners]
        own = self._stop_own(timeout, check)
        return own or next((s for s in others if s), own)

    def _stop_own(self, timeout, check):
        if self.process is None or self.process.poll() is not None:
            return self._checked_exit(check)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise ServerError("kinesd did not exit within %.0f s of SIGTERM\n%s"
                              % (timeout, self.log_tail()))
        return self._checked_exit(check)

    def _checked_exit(self, check):
        if self.process is None:
            return None
        status = self.process.returncode
        if check and status != 0:
            raise ServerError("kinesd exited with status %s\n%s" % (status, self.log_tail()))
        return status

    def kill9(self):
        """Kills the server with SIGKILL: nothing gets a chance to flush."""
        for partner in self._partners:
            partner.kill9()
        if self.process is not None and self.process.poll() is None:
            # The whole process group, so that no helper process keeps the
            # port or the data directory open.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def restart(self, extra_args=None):
        """Stops (SIGTERM) a running server and starts it on the same data dir."""
        if self.running():
            self.stop()
        return self.start(extra_args)

    def close(self):
        """Stops the server if needed and removes the temporary files."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.running():
                self.stop(check=False)
        finally:
            self.kill9()
            for partner in self._partners:
                partner.close()
            if self._proxy is not None:
                self._proxy.close()
                sys.stderr.write("front ends served %s connections\n" % " and ".join(map(str, self._proxy.connections)))
            shutil.rmtree(self._work_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- logs ------------------------------------------------------------------

    def _own_log_text(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_text(self):
        """What every front end behind this address logged."""
        return self._own_log_text() + "".join(p.log_text() for p in self._partners)

    def log_tail(self, max_chars=20000):
        tails = []
        for server in [self] + self._partners:
            text = server._own_log_text()
            if len(text) > max_chars:
                text = "...\n" + text[-max_chars:]
            tails.append("--- kinesd log (%s) ---\n%s--- end of kinesd log ---" % (server.log_path, text))
        return "\n".join(tails)

    def dump_log(self, stream=None):
        stream = stream or sys.stderr
        stream.write(self.log_tail() + "\n")
        stream.flush()
