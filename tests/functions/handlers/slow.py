"""A transformation function that runs past its timeout."""
import time


def handler(event, context):
    time.sleep(5)
    return {"records": []}
