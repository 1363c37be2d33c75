"""A real Lambda runtime on loopback for tests: the Runtime Interface Emulator
(aws-lambda-rie) running a Python handler through awslambdaric.

    with LambdaRuntime(handler_dir, "module.handler", env={"K": "V"}) as fn:
        requests.post(fn.invoke_url, data=event)   # or kinesd --function NAME=fn.invoke_url

Where the pieces come from (scripts/deps/lambda_runtime.sh installs both):
the emulator binary is $KINESD_LAMBDA_RIE, else
~/.cache/kinesd/lambda-runtime/bin/aws-lambda-rie, else aws-lambda-rie on PATH;
awslambdaric is imported by the python running this file, with
~/.cache/kinesd/lambda-runtime/pylib added to its path when that exists.

How the emulator behaves (its classic mode, the one used here):
- It listens on --runtime-interface-emulator-address for
  POST /2015-03-31/functions/function/invocations and serves the Runtime API
  the runtime polls on --runtime-api-address. Both get a free loopback port
  here, so several runtimes can run side by side.
- The runtime starts on the first invocation (its init time is part of that
  invocation), not when the emulator starts; readiness here means the port
  accepts connections.
- One invocation at a time. A second invocation that arrives while one runs
  is refused ("ReserveFailed: AlreadyReserved") and, in the version installed,
  the emulator then dies of a nil pointer dereference. Callers must
  serialise: kinesd's invoker keeps one connection, hence one invocation in
  flight, per URL by default.
- A function that raises is answered with HTTP 200, awslambdaric's error
  document ({"errorMessage", "errorType", "requestId", "stackTrace"}) and no
  X-Amz-Function-Error header, unlike Lambda itself. A function that runs past
  AWS_LAMBDA_FUNCTION_TIMEOUT (seconds, `timeout=` here) is answered with HTTP
  200 and the text "Task timed out after N.00 seconds"; the next invocation
  then runs normally.
- A caller that gives up before the function returns (its own timeout) leaves
  the invocation running in the emulator, and an invocation sent before that
  one ends meets the refusal above. Keep the function's `timeout` below the
  caller's invoke timeout.
- Sequential invocations over one keep-alive connection cost about 1 ms each
  with a trivial handler.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "kinesd", "lambda-runtime")


def find_emulator():
    """Path of aws-lambda-rie, or None."""
    candidates = [os.environ.get("KINESD_LAMBDA_RIE"), os.path.join(_CACHE, "bin", "aws-lambda-rie"),
                  shutil.which("aws-lambda-rie")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return None


def _python_path():
    parts = [p for p in [os.environ.get("PYTHONPATH", "")] if p]
    pylib = os.path.join(_CACHE, "pylib")
    if os.path.isdir(pylib):
        parts.insert(0, pylib)
    return os.pathsep.join(parts)


def have_runtime():
    """Why a runtime cannot start here (a sentence), or None when it can."""
    if not find_emulator():
        return "aws-lambda-rie not found (run scripts/deps/lambda_runtime.sh)"
    env = dict(os.environ, PYTHONPATH=_python_path())
    probe = subprocess.run([sys.executable, "-c", "import awslambdaric"], env=env, capture_output=True)
    if probe.returncode != 0:
        return "awslambdaric does not import (run scripts/deps/lambda_runtime.sh)"
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LambdaRuntime:
    def __init__(self, handler_dir, handler, env=None, timeout=30, function_name="test_function"):
        self.handler_dir = os.path.abspath(handler_dir)
        self.handler = handler
        self.env = dict(env or {})
        self.timeout = timeout
        self.function_name = function_name
        self.port = None
        self.invoke_url = None
        self._process = None
        self._log = None

    def start(self):
        emulator = find_emulator()
        if not emulator:
            raise RuntimeError("aws-lambda-rie not found (run scripts/deps/lambda_runtime.sh)")
        self.port, api_port = _free_port(), _free_port()
        self._log = tempfile.NamedTemporaryFile(prefix="lambda-runtime-", suffix=".log", delete=False)
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": _python_path(),
            "LAMBDA_TASK_ROOT": self.handler_dir,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(self.timeout)),
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
            "LOG_LEVEL": "warn",
        })
        env.update(self.env)
        self._process = subprocess.Popen(
            [emulator, "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{api_port}",
             sys.executable, "-m", "awslambdaric", self.handler],
            cwd=self.handler_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"aws-lambda-rie exited ({self._process.returncode}):\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("aws-lambda-rie did not listen within 20 s")
                time.sleep(0.05)
        self.invoke_url = f"http://127.0.0.1:{self.port}{INVOKE_PATH}"
        return self

    def running(self):
        return self._process is not None and self._process.poll() is None

    def log(self):
        if not self._log:
            return ""
        with open(self._log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self._process is None:
            return
        if self._process.poll() is None:
            # The runtime is the emulator's child, in the session started for it.
            try:
                os.killpg(self._process.pid, 15)
                self._process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self._process.pid, 9)
                except ProcessLookupError:
                    pass
                self._process.wait()
        self._process = None

    def close(self):
        self.stop()
        if self._log:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False
