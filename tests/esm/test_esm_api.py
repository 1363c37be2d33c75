"""Lambda's event source mapping API on kinesd's port, through boto3's
`lambda` client: shapes, defaults, states, validation errors, paging, and
mappings kept across a restart."""
import time
import unittest

import botocore.exceptions

from esm_helpers import ACCOUNT, FUNCTION, REGION, RuntimeTestCase, wait_until

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class MappingApiTest(RuntimeTestCase):

    def error(self, call, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(**kwargs)
        return caught.exception.response

    def test_create_answers_lambdas_shape_and_defaults(self):
        _, arn = self.new_stream()
        before = time.time()
        m = self.lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                                 StartingPosition="LATEST")
        self.assertEqual(m["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertRegex(m["UUID"], UUID_PATTERN)
        self.assertEqual(m["State"], "Creating")
        self.assertEqual(m["StateTransitionReason"], "USER_INITIATED")
        self.assertEqual(m["FunctionArn"], "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION))
        self.assertEqual(m["EventSourceArn"], arn)
        self.assertEqual(m["EventSourceMappingArn"],
                         "arn:aws:lambda:%s:%s:event-source-mapping:%s" % (REGION, ACCOUNT, m["UUID"]))
        self.assertEqual((m["BatchSize"], m["MaximumBatchingWindowInSeconds"], m["ParallelizationFactor"]),
                         (100, 0, 1))
        self.assertEqual((m["MaximumRetryAttempts"], m["MaximumRecordAgeInSeconds"]), (-1, -1))
        self.assertFalse(m["BisectBatchOnFunctionError"])
        self.assertEqual(m["TumblingWindowInSeconds"], 0)
        self.assertEqual(m["FunctionResponseTypes"], [])
        self.assertEqual(m["DestinationConfig"], {"OnFailure": {}})
        self.assertEqual(m["StartingPosition"], "LATEST")
        self.assertNotIn("FilterCriteria", m)
        # boto3 parses LastModified (epoch seconds) into a datetime.
        self.assertLessEqual(abs(m["LastModified"].timestamp() - before), 5)
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled",
                   what="Enabled")
        got = self.lam.get_event_source_mapping(UUID=m["UUID"])
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(got["UUID"], m["UUID"])

    def test_every_setting_is_kept(self):
        _, arn = self.new_stream()
        pattern = '{"data": {"kind": ["a"]}}'
        m = self.map(arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1700000000,
                     BatchSize=7, MaximumBatchingWindowInSeconds=2, ParallelizationFactor=3,
                     BisectBatchOnFunctionError=True, MaximumRetryAttempts=4, MaximumRecordAgeInSeconds=120,
                     TumblingWindowInSeconds=30, FunctionResponseTypes=["ReportBatchItemFailures"],
                     FilterCriteria={"Filters": [{"Pattern": pattern}]},
                     DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failures"}})
        got = self.lam.get_event_source_mapping(UUID=m["UUID"])
        self.assertEqual(got["StartingPosition"], "AT_TIMESTAMP")
        self.assertEqual(got["StartingPositionTimestamp"].timestamp(), 1700000000)
        for key, value in [("BatchSize", 7), ("MaximumBatchingWindowInSeconds", 2), ("ParallelizationFactor", 3),
                           ("BisectBatchOnFunctionError", True), ("MaximumRetryAttempts", 4),
                           ("MaximumRecordAgeInSeconds", 120), ("TumblingWindowInSeconds", 30),
                           ("FunctionResponseTypes", ["ReportBatchItemFailures"]),
                           ("FilterCriteria", {"Filters": [{"Pattern": pattern}]}),
                           ("DestinationConfig", {"OnFailure": {"Destination": "arn:aws:s3:::failures"}})]:
            self.assertEqual(got[key], value, key)

    def test_update_disable_enable_and_delete_states(self):
        _, arn = self.new_stream()
        m = self.map(arn)
        up = self.lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=5)
        self.assertEqual(up["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertEqual((up["State"], up["BatchSize"]), ("Updating", 5))
        # In a transition, Lambda refuses another change.
        self.assertEqual(self.error(self.lam.update_event_source_mapping, UUID=m["UUID"], BatchSize=6)
                         ["Error"]["Code"], "ResourceInUseException")
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled", what="Enabled")
        off = self.lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
        self.assertEqual(off["State"], "Disabling")
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled", what="Disabled")
        on = self.lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
        self.assertEqual(on["State"], "Enabling")
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled", what="Enabled")
        gone = self.lam.delete_event_source_mapping(UUID=m["UUID"])
        self.assertEqual((gone["ResponseMetadata"]["HTTPStatusCode"], gone["State"]), (202, "Deleting"))

        def missing():
            try:
                self.lam.get_event_source_mapping(UUID=m["UUID"])
                return False
            except botocore.exceptions.ClientError as e:
                return e.response["Error"]["Code"] == "ResourceNotFoundException"
        wait_until(missing, what="the mapping to go")

    def test_list_filters_and_pages(self):
        _, arn = self.new_stream()
        _, other = self.new_stream()
        mine = [self.lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                                     StartingPosition="LATEST")["UUID"]]
        # Only one mapping per stream and function: a second one conflicts.
        err = self.error(self.lam.create_event_source_mapping, FunctionName=FUNCTION, EventSourceArn=arn,
                         StartingPosition="LATEST")
        self.assertEqual(err["Error"]["Code"], "ResourceConflictException")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=other, StartingPosition="LATEST")
        listed = self.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
        self.assertEqual([m["UUID"] for m in listed], mine)
        by_function = self.lam.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
        self.assertGreaterEqual(len(by_function), 2)
        pages, marker = [], None
        while True:
            kwargs = {"MaxItems": 1, "FunctionName": FUNCTION}
            if marker:
                kwargs["Marker"] = marker
            page = self.lam.list_event_source_mappings(**kwargs)
            self.assertLessEqual(len(page["EventSourceMappings"]), 1)
            pages += [m["UUID"] for m in page["EventSourceMappings"]]
            marker = page.get("NextMarker")
            if not marker:
                break
        self.assertEqual(pages, [m["UUID"] for m in by_function])

    def test_validation_errors(self):
        _, arn = self.new_stream()
        cases = [
            (dict(FunctionName="no-such-function", StartingPosition="LATEST"), "ResourceNotFoundException", 404),
            (dict(FunctionName=FUNCTION, StartingPosition="LATEST", BatchSize=10001), "ValidationException", 400),
            (dict(FunctionName=FUNCTION), "InvalidParameterValueException", 400),
            (dict(FunctionName=FUNCTION, StartingPosition="AT_TIMESTAMP"), "InvalidParameterValueException", 400),
            (dict(FunctionName=FUNCTION, StartingPosition="LATEST", ParallelizationFactor=11),
             "ValidationException", 400),
            (dict(FunctionName=FUNCTION, StartingPosition="LATEST", MaximumRecordAgeInSeconds=30),
             "InvalidParameterValueException", 400),
            (dict(FunctionName=FUNCTION, StartingPosition="LATEST",
                  FilterCriteria={"Filters": [{"Pattern": "not json"}]}), "InvalidParameterValueException", 400),
            (dict(FunctionName=FUNCTION, StartingPosition="LATEST",
                  EventSourceArn="arn:aws:kinesis:%s:%s:stream/absent" % (REGION, ACCOUNT)),
             "InvalidParameterValueException", 400),
        ]
        for kwargs, code, status in cases:
            kwargs.setdefault("EventSourceArn", arn)
            err = self.error(self.lam.create_event_source_mapping, **kwargs)
            self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]), (code, status),
                             kwargs)
            self.assertTrue(err["Error"]["Message"], kwargs)
        self.assertIn("Function not found: arn:aws:lambda:%s:%s:function:no-such-function" % (REGION, ACCOUNT),
                      self.error(self.lam.create_event_source_mapping, FunctionName="no-such-function",
                                 EventSourceArn=arn, StartingPosition="LATEST")["Error"]["Message"])
        err = self.error(self.lam.get_event_source_mapping, UUID="00000000-0000-4000-8000-000000000000")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("ResourceNotFoundException", 404))
        # botocore parses the modelled members of Lambda's error document.
        self.assertEqual((err.get("Type"), err.get("Message")),
                         ("User", "The resource you requested does not exist."))
        err = self.error(self.lam.create_event_source_mapping, FunctionName=FUNCTION, EventSourceArn=arn,
                         StartingPosition="LATEST", MaximumRecordAgeInSeconds=30)
        self.assertEqual(err.get("Type"), "User")
        self.assertTrue(err.get("message"))
        self.assertEqual(self.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"], [])

    def test_mappings_survive_a_restart(self):
        _, arn = self.new_stream()
        m = self.map(arn, BatchSize=9)
        self.server.stop()
        self.server.start()
        type(self).connect()
        got = self.lam.get_event_source_mapping(UUID=m["UUID"])
        self.assertEqual((got["State"], got["BatchSize"], got["EventSourceArn"]), ("Enabled", 9, arn))


if __name__ == "__main__":
    unittest.main(verbosity=2)
