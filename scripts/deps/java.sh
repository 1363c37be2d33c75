#!/usr/bin/env bash
# What the Java SDK tests (tests/java) need: Maven and a JDK from Debian, then
# every artifact the Maven project uses, fetched into the local Maven
# repository (~/.m2/repository) so that ctest can run Maven offline. The local
# repository is the cache: a second run downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

missing=()
command -v mvn >/dev/null || missing+=(maven)
command -v javac >/dev/null || missing+=(default-jdk-headless)
if [ ${#missing[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# go-offline misses what plugins resolve only when they run (the compiler's
# back end, Surefire's JUnit Platform provider), so compile the tests and run
# the one that needs no server, in a throw-away build directory.
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
mvn -q -B -f tests/java/sdk/pom.xml -Dkinesd.buildDir="$build_dir" \
  dependency:go-offline test-compile surefire:test \
  -Dtest=EventStreamFramesTest
