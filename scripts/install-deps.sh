#!/usr/bin/env bash
# Installs what kinesd needs on Debian 12, from Debian's packages. Run as root.
# With --test it also installs what the test suite uses, each client from its
# own registry: boto3, the AWS CLI, the JS SDK v3 and an S3-compatible server
# (npm); maven, a JDK and the Java SDK v2 and KCL (scripts/deps/java.sh,
# scripts/deps/kcl.sh, with moto's DynamoDB-compatible server for the KCL's
# leases); golang and the Go SDK v2 (scripts/deps/go.sh); prometheus_client
# for the metrics tests (scripts/deps/metrics.sh). With --sanitize it
# also installs clang and its sanitizer and libFuzzer runtimes, for the
# sanitizer and fuzzing job.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
with_sanitize=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    --sanitize) with_sanitize=1 ;;
    *) echo "usage: $0 [--test] [--sanitize]" >&2; exit 2 ;;
  esac
done

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

build_packages=(g++ cmake ninja-build pkg-config libboost-dev nlohmann-json3-dev librocksdb-dev libspdlog-dev
                libssl-dev zlib1g-dev libsnappy-dev libzstd-dev libnghttp2-dev prometheus-cpp-dev libjq-dev libnats-dev)
test_packages=(libgtest-dev libgmock-dev python3 python3-boto3 awscli nodejs npm curl)
# llvm brings llvm-symbolizer, which turns sanitizer reports into file:line.
sanitize_packages=(clang libclang-rt-14-dev llvm)

missing=()
want=("${build_packages[@]}")
[ $with_tests -eq 1 ] && want+=("${test_packages[@]}")
[ $with_sanitize -eq 1 ] && want+=("${sanitize_packages[@]}")
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian; what matters is that they run.
if [ $with_tests -eq 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ $with_tests -eq 1 ]; then
  bash scripts/deps/nats.sh
  (cd tests/integration/js && npm ci --no-audit --no-fund --loglevel=error)
  # s3rver: the S3-compatible server the Firehose delivery tests write into.
  (cd tests/integration/s3 && npm ci --no-audit --no-fund --loglevel=error)
  bash scripts/deps/java.sh
  bash scripts/deps/kcl.sh
  bash scripts/deps/kpl.sh
  bash scripts/deps/go.sh
  bash scripts/deps/ops.sh
  bash scripts/deps/metrics.sh
  bash scripts/deps/tls.sh
  bash scripts/deps/channels.sh
  bash scripts/deps/lambda_runtime.sh
  bash scripts/deps/partitioning.sh
  bash scripts/deps/firehose_http.sh
fi
