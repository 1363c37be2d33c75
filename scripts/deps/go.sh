#!/usr/bin/env bash
# What the AWS SDK for Go v2 tests in tests/go need: a Go toolchain at least
# as new as their go.mod asks, every module they use in the module cache (so
# the tests never fetch), and the test binary compiled once into the build
# cache (so ctest does not spend minutes compiling the SDK).
#
# Debian 12's golang-go is Go 1.19 and bookworm-backports stops at 1.23, while
# the SDK's modules need Go 1.24. A go of 1.21 or later switches itself to the
# needed release (GOTOOLCHAIN=auto fetches the golang.org/toolchain module
# from the module proxy); for an older go this script fetches that same module
# with it and puts the release's go on PATH as /usr/local/bin/go.
set -euo pipefail
cd "$(dirname "$0")/../../tests/go"
# A go that is older than go.mod asks switches to the release it names.
export GOTOOLCHAIN=auto

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

required=$(awk '$1 == "go" { print $2; exit }' go.mod)
# A language version such as 1.24 names the release 1.24.0.
[ "$(tr -cd . <<<"$required")" = "." ] && required="$required.0"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
# The go command's own release, never one it would switch to: asked outside
# any module, with switching off.
release_of() { (cd "$work" && GOTOOLCHAIN=local "$1" env GOVERSION) | sed 's/^go//'; }

find_go() {
  local candidate
  for candidate in "$(command -v go || true)" /usr/local/go/bin/go /usr/local/bin/go /usr/lib/go/bin/go; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
}

go_bin=$(find_go)
if [ -z "$go_bin" ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends golang-go ca-certificates
  go_bin=$(find_go)
fi
have=$(release_of "$go_bin")
if ! at_least "$have" "$required" && ! at_least "$have" 1.21; then
  # Too old to switch by itself: fetch the release as a module, the way a
  # newer go would, and use it from the module cache.
  toolchain="golang.org/toolchain@v0.0.1-go$required.$("$go_bin" env GOHOSTOS)-$("$go_bin" env GOHOSTARCH)"
  if ! (cd "$work" && GO111MODULE=on GOFLAGS=-mod=mod "$go_bin" mod download -json "$toolchain" >"$work/toolchain.json"); then
    cat "$work/toolchain.json" >&2
    exit 1
  fi
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$work/toolchain.json")
  [ -f "$dir/bin/go" ] || { echo "no go in $toolchain (at '$dir')" >&2; exit 1; }
  # Module zips carry no file modes; the release's programs must run.
  $sudo_cmd chmod a+x "$dir"/bin/* "$dir"/pkg/tool/*/*
  $sudo_cmd ln -sf "$dir/bin/go" /usr/local/bin/go
  go_bin=/usr/local/bin/go
fi
echo "Go SDK tests: $("$go_bin" version) (go.mod asks for $required)"

"$go_bin" mod download
"$go_bin" vet .
"$go_bin" test -c -o "$work/sdk.test" .
