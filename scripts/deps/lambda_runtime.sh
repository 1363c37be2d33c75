#!/usr/bin/env bash
# What the function tests (tests/functions) need: a real Lambda runtime on
# loopback. That is the Runtime Interface Emulator (aws-lambda-rie, a Go
# program, built here from its module with `go install`) running Python
# handlers through awslambdaric (PyPI), the runtime interface client AWS's
# Python base images use.
#
# The binary goes to ~/.cache/kinesd/lambda-runtime/bin (KINESD_LAMBDA_RIE
# names another); awslambdaric into the interpreter the tests run with when
# it takes packages, else (PEP 668) into ~/.cache/kinesd/lambda-runtime/pylib,
# where tests/functions/lambda_runtime.py looks for both.
#
# Run after scripts/deps/go.sh, which provides a go that can switch itself to
# the release the emulator's go.mod asks for.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The emulator publishes no release tags the module proxy serves; this is the
# newest pseudo-version it has.
rie_module=github.com/aws/aws-lambda-runtime-interface-emulator
rie_version=v0.0.0-20261030222936-bef5c4ba774d
ric_version=4.2.2

cache="${HOME}/.cache/kinesd/lambda-runtime"
rie_bin="${KINESD_LAMBDA_RIE:-$cache/bin/aws-lambda-rie}"

go_bin=$(command -v go || true)
for candidate in /usr/local/go/bin/go /usr/local/bin/go; do
  [ -z "$go_bin" ] && [ -x "$candidate" ] && go_bin=$candidate
done
[ -n "$go_bin" ] || { echo "lambda_runtime.sh: no go on PATH (run scripts/deps/go.sh first)" >&2; exit 1; }

built_version() { "$go_bin" version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "'"$rie_module"'" { print $3 }'; }
if [ ! -x "$rie_bin" ] || [ "$(built_version "$rie_bin")" != "$rie_version" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$(dirname "$rie_bin")"
  # Outside any module, so the install neither reads nor changes a go.mod.
  (cd "$work" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$work" \
     "$go_bin" install "$rie_module/cmd/aws-lambda-rie@$rie_version")
  install -m 0755 "$work/aws-lambda-rie" "$rie_bin"
fi
echo "Lambda runtime: $rie_bin ($(built_version "$rie_bin"))"

python=""
if command -v python3 >/dev/null && python3 -c "import boto3" 2>/dev/null; then
  python="$(command -v python3)"
else
  python=/usr/bin/python3
fi
have_ric() { "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('awslambdaric') != '$ric_version')" 2>/dev/null; }
have_ric && exit 0
PYTHONPATH="$cache/pylib" have_ric && exit 0

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
"$python" -m pip --version >/dev/null 2>&1 || {
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-pip
}
if "$python" -c "import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')) else 1)"; then
  "$python" -m pip install --quiet --upgrade --target "$cache/pylib" "awslambdaric==$ric_version"
else
  "$python" -m pip install --quiet "awslambdaric==$ric_version"
fi
