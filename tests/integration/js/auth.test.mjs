// The AWS SDK for JavaScript v3 against kinesd with a credentials file of two
// accounts: each key is accepted over the SDK's default HTTP/2 handler, sees
// only its own account's streams, and a wrong secret or an unknown key is
// refused with AWS's exception.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Server } from './kinesd_server.mjs';

let sdk;
try {
  sdk = await import('@aws-sdk/client-kinesis');
} catch (error) {
  throw new Error(`@aws-sdk/client-kinesis is not installed: run "npm ci" in tests/integration/js (${error.message})`);
}
const {
  KinesisClient, CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand, ListStreamsCommand,
  PutRecordCommand, waitUntilStreamExists,
} = sdk;

const alice = { accessKeyId: 'AKIAJSALICE000000001', secretAccessKey: 'js/alice+secret', account: '111111111111' };
const bob = { accessKeyId: 'AKIAJSBOB00000000002', secretAccessKey: 'js-bob-secret', account: '222222222222' };

describe('kinesd with SigV4 authentication and @aws-sdk/client-kinesis', () => {
  const server = new Server();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kinesd-js-auth-'));
  const name = `js-auth-${randomBytes(6).toString('hex')}`;
  const clients = [];
  let failed = false;
  const client = (who) => {
    const c = new KinesisClient({
      ...server.clientConfig(), credentials: { accessKeyId: who.accessKeyId, secretAccessKey: who.secretAccessKey },
    });
    clients.push(c);
    return c;
  };
  const step = (title, body) => it(title, async () => {
    try { await body(); } catch (error) { failed = true; throw error; }
  });

  before(async () => {
    const creds = path.join(dir, 'credentials');
    fs.writeFileSync(creds, [alice, bob].map((who, i) => `[p${i}]\naws_access_key_id = ${who.accessKeyId}\n`
      + `aws_secret_access_key = ${who.secretAccessKey}\naws_account_id = ${who.account}\n`).join('\n'));
    await server.start(['--credentials-file', creds]);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    const status = await server.finish(failed);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(status, { code: 0, signal: null }, 'kinesd did not exit cleanly on SIGTERM');
  });

  step('each key works over HTTP/2 in its own account', async () => {
    const a = client(alice);
    const b = client(bob);
    assert.equal(a.config.requestHandler.constructor.name, 'NodeHttp2Handler');
    await b.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const result = await waitUntilStreamExists({ client: b, minDelay: 1, maxDelay: 2, maxWaitTime: 120 },
      { StreamName: name });
    assert.equal(result.state, 'SUCCESS');
    const summary = await b.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    assert.equal(summary.StreamDescriptionSummary.StreamARN, `arn:aws:kinesis:us-east-1:${bob.account}:stream/${name}`);
    await b.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('hi') }));
    assert.ok((await b.send(new ListStreamsCommand({}))).StreamNames.includes(name));
    assert.ok(!(await a.send(new ListStreamsCommand({}))).StreamNames.includes(name));
    await assert.rejects(a.send(new DescribeStreamSummaryCommand({ StreamName: name })), (error) => {
      assert.equal(error.name, 'ResourceNotFoundException');
      assert.equal(error.message, `Stream ${name} under account ${alice.account} not found.`);
      return true;
    });
    await b.send(new DeleteStreamCommand({ StreamName: name }));
  });

  step('a wrong secret and an unknown key are refused', async () => {
    const wrong = client({ ...alice, secretAccessKey: 'not-it' });
    await assert.rejects(wrong.send(new ListStreamsCommand({})), (error) => {
      assert.equal(error.name, 'InvalidSignatureException');
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.match(error.message, /^The request signature we calculated does not match/);
      return true;
    });
    const stranger = client({ accessKeyId: 'AKIAJSNOBODY00000000', secretAccessKey: 'x' });
    await assert.rejects(stranger.send(new ListStreamsCommand({})), (error) => {
      assert.equal(error.name, 'UnrecognizedClientException');
      assert.equal(error.message, 'The security token included in the request is invalid.');
      return true;
    });
    // The server keeps serving.
    assert.ok(Array.isArray((await client(alice).send(new ListStreamsCommand({}))).StreamNames));
  });
});
