// Connections are bounded in time and number: a slow body, silence after the handshake, no
// handshake at all and an idle kept-alive connection are all closed within the budget, and at
// the cap a newcomer evicts an idle connection (more in connection-guard.test.ts). Small
// injected limits keep this fast; every wait is for a close event, never a fixed sleep.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { generateLoopbackTls } from './tls/certs.ts';
import type { LoopbackTls } from './tls/certs.ts';
import { DEFAULT_LIMITS, startWebhookServer } from './server.ts';
import type { RunningWebhookServer } from './server.ts';

const TIMEOUT_MS = 250;
const CHECK_MS = 50;
// This test's budget: timeout + check interval, plus room for a loaded machine's scheduling.
const BUDGET_MS = 1000;
// Node >= 24.6 keeps an idle socket keepAliveTimeoutBuffer (1 s) past keepAliveTimeout.
const KEEP_ALIVE_BUFFER_MS = 1000;

let tls: LoopbackTls;
let server: RunningWebhookServer;

before(async () => {
  tls = generateLoopbackTls();
  server = await startWebhookServer({
    tls: { cert: tls.certPem, key: tls.keyPem },
    limits: { requestTimeoutMs: TIMEOUT_MS, headersTimeoutMs: TIMEOUT_MS, handshakeTimeoutMs: TIMEOUT_MS, keepAliveTimeoutMs: TIMEOUT_MS, timeoutCheckIntervalMs: CHECK_MS, maxConnections: 3 },
  });
});
after(async () => {
  await server.close({ graceMs: 100 });
});

const tlsSocket = () => connect({ host: '127.0.0.1', port: server.port, ca: tls.caPem, servername: 'localhost' });
const secured = (s: TLSSocket) => new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));

/** Milliseconds from now until the server closes the socket, and what it sent before. */
function closed(socket: Socket): Promise<{ afterMs: number; received: string }> {
  const started = performance.now();
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve({ afterMs: performance.now() - started, received })));
}

test('the defaults close a slow connection within the API server\'s 5 s budget', () => {
  assert.ok(DEFAULT_LIMITS.requestTimeoutMs + DEFAULT_LIMITS.timeoutCheckIntervalMs <= 5000);
  assert.ok(DEFAULT_LIMITS.headersTimeoutMs + DEFAULT_LIMITS.timeoutCheckIntervalMs <= 5000);
  assert.ok(DEFAULT_LIMITS.handshakeTimeoutMs <= 5000);
});

test('a body that stops arriving: 408 and closed within the budget', async (t) => {
  const socket = tlsSocket();
  await secured(socket);
  const done = closed(socket);
  socket.write('POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"kind":"Admission');
  const { afterMs, received } = await done;
  t.diagnostic(`closed after ${afterMs.toFixed(0)} ms`);
  assert.match(received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.ok(afterMs >= TIMEOUT_MS - CHECK_MS, `closed after ${afterMs.toFixed(0)} ms, before the timeout`);
  assert.ok(afterMs < BUDGET_MS, `closed after ${afterMs.toFixed(0)} ms`);
});

test('headers that stop arriving, and silence after the handshake: closed within the budget', async () => {
  const partial = tlsSocket();
  const silent = tlsSocket();
  await Promise.all([secured(partial), secured(silent)]);
  const [a, b] = [closed(partial), closed(silent)];
  partial.write('POST /validate HTTP/1.1\r\nHost: local');
  for (const { afterMs } of await Promise.all([a, b])) {
    assert.ok(afterMs >= TIMEOUT_MS - CHECK_MS && afterMs < BUDGET_MS, `closed after ${afterMs.toFixed(0)} ms`);
  }
});

test('a TCP connection that never starts TLS: closed within the budget', async () => {
  const socket = tcpConnect({ host: '127.0.0.1', port: server.port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const { afterMs } = await closed(socket);
  assert.ok(afterMs >= TIMEOUT_MS - CHECK_MS && afterMs < BUDGET_MS, `closed after ${afterMs.toFixed(0)} ms`);
});

test('an idle kept-alive connection is closed after keepAliveTimeout', async () => {
  const socket = tlsSocket();
  await secured(socket);
  const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await answered;
  const { afterMs } = await closed(socket);
  assert.ok(afterMs >= TIMEOUT_MS - CHECK_MS && afterMs < KEEP_ALIVE_BUFFER_MS + BUDGET_MS, `closed after ${afterMs.toFixed(0)} ms`);
});

test('at maxConnections a newcomer evicts the oldest idle connection (never used first), counted', async () => {
  const evicted = async () => (await server.metrics.registry.getSingleMetric('floatip_webhook_connections_evicted_total')?.get())?.values[0]?.value ?? 0;
  const before = await evicted();
  const open = [tlsSocket(), tlsSocket(), tlsSocket()];
  await Promise.all(open.map(secured));
  const oldestClosed = new Promise<void>((resolve) => open[0]?.once('close', () => resolve()));
  const extra = tlsSocket();
  await secured(extra);
  await oldestClosed;
  assert.equal(await evicted(), before + 1);
  for (const s of [...open, extra]) s.destroy();
});
