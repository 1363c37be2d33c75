"""Transformation function of the `orders-to-s3` delivery stream.

Firehose (here kinesd) calls it with batches of records; it answers each recordId with a result:
Ok with the new data, Dropped for test orders, ProcessingFailed for records that are not JSON. Records
that failed land under the delivery stream's processing-failed error prefix instead of `rawdata/`.
"""
import base64
import json


def handler(event, context):
    out = []
    for record in event["records"]:
        try:
            order = json.loads(base64.b64decode(record["data"]))
        except ValueError:
            out.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        if order.get("test"):
            out.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
            continue
        row = {
            "order": order.get("id"),
            "customer": order.get("customer"),
            "total": order.get("total"),
            "arrived_ms": record.get("approximateArrivalTimestamp"),
        }
        data = base64.b64encode((json.dumps(row) + "\n").encode()).decode()
        out.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    return {"records": out}
