import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../shared/logger.ts';
import { PROBE_PATH, SIGNATURE_HEADER, sign } from '../shared/liveness-auth.ts';
import { probeTcp } from '../shared/tcp-probe.ts';
import type { TcpProber } from '../shared/tcp-probe.ts';
import { createIndirectProber } from '../reconciler/liveness/indirect.ts';
import { startProbeServer } from './probe-server.ts';

const KEY = randomBytes(32);
const logger = createLogger({ level: 'silent', name: 'test' });

/** A listening "kubelet" on loopback, and a port nothing listens on (closed after binding). */
async function ports(): Promise<{ open: number; closed: number; stop: () => void }> {
  const listening = createServer((s) => s.destroy());
  await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
  const closed = (spare.address() as AddressInfo).port;
  await new Promise<void>((r) => spare.close(() => r()));
  return { open: (listening.address() as AddressInfo).port, closed, stop: () => listening.close() };
}

test('tcp probe: a listener and a refusing port both prove the host is up; the RTT is measured', async () => {
  const p = await ports();
  try {
    const open = await probeTcp('127.0.0.1', p.open, 1000);
    assert.equal(open.reached, true);
    assert.ok(open.rttMs !== undefined && open.rttMs >= 0 && open.rttMs < 1000, `rtt ${open.rttMs}`);
    const refused = await probeTcp('127.0.0.1', p.closed, 1000);
    assert.equal(refused.reached, true, 'a RST comes from the kernel of a live droplet');
  } finally {
    p.stop();
  }
});

test('indirect probe: a signed request is answered from the agent\'s own probe; a foreign key, another port or a forged answer proves nothing', async () => {
  const p = await ports();
  const silent: TcpProber = async () => ({ reached: false, error: 'timeout' });
  let prober: TcpProber = probeTcp;
  const server = await startProbeServer({ host: '127.0.0.1', port: 0, probePort: p.open, key: () => KEY, logger, prober: (...a) => prober(...a) });
  try {
    const ask = createIndirectProber({ agentPort: server.port, key: () => KEY });
    const target = { host: '127.0.0.1', port: p.open, timeoutMs: 300 };
    assert.equal(await ask('127.0.0.1', target), 'reached');
    prober = silent;
    assert.equal(await ask('127.0.0.1', target), 'unreached');
    prober = probeTcp;
    const stranger = createIndirectProber({ agentPort: server.port, key: () => randomBytes(32) });
    assert.equal(await stranger('127.0.0.1', target), 'no-answer', 'a request signed with another key is refused');
    assert.equal(await ask('127.0.0.1', { ...target, port: p.closed }), 'no-answer', 'only the kubelet port may be probed');
    const keyless = createIndirectProber({ agentPort: server.port, key: () => undefined });
    assert.equal(await keyless('127.0.0.1', target), 'no-answer');
    assert.equal(await ask('127.0.0.1', { ...target }, AbortSignal.abort()), 'no-answer');
  } finally {
    await server.close();
    p.stop();
  }
});

test('indirect probe: replays, old requests and unsigned answers are refused', async () => {
  let t = 1_000_000;
  const server = await startProbeServer({ host: '127.0.0.1', port: 0, probePort: 10250, key: () => KEY, logger, prober: async () => ({ reached: false, error: 'timeout' }), now: () => t });
  const url = `http://127.0.0.1:${server.port}${PROBE_PATH}`;
  const post = (body: string, signature = sign(KEY, body)) => fetch(url, { method: 'POST', headers: { [SIGNATURE_HEADER]: signature }, body });
  try {
    const body = JSON.stringify({ host: '10.0.0.5', port: 10250, timeoutMs: 300, sentMs: t, nonce: 'n-1' });
    const first = await post(body);
    assert.equal(first.status, 200);
    const answer = await first.text();
    assert.equal(first.headers.get(SIGNATURE_HEADER), sign(KEY, answer), 'the answer is signed');
    assert.deepEqual(JSON.parse(answer), { nonce: 'n-1', reached: false, error: 'timeout' });
    assert.equal((await post(body)).status, 401, 'the same request again is a replay');
    const old = JSON.stringify({ host: '10.0.0.5', port: 10250, timeoutMs: 300, sentMs: t - 11_000, nonce: 'n-2' });
    assert.equal((await post(old)).status, 401, 'older than the 10 s window');
    assert.equal((await post(body.replace('n-1', 'n-3'), 'forged')).status, 401);
    const notAnIp = JSON.stringify({ host: 'example.com', port: 10250, timeoutMs: 300, sentMs: t, nonce: 'n-4' });
    assert.equal((await post(notAnIp)).status, 403);
    assert.equal((await post('{"host":')).status, 400);
    t += 30_000; // the nonce cache forgets after the window; the time check still refuses the old body
    assert.equal((await post(body)).status, 401);
  } finally {
    await server.close();
  }
});

test('tcp probe: a handshake that completed during an event-loop stall longer than the timeout still counts as reached', async () => {
  const p = await ports();
  try {
    const pending = probeTcp('127.0.0.1', p.open, 50);
    // block the loop past the timeout: the SYN-ACK is there long before the loop runs again
    const until = Date.now() + 200;
    while (Date.now() < until) {
      /* busy */
    }
    assert.equal((await pending).reached, true);
  } finally {
    p.stop();
  }
});
