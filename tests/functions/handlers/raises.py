"""A transformation function that always raises."""


def handler(event, context):
    raise RuntimeError("transformation exploded on %d records" % len(event["records"]))
