// Drives kinesd with the newest AWS SDK for JavaScript v3 (installed at its
// latest release by scripts/deps/channels.sh):
// - every operation the Kinesis client exposes reaches an implemented action
//   (the list comes from the installed package, so a new operation kinesd
//   lacks fails this test);
// - channels deliver streams to an S3-compatible server in each record
//   format and compression, with OutputKeyTemplate keys and dead letters,
//   survive a restart, and refuse what they should;
// - UpdateStreamRecordDistributionStrategy.
// Channel freshness is 300 s at least, so objects are obtained by stopping
// kinesd: a SIGTERM flushes every delivery buffer to S3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';

const here = import.meta.dirname;
const load = async (name) => {
  try { return await import(name); } catch (error) {
    throw new Error(`${name} is not installed: run scripts/deps/channels.sh (${error.message})`);
  }
};
const kinesisSdk = await load('@aws-sdk/client-kinesis');
const s3Sdk = await load('@aws-sdk/client-s3');
const firehoseSdk = await load('@aws-sdk/client-firehose');
const { decompress: unzstd } = await load('fzstd');

const ACCOUNT = '000000000000';
const S3_KEY = 'S3RVER';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
  });
}

async function listening(port, child, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited during start-up`);
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen within 60 s`);
}

// s3rver (tests/integration/s3) when installed, else moto_server, as the
// Python delivery suites do.
class S3Server {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kinesd-channels-s3-'));
    this.port = await freePort();
    const s3rver = path.join(here, '..', 's3', 'node_modules', '.bin', 's3rver');
    const [cmd, args] = fs.existsSync(s3rver) && process.env.KINESD_TEST_S3 !== 'moto'
      ? [s3rver, ['-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port), '--silent']]
      : ['moto_server', ['-H', '127.0.0.1', '-p', String(this.port)]];
    this.child = spawn(cmd, args, { stdio: 'ignore' });
    this.child.on('error', (e) => { throw new Error(`cannot start ${cmd}: ${e.message}`); });
    await listening(this.port, this.child, cmd);
    this.endpoint = `http://127.0.0.1:${this.port}`;
    this.client = new s3Sdk.S3Client({
      endpoint: this.endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3,
      credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
  async objects(bucket) {
    const out = new Map();
    const list = await this.client.send(new s3Sdk.ListObjectsV2Command({ Bucket: bucket }));
    for (const { Key } of list.Contents ?? []) {
      const got = await this.client.send(new s3Sdk.GetObjectCommand({ Bucket: bucket, Key }));
      out.set(Key, Buffer.from(await got.Body.transformToByteArray()));
    }
    return out;
  }
  stop() { this.child?.kill('SIGKILL'); fs.rmSync(this.dir, { recursive: true, force: true }); }
}

// kinesd on one data directory that outlives restarts.
class Kinesd {
  constructor(args) {
    this.args = args;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kinesd-channels-'));
    this.logPath = path.join(this.dir, 'kinesd.log');
  }
  async start() {
    if (!process.env.KINESD_BIN) throw new Error('KINESD_BIN is not set');
    this.port = await freePort();
    const log = fs.openSync(this.logPath, 'a');
    this.child = spawn(process.env.KINESD_BIN, ['--host', '127.0.0.1', '--port', String(this.port), '--data-dir',
      path.join(this.dir, 'data'), ...this.args], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    await listening(this.port, this.child, 'kinesd');
    const config = { endpoint: `http://127.0.0.1:${this.port}`, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    this.kinesis = new kinesisSdk.KinesisClient(config);
    this.firehose = new firehoseSdk.FirehoseClient(config);
  }
  async stop() {
    this.child.kill('SIGTERM');
    return this.exit;
  }
  log() { try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; } }
  cleanUp() { fs.rmSync(this.dir, { recursive: true, force: true }); }
}

// The error a call fails with (the test fails if it succeeds).
async function failure(promise) {
  try { await promise; } catch (error) { return error; }
  assert.fail('the call succeeded; an error was expected');
}

const s3 = new S3Server();
let server;
let failed = false;
const call = (Command, input) => server.kinesis.send(new kinesisSdk[Command](input));

before(async () => {
  await s3.start();
  for (const bucket of ['delivered', 'dead-letters'])
    await s3.client.send(new s3Sdk.CreateBucketCommand({ Bucket: bucket }));
  server = new Kinesd(['--s3-endpoint', s3.endpoint, '--s3-access-key', S3_KEY, '--s3-secret-key', S3_KEY,
    '--log-level', 'info']);
  await server.start();
});

after(async () => {
  if (server?.child.exitCode === null) await server.stop();
  if (failed) process.stderr.write(`--- kinesd log ---\n${server?.log()}\n--- end ---\n`);
  server?.cleanUp();
  s3.stop();
});

describe('every operation of the newest Kinesis client', () => {
  it('answers each one with a response or an AWS error other than an unknown operation', async (t) => {
    t.after(() => { failed ||= t.failed; });
    const commands = Object.keys(kinesisSdk).filter((k) => /^[A-Z]\w+Command$/.test(k)).sort();
    assert.ok(commands.length >= 45, `the client lists ${commands.length} operations`);
    for (const name of ['CreateChannelCommand', 'UpdateStreamRecordDistributionStrategyCommand'])
      assert.ok(commands.includes(name), `${name} is in the client`);
    const missing = [];
    for (const name of commands) {
      try {
        await call(name, {});
      } catch (error) {
        const status = error.$metadata?.httpStatusCode;
        if (!status || /UnknownOperation|UnrecognizedClient|UnknownTarget/i.test(error.name))
          missing.push(`${name}: ${error.name} (${status}) ${error.message}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('would notice an unknown operation', async () => {
    // What the check above looks for is what kinesd answers to a target it lacks.
    const reply = await new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/', headers: {
        'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.NoSuchOperation' } },
      (response) => { let body = ''; response.on('data', (d) => { body += d; }); response.on('end', () => resolve(body)); });
      request.on('error', reject);
      request.end('{}');
    });
    assert.match(reply, /UnknownOperation/);
  });
});

const streamArn = (name) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${name}`;
const bucketArn = (name) => `arn:aws:s3:::${name}`;

async function onDemandStream(name) {
  await call('CreateStreamCommand', { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
  for (let i = 0; i < 100; ++i) {
    const d = await call('DescribeStreamSummaryCommand', { StreamName: name });
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return d.StreamDescriptionSummary;
    await sleep(50);
  }
  throw new Error(`${name} did not become ACTIVE`);
}

function channelInput(name, stream, format, compression, extra = {}) {
  return {
    ChannelName: name,
    ServiceExecutionRoleARN: `arn:aws:iam::${ACCOUNT}:role/channel`,
    StreamConfigurationList: [{ StreamARN: streamArn(stream), RecordConfiguration: { RecordFormatType: format } }],
    S3DestinationConfiguration: {
      StorageConfiguration: { BucketARN: bucketArn('delivered'), ExpectedBucketOwner: ACCOUNT,
        CompressionType: compression, ...(extra.template ? { OutputKeyTemplate: extra.template } : {}) },
      ...(extra.dlq ? { DeadLetterQueueS3Configuration: extra.dlq } : {}),
    },
  };
}

describe('channels', () => {
  const channels = {};
  // One partition key, one shard: objects keep the order records were put in.
  const put = (stream, data) => call('PutRecordsCommand', { StreamName: stream, Records: data.map((d) => ({
    Data: typeof d === 'string' ? Buffer.from(d) : d, PartitionKey: 'one' })) });
  const jsonRecords = ['{"n":1}', '{"n":2,"s":"x"}', '[1,2,3]', '"text"', '{"nested":{"a":[true,null]}}'];
  const stringRecords = ['plain', 'with spaces and ümlauts', 'emoji 🎉', '', 'last'];
  const byteRecords = [Buffer.from([0, 1, 2, 255]), Buffer.from([10, 13, 0]), Buffer.from('bytes')];

  it('creates channels, describes and lists them', async (t) => {
    t.after(() => { failed ||= t.failed; });
    for (const s of ['ch-json', 'ch-string', 'ch-bytes']) await onDemandStream(s);
    await put('ch-json', ['{"before":"channel"}']);  // no backfill: never delivered
    const created = await call('CreateChannelCommand', channelInput('json-gzip', 'ch-json', 'JSON', 'GZIP', {
      template: 'json/!{channel-name}/!{yyyy}/!{MM}/!{dd}/!{HH}/part!{extension}',
      dlq: { BucketARN: bucketArn('dead-letters'), ExpectedBucketOwner: ACCOUNT, ErrorOutputPrefix: 'errors/' },
    }));
    const d = created.ChannelDescription;
    assert.equal(d.ChannelName, 'json-gzip');
    assert.ok(['CREATING', 'ACTIVE'].includes(d.ChannelStatus));
    assert.equal(d.ChannelARN, `arn:aws:kinesis:us-east-1:${ACCOUNT}:channel/${d.ChannelId}`);
    assert.ok(d.ChannelCreationTimestamp instanceof Date);
    assert.equal(d.S3DestinationConfiguration.DataFreshnessInSeconds, 300);
    assert.equal(d.StreamConfigurationList[0].StreamARN, streamArn('ch-json'));
    channels.json = d;
    channels.string = (await call('CreateChannelCommand', channelInput('string-zstd', 'ch-string', 'STRING', 'ZSTD')))
      .ChannelDescription;
    channels.bytes = (await call('CreateChannelCommand', channelInput('bytes-none', 'ch-bytes', 'BYTE_ARRAY', 'NONE',
      { template: 'bytes/!{channel-id}/part' }))).ChannelDescription;

    const described = (await call('DescribeChannelCommand', { ChannelARN: channels.string.ChannelARN })).ChannelDescription;
    assert.equal(described.ChannelStatus, 'ACTIVE');
    assert.equal(described.S3DestinationConfiguration.StorageConfiguration.CompressionType, 'ZSTD');
    // The dead-letter bucket defaults to the destination bucket.
    assert.equal(described.S3DestinationConfiguration.DeadLetterQueueS3Configuration.BucketARN, bucketArn('delivered'));

    const all = await call('ListChannelsCommand', {});
    assert.deepEqual(all.ChannelSummaries.map((c) => c.ChannelName), ['bytes-none', 'json-gzip', 'string-zstd']);
    assert.ok(all.ChannelSummaries.every((c) => c.ChannelDestinationType === 'S3'));
    const page1 = await call('ListChannelsCommand', { MaxResults: 2 });
    assert.equal(page1.ChannelSummaries.length, 2);
    const page2 = await call('ListChannelsCommand', { MaxResults: 2, NextToken: page1.NextToken });
    assert.deepEqual(page2.ChannelSummaries.map((c) => c.ChannelName), ['string-zstd']);
    assert.equal(page2.NextToken, undefined);
    const filtered = await call('ListChannelsCommand', { StreamFilter: [{ StreamARN: streamArn('ch-json') }] });
    assert.deepEqual(filtered.ChannelSummaries.map((c) => c.ChannelName), ['json-gzip']);
    const summary = await call('DescribeStreamSummaryCommand', { StreamName: 'ch-json' });
    assert.equal(summary.StreamDescriptionSummary.ChannelCount, 1);
    // Channels are not delivery streams.
    const firehose = await server.firehose.send(new firehoseSdk.ListDeliveryStreamsCommand({}));
    assert.deepEqual(firehose.DeliveryStreamNames, []);
  });

  it('refuses what it cannot do', async (t) => {
    t.after(() => { failed ||= t.failed; });
    const tables = channelInput('tables', 'ch-json', 'JSON', 'NONE');
    delete tables.S3DestinationConfiguration;
    tables.S3TablesDestinationConfiguration = {
      DeadLetterQueueS3Configuration: { BucketARN: bucketArn('dead-letters'), ExpectedBucketOwner: ACCOUNT },
      S3TablesConfigurationList: [{ TableBucketARN: `arn:aws:s3tables:us-east-1:${ACCOUNT}:bucket/t`,
        Namespace: 'n', TableName: 't', CompressionType: 'ZSTD' }],
    };
    let e = await failure(call('CreateChannelCommand', tables));
    assert.equal(e.name, 'InvalidArgumentException');
    assert.match(e.message, /kinesd/);
    assert.match(e.message, /S3 ?Tables/i);

    e = await failure(call('DescribeChannelCommand', { ChannelARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:channel/nope` }));
    assert.equal(e.name, 'ResourceNotFoundException');
    e = await failure(call('DeleteChannelCommand', { ChannelARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:channel/nope` }));
    assert.equal(e.name, 'ResourceNotFoundException');

    await onDemandStream('ch-spare');
    const bad = [
      [channelInput('fresh', 'ch-spare', 'JSON', 'NONE'), (i) => { i.S3DestinationConfiguration.DataFreshnessInSeconds = 60; }],
      [channelInput('tpl', 'ch-spare', 'JSON', 'NONE', { template: '!{nope}/x' }), () => {}],
      [channelInput('tpl2', 'ch-spare', 'JSON', 'NONE', { template: 'no/variables' }), () => {}],
      [channelInput('gsr', 'ch-spare', 'GSR_JSON', 'NONE'), () => {}],
      [channelInput('tags', 'ch-spare', 'JSON', 'NONE'), (i) => {
        i.Tags = { 'bad#key': 'v' };
      }],
    ];
    for (const [input, change] of bad) {
      change(input);
      e = await failure(call('CreateChannelCommand', input));
      assert.equal(e.name, 'InvalidArgumentException', `${input.ChannelName}: ${e.name} ${e.message}`);
    }
    // What the model's patterns refuse is a ValidationException.
    const invalid = channelInput('bucket', 'ch-spare', 'JSON', 'NONE');
    invalid.S3DestinationConfiguration.StorageConfiguration.BucketARN = 'bucket';
    invalid.ServiceExecutionRoleARN = 'role';
    e = await failure(call('CreateChannelCommand', invalid));
    assert.equal(e.name, 'ValidationException');
    assert.match(e.message, /^2 validation errors detected: .*serviceExecutionRoleARN.*bucketARN/);
    await call('CreateStreamCommand', { StreamName: 'ch-provisioned', ShardCount: 1 });
    e = await failure(call('CreateChannelCommand', channelInput('prov', 'ch-provisioned', 'JSON', 'NONE')));
    assert.equal(e.name, 'InvalidArgumentException');
    e = await failure(call('CreateChannelCommand', channelInput('missing', 'ch-missing', 'JSON', 'NONE')));
    assert.equal(e.name, 'ResourceNotFoundException');
    e = await failure(call('CreateChannelCommand', channelInput('json-gzip', 'ch-spare', 'JSON', 'NONE')));
    assert.equal(e.name, 'ResourceInUseException');
    e = await failure(call('CreateChannelCommand', channelInput('second', 'ch-json', 'JSON', 'NONE')));
    assert.equal(e.name, 'LimitExceededException');
    e = await failure(call('DeleteStreamCommand', { StreamName: 'ch-json' }));
    assert.equal(e.name, 'ResourceInUseException');
    e = await failure(call('UpdateChannelCommand', { ChannelARN: channels.json.ChannelARN,
      S3DestinationConfiguration: { DataFreshnessInSeconds: 5000 } }));
    assert.equal(e.name, 'InvalidArgumentException');
  });

  it('tags channels by ARN', async (t) => {
    t.after(() => { failed ||= t.failed; });
    const arn = channels.bytes.ChannelARN;
    await call('TagResourceCommand', { ResourceARN: arn, Tags: { team: 'data', tier: 'gold' } });
    await call('UntagResourceCommand', { ResourceARN: arn, TagKeys: ['tier'] });
    const listed = await call('ListTagsForResourceCommand', { ResourceARN: arn });
    assert.deepEqual(listed.Tags, [{ Key: 'team', Value: 'data' }]);
    const e = await failure(call('ListTagsForResourceCommand',
      { ResourceARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:channel/nope` }));
    assert.equal(e.name, 'ResourceNotFoundException');
    const p = await failure(call('PutResourcePolicyCommand', { ResourceARN: arn, Policy: '{}' }));
    assert.equal(p.name, 'InvalidArgumentException');
    const q = await failure(call('ListTagsForResourceCommand',
      { ResourceARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:queue/q` }));
    assert.equal(q.name, 'ResourceNotFoundException');
    // The model requires LoggingConfiguration in a description.
    const d = (await call('DescribeChannelCommand', { ChannelARN: arn })).ChannelDescription;
    assert.deepEqual(d.LoggingConfiguration, { CloudWatchLogs: { Enabled: false } });
  });

  it('updates the freshness', async (t) => {
    t.after(() => { failed ||= t.failed; });
    const updated = await call('UpdateChannelCommand', { ChannelARN: channels.json.ChannelARN,
      S3DestinationConfiguration: { DataFreshnessInSeconds: 600 },
      LoggingConfiguration: { CloudWatchLogs: { Enabled: true, LogGroupName: 'g' } } });
    assert.equal(updated.ChannelDescription.S3DestinationConfiguration.DataFreshnessInSeconds, 600);
    const d = (await call('DescribeChannelCommand', { ChannelARN: channels.json.ChannelARN })).ChannelDescription;
    assert.equal(d.LoggingConfiguration.CloudWatchLogs.LogGroupName, 'g');
  });

  it('delivers each format and compression, keeps channels across a restart', async (t) => {
    t.after(() => { failed ||= t.failed; });
    await put('ch-json', [...jsonRecords, '{not json']);
    await put('ch-string', [...stringRecords.map((s) => Buffer.from(s)), Buffer.from([0xff, 0xfe])]);
    await put('ch-bytes', byteRecords);
    const status = await server.stop();  // flushes the buffers to S3
    assert.deepEqual(status, { code: 0, signal: null });
    await server.start();

    const delivered = await s3.objects('delivered');
    const keys = [...delivered.keys()];
    const jsonKey = keys.filter((k) => k.startsWith('json/json-gzip/'));
    assert.equal(jsonKey.length, 1, keys.join(', '));
    assert.match(jsonKey[0], /^json\/json-gzip\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/part-[0-9a-f]+\.gz$/);
    const jsonLines = zlib.gunzipSync(delivered.get(jsonKey[0])).toString('utf8');
    assert.equal(jsonLines, jsonRecords.map((r) => `${r}\n`).join(''));

    const stringKey = keys.filter((k) => k.startsWith(`kinesis-channel/string-zstd/${channels.string.ChannelId}/`));
    assert.equal(stringKey.length, 1, keys.join(', '));
    assert.match(stringKey[0], /\/string-zstd-[0-9a-f-]+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]+\.zst$/);
    const text = Buffer.from(unzstd(delivered.get(stringKey[0]))).toString('utf8');
    assert.equal(text, stringRecords.map((r) => `${r}\n`).join(''));

    const byteKey = keys.filter((k) => k.startsWith(`bytes/${channels.bytes.ChannelId}/part-`));
    assert.equal(byteKey.length, 1, keys.join(', '));
    assert.deepEqual(delivered.get(byteKey[0]), Buffer.concat(byteRecords));

    // Records that fail the format check: JSON's to its dead-letter bucket,
    // STRING's to the destination bucket (its default).
    const dead = [...(await s3.objects('dead-letters')).entries()];
    assert.equal(dead.length, 1);
    assert.match(dead[0][0], /^errors\/json-gzip\//);
    const line = JSON.parse(dead[0][1].toString('utf8'));
    assert.equal(Buffer.from(line.rawData, 'base64').toString(), '{not json');
    const stringDead = keys.filter((k) => k.startsWith('kinesis-channel-errors/string-zstd/'));
    assert.equal(stringDead.length, 1, keys.join(', '));
    assert.deepEqual(Buffer.from(JSON.parse(delivered.get(stringDead[0]).toString()).rawData, 'base64'),
      Buffer.from([0xff, 0xfe]));

    const d = (await call('DescribeChannelCommand', { ChannelARN: channels.json.ChannelARN })).ChannelDescription;
    assert.equal(d.ChannelStatus, 'ACTIVE');
    assert.equal(d.S3DestinationConfiguration.DataFreshnessInSeconds, 600);
    assert.equal((await call('ListChannelsCommand', {})).ChannelSummaries.length, 3);
  });

  it('deletes channels', async (t) => {
    t.after(() => { failed ||= t.failed; });
    for (const c of Object.values(channels)) await call('DeleteChannelCommand', { ChannelARN: c.ChannelARN });
    const e = await failure(call('DescribeChannelCommand', { ChannelARN: channels.json.ChannelARN }));
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.deepEqual((await call('ListChannelsCommand', {})).ChannelSummaries, []);
    await call('DeleteStreamCommand', { StreamName: 'ch-json' });
  });
});

describe('UpdateStreamRecordDistributionStrategy', () => {
  it('spreads records of one key over the shards with AUTO', async (t) => {
    t.after(() => { failed ||= t.failed; });
    const summary = await onDemandStream('rd-auto');
    assert.equal(summary.RecordDistributionStrategy, 'USER_PARTITION_KEY');
    const shardsOf = async () => {
      const result = await call('PutRecordsCommand', { StreamName: 'rd-auto',
        Records: Array.from({ length: 64 }, () => ({ Data: Buffer.from('x'), PartitionKey: 'same' })) });
      return new Set(result.Records.map((r) => r.ShardId));
    };
    assert.equal((await shardsOf()).size, 1);
    await call('UpdateStreamRecordDistributionStrategyCommand', { StreamARN: streamArn('rd-auto'),
      RecordDistributionStrategy: 'AUTO' });
    const after = await call('DescribeStreamSummaryCommand', { StreamName: 'rd-auto' });
    assert.equal(after.StreamDescriptionSummary.RecordDistributionStrategy, 'AUTO');
    assert.ok((await shardsOf()).size > 1);
    // The newest model makes PartitionKey optional; AUTO streams take records without one.
    const keyless = await call('PutRecordsCommand', { StreamName: 'rd-auto',
      Records: Array.from({ length: 32 }, (_, i) => ({ Data: Buffer.from(`k${i}`) })) });
    assert.equal(keyless.FailedRecordCount, 0);
    assert.ok(new Set(keyless.Records.map((r) => r.ShardId)).size > 1);
    const one = await call('PutRecordCommand', { StreamName: 'rd-auto', Data: Buffer.from('solo') });
    const iterator = (await call('GetShardIteratorCommand', { StreamName: 'rd-auto', ShardId: one.ShardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: one.SequenceNumber })).ShardIterator;
    const read = await call('GetRecordsCommand', { ShardIterator: iterator, Limit: 1 });
    assert.equal(Buffer.from(read.Records[0].Data).toString(), 'solo');

    await call('UpdateStreamRecordDistributionStrategyCommand', { StreamARN: streamArn('rd-auto'),
      RecordDistributionStrategy: 'USER_PARTITION_KEY' });
    assert.equal((await shardsOf()).size, 1);
    let e = await failure(call('PutRecordCommand', { StreamName: 'rd-auto', Data: Buffer.from('x') }));
    assert.equal(e.name, 'ValidationException');
    assert.match(e.message, /at 'partitionKey' failed to satisfy constraint: Member must not be null/);
    e = await failure(call('PutRecordsCommand', { StreamName: 'rd-auto',
      Records: [{ Data: Buffer.from('a'), PartitionKey: 'p' }, { Data: Buffer.from('b') }] }));
    assert.equal(e.name, 'ValidationException');
    assert.match(e.message, /^1 validation error detected: .*'records\.2\.member\.partitionKey'/);
  });

  it('is refused for provisioned and missing streams', async (t) => {
    t.after(() => { failed ||= t.failed; });
    await call('CreateStreamCommand', { StreamName: 'rd-prov', ShardCount: 1 });
    await sleep(100);
    let e = await failure(call('UpdateStreamRecordDistributionStrategyCommand', { StreamARN: streamArn('rd-prov'),
      RecordDistributionStrategy: 'AUTO' }));
    assert.equal(e.name, 'InvalidArgumentException');
    e = await failure(call('UpdateStreamRecordDistributionStrategyCommand', { StreamARN: streamArn('rd-none'),
      RecordDistributionStrategy: 'AUTO' }));
    assert.equal(e.name, 'ResourceNotFoundException');
    const summary = await call('DescribeStreamSummaryCommand', { StreamName: 'rd-prov' });
    assert.equal(summary.StreamDescriptionSummary.RecordDistributionStrategy, undefined);
  });

  it('can be chosen by CreateStream', async (t) => {
    t.after(() => { failed ||= t.failed; });
    await call('CreateStreamCommand', { StreamName: 'rd-created', StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RecordDistributionStrategy: 'AUTO' });
    const summary = await call('DescribeStreamSummaryCommand', { StreamName: 'rd-created' });
    assert.equal(summary.StreamDescriptionSummary.RecordDistributionStrategy, 'AUTO');
  });
});

describe('channel states', () => {
  // A second kinesd whose resources take time to create, update and delete.
  let slow;
  const slowCall = (Command, input) => slow.kinesis.send(new kinesisSdk[Command](input));
  const statusOf = async (arn) =>
    (await slowCall('DescribeChannelCommand', { ChannelARN: arn })).ChannelDescription.ChannelStatus;
  const waitFor = async (arn, status) => {
    for (let i = 0; i < 200; ++i) {
      if (await statusOf(arn) === status) return;
      await sleep(25);
    }
    assert.fail(`channel never ${status}`);
  };
  before(async () => {
    slow = new Kinesd(['--create-stream-ms', '500', '--delete-stream-ms', '500', '--s3-endpoint', s3.endpoint,
      '--s3-access-key', S3_KEY, '--s3-secret-key', S3_KEY]);
    await slow.start();
  });
  after(async () => {
    await slow.stop();
    slow.cleanUp();
  });

  it('go CREATING, ACTIVE, UPDATING, ACTIVE, DELETING, gone', async (t) => {
    t.after(() => { failed ||= t.failed; });
    await slowCall('CreateStreamCommand', { StreamName: 'slow', StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
    let e = await failure(slowCall('CreateChannelCommand', channelInput('early', 'slow', 'JSON', 'NONE')));
    assert.equal(e.name, 'ResourceInUseException');  // the stream is still CREATING
    for (let i = 0; i < 200; ++i) {
      const s = await slowCall('DescribeStreamSummaryCommand', { StreamName: 'slow' });
      if (s.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
      await sleep(25);
    }
    const d = (await slowCall('CreateChannelCommand', channelInput('slow', 'slow', 'JSON', 'NONE'))).ChannelDescription;
    assert.equal(d.ChannelStatus, 'CREATING');
    e = await failure(slowCall('UpdateChannelCommand', { ChannelARN: d.ChannelARN,
      S3DestinationConfiguration: { DataFreshnessInSeconds: 400 } }));
    assert.equal(e.name, 'ResourceInUseException');
    await waitFor(d.ChannelARN, 'ACTIVE');
    const u = await slowCall('UpdateChannelCommand', { ChannelARN: d.ChannelARN,
      S3DestinationConfiguration: { DataFreshnessInSeconds: 400 } });
    assert.equal(u.ChannelDescription.ChannelStatus, 'UPDATING');
    await waitFor(d.ChannelARN, 'ACTIVE');
    await slowCall('DeleteChannelCommand', { ChannelARN: d.ChannelARN });
    assert.equal(await statusOf(d.ChannelARN), 'DELETING');
    // A DELETING channel no longer holds its stream.
    await slowCall('DeleteStreamCommand', { StreamName: 'slow' });
    for (let i = 0; i < 200; ++i) {
      e = await failure(slowCall('DescribeChannelCommand', { ChannelARN: d.ChannelARN })).catch((x) => x);
      if (e.name === 'ResourceNotFoundException') return;
      await sleep(25);
    }
    assert.fail('the channel was never gone');
  });
});
