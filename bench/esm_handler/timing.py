"""Handler for bench/esm_latency.py: appends, per invocation, the wall time
it was called at, the number of records and their data, to ESM_BENCH_LOG."""
import base64
import json
import os
import time


def handler(event, context):
    now = time.time()
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event.get("Records", [])]
    with open(os.environ["ESM_BENCH_LOG"], "a") as log:
        log.write(json.dumps({"t": now, "data": data}) + "\n")
    return {}
