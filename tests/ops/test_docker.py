"""What can be checked of docker/ without a Docker engine: the compose file
(services, health checks, ports, and every kinesd flag and KINESD_* variable
it uses is one kinesd accepts), the Dockerfile, the build steps it runs
(docker/build-steps.sh check: the packages exist, the configure line works,
the runtime packages hold every library kinesd loads), the init script run
with the AWS CLI against a real kinesd delivering into an S3-compatible
server, and the Grafana dashboard (it parses, and queries only the metric
names and labels kinesd exports; when /metrics is served, they appear in a
real scrape after traffic).
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import unittest
import urllib.error
import urllib.request

import yaml

from firehose_helpers import S3_KEY, S3Server
from kinesd_server import KinesdServer
from kinesis_helpers import create_stream, make_client, read_shard, stream_arn, unique_name, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = os.path.join(ROOT, "docker")
BINARY = os.environ.get("KINESD_BIN", "")

# The metrics kinesd exports (histograms listed by their base name) and their labels.
COUNTERS = """
kinesis_incoming_records_total kinesis_incoming_bytes_total kinesis_put_record_success_total
kinesis_put_records_success_total kinesis_put_records_total_records_total
kinesis_put_records_successful_records_total kinesis_put_records_failed_records_total
kinesis_put_records_throttled_records_total kinesis_get_records_success_total kinesis_get_records_records_total
kinesis_get_records_bytes_total kinesis_read_provisioned_throughput_exceeded_total
kinesis_write_provisioned_throughput_exceeded_total kinesis_subscribe_to_shard_event_records_total
kinesis_subscribe_to_shard_event_bytes_total firehose_incoming_records_total firehose_incoming_bytes_total
firehose_delivery_to_s3_records_total firehose_delivery_to_s3_bytes_total firehose_delivery_to_s3_success_total
firehose_delivery_to_s3_failures_total kinesd_requests_total
""".split()
HISTOGRAMS = """
kinesis_put_record_latency_milliseconds kinesis_put_records_latency_milliseconds
kinesis_get_records_latency_milliseconds
""".split()
GAUGES = """
kinesis_get_records_iterator_age_milliseconds kinesis_subscribe_to_shard_event_millis_behind_latest
firehose_delivery_to_s3_data_freshness_seconds kinesd_connections kinesd_stored_bytes
""".split()
METRICS = set(COUNTERS + HISTOGRAMS + GAUGES)
LABELS = {"account", "stream", "delivery_stream", "consumer", "action", "status"}
# Settings of the TLS, credentials and metrics features: with a kinesd built
# without them, their use cannot be checked and is reported as skipped.


def kinesd_settings():
    """(flags, environment variables) that `kinesd --help` lists."""
    text = subprocess.run([BINARY, "--help"], capture_output=True, text=True, check=True, timeout=30).stdout
    flags = set(re.findall(r"^\s+--([a-z0-9-]+)", text, re.M))
    env = set(re.findall(r"\benv (KINESD_[A-Z0-9_]+)", text))
    return flags, env


def flags_in(args):
    return [a[2:].split("=", 1)[0] for a in args if a.startswith("--")]


def load_compose():
    with open(os.path.join(DOCKER, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


def seconds(duration):
    match = re.fullmatch(r"(\d+)(ms|s|m)", str(duration))
    if not match:
        raise ValueError("unexpected duration %r" % duration)
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


class SettingsCheck(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.flags, cls.env = kinesd_settings()

    def assertAccepted(self, flag, where):
        if flag in self.flags:
            return
        self.fail("%s uses --%s, which kinesd does not accept" % (where, flag))

    def assertAcceptedEnv(self, name, where):
        if name in self.env:
            return
        self.fail("%s sets %s, which kinesd does not read" % (where, name))


class ComposeTest(SettingsCheck):

    def setUp(self):
        self.compose = load_compose()
        self.services = self.compose["services"]

    def test_services(self):
        self.assertEqual(set(self.services),
                         {"kinesd", "minio", "minio-init", "kinesd-init", "prometheus", "grafana"})
        self.assertTrue(self.services["minio"]["image"].startswith("minio/minio"))
        self.assertTrue(self.services["minio-init"]["image"].startswith("minio/mc"))
        self.assertTrue(self.services["kinesd-init"]["image"].startswith("amazon/aws-cli"))
        for name in ("prometheus", "grafana"):
            self.assertEqual(self.services[name].get("profiles"), ["monitoring"], name)
        for name in ("kinesd", "minio", "minio-init", "kinesd-init"):
            self.assertNotIn("profiles", self.services[name], "%s must start by default" % name)
        for name in ("minio-init", "kinesd-init"):
            self.assertEqual(self.services[name].get("restart"), "no", "%s runs once" % name)

    def test_health_checks_and_start_order(self):
        for name in ("kinesd", "minio", "prometheus", "grafana"):
            check = self.services[name].get("healthcheck")
            self.assertIsNotNone(check, name)
            self.assertEqual(check["test"][0], "CMD", name)
        self.assertIn("http://127.0.0.1:4567/health", self.services["kinesd"]["healthcheck"]["test"])
        depends = {name: s.get("depends_on", {}) for name, s in self.services.items()}
        self.assertEqual(depends["kinesd"]["minio"]["condition"], "service_healthy")
        self.assertEqual(depends["minio-init"]["minio"]["condition"], "service_healthy")
        self.assertEqual(depends["kinesd-init"]["kinesd"]["condition"], "service_healthy")
        self.assertEqual(depends["kinesd-init"]["minio-init"]["condition"], "service_completed_successfully")

    def test_ports(self):
        self.assertIn("4567:4567", self.services["kinesd"]["ports"])
        self.assertIn("9000:9000", self.services["minio"]["ports"])

    def test_kinesd_settings_are_ones_kinesd_accepts(self):
        kinesd = self.services["kinesd"]
        command = kinesd["command"]
        for flag in flags_in(command):
            self.assertAccepted(flag, "the kinesd service's command")
        self.assertEqual(command[command.index("--data-dir") + 1], "/data")
        self.assertIn("kinesd-data:/data", kinesd["volumes"])
        for name in kinesd["environment"]:
            self.assertTrue(name.startswith("KINESD_"), name)
            self.assertAcceptedEnv(name, "the kinesd service")
        # The SIGKILL that follows SIGTERM must not cut the Firehose flush short.
        timeout = seconds(kinesd["environment"]["KINESD_SHUTDOWN_TIMEOUT"])
        self.assertGreater(seconds(kinesd["stop_grace_period"]), timeout)
        self.assertEqual(kinesd["environment"]["KINESD_S3_ENDPOINT"], "http://minio:9000")

    def test_mounted_files_exist(self):
        for name, service in self.services.items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    self.assertTrue(os.path.exists(os.path.join(DOCKER, source)), "%s mounts %s" % (name, source))
        self.assertEqual(self.services["kinesd-init"]["environment"]["KINESD_ENDPOINT"], "http://kinesd:4567")

    def test_prometheus_scrapes_kinesd(self):
        with open(os.path.join(DOCKER, "prometheus", "prometheus.yml")) as f:
            config = yaml.safe_load(f)
        [job] = config["scrape_configs"]
        self.assertEqual(job["metrics_path"], "/metrics")
        self.assertEqual(job["static_configs"][0]["targets"], ["kinesd:4567"])

    def test_grafana_provisioning(self):
        base = os.path.join(DOCKER, "grafana", "provisioning")
        with open(os.path.join(base, "datasources", "prometheus.yml")) as f:
            [source] = yaml.safe_load(f)["datasources"]
        self.assertEqual((source["type"], source["url"]), ("prometheus", "http://prometheus:9090"))
        with open(os.path.join(base, "dashboards", "kinesd.yml")) as f:
            [provider] = yaml.safe_load(f)["providers"]
        mounts = self.services["grafana"]["volumes"]
        dashboard_mount = [v for v in mounts if v.startswith("./grafana/kinesd-dashboard.json:")]
        self.assertEqual(len(dashboard_mount), 1)
        target = dashboard_mount[0].split(":")[1]
        self.assertEqual(os.path.dirname(target), provider["options"]["path"])


class DockerfileTest(SettingsCheck):

    def setUp(self):
        with open(os.path.join(DOCKER, "Dockerfile")) as f:
            text = re.sub(r"\\\n", " ", f.read())
        self.lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]

    def instructions(self, keyword):
        return [l[len(keyword):].strip() for l in self.lines if l.split()[0].upper() == keyword]

    def test_stages(self):
        self.assertEqual(self.instructions("FROM"), ["debian:12 AS build", "debian:12-slim"])
        runs = self.instructions("RUN")
        self.assertIn("bash docker/build-steps.sh deps", runs)
        self.assertIn("bash docker/build-steps.sh build /out", runs)
        self.assertTrue(any("build-steps.sh runtime" in r for r in runs))
        self.assertIn("--from=build /out/ /", self.instructions("COPY"))

    def test_runtime(self):
        [user] = self.instructions("USER")
        self.assertNotIn(user, ("root", "0"))
        self.assertEqual(self.instructions("VOLUME"), ["/data"])
        self.assertEqual(self.instructions("EXPOSE"), ["4567"])
        [check] = self.instructions("HEALTHCHECK")
        self.assertIn("http://127.0.0.1:4567/health", check)
        [command] = self.instructions("CMD")
        args = json.loads(command)
        self.assertEqual(args, ["--data-dir", "/data", "--host", "0.0.0.0"])
        for flag in flags_in(args):
            self.assertAccepted(flag, "the Dockerfile's CMD")


class BuildStepsTest(unittest.TestCase):

    def test_check_mode(self):
        result = subprocess.run(["bash", os.path.join(DOCKER, "build-steps.sh"), "check", BINARY],
                                capture_output=True, text=True, timeout=600)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("configure: ok", result.stdout)
        self.assertIn("library librocksdb", result.stdout)


def dashboard_queries():
    with open(os.path.join(DOCKER, "grafana", "kinesd-dashboard.json")) as f:
        dashboard = json.load(f)
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append(target["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    return dashboard, queries


NAME = re.compile(r"\b((?:kinesis|firehose|kinesd)_[a-z0-9_]+)")


class DashboardTest(unittest.TestCase):

    def test_metric_names(self):
        dashboard, queries = dashboard_queries()
        self.assertEqual(dashboard["uid"], "kinesd")
        used = set()
        for query in queries:
            for name in NAME.findall(query):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if base in HISTOGRAMS:
                    self.assertTrue(name.endswith("_bucket") or "label_values" in query, query)
                    name = base
                self.assertIn(name, METRICS, "the dashboard queries %s, which kinesd does not export" % name)
                used.add(name)
        self.assertEqual(METRICS - used, set(), "metrics without a panel")

    def test_labels_and_datasource(self):
        dashboard, queries = dashboard_queries()
        for query in queries:
            for group in re.findall(r"by \(([^)]*)\)", query):
                for label in (l.strip() for l in group.split(",")):
                    self.assertIn(label, LABELS | {"le"}, query)
            for selector in re.findall(r"\{([^}]*)\}", query):
                for label in re.findall(r"([a-z_]+)\s*=~?", selector):
                    self.assertIn(label, LABELS, query)
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                self.assertEqual(panel["datasource"]["type"], "prometheus", panel["title"])
        names = {v["name"] for v in dashboard["templating"]["list"]}
        self.assertEqual(names, {"datasource", "account", "stream", "delivery_stream"})


class LiveTest(unittest.TestCase):
    """The init script and the dashboard's metrics against a real kinesd
    delivering into an S3-compatible server (standing in for MinIO)."""

    @classmethod
    def setUpClass(cls):
        flags, _ = kinesd_settings()
        cls.s3_server = S3Server()
        extra = ["--s3-endpoint", cls.s3_server.endpoint, "--s3-access-key", S3_KEY, "--s3-secret-key", S3_KEY]
        if "metrics" in flags:
            extra += ["--metrics", "on"]
        try:
            cls.server = KinesdServer(extra_args=extra)
        except Exception:
            cls.s3_server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.s3_server.close()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.server.endpoint + path, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def test_init_script_then_delivery(self):
        aws = shutil.which("aws")
        self.assertIsNotNone(aws, "the AWS CLI is not installed (scripts/install-deps.sh --test installs it)")
        bucket = unique_name("bucket")
        self.s3_server.create_bucket(bucket)
        env = dict(os.environ, KINESD_ENDPOINT=self.server.endpoint, DELIVERY_BUCKET=bucket,
                   AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
                   AWS_PAGER="")
        script = os.path.join(DOCKER, "init", "create-streams.sh")
        for attempt in range(2):  # a second run finds everything in place
            result = subprocess.run(["sh", script], env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(result.returncode, 0, "run %d:\n%s%s" % (attempt, result.stdout, result.stderr))
        firehose = make_client(self.server.endpoint, "firehose")
        kinesis = make_client(self.server.endpoint)
        description = firehose.describe_delivery_stream(DeliveryStreamName="events-to-s3")["DeliveryStreamDescription"]
        self.assertEqual(description["DeliveryStreamType"], "KinesisStreamAsSource")
        self.assertEqual(description["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"],
                         stream_arn("events"))
        destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(destination["BucketARN"], "arn:aws:s3:::" + bucket)

        payloads = [b"compose-%d" % i for i in range(25)]
        kinesis.put_records(StreamName="events", Records=[{"Data": p, "PartitionKey": p.decode()} for p in payloads])
        # kinesd's shutdown flush writes them without waiting for the 60 s hint.
        self.assertEqual(self.server.stop(check=False), 0, self.server.log_tail())
        s3 = self.s3_server.client()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])]
        delivered = []
        for key in keys:
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            delivered += [line for line in body.split(b"\n") if line]
        self.assertEqual(sorted(delivered), sorted(payloads))
        self.server.start()

    def test_health(self):
        # What the image's HEALTHCHECK and the compose file's ask.
        status, text = self.get("/health")
        self.assertEqual(status, 200, text[:2000])

    def test_metrics_scrape(self):
        kinesis = make_client(self.server.endpoint)
        firehose = make_client(self.server.endpoint, "firehose")
        name = create_stream(kinesis, shards=1)
        kinesis.put_record(StreamName=name, Data=b"one", PartitionKey="k")
        kinesis.put_records(StreamName=name, Records=[{"Data": b"two", "PartitionKey": "k"}])
        shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        self.assertEqual(len(read_shard(kinesis, name, shard)), 2)
        bucket = unique_name("bucket")
        self.s3_server.create_bucket(bucket)
        fh = unique_name("fh")
        firehose.create_delivery_stream(DeliveryStreamName=fh, ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::" + bucket,
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
        firehose.put_record(DeliveryStreamName=fh, Record={"Data": b"three"})
        wait_until(lambda: self.s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount", 0) > 0 or None,
                   "a delivered object", 120)

        status, text = self.get("/metrics")
        self.assertEqual(status, 200, text[:2000])
        exported = set(re.findall(r"^(?:# TYPE )?([a-z_][a-z0-9_]*)", text, re.M))
        exported = {re.sub(r"_(bucket|sum|count)$", "", n) if re.sub(r"_(bucket|sum|count)$", "", n) in HISTOGRAMS
                    else n for n in exported}
        driven = {"kinesis_incoming_records_total", "kinesis_incoming_bytes_total", "kinesis_put_record_success_total",
                  "kinesis_put_record_latency_milliseconds", "kinesis_put_records_success_total",
                  "kinesis_put_records_latency_milliseconds", "kinesis_put_records_total_records_total",
                  "kinesis_put_records_successful_records_total", "kinesis_get_records_success_total",
                  "kinesis_get_records_records_total", "kinesis_get_records_bytes_total",
                  "kinesis_get_records_latency_milliseconds", "kinesis_get_records_iterator_age_milliseconds",
                  "firehose_incoming_records_total", "firehose_incoming_bytes_total",
                  "firehose_delivery_to_s3_records_total", "firehose_delivery_to_s3_bytes_total",
                  "firehose_delivery_to_s3_success_total", "kinesd_connections", "kinesd_requests_total",
                  "kinesd_stored_bytes"}
        self.assertEqual(driven - exported, set(), "metrics the dashboard needs, missing from a scrape")


if __name__ == "__main__":
    unittest.main(verbosity=2)
