"""A transformation function that answers with recordIds it was not given."""


def handler(event, context):
    return {"records": [{"recordId": "not-" + r["recordId"], "result": "Ok", "data": r["data"]}
                        for r in event["records"]]}
