#!/usr/bin/env bash
# What the Kinesis Client Library tests (tests/java/kcl) need: a JDK 17+ and
# Maven, the consumer's Maven dependencies in ~/.m2 (the tests build offline),
# and moto's server, the DynamoDB-compatible server that holds the KCL's leases.
#
# moto goes into the interpreter the tests run with (the python3 on PATH that
# can import boto3, else Debian's; CMake picks it the same way). Debian's own
# python3 is externally managed (PEP 668), so for it moto goes into a venv of
# its own instead, ~/.cache/kinesd/moto-venv, where the tests look for it.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
if ! command -v mvn >/dev/null || ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    maven default-jdk-headless
fi

# Build the consumer once online: this fetches exactly the plugins and
# libraries that the offline build at test time uses.
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
(cd tests/java/kcl && mvn --batch-mode --quiet compile dependency:build-classpath \
   "-Dkcl.buildDir=$build_dir" "-Dmdep.outputFile=$build_dir/classpath.txt")

python=""
if command -v python3 >/dev/null && python3 -c "import boto3" 2>/dev/null; then
  python="$(command -v python3)"
else
  python=/usr/bin/python3
fi
if "$python" -c "import moto.server, flask, flask_cors" 2>/dev/null; then
  exit 0
fi
if "$python" -c "import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')) else 1)"; then
  dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" || {
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-venv
  }
  venv="${HOME}/.cache/kinesd/moto-venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade 'moto[server]'
else
  "$python" -m pip install --quiet 'moto[server]'
fi
