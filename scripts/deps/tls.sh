#!/usr/bin/env bash
# What the TLS tests (tests/integration/tls) need beyond the other suites:
# the openssl command, with which they make certificates of their own for
# --tls-cert. boto3, the AWS CLI, the JS SDK and the Java SDK come with the
# other suites' steps.
set -euo pipefail

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

if ! command -v openssl >/dev/null; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends openssl
fi
