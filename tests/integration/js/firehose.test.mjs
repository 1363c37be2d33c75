// The AWS SDK for JavaScript v3 Firehose client against kinesd: the control
// plane a producer touches and PutRecordBatch. Starts the binary named by
// KINESD_BIN on a free loopback port. Delivery to S3 is covered by the Python
// suites; here the S3 endpoint is a closed loopback port.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { freePort, Server } from './kinesd_server.mjs';

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

describe('kinesd with @aws-sdk/client-firehose', () => {
  const server = new Server();
  const name = `js-fh-${randomBytes(6).toString('hex')}`;
  let client;
  let failed = false;

  const step = (title, body) => it(title, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  before(async () => {
    // Nothing listens there: these tests never wait for delivery.
    await server.start(['--s3-endpoint', `http://127.0.0.1:${await freePort()}`]);
    client = new FirehoseClient(server.clientConfig());
  });

  after(async () => {
    client?.destroy();
    const status = await server.finish(failed);
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
