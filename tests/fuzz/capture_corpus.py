#!/usr/bin/env python3
"""Regenerates the seed corpora in corpus/ from real client traffic.

    capture_corpus.py KINESD_BIN [--out DIR] [--no-js] [--no-cli]

A kinesd process is started on a loopback port with a temporary data
directory, and a small TCP proxy in front of it records what each client
connection sends. boto3 and the AWS CLI speak JSON over HTTP/1.1; the CBOR
bodies are the Java SDKs' dialect (indefinite-length maps, tag 1 timestamps)
written by the encoder of the CBOR integration suite; the JavaScript SDK v3
(tests/integration/js, when its node_modules are installed) speaks JSON over
HTTP/2 with prior knowledge. From the recording:

  fuzz_json_request/   every JSON request body
  fuzz_cbor_request/   every CBOR request body
  fuzz_http/           every HTTP/1.1 request, and every whole HTTP/2
                       connection, each behind a mode byte (see fuzz_http.cc)
  fuzz_sigv4_header/   Authorization, path, query and headers of requests
  fuzz_shard_iterator/ iterators, tokens, sequence numbers and shard ids seen
                       in bodies, plus iterators signed with the fuzzer's key

Files are named by the SHA-1 of their content, so running this again adds
what is new and leaves regression inputs (crash-*, any other name) alone.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INTEGRATION = os.path.join(ROOT, "tests", "integration")
sys.path.insert(0, INTEGRATION)

from kinesd_server import KinesdServer  # noqa: E402
from kinesis_helpers import make_client  # noqa: E402
import test_cbor  # noqa: E402  (its encoder writes what Jackson writes)

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Must match fuzz_shard_iterator.cc.
FUZZ_SECRET = b"0123456789abcdef0123456789abcdef"
# Keep each folder small: the CI run replays every file.
MAX_FILES = {"fuzz_json_request": 80, "fuzz_cbor_request": 40, "fuzz_http": 90,
             "fuzz_sigv4_header": 24, "fuzz_shard_iterator": 60}


# ---- recording proxy ---------------------------------------------------------

class Recorder:
    """Accepts on a free loopback port and forwards to the server; keeps the
    client-to-server bytes of each connection, in accept order."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.connections = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()  # the server is gone; the driver will notice
                continue
            record = bytearray()
            with self.lock:
                self.connections.append(record)
            threading.Thread(target=self._pump, args=(client, upstream, record), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pump(src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.sock.close()

    def take(self):
        with self.lock:
            return [bytes(c) for c in self.connections]


# ---- drivers -------------------------------------------------------------------

def ignore_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception:  # error answers are seeds too
        return None


def wait_active(kinesis, name):
    for _ in range(200):
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.05)


def drive_boto3(endpoint):
    kinesis = make_client(endpoint)
    name = "seed-stream"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    wait_active(kinesis, name)
    kinesis.describe_stream(StreamName=name)
    kinesis.list_streams()
    kinesis.list_streams(Limit=1)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    ignore_errors(kinesis.list_shards, StreamName=name, MaxResults=1)
    put = kinesis.put_record(StreamName=name, Data=b"hello", PartitionKey="pk-1")
    kinesis.put_record(StreamName=name, Data=b"\x00\x01\xff", PartitionKey="pk-2",
                       ExplicitHashKey=str(2 ** 127), SequenceNumberForOrdering=put["SequenceNumber"])
    kinesis.put_records(StreamName=name, Records=[
        {"Data": b"one", "PartitionKey": "a"},
        {"Data": b"two" * 20, "PartitionKey": "b", "ExplicitHashKey": "0"},
        {"Data": b"", "PartitionKey": "c"},
    ])
    shard_id = shards[0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    got = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=10)
    kinesis.get_records(ShardIterator=got["NextShardIterator"])
    kinesis.get_shard_iterator(StreamName=name, ShardId=put["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                               StartingSequenceNumber=put["SequenceNumber"])
    kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000001", ShardIteratorType="AT_TIMESTAMP",
                               Timestamp=time.time() - 60)
    kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="LATEST")
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "a", "env": "test"})
    kinesis.list_tags_for_stream(StreamName=name)
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    ignore_errors(kinesis.decrease_stream_retention_period, StreamName=name, RetentionPeriodHours=24)
    kinesis.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
    kinesis.describe_limits()
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = ignore_errors(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="c1")
    ignore_errors(kinesis.list_stream_consumers, StreamARN=arn)
    if consumer:
        ignore_errors(kinesis.describe_stream_consumer, ConsumerARN=consumer["Consumer"]["ConsumerARN"])
    ignore_errors(kinesis.list_tags_for_resource, ResourceARN=arn)
    ignore_errors(kinesis.start_stream_encryption, StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    # Answers with errors are part of the surface too.
    ignore_errors(kinesis.describe_stream, StreamName="no-such-stream")
    ignore_errors(kinesis.put_record, StreamName=name, Data=b"x", PartitionKey="")
    ignore_errors(kinesis.get_records, ShardIterator="AAAA")
    ignore_errors(kinesis.create_stream, StreamName="bad name!", ShardCount=0)
    ignore_errors(kinesis.create_stream, StreamName="seed-on-demand",
                  StreamModeDetails={"StreamMode": "ON_DEMAND"})
    ignore_errors(kinesis.merge_shards, StreamName=name, ShardToMerge="shardId-000000000000",
                  AdjacentShardToMerge="shardId-000000000001")
    ignore_errors(kinesis.delete_stream, StreamName="seed-on-demand", EnforceConsumerDeletion=True)

    firehose = make_client(endpoint, "firehose")
    ds = "seed-delivery"
    ignore_errors(firehose.create_delivery_stream, DeliveryStreamName=ds, DeliveryStreamType="DirectPut",
                  ExtendedS3DestinationConfiguration={
                      "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                      "BucketARN": "arn:aws:s3:::seed-bucket",
                      "Prefix": "data/!{timestamp:yyyy/MM/dd}/",
                      "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                      "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
                      "CompressionFormat": "GZIP"})
    ignore_errors(firehose.describe_delivery_stream, DeliveryStreamName=ds)
    ignore_errors(firehose.list_delivery_streams)
    ignore_errors(firehose.put_record, DeliveryStreamName=ds, Record={"Data": b"{\"a\":1}\n"})
    ignore_errors(firehose.put_record_batch, DeliveryStreamName=ds,
                  Records=[{"Data": b"r1\n"}, {"Data": b"r2\n"}])
    ignore_errors(firehose.tag_delivery_stream, DeliveryStreamName=ds, Tags=[{"Key": "k", "Value": "v"}])
    ignore_errors(firehose.list_tags_for_delivery_stream, DeliveryStreamName=ds)
    ignore_errors(firehose.create_delivery_stream, DeliveryStreamName="seed-from-kinesis",
                  DeliveryStreamType="KinesisStreamAsSource",
                  KinesisStreamSourceConfiguration={"KinesisStreamARN": arn,
                                                    "RoleARN": "arn:aws:iam::000000000000:role/firehose"},
                  S3DestinationConfiguration={"RoleARN": "arn:aws:iam::000000000000:role/firehose",
                                              "BucketARN": "arn:aws:s3:::seed-bucket"})
    ignore_errors(firehose.delete_delivery_stream, DeliveryStreamName="seed-from-kinesis")


def drive_resharding(endpoint):
    kinesis = make_client(endpoint)
    name = "seed-reshard"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    wait_active(kinesis, name)
    ignore_errors(kinesis.split_shard, StreamName=name, ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(2 ** 126))
    wait_active(kinesis, name)
    ignore_errors(kinesis.update_shard_count, StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")


def cbor_request(endpoint_port, target, body):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint_port, timeout=30)
    conn.request("POST", "/", body=test_cbor.encode(body), headers={
        "Content-Type": "application/x-amz-cbor-1.1",
        "X-Amz-Target": "Kinesis_20131202." + target,
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64,
        "User-Agent": "aws-sdk-java/2.20.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17",
    })
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    try:
        return test_cbor.decode(data)
    except Exception:
        return {}


def drive_cbor(port):
    m = test_cbor.IndefiniteMap
    name = "seed-stream"
    cbor_request(port, "DescribeStreamSummary", m(StreamName=name))
    cbor_request(port, "PutRecord", m(StreamName=name, Data=b"cbor-bytes", PartitionKey="k"))
    cbor_request(port, "PutRecords", m(StreamName=name, Records=[
        m(Data=b"\x00\x01", PartitionKey="a"), m(Data=b"x" * 40, PartitionKey="b", ExplicitHashKey="1")]))
    now_ms = int(time.time() * 1000)
    it = cbor_request(port, "GetShardIterator", m(StreamName=name, ShardId="shardId-000000000000",
                                                   ShardIteratorType="AT_TIMESTAMP",
                                                   Timestamp=test_cbor.timestamp_ms(now_ms - 60000)))
    if isinstance(it, dict) and "ShardIterator" in it:
        cbor_request(port, "GetRecords", m(ShardIterator=it["ShardIterator"], Limit=100))
    cbor_request(port, "ListShards", m(StreamName=name, ShardFilter=m(
        Type="FROM_TIMESTAMP", Timestamp=test_cbor.timestamp_ms(now_ms))))
    cbor_request(port, "ListShards", test_cbor.DefiniteMap(StreamName=name, MaxResults=1))
    cbor_request(port, "CreateStream", m(StreamName="seed-cbor", ShardCount=1))
    cbor_request(port, "ListStreams", m(Limit=5, ExclusiveStartStreamName="a"))
    cbor_request(port, "AddTagsToStream", m(StreamName=name, Tags=m(k="v")))
    cbor_request(port, "PutRecord", m(StreamName=name, Data="not a blob", PartitionKey=1.5))


def drive_cli(endpoint):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    for args in (["kinesis", "list-streams"],
                 ["kinesis", "describe-stream-summary", "--stream-name", "seed-stream"],
                 ["kinesis", "put-record", "--stream-name", "seed-stream", "--partition-key", "cli",
                  "--data", "aGVsbG8gZnJvbSB0aGUgY2xp", "--cli-binary-format", "base64"]):
        subprocess.run(["aws", "--endpoint-url", endpoint] + args, env=env, capture_output=True, timeout=60)


JS_DRIVER = r"""
const { KinesisClient, ListStreamsCommand, PutRecordCommand, PutRecordsCommand, GetShardIteratorCommand,
        GetRecordsCommand, DescribeStreamSummaryCommand, ListShardsCommand } = require('@aws-sdk/client-kinesis');
const { FirehoseClient, PutRecordBatchCommand } = require('@aws-sdk/client-firehose');
const endpoint = process.argv[2];
const config = { endpoint, region: 'us-east-1', maxAttempts: 1,
                 credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
// A fresh client per group keeps each recorded HTTP/2 connection small.
async function withKinesis(fn) {
  const client = new KinesisClient(config);
  try { await fn(client); } catch (e) { /* error answers are seeds too */ }
  client.destroy();
}
(async () => {
  const name = 'seed-stream';
  await withKinesis((c) => c.send(new ListStreamsCommand({})));
  await withKinesis((c) => c.send(new DescribeStreamSummaryCommand({ StreamName: name })));
  await withKinesis((c) => c.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'js',
                                                         Data: Buffer.from('from js') })));
  await withKinesis((c) => c.send(new PutRecordsCommand({ StreamName: name, Records: [
    { PartitionKey: 'a', Data: Buffer.from('1') }, { PartitionKey: 'b', Data: Buffer.alloc(64, 7) }] })));
  await withKinesis(async (c) => {
    const it = await c.send(new GetShardIteratorCommand({ StreamName: name, ShardId: 'shardId-000000000000',
                                                          ShardIteratorType: 'TRIM_HORIZON' }));
    await c.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 5 }));
  });
  await withKinesis((c) => c.send(new ListShardsCommand({ StreamName: name, MaxResults: 2 })));
  await withKinesis((c) => c.send(new DescribeStreamSummaryCommand({ StreamName: 'missing' })));
  const firehose = new FirehoseClient(config);
  try {
    await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'seed-delivery',
                                                    Records: [{ Data: Buffer.from('js\n') }] }));
  } catch (e) {}
  firehose.destroy();
})();
"""


def drive_js(endpoint):
    modules = os.path.join(INTEGRATION, "js", "node_modules")
    if not os.path.isdir(os.path.join(modules, "@aws-sdk", "client-kinesis")):
        print("capture: tests/integration/js/node_modules missing, no HTTP/2 seeds", file=sys.stderr)
        return
    work = tempfile.mkdtemp(prefix="kinesd-capture-js-")
    try:
        script = os.path.join(work, "drive.cjs")
        with open(script, "w") as f:
            f.write(JS_DRIVER)
        subprocess.run(["node", script, endpoint], env=dict(os.environ, NODE_PATH=modules),
                       capture_output=True, timeout=120)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- splitting the recording ---------------------------------------------------

def split_http1(stream):
    """(head, headers dict lower-cased, body) for each request of a connection."""
    out = []
    pos = 0
    while pos < len(stream):
        end = stream.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = stream[pos:end + 4]
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            if b":" in line:
                k, v = line.split(b":", 1)
                headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        length = int(headers.get("content-length", "0") or 0)
        body = stream[end + 4:end + 4 + length]
        out.append((head, headers, body))
        pos = end + 4 + length
    return out


def h2_frames(stream):
    """(type, flags, stream id, payload) of each frame after the preface."""
    pos = len(H2_PREFACE)
    while pos + 9 <= len(stream):
        length = int.from_bytes(stream[pos:pos + 3], "big")
        ftype, flags = stream[pos + 3], stream[pos + 4]
        sid = int.from_bytes(stream[pos + 5:pos + 9], "big") & 0x7FFFFFFF
        yield ftype, flags, sid, stream[pos + 9:pos + 9 + length]
        pos += 9 + length


def h2_bodies(stream):
    bodies = {}
    for ftype, flags, sid, payload in h2_frames(stream):
        if ftype == 0:  # DATA
            if flags & 0x8:  # PADDED
                pad = payload[0]
                payload = payload[1:len(payload) - pad]
            bodies.setdefault(sid, bytearray()).extend(payload)
    return [bytes(b) for b in bodies.values() if b]


def after_first_settings(stream):
    """The connection without its preface and first SETTINGS frame: what
    fuzz_http's mode 1 expects, since it sends those itself."""
    pos = len(H2_PREFACE)
    if len(stream) < pos + 9 or stream[pos + 3] != 4:
        return None
    length = int.from_bytes(stream[pos:pos + 3], "big")
    return stream[pos + 9 + length:]


def sign_token(raw):
    mac = hmac.new(FUZZ_SECRET, raw, hashlib.sha256).digest()[:16]
    return base64.b64encode(raw + mac)


def iterator_seeds(rng):
    seeds = []
    for name in (b"seed-stream", b"a", b"x" * 128):
        raw = (bytes([1]) + struct.pack(">qQIQ", int(time.time() * 1000), rng.getrandbits(64),
                                        rng.randrange(8), rng.getrandbits(63)) + name)
        seeds.append(b"\x00" + sign_token(raw))
    for payload in (b"", b'{"after":"seed-stream"}', b"shardId-000000000003"):
        seeds.append(b"\x00" + sign_token(bytes([7]) + struct.pack(">q", int(time.time() * 1000)) + payload))
    for _ in range(6):  # round-trip mode: raw fields
        seeds.append(b"\x01" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(29, 60))))
    for text in (b"shardId-000000000000", b"shardId-1", b"shard-7", b"12", b"shardId-4294967296",
                 b"49590338271490256608559692538361571095921575989136588898"):
        seeds.append(b"\x00" + text)
    return seeds


def sigv4_seed(headers):
    auth = headers.get("authorization")
    if not auth:
        return None
    lines = [auth, "/", ""] + ["%s:%s" % (k, v) for k, v in headers.items() if k != "authorization"]
    return "\n".join(lines).encode("latin-1")


def synthetic_http_seeds():
    """Requests no SDK sends but any client may: preflight, other methods,
    chunked bodies, 100-continue, pipelining, a truncated body."""
    json_body = b'{"StreamName":"seed-stream"}'
    target = b"X-Amz-Target: Kinesis_20131202.DescribeStreamSummary\r\n"
    ctype = b"Content-Type: application/x-amz-json-1.1\r\n"
    one = (b"POST / HTTP/1.1\r\nHost: localhost\r\n" + ctype + target +
           b"Content-Length: %d\r\n\r\n" % len(json_body) + json_body)
    return [
        b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://example.com\r\n"
        b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-amz-target\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\n" + ctype + target +
        b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"Str\r\n17\r\neamName\":\"seed-stream\"}\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\n" + ctype + target + b"Expect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % len(json_body) + json_body,
        one + one,
        b"POST / HTTP/1.0\r\n" + ctype + target + b"Content-Length: 100\r\n\r\n{\"Stream",
        b"POST / HTTP/1.1\r\nHost: localhost\r\n" + ctype + b"Content-Length: 2\r\n\r\n{}",
    ]


def write_folder(folder, items, limit):
    os.makedirs(folder, exist_ok=True)
    seen = set()
    written = 0
    for data in items:
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        path = os.path.join(folder, digest)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        written += 1
        if written >= limit:
            break
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinesd_bin")
    parser.add_argument("--out", default=os.path.join(HERE, "corpus"))
    parser.add_argument("--no-js", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()

    server = KinesdServer(binary=args.kinesd_bin)
    recorder = Recorder(server.port)
    try:
        drive_boto3(recorder.endpoint)
        drive_cbor(recorder.port)
        if not args.no_cli and shutil.which("aws"):
            drive_cli(recorder.endpoint)
        if not args.no_js and shutil.which("node"):
            drive_js(recorder.endpoint)
        ignore_errors(drive_resharding, recorder.endpoint)
        time.sleep(0.5)  # let the pumps drain
        if not server.running():
            print("capture: kinesd died during the capture; see its log:\n" + server.log_tail(),
                  file=sys.stderr)
    finally:
        recorder.close()
        server.close()

    rng = random.Random(1)
    corpora = {name: [] for name in MAX_FILES}
    corpora["fuzz_http"].extend(b"\x00" + s for s in synthetic_http_seeds())
    for stream in recorder.take():
        if stream.startswith(H2_PREFACE):
            corpora["fuzz_http"].append(b"\x02" + stream)
            frames = after_first_settings(stream)
            if frames:
                corpora["fuzz_http"].append(b"\x03" + frames)
            corpora["fuzz_json_request"].extend(h2_bodies(stream))
            continue
        for head, headers, body in split_http1(stream):
            corpora["fuzz_http"].append(b"\x00" + head + body)
            kind = headers.get("content-type", "")
            if "cbor" in kind:
                corpora["fuzz_cbor_request"].append(body)
            elif body:
                corpora["fuzz_json_request"].append(body)
            seed = sigv4_seed(headers)
            if seed:
                corpora["fuzz_sigv4_header"].append(seed)
            if "json" in kind and body:
                try:
                    doc = json.loads(body)
                except ValueError:
                    continue
                for key in ("ShardIterator", "NextToken", "StartingSequenceNumber", "SequenceNumberForOrdering",
                            "ShardId", "ShardToSplit", "ExclusiveStartShardId"):
                    if isinstance(doc.get(key), str):
                        corpora["fuzz_shard_iterator"].append(b"\x00" + doc[key].encode())
    corpora["fuzz_shard_iterator"].extend(iterator_seeds(rng))

    for name, items in corpora.items():
        n = write_folder(os.path.join(args.out, name), items, MAX_FILES[name])
        print("%-20s %d seeds" % (name, n))


if __name__ == "__main__":
    main()
