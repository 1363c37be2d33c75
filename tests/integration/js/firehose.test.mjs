// The AWS SDK for JavaScript v3 Firehose client against kinesd: the control
// plane a producer touches and PutRecordBatch. Starts the binary named by
// KINESD_BIN on a free loopback port. Delivery to S3 is covered by the Python
// suites; here the S3 endpoint is a closed loopback port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

let sdk;
try {
  sdk = await import('@aws-sdk/client-firehose');
} catch (error) {
  throw new Error(`@aws-sdk/client-firehose is not installed: run "npm ci" in ${import.meta.dirname ?? 'tests/integration/js'} (${error.message})`);
}
const {
  FirehoseClient, CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand,
  PutRecordBatchCommand, ResourceNotFoundException,
} = sdk;

const binary = process.env.KINESD_BIN;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function answers(port) {
  return new Promise((resolve) => {
    const request = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/', timeout: 2000,
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Firehose_20150804.ListDeliveryStreams' },
    }, (response) => { response.resume(); response.on('end', () => resolve(true)); });
    request.on('error', () => resolve(false));
    request.on('timeout', () => { request.destroy(); resolve(false); });
    request.end('{}');
  });
}

class Server {
  async start() {
    if (!binary) throw new Error('KINESD_BIN is not set: point it at the kinesd binary');
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kinesd-js-firehose-'));
    const dataDir = path.join(this.workDir, 'data');
    fs.mkdirSync(dataDir);
    this.logPath = path.join(this.workDir, 'kinesd.log');
    this.port = await freePort();
    const s3Port = await freePort();
    const log = fs.openSync(this.logPath, 'a');
    this.child = spawn(binary, ['--host', '127.0.0.1', '--port', String(this.port), '--data-dir', dataDir,
      '--log-level', 'warn', '--s3-endpoint', `http://127.0.0.1:${s3Port}`], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    let exited = false;
    this.exit.then(() => { exited = true; });
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`kinesd exited during start-up\n${this.log()}`);
      if (await answers(this.port)) return;
      await sleep(50);
    }
    throw new Error(`kinesd did not answer within 60 s\n${this.log()}`);
  }

  get endpoint() { return `http://127.0.0.1:${this.port}`; }

  log() {
    try { return `--- kinesd log ---\n${fs.readFileSync(this.logPath, 'utf8')}--- end of kinesd log ---`; } catch { return ''; }
  }

  async stop() {
    if (!this.child) return null;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30000);
    const status = await this.exit;
    clearTimeout(timer);
    return status;
  }

  cleanUp() {
    if (this.workDir) fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

describe('kinesd with @aws-sdk/client-firehose', () => {
  const server = new Server();
  const name = `js-fh-${randomBytes(6).toString('hex')}`;
  let client;
  let failed = false;

  const step = (title, body) => it(title, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  before(async () => {
    await server.start();
    client = new FirehoseClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  after(async () => {
    client?.destroy();
    const status = await server.stop();
    if (failed || (status && status.code !== 0)) process.stderr.write(`${server.log()}\n`);
    server.cleanUp();
    assert.deepEqual(status, { code: 0, signal: null }, 'kinesd did not exit cleanly on SIGTERM');
  });

  step('CreateDeliveryStream and DescribeDeliveryStream', async () => {
    const created = await client.send(new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      ExtendedS3DestinationConfiguration: {
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        BucketARN: 'arn:aws:s3:::js-bucket',
        BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 },
        CompressionFormat: 'GZIP',
      },
    }));
    assert.equal(created.DeliveryStreamARN, `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name}`);
    const { DeliveryStreamDescription: d } = await client.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }));
    assert.equal(d.DeliveryStreamStatus, 'ACTIVE');
    assert.equal(d.VersionId, '1');
    assert.ok(d.CreateTimestamp instanceof Date);
    assert.equal(d.Destinations[0].ExtendedS3DestinationDescription.CompressionFormat, 'GZIP');
  });

  step('PutRecordBatch answers one RecordId per record, in order', async () => {
    const records = [Buffer.from('first'), Buffer.alloc(0), randomBytes(100000), Buffer.from([0, 10, 255])];
    const result = await client.send(new PutRecordBatchCommand({
      DeliveryStreamName: name,
      Records: records.map((Data) => ({ Data })),
    }));
    assert.equal(result.FailedPutCount, 0);
    assert.equal(result.Encrypted, false);
    assert.equal(result.RequestResponses.length, records.length);
    const ids = result.RequestResponses.map((r) => r.RecordId);
    for (const id of ids) assert.ok(typeof id === 'string' && id.length > 0, `bad RecordId ${id}`);
    assert.equal(new Set(ids).size, ids.length, 'RecordIds are not unique');
    for (const r of result.RequestResponses) assert.equal(r.ErrorCode, undefined);
  });

  step('PutRecordBatch with 501 records is a ValidationException', async () => {
    await assert.rejects(
      client.send(new PutRecordBatchCommand({
        DeliveryStreamName: name,
        Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x') })),
      })),
      (error) => error.name === 'ValidationException' && /less than or equal to 500/.test(error.message),
    );
  });

  step('PutRecordBatch on an unknown delivery stream', async () => {
    const missing = `${name}-missing`;
    await assert.rejects(
      client.send(new PutRecordBatchCommand({ DeliveryStreamName: missing, Records: [{ Data: Buffer.from('x') }] })),
      (error) => error instanceof ResourceNotFoundException
        && error.message === `Firehose ${missing} under account 000000000000 not found.`,
    );
  });

  step('DeleteDeliveryStream', async () => {
    await client.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
    await assert.rejects(client.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name })),
      (error) => error instanceof ResourceNotFoundException);
  });
});
