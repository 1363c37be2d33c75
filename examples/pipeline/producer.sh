#!/bin/sh
# An API-Gateway-style producer: plain HTTPS/HTTP POSTs of the Kinesis PutRecord
# action, as an API Gateway Kinesis integration or any curl user sends them.
#   KINESD_ENDPOINT=http://127.0.0.1:4567 COUNT=100 sh examples/pipeline/producer.sh
# Prints one SequenceNumber per acknowledged order; exits non-zero on the first refusal.
set -eu
endpoint=${KINESD_ENDPOINT:-http://kinesd:4567}
stream=${INPUT_STREAM:-orders}
count=${COUNT:-100}
first=${FIRST:-1}

i=$first
while [ "$i" -lt $((first + count)) ]; do
  customer="customer-$((i % 7))"
  order="{\"id\":$i,\"customer\":\"$customer\",\"quantity\":$((i % 5 + 1)),\"price\":$((i % 13 + 1)).5}"
  data=$(printf '%s' "$order" | base64 | tr -d '\n')
  answer=$(curl -sS --fail-with-body -X POST "$endpoint/" \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: Kinesis_20131202.PutRecord' \
    -d "{\"StreamName\":\"$stream\",\"PartitionKey\":\"$customer\",\"Data\":\"$data\"}")
  printf '%s\n' "$answer" | sed -n 's/.*"SequenceNumber":"\([0-9]*\)".*/\1/p'
  i=$((i + 1))
done
