"""A Lambda handler for the event source mapping tests.

Every event it receives is appended, whole, as one JSON line to the file
ESM_LOG names, before it answers (so a line means "the function saw it").
What it answers is steered by the JSON file ESM_CONTROL names, read on
every call:
  {"poison": "<data>"}        raise when a record holds this data
  {"fail_once": ["<data>"]}   report these records in batchItemFailures the
                              first time each is seen
  {"bad_item": true}          answer a batchItemFailures entry without an id
Tumbling-window calls get back a state counting the records of the window.
"""
import base64
import json
import os

_reported = set()


def _control():
    path = os.environ.get("ESM_CONTROL")
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def handler(event, context):
    with open(os.environ["ESM_LOG"], "a") as log:
        log.write(json.dumps(event) + "\n")
    control = _control()
    records = event.get("Records", [])
    data = [base64.b64decode(r["kinesis"]["data"]).decode("utf-8", "replace") for r in records]
    if control.get("poison") and control["poison"] in data:
        raise ValueError("poison record")
    failures = []
    if control.get("bad_item") and records:
        failures.append({"itemIdentifier": ""})
    for record, text in zip(records, data):
        if text in control.get("fail_once", []) and text not in _reported:
            _reported.add(text)
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
    answer = {"batchItemFailures": failures}
    if "window" in event:
        answer["state"] = {"count": (event.get("state") or {}).get("count", 0) + len(records)}
    return answer
