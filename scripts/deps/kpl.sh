#!/usr/bin/env bash
# What the Kinesis Producer Library tests (tests/java/kpl) need: a JDK 17+ and
# Maven, the producer's Maven dependencies in ~/.m2 (the tests build offline; the
# KPL's jar carries its native daemon), and openssl, which makes a test's
# certificate. The tests also read back with the KCL consumer, whose dependencies
# scripts/deps/kcl.sh installs.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
missing=()
if ! command -v mvn >/dev/null || ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
  missing+=(maven default-jdk-headless)
fi
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Build the producer once online: this fetches exactly the plugins and libraries
# that the offline build at test time uses.
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
(cd tests/java/kpl && mvn --batch-mode --quiet compile dependency:build-classpath \
   "-Dkpl.buildDir=$build_dir" "-Dmdep.outputFile=$build_dir/classpath.txt")
