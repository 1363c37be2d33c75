// The AWS SDK for JavaScript v3 against kinesd, with the Kinesis client's
// default request handler (HTTP/2 with prior knowledge over http://).
// Starts the binary named by KINESD_BIN on a free loopback port.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { Server } from './kinesd_server.mjs';

let sdk;
try {
  sdk = await import('@aws-sdk/client-kinesis');
} catch (error) {
  throw new Error(`@aws-sdk/client-kinesis is not installed: run "npm ci" in ${import.meta.dirname ?? 'tests/integration/js'} (${error.message})`);
}
const {
  KinesisClient, CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand,
  GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordCommand,
  PutRecordsCommand, ResourceNotFoundException, waitUntilStreamExists, waitUntilStreamNotExists,
} = sdk;

describe('kinesd with @aws-sdk/client-kinesis', () => {
  const server = new Server();
  const streamName = `js-${randomBytes(6).toString('hex')}`;
  let client;
  let failed = false;
  const payloads = [Buffer.from('first record'), Buffer.alloc(0), randomBytes(4096), Buffer.from([0, 255, 0, 128])];
  const sequenceNumbers = [];

  // Marks the suite failed so the server log is printed at the end.
  const step = (name, body) => it(name, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  before(async () => {
    await server.start();
    client = new KinesisClient(server.clientConfig());
  });

  after(async () => {
    client?.destroy();
    const status = await server.finish(failed);
    assert.deepEqual(status, { code: 0, signal: null }, 'kinesd did not exit cleanly on SIGTERM');
  });

  step('uses the default HTTP/2 request handler', () => {
    assert.equal(client.config.requestHandler.constructor.name, 'NodeHttp2Handler');
  });

  step('CreateStream and wait until it exists', async () => {
    await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
    const result = await waitUntilStreamExists({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 120 },
      { StreamName: streamName });
    assert.equal(result.state, 'SUCCESS');
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    assert.equal(summary.StreamDescriptionSummary.StreamStatus, 'ACTIVE');
    assert.equal(summary.StreamDescriptionSummary.OpenShardCount, 2);
    assert.ok(summary.StreamDescriptionSummary.StreamCreationTimestamp instanceof Date);
  });

  step('ListShards', async () => {
    const { Shards } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    assert.deepEqual(Shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
  });

  step('PutRecord and PutRecords to one shard', async () => {
    const { Shards } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    const hashKey = Shards[1].HashKeyRange.StartingHashKey;
    const put = await client.send(new PutRecordCommand({
      StreamName: streamName, Data: payloads[0], PartitionKey: 'js', ExplicitHashKey: hashKey,
    }));
    assert.equal(put.ShardId, 'shardId-000000000001');
    sequenceNumbers.push(put.SequenceNumber);
    const batch = await client.send(new PutRecordsCommand({
      StreamName: streamName,
      Records: payloads.slice(1).map((Data, i) => ({ Data, PartitionKey: `js-${i}`, ExplicitHashKey: hashKey })),
    }));
    assert.equal(batch.FailedRecordCount ?? 0, 0);
    assert.equal(batch.Records.length, payloads.length - 1);
    for (const record of batch.Records) {
      assert.equal(record.ShardId, 'shardId-000000000001');
      sequenceNumbers.push(record.SequenceNumber);
    }
    const numbers = sequenceNumbers.map((s) => BigInt(s));
    for (let i = 1; i < numbers.length; i += 1) assert.ok(numbers[i - 1] < numbers[i]);
  });

  step('GetShardIterator and GetRecords return the bytes in order', async () => {
    const { ShardIterator } = await client.send(new GetShardIteratorCommand({
      StreamName: streamName, ShardId: 'shardId-000000000001', ShardIteratorType: 'TRIM_HORIZON',
    }));
    const page = await client.send(new GetRecordsCommand({ ShardIterator }));
    assert.equal(page.Records.length, payloads.length);
    page.Records.forEach((record, i) => {
      assert.ok(record.Data instanceof Uint8Array);
      assert.equal(Buffer.compare(Buffer.from(record.Data), payloads[i]), 0, `record ${i} differs`);
      assert.equal(record.SequenceNumber, sequenceNumbers[i]);
      assert.ok(record.ApproximateArrivalTimestamp instanceof Date);
    });
    assert.equal(typeof page.MillisBehindLatest, 'number');
    assert.ok(page.NextShardIterator);

    const other = await client.send(new GetShardIteratorCommand({
      StreamName: streamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON',
    }));
    const empty = await client.send(new GetRecordsCommand({ ShardIterator: other.ShardIterator }));
    assert.deepEqual(empty.Records, []);
  });

  step('errors come back as modelled exceptions', async () => {
    const missing = `missing-${randomBytes(4).toString('hex')}`;
    await assert.rejects(client.send(new DescribeStreamSummaryCommand({ StreamName: missing })), (error) => {
      assert.ok(error instanceof ResourceNotFoundException, `got ${error.name}`);
      assert.equal(error.message, `Stream ${missing} under account 000000000000 not found.`);
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.ok(error.$metadata.requestId);
      return true;
    });
  });

  step('DeleteStream', async () => {
    await client.send(new DeleteStreamCommand({ StreamName: streamName }));
    const result = await waitUntilStreamNotExists({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 120 },
      { StreamName: streamName });
    assert.equal(result.state, 'SUCCESS');
  });
});
