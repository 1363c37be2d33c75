#!/usr/bin/env bash
# The steps of docker/Dockerfile, in one script so that a host without Docker
# can check them:
#   deps          installs the build dependencies, as scripts/install-deps.sh does
#   build DEST    configures and builds kinesd (Release), installs it under DEST
#   runtime       installs what the runtime image needs: kinesd's shared
#                 libraries, CA certificates and curl (for the health check)
#   check [BIN]   installs nothing: every package named here and in
#                 install-deps.sh exists (apt-cache show), the configure line
#                 works in a temporary directory, and, given a built kinesd,
#                 every library it loads comes from a runtime package or from
#                 one of their dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_packages=(librocksdb7.8 libspdlog1.10 libfmt9 libnghttp2-14 libsnappy1v5 libssl3 zlib1g libprometheus-cpp-core1.0 libjq1
                  libnats3.4 ca-certificates curl)
configure_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DKINESD_BUILD_TESTS=OFF)

build_packages() {
  sed -n '/^build_packages=(/,/)/p' scripts/install-deps.sh | sed 's/build_packages=//; s/[()]//g' | tr -s ' \n' '\n' |
    sed '/^$/d'
}

# The Debian package that holds a library file (usr-merged paths tried both ways).
package_of() {
  local path=$1
  for candidate in "$path" "${path#/usr}" "/usr$path"; do
    dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}

check() {
  local bin=${1:-} failed=0 p
  mapfile -t build < <(build_packages)
  [ ${#build[@]} -gt 0 ] || { echo "no build_packages list found in scripts/install-deps.sh" >&2; return 1; }
  for p in "${build[@]}" "${runtime_packages[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then echo "package $p: ok"; else echo "package $p: NOT FOUND" >&2; failed=1; fi
  done
  local tmp
  tmp=$(mktemp -d)
  if cmake -S . -B "$tmp/build" "${configure_args[@]}" >"$tmp/configure.log" 2>&1; then
    echo "configure: ok"
  else
    cat "$tmp/configure.log" >&2
    echo "configure: FAILED" >&2
    failed=1
  fi
  rm -rf "$tmp"
  if [ -n "$bin" ]; then
    # Everything the runtime packages bring, dependencies included.
    local closure
    closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
                --no-enhances "${runtime_packages[@]}" libc6 libstdc++6 libgcc-s1 2>/dev/null |
              sed -n 's/^ *\(Pre\)\?Depends: <\?\([^ >:]*\).*/\2/p; /^[^ ]/p' | sed 's/:.*//' | sort -u)
    while read -r lib path; do
      [ -n "$path" ] || continue
      # A sanitizer build's runtimes are no part of the image.
      case "$lib" in lib*san.so*|libclang_rt*) echo "library $lib: sanitizer runtime, skipped"; continue ;; esac
      p=$(package_of "$(readlink -f "$path")" || package_of "$path" || true)
      if [ -z "$p" ]; then echo "library $lib: no package owns $path" >&2; failed=1; continue; fi
      if grep -qx "$p" <<<"$closure"; then echo "library $lib: $p ok"; else
        echo "library $lib: $p is not among the runtime packages or their dependencies" >&2; failed=1; fi
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  fi
  return $failed
}

case "${1:-}" in
  deps)
    bash scripts/install-deps.sh
    ;;
  build)
    dest=${2:?usage: $0 build DEST}
    cmake -S . -B build "${configure_args[@]}"
    cmake --build build --target kinesd
    install -D -m 0755 build/kinesd "$dest/usr/local/bin/kinesd"
    install -D -m 0644 config/kinesd.json "$dest/etc/kinesd/kinesd.json"
    ;;
  runtime)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${runtime_packages[@]}"
    rm -rf /var/lib/apt/lists/*
    ;;
  check)
    check "${2:-}"
    ;;
  *)
    echo "usage: $0 deps | build DEST | runtime | check [KINESD_BINARY]" >&2
    exit 2
    ;;
esac
