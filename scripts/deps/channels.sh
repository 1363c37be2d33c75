#!/usr/bin/env bash
# The channel suite (tests/integration/channels) drives kinesd with the AWS
# SDK for JavaScript v3 release that was newest when it was written, pinned by
# its lock file so that a run is reproducible. To check a newer release, raise
# the versions in package.json, run `npm install` there and run the suite: an
# operation the release adds and kinesd lacks shows up as a failure.
#
# New releases raise the Node.js they need. When the Node on PATH is older
# than what the installed client declares (engines.node), this installs a
# newer Node from the npm registry into tests/integration/channels/.node; the
# suite's ctest command runs that one when it is there.
set -euo pipefail
cd "$(dirname "$0")/../../tests/integration/channels"
npm ci --no-audit --no-fund --loglevel=error
need=$(node -p 'const e = require("./node_modules/@aws-sdk/client-kinesis/package.json").engines?.node ?? ""; (e.match(/\d+/) ?? ["0"])[0]')
have=$(node -p 'process.versions.node.split(".")[0]')
if [ "$have" -lt "$need" ]; then
  npm install --no-audit --no-fund --loglevel=error --no-package-lock --prefix .node "node@$need"
  .node/node_modules/.bin/node --version
fi
