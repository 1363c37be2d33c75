"""Consumer function: triggered by the `orders` stream, writes enriched orders to `orders-enriched`.

The handler is ordinary Lambda code: it reads event['Records'][i]['kinesis']['data'], works on each
record and writes the results to a second stream with boto3. It runs unchanged on AWS Lambda, in a
Lambda base image, or under the Runtime Interface Emulator next to kinesd.

With FunctionResponseTypes=[ReportBatchItemFailures] on the mapping, records the second stream refused
are reported by sequence number, so only they (and what follows them) are sent again.
"""
import base64
import json
import os

import boto3

OUTPUT_STREAM = os.environ.get("OUTPUT_STREAM", "orders-enriched")
_kinesis = boto3.client(
    "kinesis",
    endpoint_url=os.environ.get("KINESIS_ENDPOINT") or None,
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
)


def enrich(order):
    quantity = int(order.get("quantity", 1))
    price = float(order.get("price", 0))
    return {**order, "total": round(quantity * price, 2), "enriched": True}


def handler(event, context):
    entries, sequence_numbers, failures = [], [], []
    for record in event["Records"]:
        kinesis = record["kinesis"]
        try:
            order = json.loads(base64.b64decode(kinesis["data"]))
        except ValueError:
            # A record that is not JSON is passed on untouched rather than retried forever.
            order = {"raw": base64.b64decode(kinesis["data"]).decode("utf-8", "replace")}
        order["sourceSequenceNumber"] = kinesis["sequenceNumber"]
        entries.append({"Data": json.dumps(order if "raw" in order else enrich(order)).encode(),
                        "PartitionKey": kinesis["partitionKey"]})
        sequence_numbers.append(kinesis["sequenceNumber"])
    for start in range(0, len(entries), 500):
        chunk = entries[start:start + 500]
        answer = _kinesis.put_records(StreamName=OUTPUT_STREAM, Records=chunk)
        for i, result in enumerate(answer["Records"]):
            if "ErrorCode" in result:
                failures.append({"itemIdentifier": sequence_numbers[start + i]})
    return {"batchItemFailures": failures}
