"""A Firehose transformation function. Per record, by its data's prefix:
"drop:" -> Dropped, "fail:" -> ProcessingFailed, anything else -> Ok with the
data upper-cased and wrapped as b"T(<data>)", and metadata.partitionKeys
{"initial": first byte}. When EVENT_LOG is set, each event is appended to
that file as one JSON line, for the test to inspect."""
import base64
import json
import os


def handler(event, context):
    log = os.environ.get("EVENT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(event) + "\n")
    out = []
    for record in event["records"]:
        data = base64.b64decode(record["data"])
        if data.startswith(b"drop:"):
            out.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
        elif data.startswith(b"fail:"):
            out.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
        else:
            transformed = b"T(" + data.upper() + b")"
            out.append({"recordId": record["recordId"], "result": "Ok",
                        "data": base64.b64encode(transformed).decode(),
                        "metadata": {"partitionKeys": {"initial": data[:1].decode()}}})
    return {"records": out}
