// @aws-sdk/client-kinesis over https with HTTP/2 inside TLS (NodeHttp2Handler
// trusting the certificate kinesd made in its data directory), and plain
// http:// (h2c) to the same port in the same run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Server, sleep } from './kinesd_server.mjs';

let sdk;
let handlers;
try {
  sdk = await import('@aws-sdk/client-kinesis');
  handlers = await import('@smithy/node-http-handler');
} catch (error) {
  throw new Error(`the AWS SDK is not installed: run "npm ci" in tests/integration/js (${error.message})`);
}
const {
  KinesisClient, CreateStreamCommand, DescribeStreamConsumerCommand, GetRecordsCommand, GetShardIteratorCommand,
  ListStreamsCommand, PutRecordCommand, PutRecordsCommand, RegisterStreamConsumerCommand, SubscribeToShardCommand,
  waitUntilStreamExists,
} = sdk;
const { NodeHttp2Handler } = handlers;

const SHARD = 'shardId-000000000000';
const WAIT_MS = 60000;

describe('kinesd over TLS with @aws-sdk/client-kinesis', () => {
  const server = new Server();
  const streamName = `js-tls-${randomBytes(6).toString('hex')}`;
  let ca;
  let tlsClient;
  let plainClient;
  let failed = false;

  const step = (name, body) => it(name, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  before(async () => {
    await server.start();
    ca = fs.readFileSync(path.join(server.dataDir, 'tls', 'cert.pem'));
    tlsClient = new KinesisClient({
      ...server.clientConfig(),
      endpoint: `https://127.0.0.1:${server.port}`,
      requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
    });
    plainClient = new KinesisClient(server.clientConfig());
  });

  after(async () => {
    tlsClient?.destroy();
    plainClient?.destroy();
    const status = await server.finish(failed);
    assert.deepEqual(status, { code: 0, signal: null }, 'kinesd did not exit cleanly on SIGTERM');
  });

  step('the server negotiates h2 by ALPN over TLS', async () => {
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca });
    try {
      await new Promise((resolve, reject) => { session.once('connect', resolve); session.once('error', reject); });
      assert.equal(session.encrypted, true);
      assert.equal(session.alpnProtocol, 'h2');
    } finally {
      session.close();
    }
  });

  step('a client trusting another certificate is refused', async () => {
    const stranger = new KinesisClient({
      ...server.clientConfig(),
      endpoint: `https://127.0.0.1:${server.port}`,
      requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca: [] } }),
    });
    try {
      await assert.rejects(stranger.send(new ListStreamsCommand({})), /certificate/i);
    } finally {
      stranger.destroy();
    }
  });

  step('CreateStream, PutRecords, GetRecords over https', async () => {
    assert.equal(tlsClient.config.requestHandler.constructor.name, 'NodeHttp2Handler');
    await tlsClient.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
    const waited = await waitUntilStreamExists({ client: tlsClient, minDelay: 1, maxDelay: 2, maxWaitTime: 120 },
      { StreamName: streamName });
    assert.equal(waited.state, 'SUCCESS');
    const payloads = [0, 1, 2, 3].map((i) => Buffer.from(`tls-${i}`));
    const put = await tlsClient.send(new PutRecordsCommand({
      StreamName: streamName, Records: payloads.map((Data) => ({ Data, PartitionKey: 'k' })),
    }));
    assert.equal(put.FailedRecordCount, 0);
    const { ShardIterator } = await tlsClient.send(new GetShardIteratorCommand({
      StreamName: streamName, ShardId: SHARD, ShardIteratorType: 'TRIM_HORIZON',
    }));
    const got = await tlsClient.send(new GetRecordsCommand({ ShardIterator }));
    assert.deepEqual(got.Records.map((r) => Buffer.from(r.Data).toString()), payloads.map(String));
  });

  step('plain http:// to the same port still works', async () => {
    await plainClient.send(new PutRecordCommand({ StreamName: streamName, Data: Buffer.from('plain'), PartitionKey: 'k' }));
    const names = (await plainClient.send(new ListStreamsCommand({}))).StreamNames;
    assert.ok(names.includes(streamName));
  });

  step('SubscribeToShard over https pushes records', async () => {
    const { Consumer } = await tlsClient.send(new RegisterStreamConsumerCommand({
      StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`, ConsumerName: 'tls-consumer',
    }));
    for (;;) {
      const { ConsumerDescription } = await tlsClient.send(
        new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
      if (ConsumerDescription.ConsumerStatus === 'ACTIVE') break;
      await sleep(100);
    }
    const controller = new AbortController();
    const response = await tlsClient.send(new SubscribeToShardCommand({
      ConsumerARN: Consumer.ConsumerARN, ShardId: SHARD, StartingPosition: { Type: 'LATEST' },
    }), { abortSignal: controller.signal });
    const records = [];
    let ended = null;
    const reading = (async () => {
      try {
        for await (const event of response.EventStream) {
          if (event.SubscribeToShardEvent) records.push(...event.SubscribeToShardEvent.Records);
        }
        ended = 'the stream ended';
      } catch (error) {
        ended = error;
      }
    })();
    try {
      const sent = [0, 1, 2].map((i) => `pushed-${i}`);
      // LATEST was fixed when the subscription opened: all of these come.
      const deadline = Date.now() + WAIT_MS;
      for (const data of sent) {
        await tlsClient.send(new PutRecordCommand({ StreamName: streamName, Data: Buffer.from(data), PartitionKey: 'k' }));
      }
      while (records.length < sent.length) {
        if (ended) throw new Error(`the subscription ended early: ${ended}`);
        if (Date.now() > deadline) throw new Error(`only ${records.length} records after ${WAIT_MS} ms`);
        await sleep(20);
      }
      assert.deepEqual(records.map((r) => Buffer.from(r.Data).toString()), sent);
    } finally {
      controller.abort();
      await reading;
    }
  });
});
