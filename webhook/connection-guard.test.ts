// Idle or churning connections cannot lock the webhook: the real HTTPS server on loopback,
// attackers and the "API server" on different loopback addresses (127.0.0.1, 127.0.0.2 ...).
// Every wait is for a socket event or an answer, never a fixed sleep.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { generateLoopbackTls } from './tls/certs.ts';
import { startWebhookServer } from './server.ts';
import type { ServerLimits } from './server.ts';

const tls = generateLoopbackTls();

/** TLS from a chosen loopback source address (tls.connect's types do not list localAddress). */
const connect = (o: ConnectionOptions & { localAddress: string; port: number }): TLSSocket =>
  tlsConnect({ ...o, socket: tcpConnect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress }) });

async function serve(t: TestContext, limits: Partial<ServerLimits> = {}) {
  const server = await startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem }, limits });
  const counter = async (name: string) => (await server.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  t.after(() => server.close({ graceMs: 0 }));
  return { server, counter };
}

/** `count` idle TCP sockets from `from`, each re-opened as soon as the server closes it. */
function idleFlood(port: number, from: string, count: number) {
  let stopped = false;
  const open = new Set<Socket>();
  let reopened = 0;
  const connected: Promise<void>[] = [];
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const s = tcpConnect({ host: '127.0.0.1', port, localAddress: from });
      open.add(s);
      s.on('error', () => {});
      s.once('connect', () => resolve());
      s.once('close', () => {
        open.delete(s);
        resolve();
        if (!stopped) {
          reopened += 1;
          void one();
        }
      });
    });
  for (let i = 0; i < count; i++) connected.push(one());
  return {
    ready: Promise.all(connected),
    reopened: () => reopened,
    open: () => open.size,
    stop() {
      stopped = true;
      for (const s of open) s.destroy();
    },
  };
}

/** A fresh TLS connection from `from`: GET /healthz, resolves with the status line. */
function healthz(port: number, from: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: from, ca: tls.caPem, servername: 'localhost' });
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        resolve(data.split('\r\n')[0] ?? '');
        s.destroy();
      }
    });
    s.once('secureConnect', () => s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    s.on('error', (err) => resolve(`error ${err.message}`));
    s.once('close', () => resolve(data === '' ? 'closed without an answer' : (data.split('\r\n')[0] ?? '')));
  });
}

test('130 idle reconnecting sockets from one address: fresh connections from another are all served (default limits 128 / 64 per client)', async (t) => {
  const { server, counter } = await serve(t);
  const flood = idleFlood(server.port, '127.0.0.1', 130);
  t.after(() => flood.stop());
  await flood.ready;
  const answers: string[] = [];
  for (let i = 0; i < 20; i++) answers.push(await healthz(server.port, '127.0.0.2'));
  assert.deepEqual(answers, Array(20).fill('HTTP/1.1 200 OK'));
  const evicted = await counter('floatip_webhook_connections_evicted_total');
  t.diagnostic(`the flood re-opened ${flood.reopened()} sockets; ${evicted} idle ones evicted`);
  assert.ok(evicted >= 130 - 64, `at most 64 held at once: its own oldest idle sockets made room for its new ones (${evicted} evicted)`);
  flood.stop();
});

test('idle sockets from several addresses fill every connection: a newcomer evicts one of the busiest address', async (t) => {
  const { server, counter } = await serve(t, { maxConnections: 8, maxConnectionsPerClient: 4 });
  const floods = ['127.0.0.3', '127.0.0.4'].map((from) => idleFlood(server.port, from, 4));
  t.after(() => floods.forEach((f) => f.stop()));
  await Promise.all(floods.map((f) => f.ready));
  assert.equal(await healthz(server.port, '127.0.0.5'), 'HTTP/1.1 200 OK');
  assert.ok((await counter('floatip_webhook_connections_evicted_total')) >= 1);
  for (const f of floods) f.stop();
});

test('a request in flight is never evicted: with every connection busy, a newcomer is dropped and counted', async (t) => {
  const { server, counter } = await serve(t, { maxConnections: 2, maxConnectionsPerClient: 2, requestTimeoutMs: 60_000, headersTimeoutMs: 60_000 });
  const busy = [0, 1].map(() => connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.6', ca: tls.caPem, servername: 'localhost' }));
  const cut: string[] = [];
  for (const s of busy) s.on('error', () => {}).once('close', () => cut.push('closed'));
  await Promise.all(busy.map((s) => new Promise((resolve) => s.once('secureConnect', resolve))));
  // a review whose body is held back: Node answers "100 Continue" as it emits the request, so
  // once the client reads it the guard counts the request in flight
  const continued = busy.map((s) => new Promise<void>((resolve) => s.once('data', () => resolve())));
  for (const s of busy) s.write('POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
  await Promise.all(continued);
  const before = await counter('floatip_webhook_connections_dropped_total');
  assert.doesNotMatch(await healthz(server.port, '127.0.0.7'), /^HTTP/);
  assert.equal(await counter('floatip_webhook_connections_dropped_total'), before + 1, 'the newcomer was dropped');
  assert.deepEqual(cut, [], 'no busy connection was cut');
  for (const s of busy) s.destroy();
});
