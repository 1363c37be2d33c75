// SubscribeToShard with @aws-sdk/client-kinesis and its default HTTP/2
// handler (h2c with prior knowledge over http://): records put before and
// after subscribing arrive, and a subscriber resumes from the last
// ContinuationSequenceNumber without losing or repeating a record.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { Server, sleep } from './kinesd_server.mjs';

let sdk;
try {
  sdk = await import('@aws-sdk/client-kinesis');
} catch (error) {
  throw new Error(`@aws-sdk/client-kinesis is not installed: run "npm ci" in tests/integration/js (${error.message})`);
}
const {
  KinesisClient, CreateStreamCommand, DescribeStreamConsumerCommand, DescribeStreamSummaryCommand,
  PutRecordCommand, RegisterStreamConsumerCommand, SubscribeToShardCommand,
} = sdk;

const SHARD = 'shardId-000000000000';
const WAIT_MS = 60000;

// One subscription: its events are read in the background into a list that
// the test waits on; abort() ends it from the client side.
class JsSubscription {
  constructor(client, consumerARN, position) {
    this.client = client;
    this.request = { ConsumerARN: consumerARN, ShardId: SHARD, StartingPosition: position };
    this.controller = new AbortController();
    this.events = [];
    this.records = [];
    this.ended = null;
  }

  async open() {
    const response = await this.client.send(new SubscribeToShardCommand(this.request),
      { abortSignal: this.controller.signal });
    this.done = (async () => {
      try {
        for await (const event of response.EventStream) {
          if (!event.SubscribeToShardEvent) continue;
          this.events.push(event.SubscribeToShardEvent);
          this.records.push(...event.SubscribeToShardEvent.Records);
        }
        this.ended = { ok: true };
      } catch (error) {
        this.ended = { ok: false, error };
      }
    })();
    return this;
  }

  async waitFor(predicate, what) {
    const deadline = Date.now() + WAIT_MS;
    while (!predicate()) {
      if (this.ended && !predicate()) throw new Error(`the subscription ended waiting for ${what}: ${this.ended.error ?? 'no error'}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  continuation() {
    for (let i = this.events.length - 1; i >= 0; i -= 1) {
      if (this.events[i].ContinuationSequenceNumber) return this.events[i].ContinuationSequenceNumber;
    }
    return undefined;
  }

  async close() {
    this.controller.abort();
    await this.done;
  }
}

describe('SubscribeToShard with @aws-sdk/client-kinesis', () => {
  const server = new Server();
  const streamName = `jssub-${randomBytes(6).toString('hex')}`;
  let client;
  let consumerARN;
  let failed = false;
  const acknowledged = [];
  const received = [];
  let continuation;
  let lastStart = 0;

  const step = (name, body) => it(name, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  const put = async (text) => {
    const { SequenceNumber } = await client.send(new PutRecordCommand({
      StreamName: streamName, Data: Buffer.from(text), PartitionKey: 'js',
    }));
    acknowledged.push(SequenceNumber);
    return SequenceNumber;
  };

  // A consumer may subscribe to a shard once every 5 seconds.
  const subscribe = async (position) => {
    const wait = lastStart + 5200 - Date.now();
    if (wait > 0) await sleep(wait);
    lastStart = Date.now();
    return new JsSubscription(client, consumerARN, position).open();
  };

  before(async () => {
    await server.start(['--subscribe-heartbeat-ms', '300']);
    client = new KinesisClient(server.clientConfig());
    await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
    for (;;) {
      const { StreamDescriptionSummary: s } = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
      if (s.StreamStatus === 'ACTIVE') {
        const { Consumer } = await client.send(new RegisterStreamConsumerCommand({
          StreamARN: s.StreamARN, ConsumerName: 'js-consumer',
        }));
        consumerARN = Consumer.ConsumerARN;
        break;
      }
      await sleep(100);
    }
    for (;;) {
      const { ConsumerDescription } = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerARN }));
      if (ConsumerDescription.ConsumerStatus === 'ACTIVE') break;
      await sleep(100);
    }
  });

  after(async () => {
    client?.destroy();
    const status = await server.finish(failed);
    assert.deepEqual(status, { code: 0, signal: null }, 'kinesd did not exit cleanly on SIGTERM');
  });

  step('uses the default HTTP/2 request handler', () => {
    assert.equal(client.config.requestHandler.constructor.name, 'NodeHttp2Handler');
  });

  step('records put before subscribing, then records pushed', async () => {
    for (let i = 0; i < 5; i += 1) await put(`before-${i}`);
    const sub = await subscribe({ Type: 'TRIM_HORIZON' });
    try {
      await sub.waitFor(() => sub.records.length >= 5, 'the 5 stored records');
      for (let i = 0; i < 5; i += 1) await put(`pushed-${i}`);
      await sub.waitFor(() => sub.records.length >= 10, 'the 5 pushed records');
      assert.deepEqual(sub.records.map((r) => Buffer.from(r.Data).toString()),
        [0, 1, 2, 3, 4].map((i) => `before-${i}`).concat([0, 1, 2, 3, 4].map((i) => `pushed-${i}`)));
      assert.deepEqual(sub.records.map((r) => r.SequenceNumber), acknowledged);
      for (const r of sub.records) {
        assert.ok(r.Data instanceof Uint8Array);
        assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
        assert.equal(r.PartitionKey, 'js');
      }
      for (const e of sub.events) assert.equal(typeof e.MillisBehindLatest, 'number');
      // Idle: empty events keep coming and carry the continuation point.
      const count = sub.events.length;
      await sub.waitFor(() => sub.events.length >= count + 2, 'empty events while idle');
      assert.deepEqual(sub.events.slice(count).flatMap((e) => e.Records), []);
      received.push(...sub.records.map((r) => r.SequenceNumber));
      continuation = sub.continuation();
      assert.ok(continuation, 'no ContinuationSequenceNumber');
    } finally {
      await sub.close();
    }
  });

  step('a second subscription within 5 seconds is refused', async () => {
    const first = await subscribe({ Type: 'LATEST' });
    try {
      await first.waitFor(() => first.events.length >= 1, 'the first event');
      await assert.rejects(new JsSubscription(client, consumerARN, { Type: 'LATEST' }).open(),
        (error) => error.name === 'ResourceInUseException');
    } finally {
      await first.close();
    }
  });

  step('resubscribing from the continuation, three times', async () => {
    for (let round = 0; round < 3; round += 1) {
      // Written while nobody is subscribed: must come on the next subscription.
      for (let i = 0; i < 3; i += 1) await put(`gap-${round}-${i}`);
      const sub = await subscribe({ Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation });
      try {
        await put(`live-${round}`);
        const last = acknowledged[acknowledged.length - 1];
        await sub.waitFor(() => sub.records.some((r) => r.SequenceNumber === last), `round ${round}'s records`);
        received.push(...sub.records.map((r) => r.SequenceNumber));
        continuation = sub.continuation();
      } finally {
        await sub.close();
      }
    }
    assert.equal(new Set(received).size, received.length, 'a record came twice');
    assert.deepEqual(received, acknowledged);
  });
});
