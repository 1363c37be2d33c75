#!/bin/sh
# Creates the pipeline on a running kinesd with the AWS CLI; does nothing for what exists:
#   orders --(mapping: consumer)--> orders-enriched --(orders-to-s3: transform)--> s3://$BUCKET/rawdata/
#   KINESD_ENDPOINT=http://127.0.0.1:4567 BUCKET=pipeline sh examples/pipeline/setup.sh
# kinesd must know the two functions: --function consumer=URL --function transform=URL.
set -eu
endpoint=${KINESD_ENDPOINT:-http://kinesd:4567}
region=${AWS_DEFAULT_REGION:-us-east-1}
account=${KINESD_ACCOUNT_ID:-000000000000}
bucket=${BUCKET:-pipeline}
buffer_seconds=${BUFFER_SECONDS:-60}
role="arn:aws:iam::${account}:role/pipeline"

aws() { command aws --endpoint-url "$endpoint" --region "$region" "$@"; }

for stream in orders orders-enriched; do
  if ! aws kinesis describe-stream-summary --stream-name "$stream" >/dev/null 2>&1; then
    aws kinesis create-stream --stream-name "$stream" --shard-count 2
  fi
  aws kinesis wait stream-exists --stream-name "$stream"
done

source_arn="arn:aws:kinesis:${region}:${account}:stream/orders"
if [ -z "$(aws lambda list-event-source-mappings --function-name consumer --event-source-arn "$source_arn" \
             --query 'EventSourceMappings[0].UUID' --output text | grep -v None)" ]; then
  aws lambda create-event-source-mapping --function-name consumer --event-source-arn "$source_arn" \
    --starting-position TRIM_HORIZON --batch-size 100 --maximum-batching-window-in-seconds 1 \
    --function-response-types ReportBatchItemFailures >/dev/null
fi

if ! aws firehose describe-delivery-stream --delivery-stream-name orders-to-s3 >/dev/null 2>&1; then
  aws firehose create-delivery-stream --delivery-stream-name orders-to-s3 \
    --delivery-stream-type KinesisStreamAsSource \
    --kinesis-stream-source-configuration \
      "KinesisStreamARN=arn:aws:kinesis:${region}:${account}:stream/orders-enriched,RoleARN=${role}" \
    --extended-s3-destination-configuration "{
      \"RoleARN\": \"${role}\",
      \"BucketARN\": \"arn:aws:s3:::${bucket}\",
      \"Prefix\": \"rawdata/\",
      \"ErrorOutputPrefix\": \"errors/!{firehose:error-output-type}/\",
      \"BufferingHints\": {\"SizeInMBs\": 1, \"IntervalInSeconds\": ${buffer_seconds}},
      \"ProcessingConfiguration\": {\"Enabled\": true, \"Processors\": [{
        \"Type\": \"Lambda\",
        \"Parameters\": [
          {\"ParameterName\": \"LambdaArn\", \"ParameterValue\": \"arn:aws:lambda:${region}:${account}:function:transform\"},
          {\"ParameterName\": \"BufferIntervalInSeconds\", \"ParameterValue\": \"${buffer_seconds}\"}]}]}}"
fi
echo "orders -> consumer -> orders-enriched -> transform -> s3://${bucket}/rawdata/"
