"""What the KPL tests run besides kinesd: a certificate for kinesd's TLS, a
loopback listener standing in for CloudWatch and STS (it counts connections:
the producer must make none), and the producer application (a JVM whose
Kinesis Producer Library starts its native daemon)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))

from kinesd_server import _die_with_parent  # noqa: E402

# Only a hung producer should reach it: a run takes seconds.
PRODUCER_TIMEOUT = 300.0


def _tail(path, max_chars=30000):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log)"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]


def _openssl(*args):
    result = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), result.stderr.decode()))
    return result.stdout.decode()


class Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, its key, and a CA
    directory holding it under its subject hash (what OpenSSL's CApath, and so
    the KPL's CaCertPath, looks up)."""

    def __init__(self, directory):
        self.cert = os.path.join(directory, "cert.pem")
        self.key = os.path.join(directory, "key.pem")
        self._make()
        self.ca_dir = self.hashed_dir(self.cert, os.path.join(directory, "ca"))

    @classmethod
    def existing(cls, cert, directory):
        """One made elsewhere (by kinesd): only its CA directory is made here."""
        if not os.path.isfile(cert):
            raise RuntimeError("no certificate at %s" % cert)
        self = cls.__new__(cls)
        self.cert, self.key = cert, None
        self.ca_dir = self.hashed_dir(cert, os.path.join(directory, "ca"))
        return self

    def _make(self):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=localhost", "-keyout", self.key, "-out", self.cert,
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-addext", "basicConstraints=critical,CA:TRUE")

    @staticmethod
    def hashed_dir(cert, directory):
        os.makedirs(directory, exist_ok=True)
        subject_hash = _openssl("x509", "-hash", "-noout", "-in", cert).strip()
        shutil.copyfile(cert, os.path.join(directory, subject_hash + ".0"))
        return directory


class ConnectionCounter:
    """A loopback TCP listener that accepts connections, counts them and closes
    them: the producer's CloudWatch and STS endpoints, which must stay unused."""

    def __init__(self):
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self._closed = True
        self._sock.close()


class ProducerRun:
    """One run of the producer application (kinesd.kpl.ProducerApp) to the end."""

    def __init__(self, work_dir, name, port, stream, count, keys, counter, verify=True,
                 ca_path=None, ca_file=None, record_ttl_ms=None):
        self.log_path = os.path.join(work_dir, name + ".log")
        self.out_path = os.path.join(work_dir, name + ".jsonl")
        # The KPL copies its native daemon (and its CA bundle) here, not into /tmp.
        temp_dir = os.path.join(work_dir, name + "-kpl")
        os.makedirs(temp_dir, exist_ok=True)
        command = [
            os.environ.get("KPL_JAVA", "java"), "-Xmx256m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-cp", _classpath(), "kinesd.kpl.ProducerApp",
            "--host", "127.0.0.1", "--port", str(port), "--stream", stream,
            "--count", str(count), "--keys", str(keys), "--verify", str(verify).lower(),
            "--temp-dir", temp_dir,
            "--cloudwatch-port", str(counter.port), "--sts-port", str(counter.port)]
        if ca_path:
            command += ["--ca-path", ca_path]
        if ca_file:
            command += ["--ca-file", ca_file]
        if record_ttl_ms:
            command += ["--record-ttl", str(record_ttl_ms)]
        env = dict(os.environ)
        # Neither the JVM nor the native daemon may look for credentials or a region
        # outside the test: no instance metadata, no profile of this machine.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        with open(self.log_path, "wb") as log, open(self.out_path, "wb") as out:
            log.write(("=== %s\n" % " ".join(command)).encode())
            log.flush()
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=log, env=env, preexec_fn=_die_with_parent,
                                       start_new_session=True)
            try:
                self.returncode = process.wait(timeout=PRODUCER_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
                raise AssertionError("the producer did not finish within %.0f s\n%s"
                                     % (PRODUCER_TIMEOUT, self.log_tail()))
        shutil.rmtree(temp_dir, ignore_errors=True)
        with open(self.out_path, "rb") as f:
            self.results = [json.loads(line) for line in f.read().decode().splitlines()
                            if line.strip()]

    def log_tail(self, max_chars=30000):
        return "--- producer log (%s) ---\n%s\n--- end ---" % (
            self.log_path, _tail(self.log_path, max_chars))

    def log_text(self):
        return _tail(self.log_path, 1 << 30)


def _classpath():
    path = os.environ.get("KPL_CLASSPATH_FILE")
    classes = os.environ.get("KPL_CLASSES_DIR")
    if not path or not classes:
        raise RuntimeError("KPL_CLASSPATH_FILE and KPL_CLASSES_DIR are not set (ctest sets them "
                           "after the kpl.build test has compiled the producer)")
    if not os.path.isfile(path):
        raise RuntimeError("%s is missing: the kpl.build test must run first" % path)
    with open(path) as f:
        return classes + os.pathsep + f.read().strip()

