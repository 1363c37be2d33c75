#!/usr/bin/env bash
# What the Firehose HTTP endpoint tests (tests/integration/httpdest) need
# beyond the other suites: the openssl command, which makes the https
# receiver's certificate. boto3 and the S3-compatible server come with the
# other suites' steps; the receiver is Python's standard library.
set -euo pipefail

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

if ! command -v openssl >/dev/null; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends openssl
fi
