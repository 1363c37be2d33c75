#!/usr/bin/env bash
# What the metrics tests (tests/metrics) need: prometheus_client from PyPI,
# whose parser reads kinesd's /metrics answer as Prometheus would.
#
# It goes into the interpreter the tests run with (the python3 on PATH that
# can import boto3, else Debian's; CMake picks it the same way) when that
# one takes packages, else (Debian's python3 is externally managed, PEP 668)
# into ~/.cache/kinesd/metrics-pylib, where the tests look for it.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

python=""
if command -v python3 >/dev/null && python3 -c "import boto3" 2>/dev/null; then
  python="$(command -v python3)"
else
  python=/usr/bin/python3
fi
"$python" -c "import prometheus_client.parser" 2>/dev/null && exit 0
"$python" -m pip --version >/dev/null 2>&1 || {
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-pip
}
if "$python" -c "import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')) else 1)"; then
  "$python" -m pip install --quiet --upgrade --target "${HOME}/.cache/kinesd/metrics-pylib" prometheus-client
else
  "$python" -m pip install --quiet prometheus-client
fi
