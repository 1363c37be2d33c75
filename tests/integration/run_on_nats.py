"""Runs a command (a JavaScript suite) with a JetStream server for its kinesd.

The Python suites start their own through kinesd_server.py; a suite in
another language gets one here, named by KINESD_TEST_NATS_URL, with
KINESD_TEST_STORAGE=nats. Exits with the command's status, or SKIPPED when
nothing can run on NATS here.

    python3 run_on_nats.py node --test kinesis.test.mjs
"""
import os
import subprocess
import sys

import nats_storage


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: run_on_nats.py COMMAND [ARG...]")
    os.environ["KINESD_TEST_STORAGE"] = "nats"
    nats_storage.exit_if_unavailable()
    env = dict(os.environ, KINESD_TEST_NATS_URL=nats_storage.server().url,
               KINESD_TEST_NATS_REPLICAS=str(min(3, nats_storage.cluster_nodes())))
    # Both the command and the JetStream server get SIGKILL if this process
    # is killed (a ctest timeout), so neither outlives the run.
    return subprocess.run(argv[1:], env=env, preexec_fn=nats_storage.die_with_parent).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
