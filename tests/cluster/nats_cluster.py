"""A JetStream cluster of real nats-server processes on loopback, for tests
and benchmarks, and the kinesd front ends that share it.

Each node gets free ports (clients, cluster routes, monitoring), its own
store directory, server name and log file; all nodes route to each other and
form one cluster. The cluster is ready once every node has JetStream enabled
and agrees on a meta leader. A node can be killed with SIGKILL and started
again on the same ports and store directory, as a machine that lost power
and came back would be.

What runs where is asked of the monitoring endpoint (/jsz): it answers the
same way on nats-server 2.9 and current 2.x, and needs no NATS client.

Binaries: KINESD_NATS_SERVER (default: nats-server on PATH, Debian's
package) and KINESD_NATS_SERVER_CURRENT (default: the newest release
scripts/deps/nats.sh --test built into the user's cache directory).
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_INTEGRATION = os.path.join(ROOT, "tests", "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

from kinesd_server import KinesdServer, ServerError, free_port  # noqa: E402
from nats_storage import built_current as _built_current, nats_config  # noqa: E402


# What a kinesd built without the backend answers to --storage nats.
NO_BACKEND_TEXT = "built without the NATS JetStream backend"

_PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster did not form, or a node did not come back."""


def _die_with_parent():
    # A test runner killed by a timeout must not leave servers behind.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


# -- which binaries ---------------------------------------------------------------


def _executable(path):
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def find_nats_server(flavour):
    """(path, None) of the nats-server binary of `flavour` ("debian" or
    "current"), or (None, why not)."""
    if flavour == "debian":
        wanted = os.environ.get("KINESD_NATS_SERVER")
        if wanted:
            found = _executable(wanted) or _executable(shutil.which(wanted) or "")
            return (found, None) if found else (None, "KINESD_NATS_SERVER=%r is not executable" % wanted)
        found = shutil.which("nats-server") or _executable("/usr/sbin/nats-server")
        return (found, None) if found else (
            None, "no nats-server on PATH (Debian's package nats-server; scripts/deps/nats.sh installs it)")
    if flavour == "current":
        wanted = os.environ.get("KINESD_NATS_SERVER_CURRENT")
        if wanted:
            found = _executable(wanted)
            return (found, None) if found else (None, "KINESD_NATS_SERVER_CURRENT=%r is not executable" % wanted)
        found = _executable(_built_current())
        return (found, None) if found else (
            None, "no current nats-server: scripts/deps/nats.sh --test builds one into the user's cache "
                  "(or set KINESD_NATS_SERVER_CURRENT)")
    raise ValueError("unknown nats-server flavour %r" % flavour)


def server_version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    text = (out.stdout + out.stderr).strip()
    return text.rsplit(" ", 1)[-1] if text else "unknown"


def kinesd_nats_support(binary=None):
    """None when kinesd can run on NATS, else why not (for a skip message).

    --help tells whether the storage option exists at all; whether the
    backend was compiled in shows only when a start is refused, which
    start_frontends() reports the same way.
    """
    binary = binary or os.environ.get("KINESD_BIN")
    if not binary:
        return "KINESD_BIN is not set"
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return "cannot run %s: %s" % (binary, e)
    text = out.stdout + out.stderr
    if "--storage" not in text:
        return "kinesd has no --storage option: built before the NATS JetStream backend existed"
    if NO_BACKEND_TEXT in text:
        return "kinesd was " + NO_BACKEND_TEXT
    return None


class NoBackend(RuntimeError):
    """kinesd refused --storage nats because the backend is not compiled in."""


# -- one node ---------------------------------------------------------------------


class NatsNode:
    def __init__(self, binary, name, cluster_name, work_dir):
        self.binary = binary
        self.name = name
        self.cluster_name = cluster_name
        self.store_dir = os.path.join(work_dir, name, "store")
        self.log_path = os.path.join(work_dir, name, "nats-server.log")
        os.makedirs(self.store_dir)
        self.new_ports()
        self.routes = []
        self.process = None

    def new_ports(self):
        self.client_port = free_port()
        self.route_port = free_port()
        self.monitor_port = free_port()

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.client_port

    @property
    def pid(self):
        return self.process.pid if self.running() else None

    def running(self):
        return self.process is not None and self.process.poll() is None

    def command(self):
        return [self.binary, "-c", nats_config(os.path.dirname(self.store_dir)),
                "-a", "127.0.0.1", "-p", str(self.client_port), "-m", str(self.monitor_port),
                "-n", self.name, "-js", "-sd", self.store_dir,
                "--cluster_name", self.cluster_name,
                "--cluster", "nats://127.0.0.1:%d" % self.route_port,
                "--routes", ",".join(self.routes)]

    def start(self):
        if self.running():
            raise ClusterError("%s is already running" % self.name)
        command = self.command()
        with open(self.log_path, "ab") as log:
            log.write(("=== %s\n" % " ".join(command)).encode())
            log.flush()
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                            start_new_session=True)

    def kill9(self):
        if self.running():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout=15.0):
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def monitor(self, path, timeout=5.0):
        """The JSON answer of a monitoring path, or None when it gives none."""
        url = "http://127.0.0.1:%d%s" % (self.monitor_port, path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as e:
            try:
                return json.loads(e.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None

    def log_tail(self, max_chars=6000):
        try:
            with open(self.log_path, "rb") as log:
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            text = ""
        return "--- %s log ---\n%s\n--- end of %s log ---" % (self.name, text[-max_chars:], self.name)


# -- the cluster ------------------------------------------------------------------


class NatsCluster:
    """`size` nats-server processes forming one JetStream cluster."""

    def __init__(self, binary, size=3, start=True, ready_timeout=60.0):
        self.binary = binary
        self.version = server_version(binary)
        self.work_dir = tempfile.mkdtemp(prefix="kinesd-nats-")
        self.cluster_name = "c" + uuid.uuid4().hex[:8]
        self.nodes = [NatsNode(binary, "n%d" % (i + 1), self.cluster_name, self.work_dir) for i in range(size)]
        self._route_all()
        self.ready_timeout = ready_timeout
        if start:
            self.start()

    @property
    def urls(self):
        return ",".join(n.url for n in self.nodes)

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def _route_all(self):
        routes = ["nats://127.0.0.1:%d" % n.route_port for n in self.nodes]
        for node in self.nodes:
            node.routes = routes

    def _all_listening(self, timeout=15.0):
        """True once every node answers on its monitoring port; False as soon
        as one has exited (most likely a port another process took between
        choosing it and binding it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not all(n.running() for n in self.nodes):
                return False
            if all(n.monitor("/varz", timeout=1.0) is not None for n in self.nodes):
                return True
            time.sleep(0.05)
        return all(n.running() for n in self.nodes)

    def start(self):
        try:
            for attempt in range(3):
                for node in self.nodes:
                    node.start()
                if self._all_listening():
                    break
                # Every node on new ports: each knows the others' routes.
                for node in self.nodes:
                    node.kill9()
                    node.new_ports()
                    # A cluster that half formed leaves peers in the stores.
                    shutil.rmtree(node.store_dir, ignore_errors=True)
                    os.makedirs(node.store_dir)
                self._route_all()
            self.wait_ready()
        except Exception:
            self.close()
            raise
        return self

    def _meta_leader(self, node):
        jsz = node.monitor("/jsz")
        meta = (jsz or {}).get("meta_cluster") or {}
        return meta.get("leader") or None

    def wait_ready(self, timeout=None):
        """Waits until every running node has JetStream up and all name the
        same meta leader; returns its name."""
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while True:
            # A node killed on purpose does not count; the rest must agree.
            live = [n for n in self.nodes if n.running()]
            healthy = all((n.monitor("/healthz?js-enabled-only=true") or {}).get("status") == "ok" for n in live)
            leaders = {self._meta_leader(n) for n in live}
            if healthy and len(leaders) == 1 and None not in leaders:
                return leaders.pop()
            if time.monotonic() > deadline:
                raise ClusterError("JetStream cluster not ready after %.0f s (meta leaders seen: %r)\n%s"
                                   % (timeout or self.ready_timeout, leaders, self.logs()))
            time.sleep(0.1)

    def streams(self, prefix=""):
        """{stream name: (leader name, messages)} for streams whose name starts
        with `prefix`, as the running nodes report them. A node's own claim to
        lead a stream wins over what the others last heard."""
        seen = {}
        for node in self.nodes:
            if not node.running():
                continue
            jsz = node.monitor("/jsz?accounts=true&streams=true") or {}
            for account in jsz.get("account_details") or []:
                for stream in account.get("stream_detail") or []:
                    name = stream.get("name", "")
                    if not name.startswith(prefix):
                        continue
                    leader = (stream.get("cluster") or {}).get("leader")
                    messages = (stream.get("state") or {}).get("messages", 0)
                    old = seen.get(name)
                    if old is None or leader == node.name or (old[0] is None and leader):
                        seen[name] = (leader, max(messages, old[1] if old else 0))
                    else:
                        seen[name] = (old[0], max(messages, old[1]))
        return seen

    def stream_leader(self, stream, timeout=30.0):
        """The node leading `stream`, once one running node claims it."""
        deadline = time.monotonic() + timeout
        while True:
            leader = self.streams(stream).get(stream, (None, 0))[0]
            for node in self.nodes:
                if node.name == leader and node.running():
                    return node
            if time.monotonic() > deadline:
                raise ClusterError("no running node leads stream %s after %.0f s" % (stream, timeout))
            time.sleep(0.1)

    def busiest_shard_stream(self, prefix):
        """Name of the stream under `prefix` holding the most messages, key-value
        buckets (KV_...) aside: the stream of a shard under load."""
        candidates = {name: v for name, v in self.streams("").items()
                      if prefix in name and not name.startswith("KV_")}
        if not candidates:
            raise ClusterError("no JetStream stream with %r in its name; streams: %r"
                               % (prefix, sorted(self.streams(""))))
        return max(candidates, key=lambda name: candidates[name][1])

    def kill9(self, node):
        node.kill9()

    def restart(self, node, timeout=60.0):
        """Starts a killed node again on its ports and store directory and
        waits until it serves JetStream and has caught up (/healthz)."""
        node.start()
        deadline = time.monotonic() + timeout
        while True:
            if not node.running():
                raise ClusterError("%s exited during restart\n%s" % (node.name, node.log_tail()))
            if (node.monitor("/healthz") or {}).get("status") == "ok":
                break
            if time.monotonic() > deadline:
                raise ClusterError("%s not healthy %.0f s after restart: %r\n%s"
                                   % (node.name, timeout, node.monitor("/healthz"), node.log_tail()))
            time.sleep(0.1)
        self.wait_ready(timeout)

    def cpu_seconds(self):
        """user + system CPU seconds of each running node, by name."""
        return {n.name: proc_cpu_seconds(n.pid) for n in self.nodes if n.running()}

    def logs(self):
        return "\n".join(n.log_tail() for n in self.nodes)

    def close(self):
        for node in self.nodes:
            node.stop()
        for node in self.nodes:
            node.kill9()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc/<pid>/stat."""
    if pid is None:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- kinesd front ends --------------------------------------------------------------


def nats_args(cluster, prefix, replicas=3, extra=()):
    return ["--storage", "nats", "--nats-url", cluster.urls, "--nats-replicas", str(replicas),
            "--nats-prefix", prefix] + list(extra)


def start_frontends(cluster, prefix, count=2, replicas=3, extra=()):
    """`count` kinesd processes sharing the cluster under `prefix`. Raises
    NoBackend when kinesd refuses --storage nats for want of the backend."""
    servers = []
    try:
        for _ in range(count):
            server = KinesdServer(start=False, extra_args=nats_args(cluster, prefix, replicas, extra))
            servers.append(server)
            try:
                server.start()
            except ServerError as e:
                if NO_BACKEND_TEXT in str(e) or NO_BACKEND_TEXT in server.log_text():
                    raise NoBackend("kinesd was " + NO_BACKEND_TEXT) from None
                raise
        return servers
    except BaseException:
        for server in servers:
            server.close()
        raise


def unique_prefix(label="t"):
    # JetStream names allow no dots, spaces or wildcards; hex is safe.
    return "%s%s" % (label, uuid.uuid4().hex[:10])
