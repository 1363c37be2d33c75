#!/usr/bin/env bash
# What tests/ops needs beyond the base test packages: PyYAML, to read
# docker/docker-compose.yml, for Debian's python3 and for the python3 on PATH
# (the integration tests use whichever of them has boto3).
set -euo pipefail
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
# docker/build-steps.sh check asks apt-cache about packages: it needs package lists.
if ! apt-cache show cmake >/dev/null 2>&1; then
  $sudo_cmd apt-get update -qq
fi
if ! dpkg-query -W -f='${Status}' python3-yaml 2>/dev/null | grep -q "install ok installed"; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-yaml
fi
if command -v python3 >/dev/null && ! python3 -c "import yaml" 2>/dev/null; then
  python3 -m pip install --quiet pyyaml
fi
