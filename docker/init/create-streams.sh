#!/bin/sh
# Creates the Kinesis stream `events` and the Firehose delivery stream
# `events-to-s3` that copies it into the bucket; does nothing for what exists.
# Runs in the aws-cli image of docker-compose.yml, or anywhere with the AWS CLI:
#   KINESD_ENDPOINT=http://127.0.0.1:4567 sh docker/init/create-streams.sh
set -eu
endpoint=${KINESD_ENDPOINT:-http://kinesd:4567}
stream=${KINESIS_STREAM:-events}
delivery=${DELIVERY_STREAM:-events-to-s3}
bucket=${DELIVERY_BUCKET:-kinesd-delivery}
region=${AWS_DEFAULT_REGION:-us-east-1}
account=${KINESD_ACCOUNT_ID:-000000000000}
role="arn:aws:iam::${account}:role/firehose-delivery"

aws() { command aws --endpoint-url "$endpoint" --region "$region" "$@"; }

if ! aws kinesis describe-stream-summary --stream-name "$stream" >/dev/null 2>&1; then
  aws kinesis create-stream --stream-name "$stream" --shard-count 2
fi
aws kinesis wait stream-exists --stream-name "$stream"

if ! aws firehose describe-delivery-stream --delivery-stream-name "$delivery" >/dev/null 2>&1; then
  aws firehose create-delivery-stream --delivery-stream-name "$delivery" \
    --delivery-stream-type KinesisStreamAsSource \
    --kinesis-stream-source-configuration \
      "KinesisStreamARN=arn:aws:kinesis:${region}:${account}:stream/${stream},RoleARN=${role}" \
    --extended-s3-destination-configuration \
      "{\"RoleARN\":\"${role}\",\"BucketARN\":\"arn:aws:s3:::${bucket}\",\"Prefix\":\"${stream}/\",\"ErrorOutputPrefix\":\"errors/\",\"BufferingHints\":{\"SizeInMBs\":1,\"IntervalInSeconds\":60},\"CompressionFormat\":\"GZIP\",\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":\"AppendDelimiterToRecord\"}]}}"
fi
echo "stream ${stream} -> delivery stream ${delivery} -> s3://${bucket}/${stream}/"
