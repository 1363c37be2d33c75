// Starts and stops the kinesd binary named by KINESD_BIN on a free loopback
// port with a temporary data directory, for the JavaScript SDK suites.
// With KINESD_TEST_STORAGE=nats (run_on_nats.py sets it, and
// KINESD_TEST_NATS_URL) records go to NATS JetStream instead of RocksDB.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const binary = process.env.KINESD_BIN;

// --storage options for the backend under test; the prefix is derived from
// the data directory as in kinesd_server.py, and JetStream names allow
// [A-Za-z0-9_-] only.
function storageArgs(dataDir) {
  if (process.env.KINESD_TEST_STORAGE !== 'nats') return [];
  const url = process.env.KINESD_TEST_NATS_URL;
  if (!url) throw new Error('KINESD_TEST_STORAGE=nats needs KINESD_TEST_NATS_URL: run the suite through run_on_nats.py');
  const digest = crypto.createHash('sha1').update(fs.realpathSync(dataDir)).digest('hex').slice(0, 12);
  return ['--storage', 'nats', '--nats-url', url, '--nats-replicas', process.env.KINESD_TEST_NATS_REPLICAS || '1', '--nats-prefix', `kt${digest}`];
}

export function freePort() {
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
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Kinesis_20131202.ListStreams' },
    }, (response) => { response.resume(); response.on('end', () => resolve(true)); });
    request.on('error', () => resolve(false));
    request.on('timeout', () => { request.destroy(); resolve(false); });
    request.end('{}');
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Server {
  // extraArgs: more kinesd options, e.g. ['--s3-endpoint', url].
  async start(extraArgs = []) {
    if (!binary) throw new Error('KINESD_BIN is not set: point it at the kinesd binary');
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kinesd-js-'));
    this.dataDir = path.join(this.workDir, 'data');
    fs.mkdirSync(this.dataDir);
    this.logPath = path.join(this.workDir, 'kinesd.log');
    this.port = await freePort();
    const log = fs.openSync(this.logPath, 'a');
    this.child = spawn(binary, ['--host', '127.0.0.1', '--port', String(this.port),
      '--data-dir', this.dataDir, '--log-level', 'warn', ...storageArgs(this.dataDir), ...extraArgs], { stdio: ['ignore', log, log] });
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

  // What every SDK client of a suite is built with: this server, test
  // credentials, and no retries, so a failure shows at once.
  clientConfig() {
    return {
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    };
  }

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

  // Ends a suite: stops the server, prints its log when the suite failed or
  // the server did not exit cleanly, removes its files, and returns the exit
  // status for the suite to check.
  async finish(suiteFailed) {
    const status = await this.stop();
    if (suiteFailed || (status && status.code !== 0)) process.stderr.write(`${this.log()}\n`);
    this.cleanUp();
    return status;
  }
}
