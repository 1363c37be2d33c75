"""Runs the integration suites on the NATS JetStream backend.

With KINESD_TEST_STORAGE=nats, each test process gets its JetStream: one
single-node `nats-server -js`, or with KINESD_TEST_NATS_NODES=3 a cluster of
three (tests/cluster/nats_cluster.py) and streams replicated three times, on
free loopback ports with temporary store directories, started when the first
kinesd needs it and stopped when the process exits (or dies: the servers get
SIGKILL with their parent). Every kinesd then runs with --storage nats
against it; KINESD_TEST_FRONT_ENDS=2 makes kinesd_server.py put two of them
behind each test server's address.

Each kinesd's --nats-prefix is derived from its data directory, so a test
that starts kinesd again on the same directory (after a kill -9, say) finds
its streams again, while two servers with their own directories share
nothing.

Binary: KINESD_NATS_SERVER, else nats-server on PATH (Debian's package);
with KINESD_TEST_NATS_FLAVOUR=current a current release instead. A process
that cannot run on NATS (no nats-server, or kinesd built without the
backend) exits with SKIPPED when kinesd_server is imported, which the ctest
registration of the nats.* suites treats as a skip.
"""
import atexit
import ctypes
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIPPED = 77

# What a kinesd built without the backend says when asked for it.
NO_BACKEND_TEXT = "built without the NATS JetStream backend"

_PR_SET_PDEATHSIG = 1


def enabled():
    return os.environ.get("KINESD_TEST_STORAGE", "rocksdb") == "nats"


def cluster_nodes():
    """nats-server processes per test process: 1, or a cluster of 3 with
    KINESD_TEST_NATS_NODES=3."""
    return int(os.environ.get("KINESD_TEST_NATS_NODES", "1"))


def front_ends():
    """kinesd processes behind each test server's address (KINESD_TEST_FRONT_ENDS,
    default 1; see kinesd_server.py)."""
    return int(os.environ.get("KINESD_TEST_FRONT_ENDS", "1")) if enabled() else 1


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent():
    # The store must not outlive a test runner killed by a ctest timeout.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def built_current():
    """The newest nats-server scripts/deps/nats.sh built into the user's
    cache (<cache>/kinesd/nats-server-<version>/nats-server), or None."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    found = []
    for path in glob.glob(os.path.join(cache, "kinesd", "nats-server-*", "nats-server")):
        version = os.path.basename(os.path.dirname(path))[len("nats-server-"):]
        try:
            found.append((tuple(int(p) for p in version.split(".")), path))
        except ValueError:
            continue
    return max(found)[1] if found else None


def nats_server_binary():
    """(path, None), or (None, why there is none). KINESD_TEST_NATS_FLAVOUR=current
    asks for a current release (KINESD_NATS_SERVER_CURRENT, else the one
    scripts/deps/nats.sh --test built)."""
    if os.environ.get("KINESD_TEST_NATS_FLAVOUR") == "current":
        found = os.environ.get("KINESD_NATS_SERVER_CURRENT") or built_current()
        if found and os.access(found, os.X_OK):
            return found, None
        return None, "no current nats-server (scripts/deps/nats.sh --test builds one)"
    wanted = os.environ.get("KINESD_NATS_SERVER")
    if wanted:
        found = shutil.which(wanted)
        return (found, None) if found else (None, "KINESD_NATS_SERVER=%r is not executable" % wanted)
    found = shutil.which("nats-server") or shutil.which("/usr/sbin/nats-server")
    return (found, None) if found else (
        None, "no nats-server on PATH (Debian's package nats-server; scripts/deps/nats.sh installs it)")


def kinesd_backend_missing(binary):
    """Why `binary` cannot run on NATS, or None.

    Whether the backend is compiled in shows only when kinesd is asked to
    use it, so it is asked to, against a port where nothing listens: a kinesd
    with the backend fails to connect, one without it says so.
    """
    try:
        help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return "cannot run %s: %s" % (binary, e)
    if "--storage" not in help_text.stdout + help_text.stderr:
        return "kinesd has no --storage option"
    data_dir = tempfile.mkdtemp(prefix="kinesd-nats-probe-")
    try:
        probe = subprocess.run(
            [binary, "--host", "127.0.0.1", "--port", str(_free_port()), "--data-dir", data_dir,
             "--storage", "nats", "--nats-url", "nats://127.0.0.1:%d" % _free_port(),
             "--nats-replicas", "1", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        return None  # it got past opening the store, so the backend is there
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if NO_BACKEND_TEXT in probe.stdout + probe.stderr:
        return "kinesd was " + NO_BACKEND_TEXT
    return None


def unavailable():
    """Why the suites cannot run on NATS here, or None."""
    _, why = nats_server_binary()
    if why:
        return why
    binary = os.environ.get("KINESD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        return None  # KinesdServer reports this as the error it is
    return kinesd_backend_missing(binary)


def exit_if_unavailable():
    if not enabled():
        return
    why = unavailable()
    if why:
        sys.stderr.write("SKIPPED: cannot run on NATS JetStream: %s\n" % why)
        sys.stderr.flush()
        sys.exit(SKIPPED)



def nats_config(directory):
    """A configuration file kinesd needs besides the flags: messages large
    enough for every Kinesis record (10 MiB and its framing; the default is
    1 MiB, on which kinesd refuses to start)."""
    path = os.path.join(directory, "nats.conf")
    with open(path, "w") as f:
        f.write("max_payload: 12MB\n")
    return path

class NatsServer:
    """One single-node JetStream server for this process."""

    def __init__(self, binary, ready_timeout=60.0):
        self.binary = binary
        self.work_dir = tempfile.mkdtemp(prefix="kinesd-itest-nats-")
        self.store_dir = os.path.join(self.work_dir, "store")
        self.log_path = os.path.join(self.work_dir, "nats-server.log")
        self.ready_timeout = ready_timeout
        self.process = None
        self.port = None

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def start(self):
        for _ in range(3):
            self.port, self.monitor_port = _free_port(), _free_port()
            command = [self.binary, "-c", nats_config(self.work_dir), "-a", "127.0.0.1", "-p", str(self.port),
                       "-m", str(self.monitor_port), "-js", "-sd", self.store_dir]
            with open(self.log_path, "ab") as log:
                log.write(("=== %s\n" % " ".join(command)).encode())
                log.flush()
                self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                                start_new_session=True)
            if self._wait_ready():
                return self
            self.kill()  # most likely a port was taken meanwhile: try others
        raise RuntimeError("nats-server did not start\n%s" % self.log_tail())

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        url = "http://127.0.0.1:%d/healthz?js-enabled-only=true" % self.monitor_port
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if json.loads(answer.read()).get("status") == "ok":
                        return True
            except (OSError, ValueError, urllib.error.HTTPError):
                pass
            time.sleep(0.05)
        return False

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_tail(self, max_chars=6000):
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", "replace")[-max_chars:]
        except FileNotFoundError:
            return ""


_server = None
_lock = threading.Lock()


class _Cluster:
    """Several nodes forming one JetStream cluster (tests/cluster/nats_cluster.py)."""

    def __init__(self, binary, size):
        cluster_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster")
        if cluster_dir not in sys.path:
            sys.path.insert(0, cluster_dir)
        import nats_cluster  # imported late: it imports kinesd_server, which imports this module
        self._cluster = nats_cluster.NatsCluster(binary, size=size)
        sys.stderr.write("JetStream: nats-server %s, %d nodes\n" % (self._cluster.version, size))

    @property
    def url(self):
        return self._cluster.urls

    def close(self):
        self._cluster.close()


def server():
    """This process's nats-server (or cluster), started on first use."""
    global _server
    with _lock:
        if _server is None:
            binary, why = nats_server_binary()
            if why:
                raise RuntimeError(why)
            if cluster_nodes() > 1:
                started = _Cluster(binary, cluster_nodes())
                atexit.register(started.close)
                _server = started
            else:
                started = NatsServer(binary)
                atexit.register(started.close)
                _server = started.start()
        return _server


def prefix_for(data_dir):
    # JetStream names allow [A-Za-z0-9_-] only; a digest of the path is short
    # and the same on every start on that directory.
    digest = hashlib.sha1(os.path.realpath(data_dir).encode()).hexdigest()[:12]
    return "kt" + digest


def storage_args(data_dir):
    """Extra kinesd options for the storage under test: none for RocksDB."""
    if not enabled():
        return []
    replicas = min(3, cluster_nodes())
    return ["--storage", "nats", "--nats-url", server().url, "--nats-replicas", str(replicas),
            "--nats-prefix", prefix_for(data_dir)]
