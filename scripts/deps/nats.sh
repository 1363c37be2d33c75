#!/usr/bin/env bash
# The servers the tests of the NATS JetStream storage backend (--storage
# nats) run against; the C client kinesd links (libnats-dev) is a build
# package of scripts/install-deps.sh. Two servers: Debian's
# nats-server (2.9.10) and the current release built from its Go module into
# ${XDG_CACHE_HOME:-~/.cache}/kinesd/nats-server-<version>/nats-server, where
# the suite looks for it (or KINESD_NATS_SERVER_CURRENT names another). Both
# steps do nothing when their result is already there.
set -euo pipefail

current_version=2.15.3

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

packages=(nats-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

target_dir="${XDG_CACHE_HOME:-$HOME/.cache}/kinesd/nats-server-$current_version"
if [ -x "$target_dir/nats-server" ] && "$target_dir/nats-server" --version | grep -q "v$current_version"; then
  exit 0
fi

go_bin=""
for candidate in "$(command -v go || true)" /usr/local/go/bin/go /usr/local/bin/go /usr/lib/go/bin/go; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then go_bin="$candidate"; break; fi
done
if [ -z "$go_bin" ]; then
  # scripts/deps/go.sh installs a go recent enough; Debian's can switch
  # itself to the release the server's go.mod asks for.
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends golang-go ca-certificates
  go_bin=$(command -v go)
fi
mkdir -p "$target_dir"
# Built outside any module, so no go.mod of ours decides versions.
(cd "$target_dir" && GOTOOLCHAIN=auto GOBIN="$target_dir" GOFLAGS=-mod=mod \
   "$go_bin" install "github.com/nats-io/nats-server/v2@v$current_version")
"$target_dir/nats-server" --version
