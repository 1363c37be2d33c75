#!/usr/bin/env bash
# What the Firehose partitioning tests (tests/partitioning) need beyond the
# Firehose suites' own: aws-kinesis-agg from npm, which builds the KPL
# aggregated records the Kinesis-source test puts.
set -euo pipefail
cd "$(dirname "$0")/../.."
(cd tests/partitioning/js && npm ci --no-audit --no-fund --loglevel=error)
