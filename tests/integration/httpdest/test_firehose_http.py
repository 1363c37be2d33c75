"""Firehose HTTP endpoint destination, seen from outside: a receiver on
loopback (http_receiver.py) checks every request kinesd sends against the
delivery specification and answers as each test says; the backup bucket
is read back from the S3-compatible server. Also the S3 destination's
source-record backup, and the control plane's answers to bad settings.

No assertion depends on speed: waits are generous, times are lower bounds.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from firehose_helpers import DELIVERY_TIMEOUT, ROLE_ARN, FirehoseTestCase, bucket_arn  # noqa: E402
from http_receiver import Receiver  # noqa: E402
from kinesis_helpers import ACCOUNT, REGION, create_stream, stream_arn, unique_name, wait_active, wait_until  # noqa: E402
from test_firehose import NEWLINE, numbered, split_lines  # noqa: E402

# A request that gets no answer is given up after this (--firehose-http-timeout).
HTTP_TIMEOUT_S = 2


def make_cert(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def firehose_arn(name):
    return "arn:aws:firehose:%s:%s:deliverystream/%s" % (REGION, ACCOUNT, name)


def error_documents(objects):
    return [json.loads(line) for _, body in objects for line in body.split(b"\n") if line]


class HttpEndpointTestCase(FirehoseTestCase):
    """One S3 server, one plain and one https receiver, one kinesd that
    trusts the https receiver's certificate."""

    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="kinesd-httpdest-")
        cert, key = make_cert(cls.cert_dir)
        cls.receiver = Receiver()
        cls.tls_receiver = Receiver(tls_cert=cert, tls_key=key)
        cls.kinesd_args = ("--firehose-http-timeout", "%ds" % HTTP_TIMEOUT_S, "--firehose-http-ca-file", cert)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.close()
            cls.tls_receiver.close()
            shutil.rmtree(cls.cert_dir, ignore_errors=True)

    def setUp(self):
        self.receiver.reset()
        self.tls_receiver.reset()

    def create_http(self, backup_bucket, receiver=None, name=None, retry_s=300, backup_mode=None, interval=0,
                    size_mb=1, access_key=None, attributes=None, encoding=None, stream_type=None, source=None,
                    s3_prefix=None):
        receiver = receiver or self.receiver
        name = name or unique_name("fhh")
        endpoint = {"Url": receiver.url, "Name": "test receiver"}
        if access_key is not None:
            endpoint["AccessKey"] = access_key
        config = {"EndpointConfiguration": endpoint, "RoleARN": ROLE_ARN,
                  "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval},
                  "RetryOptions": {"DurationInSeconds": retry_s},
                  "S3Configuration": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(backup_bucket)}}
        if s3_prefix is not None:
            config["S3Configuration"]["Prefix"] = s3_prefix
        request = {}
        if attributes is not None:
            request["CommonAttributes"] = [{"AttributeName": k, "AttributeValue": v} for k, v in attributes.items()]
        if encoding is not None:
            request["ContentEncoding"] = encoding
        if request:
            config["RequestConfiguration"] = request
        if backup_mode is not None:
            config["S3BackupMode"] = backup_mode
        kwargs = {"DeliveryStreamName": name, "HttpEndpointDestinationConfiguration": config}
        if stream_type is not None:
            kwargs["DeliveryStreamType"] = stream_type
            kwargs["KinesisStreamSourceConfiguration"] = {"KinesisStreamARN": stream_arn(source), "RoleARN": ROLE_ARN}
        self.firehose.create_delivery_stream(**kwargs)
        receiver.expect(firehose_arn(name), access_key=access_key, common_attributes=attributes,
                        gzip_body=encoding == "GZIP")
        return name

    def assertClean(self, receiver):
        for q in receiver.snapshot():
            self.assertEqual(q.problems, [], "request %s broke the specification" % q.request_id)

    def wait_records(self, receiver, payloads):
        wanted = set(payloads)
        ok = receiver.wait_for(lambda reqs: wanted <= {r for q in reqs if q.answer == "ok" for r in q.records},
                               DELIVERY_TIMEOUT)
        got = set(receiver.accepted_records())
        self.assertTrue(ok, "%d of %d records reached the receiver" % (len(wanted & got), len(wanted)))

    def wait_error_docs(self, bucket, count):
        def enough():
            docs = error_documents(self.objects(bucket, prefix="http-endpoint-failed/"))
            return docs if len(docs) >= count else None
        return wait_until(enough, "%d failed records in s3://%s/http-endpoint-failed/" % (count, bucket),
                          DELIVERY_TIMEOUT, 0.25)


class DeliveryTest(HttpEndpointTestCase):

    def test_put_record_batch_reaches_the_endpoint_with_every_header(self):
        bucket = self.new_bucket()
        attributes = {"team": "data", "env": "test \"quoted\""}
        name = self.create_http(bucket, access_key="k3y/with spaces+=", attributes=attributes)
        payloads = numbered("direct", 1200)
        self.put_batch(name, payloads)
        self.wait_records(self.receiver, payloads)
        self.assertClean(self.receiver)
        self.assertEqual(sorted(self.receiver.accepted_records()), sorted(payloads))
        # Nothing failed: the backup bucket stays empty (FailedDataOnly).
        self.assertEqual(self.keys(bucket), [])
        with urllib.request.urlopen(self.server.endpoint + "/metrics", timeout=30) as res:
            text = res.read().decode()
        series = 'firehose_delivery_to_http_endpoint_records_total{account="%s",delivery_stream="%s"}' % (ACCOUNT, name)
        line = [l for l in text.splitlines() if l.startswith(series)]
        self.assertEqual(len(line), 1, "no %s in /metrics" % series)
        self.assertEqual(float(line[0].split()[-1]), len(payloads))

    def test_gzip_content_encoding(self):
        bucket = self.new_bucket()
        name = self.create_http(bucket, encoding="GZIP")
        payloads = numbered("gz", 300)
        self.put_batch(name, payloads)
        self.wait_records(self.receiver, payloads)
        self.assertClean(self.receiver)
        self.assertTrue(all(q.headers.get("content-encoding") == "gzip" for q in self.receiver.snapshot()))

    def test_https_endpoint_verified_against_the_configured_ca(self):
        bucket = self.new_bucket()
        name = self.create_http(bucket, receiver=self.tls_receiver)
        payloads = numbered("tls", 100)
        self.put_batch(name, payloads)
        self.wait_records(self.tls_receiver, payloads)
        self.assertClean(self.tls_receiver)

    def test_kinesis_stream_as_source(self):
        bucket = self.new_bucket()
        source = unique_name("src")
        create_stream(self.kinesis, source, 2)
        wait_active(self.kinesis, source)
        name = self.create_http(bucket, stream_type="KinesisStreamAsSource", source=source)
        payloads = numbered("ks", 400)
        for start in range(0, len(payloads), 100):
            result = self.kinesis.put_records(
                StreamName=source,
                Records=[{"Data": p, "PartitionKey": "pk%d" % i} for i, p in enumerate(payloads[start:start + 100])])
            self.assertEqual(result["FailedRecordCount"], 0)
        self.wait_records(self.receiver, payloads)
        self.assertClean(self.receiver)

    def test_update_destination_moves_delivery_to_the_new_endpoint(self):
        bucket = self.new_bucket()
        name = self.create_http(bucket, access_key="old-key")
        first = numbered("before", 50)
        self.put_batch(name, first)
        self.wait_records(self.receiver, first)
        d = self.describe(name)
        self.firehose.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"],
            DestinationId=d["Destinations"][0]["DestinationId"],
            HttpEndpointDestinationUpdate={
                "EndpointConfiguration": {"Url": self.tls_receiver.url, "AccessKey": "new-key"},
                "RequestConfiguration": {"ContentEncoding": "GZIP",
                                         "CommonAttributes": [{"AttributeName": "v", "AttributeValue": "2"}]}})
        self.tls_receiver.expect(firehose_arn(name), access_key="new-key", common_attributes={"v": "2"},
                                 gzip_body=True)
        second = numbered("after", 50)
        self.put_batch(name, second)
        self.wait_records(self.tls_receiver, second)
        self.assertClean(self.receiver)
        self.assertClean(self.tls_receiver)
        self.assertFalse(set(second) & set(self.receiver.accepted_records()))

    def test_all_data_also_goes_to_the_backup_bucket(self):
        bucket = self.new_bucket()
        name = self.create_http(bucket, backup_mode="AllData", s3_prefix="all/")
        payloads = numbered("all", 200)
        self.put_batch(name, payloads)
        self.wait_records(self.receiver, payloads)
        objects = self.wait_for_bytes(bucket, sum(len(p) for p in payloads), prefix="all/")
        self.assertEqual(b"".join(sorted(body for _, body in objects)).count(b"all:"), len(payloads))
        backed_up = b"".join(body for _, body in objects)
        for p in payloads:
            self.assertIn(p, backed_up)
        self.assertEqual(self.keys(bucket, "http-endpoint-failed/"), [])


class RetryTest(HttpEndpointTestCase):

    def test_retries_keep_the_request_id_and_back_off(self):
        bucket = self.new_bucket()
        self.receiver.answer_with("500", "302", "wrong_id", "not_json", default="ok")
        name = self.create_http(bucket, retry_s=600)
        payloads = numbered("retry", 50)
        self.put_batch(name, payloads)
        self.wait_records(self.receiver, payloads)
        self.assertClean(self.receiver)
        reqs = self.receiver.snapshot()
        self.assertEqual([q.answer for q in reqs], ["500", "302", "wrong_id", "not_json", "ok"])
        self.assertEqual(len({q.request_id for q in reqs}), 1, "a retry changed the request id")
        # 1 s doubling with 15 % jitter: at least 0.85, 1.7, 3.4, 6.8 s apart.
        gaps = [b.received - a.received for a, b in zip(reqs, reqs[1:])]
        for gap, least in zip(gaps, [0.85, 1.7, 3.4, 6.8]):
            self.assertGreaterEqual(gap, least * 0.95, gaps)
        # The 302's Location was not followed: no request came from it.
        self.assertEqual(len(reqs), 5)
        self.assertEqual(self.keys(bucket), [])

    def test_no_answer_times_out_and_is_retried(self):
        bucket = self.new_bucket()
        self.receiver.answer_with("hang", default="ok")
        name = self.create_http(bucket, retry_s=600)
        payloads = numbered("hang", 20)
        self.put_batch(name, payloads)
        self.wait_records(self.receiver, payloads)
        reqs = self.receiver.snapshot()
        self.assertEqual([q.answer for q in reqs][:2], ["hang", "ok"])
        self.assertEqual(reqs[0].request_id, reqs[1].request_id)
        self.assertGreaterEqual(reqs[1].received - reqs[0].received, HTTP_TIMEOUT_S)
        self.assertClean(self.receiver)

    def test_failures_past_the_retry_duration_go_to_the_backup_bucket(self):
        bucket = self.new_bucket()
        self.receiver.answer_with(default="500")
        name = self.create_http(bucket, retry_s=4)
        payloads = numbered("fail", 30)
        self.put_batch(name, payloads)
        # While it fails, DescribeDeliveryStream says so.
        failure = wait_until(lambda: self.describe(name).get("FailureDescription"), "a FailureDescription",
                             DELIVERY_TIMEOUT, 0.2)
        self.assertEqual(failure["Type"], "UNKNOWN_ERROR")
        self.assertIn("500", failure["Details"])
        docs = self.wait_error_docs(bucket, len(payloads))
        reqs = self.receiver.snapshot()
        self.assertGreaterEqual(len(reqs), 2)
        self.assertEqual(len({q.request_id for q in reqs}), 1)
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(payloads))
        for d in docs:
            self.assertEqual(d["errorCode"], "HttpEndpoint.DestinationException")
            self.assertGreaterEqual(d["attemptsMade"], 2)
            self.assertLessEqual(d["arrivalTimestamp"], d["attemptEndingTimestamp"])
            self.assertEqual(d["requestId"], reqs[0].request_id)
        self.assertClean(self.receiver)
        # Once the batch is in the backup bucket, the stream is healthy again.
        wait_until(lambda: "FailureDescription" not in self.describe(name), "the failure cleared",
                   DELIVERY_TIMEOUT, 0.2)

    def test_413_goes_to_the_backup_bucket_at_once(self):
        bucket = self.new_bucket()
        self.receiver.answer_with(default="413")
        self.create_http(bucket, retry_s=7200)
        payloads = numbered("big", 10)
        name = self.receiver.expected["source_arn"].rsplit("/", 1)[1]
        self.put_batch(name, payloads)
        docs = self.wait_error_docs(bucket, len(payloads))
        self.assertEqual(len(self.receiver.snapshot()), 1, "a 413 was retried")
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(payloads))
        self.assertTrue(all(d["attemptsMade"] == 1 for d in docs))
        self.assertTrue(all("413" in d["errorMessage"] for d in docs))


class CrashTest(HttpEndpointTestCase):

    def test_kill9_during_delivery_loses_nothing(self):
        bucket = self.new_bucket()
        # The first request hangs (kinesd gives up on it after its timeout,
        # but is killed before that); later ones may be answered meanwhile.
        self.receiver.answer_with("hang", default="ok")
        name = self.create_http(bucket, retry_s=7200, size_mb=1)
        payloads = numbered("crash", 3000)
        acknowledged = []
        for start in range(0, len(payloads), 250):
            chunk = payloads[start:start + 250]
            result = self.firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": p} for p in chunk])
            acknowledged += [p for p, r in zip(chunk, result["RequestResponses"]) if "RecordId" in r]
        self.assertTrue(self.receiver.wait_for(lambda reqs: any(q.answer == "hang" for q in reqs), DELIVERY_TIMEOUT),
                        "no request was left hanging")
        self.server.kill9()
        self.receiver.release_hang.set()
        self.server.start()
        self.connect()
        self.wait_records(self.receiver, acknowledged)
        self.assertClean(self.receiver)


class ShutdownTest(HttpEndpointTestCase):

    def test_sigterm_posts_what_is_buffered(self):
        bucket = self.new_bucket()
        name = self.create_http(bucket, interval=900, size_mb=64)
        payloads = numbered("term", 300)
        self.put_batch(name, payloads)
        self.assertEqual(self.receiver.snapshot(), [])  # buffered for 15 minutes
        self.server.stop()  # SIGTERM: every buffer is flushed before exit
        try:
            self.assertEqual(sorted(self.receiver.accepted_records()), sorted(payloads))
            self.assertClean(self.receiver)
        finally:
            self.server.start()
            self.connect()


class ControlPlaneTest(HttpEndpointTestCase):

    def base_config(self, bucket="b", **changes):
        config = {"EndpointConfiguration": {"Url": "https://example.invalid/in", "Name": "n", "AccessKey": "secret"},
                  "S3Configuration": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket)}}
        config.update(changes)
        return config

    def test_describe_shows_defaults_and_hides_the_access_key(self):
        name = unique_name("fhd")
        self.firehose.create_delivery_stream(DeliveryStreamName=name,
                                             HttpEndpointDestinationConfiguration=self.base_config())
        d = self.describe(name)["Destinations"][0]
        self.assertEqual(set(d), {"DestinationId", "HttpEndpointDestinationDescription"})
        h = d["HttpEndpointDestinationDescription"]
        self.assertEqual(h["EndpointConfiguration"], {"Url": "https://example.invalid/in", "Name": "n"})
        self.assertEqual(h["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 300})
        self.assertEqual(h["RetryOptions"], {"DurationInSeconds": 300})
        self.assertEqual(h["S3BackupMode"], "FailedDataOnly")
        self.assertEqual(h["RequestConfiguration"], {"ContentEncoding": "NONE"})
        self.assertEqual(h["S3DestinationDescription"]["BucketARN"], bucket_arn("b"))
        self.assertEqual(h["S3DestinationDescription"]["CompressionFormat"], "UNCOMPRESSED")
        # UpdateDestination merges member by member.
        version = self.describe(name)["VersionId"]
        self.firehose.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId=version, DestinationId=d["DestinationId"],
            HttpEndpointDestinationUpdate={"EndpointConfiguration": {"Url": "https://example.invalid/v2"},
                                           "BufferingHints": {"IntervalInSeconds": 60},
                                           "S3BackupMode": "AllData"})
        h = self.describe(name)["Destinations"][0]["HttpEndpointDestinationDescription"]
        self.assertEqual(h["EndpointConfiguration"], {"Url": "https://example.invalid/v2", "Name": "n"})
        self.assertEqual(h["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 60})
        self.assertEqual(h["S3BackupMode"], "AllData")
        # A stream delivering to an HTTP endpoint does not take an S3 update.
        self.assertClientError(
            self.firehose.update_destination, "InvalidArgumentException", DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=self.describe(name)["VersionId"], DestinationId=d["DestinationId"],
            ExtendedS3DestinationUpdate={"Prefix": "x/"})

    def test_bad_configurations(self):
        def create(**config):
            return self.firehose.create_delivery_stream(DeliveryStreamName=unique_name("bad"),
                                                        HttpEndpointDestinationConfiguration=config)
        bad = [
            self.base_config(EndpointConfiguration={"Url": "ftp://example.invalid/"}),
            self.base_config(BufferingHints={"SizeInMBs": 65}),
            self.base_config(BufferingHints={"IntervalInSeconds": 901}),
            self.base_config(RetryOptions={"DurationInSeconds": 7201}),
            self.base_config(S3BackupMode="Everything"),
            self.base_config(RequestConfiguration={"ContentEncoding": "BROTLI"}),
            self.base_config(RequestConfiguration={"CommonAttributes": [
                {"AttributeName": "a%d" % i, "AttributeValue": "v"} for i in range(51)]}),
            self.base_config(EndpointConfiguration={"Url": "https://e.invalid/", "AccessKey": "k" * 4097}),
        ]
        for config in bad:
            with self.subTest(config=config):
                self.assertClientError(create, "ValidationException", **config)
        self.assertClientError(create, "InvalidArgumentException",
                               **self.base_config(ProcessingConfiguration={
                                   "Enabled": True, "Processors": [{"Type": "RecordDeAggregation"}]}))
        # Two destinations at once.
        self.assertClientError(
            self.firehose.create_delivery_stream, "InvalidArgumentException", DeliveryStreamName=unique_name("two"),
            HttpEndpointDestinationConfiguration=self.base_config(),
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn("b")})


class UntrustedCertificateTest(FirehoseTestCase):
    """A kinesd not told about the receiver's CA must refuse its certificate."""

    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="kinesd-httpdest-")
        cert, key = make_cert(cls.cert_dir)
        cls.receiver = Receiver(tls_cert=cert, tls_key=key)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.close()
            shutil.rmtree(cls.cert_dir, ignore_errors=True)

    def test_records_go_to_the_backup_bucket_unsent(self):
        bucket = self.new_bucket()
        name = unique_name("fhu")
        self.firehose.create_delivery_stream(
            DeliveryStreamName=name,
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": self.receiver.url},
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                "RetryOptions": {"DurationInSeconds": 0},
                "S3Configuration": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(bucket)}})
        payloads = numbered("untrusted", 5)
        self.put_batch(name, payloads)
        docs = wait_until(lambda: error_documents(self.objects(bucket, prefix="http-endpoint-failed/")) or None,
                          "failed records in the backup bucket", DELIVERY_TIMEOUT, 0.25)
        self.assertEqual(sorted(base64.b64decode(d["rawData"]) for d in docs), sorted(payloads))
        self.assertEqual({d["errorCode"] for d in docs}, {"HttpEndpoint.ConnectionFailed"})
        self.assertEqual({d["attemptsMade"] for d in docs}, {1})  # a retry duration of 0: one attempt
        self.assertEqual(self.receiver.snapshot(), [])  # no request got past the handshake


class S3BackupOfS3DestinationTest(FirehoseTestCase):

    def test_source_records_are_backed_up(self):
        bucket, backup = self.new_bucket(), self.new_bucket()
        name = self.create_direct(bucket, ProcessingConfiguration=NEWLINE, S3BackupMode="Enabled",
                                  S3BackupConfiguration={"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(backup),
                                                         "Prefix": "source/", "CompressionFormat": "GZIP"})
        d = self.describe(name)["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(d["S3BackupMode"], "Enabled")
        self.assertEqual(d["S3BackupDescription"]["BucketARN"], bucket_arn(backup))
        self.assertEqual(d["S3BackupDescription"]["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 300})
        payloads = numbered("bk", 300)
        self.put_batch(name, payloads)
        total = sum(len(p) + 1 for p in payloads)
        main = self.wait_for_bytes(bucket, total)
        copy = self.wait_for_bytes(backup, total, fmt="GZIP", prefix="source/")
        self.assertEqual(sorted(r for chunk in split_lines(main) for r in chunk), sorted(payloads))
        self.assertEqual(sorted(r for chunk in split_lines(copy) for r in chunk), sorted(payloads))

    def test_update_enables_backup_and_refuses_to_disable_it(self):
        bucket, backup = self.new_bucket(), self.new_bucket()
        name = self.create_direct(bucket)
        d = self.describe(name)
        self.firehose.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId=d["VersionId"],
            DestinationId=d["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"S3BackupMode": "Enabled",
                                         "S3BackupUpdate": {"RoleARN": ROLE_ARN, "BucketARN": bucket_arn(backup)}})
        d = self.describe(name)
        self.assertEqual(d["Destinations"][0]["ExtendedS3DestinationDescription"]["S3BackupMode"], "Enabled")
        self.assertClientError(
            self.firehose.update_destination, "InvalidArgumentException", DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=d["VersionId"], DestinationId=d["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"S3BackupMode": "Disabled"})
        # Enabled without a backup bucket is refused at creation.
        self.assertClientError(self.create_direct, "InvalidArgumentException", bucket=bucket, S3BackupMode="Enabled")


if __name__ == "__main__":
    unittest.main(verbosity=2)
