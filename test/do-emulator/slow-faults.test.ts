// Faults that model a slow or lossy path to DigitalOcean: latency a client may give up on (the
// request then never applies), a body that trickles in, a request applied whose answer is
// lost; and the request log's User-Agent and the in-flight list that tests wait on.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { describe, test } from 'node:test';
import type { InFlightRequest, LoggedRequest } from './admin-routes.ts';
import { emulatorPerFile, waitFor } from './testing.ts';

const emu = emulatorPerFile({ actionDelayMs: 300 });
const { api, admin } = emu;

const IP = '104.248.100.100';
const ASSIGN = { type: 'assign', droplet_id: 1001 };
const log = async () => (await admin('GET', '/requests')).body as LoggedRequest[];
const state = async () => (await admin('GET', '/state')).body as { actions: unknown[]; reservedIps: { ip: string; locked: boolean }[] };
const post = (signal?: AbortSignal, userAgent = 'floatip/0.1.0 test/replica-a') =>
  fetch(`${emu.url}/v2/reserved_ips/${IP}/actions`, {
    method: 'POST', signal, body: JSON.stringify(ASSIGN),
    headers: { authorization: 'Bearer t', 'content-type': 'application/json', 'user-agent': userAgent },
  });

test('the request log carries each request\'s User-Agent (null without one)', async () => {
  assert.equal((await post(undefined, 'floatip/0.1.0 reconciler/pod-b')).status, 201);
  // node:http sends no User-Agent of its own (fetch would send "node")
  await new Promise<void>((resolve, reject) => {
    get(`${emu.url}/v2/account`, { headers: { authorization: 'Bearer t' } }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  assert.deepEqual((await log()).map((r) => [r.method, r.userAgent]), [['POST', 'floatip/0.1.0 reconciler/pod-b'], ['GET', null]]);
});

describe('latency', () => {
  test('a client that disconnects during the latency: logged with status 0 and aborted, and the write is not applied', async () => {
    await admin('POST', '/faults', { method: 'POST', path: '/actions$', latencyMs: 30_000 });
    const controller = new AbortController();
    const sent = post(controller.signal);
    const flying = await waitFor('the POST to be in flight', async () => {
      const list = (await admin('GET', '/in-flight')).body as InFlightRequest[];
      return list.find((r) => r.method === 'POST');
    });
    assert.equal(flying.userAgent, 'floatip/0.1.0 test/replica-a');
    controller.abort();
    await assert.rejects(sent, { name: 'AbortError' });
    const entry = await waitFor('the aborted POST in the log', async () => (await log()).find((r) => r.method === 'POST'));
    assert.deepEqual([entry.status, entry.aborted, entry.body], [0, true, ASSIGN]);
    const s = await state();
    assert.deepEqual(s.actions, [], 'no action was started');
    assert.equal(s.reservedIps.find((r) => r.ip === IP)?.locked, false);
    assert.deepEqual((await admin('GET', '/in-flight')).body, []);
  });

  test('a client that waits out the latency gets its write applied', async () => {
    await admin('POST', '/faults', { method: 'POST', path: '/actions$', latencyMs: 50 });
    assert.equal((await post()).status, 201);
    assert.equal((await state()).actions.length, 1);
    assert.equal((await log())[0]?.aborted, undefined);
  });
});

describe('trickle', () => {
  test('headers at once, then the body spread over trickleMs', async () => {
    await admin('POST', '/faults', { path: '^/v2/account$', trickleMs: 300 });
    const started = performance.now();
    const res = await fetch(`${emu.url}/v2/account`, { headers: { authorization: 'Bearer t' } });
    const headersAfter = performance.now() - started;
    const body = (await res.json()) as { account: { status: string } };
    const bodyAfter = performance.now() - started;
    assert.equal(body.account.status, 'active');
    assert.ok(headersAfter < 250, `headers after ${headersAfter} ms`);
    assert.ok(bodyAfter >= 280, `body complete after ${bodyAfter} ms`);
    assert.deepEqual((await log()).map((r) => [r.status, r.aborted]), [[200, undefined]]);
  });

  test('a client that leaves mid-body is logged with the status sent and aborted', async () => {
    await admin('POST', '/faults', { path: '^/v2/account$', trickleMs: 30_000 });
    const controller = new AbortController();
    const res = await fetch(`${emu.url}/v2/account`, { headers: { authorization: 'Bearer t' }, signal: controller.signal });
    assert.equal(res.status, 200);
    controller.abort();
    const entry = await waitFor('the trickled request in the log', async () => (await log())[0]);
    assert.deepEqual([entry.status, entry.aborted], [200, true]);
  });
});

describe('applyThenFail', () => {
  test('status: the action starts, the client gets the fault status', async () => {
    await admin('POST', '/faults', { method: 'POST', path: '/actions$', applyThenFail: true, status: 500 });
    const res = await api('POST', `/v2/reserved_ips/${IP}/actions`, ASSIGN);
    assert.deepEqual([res.status, res.body.id], [500, 'server_error']);
    const s = await state();
    assert.equal(s.actions.length, 1);
    assert.equal(s.reservedIps.find((r) => r.ip === IP)?.locked, true);
  });

  test('hang and reset: applied, logged with status 0', async () => {
    await admin('POST', '/faults', { method: 'POST', path: '/actions$', applyThenFail: true, reset: true });
    await assert.rejects(post(), TypeError);
    await admin('POST', '/faults', { method: 'POST', path: '^/v2/reserved_ips/104\\.248\\.100\\.101/actions$', applyThenFail: true, hang: true });
    await assert.rejects(
      fetch(`${emu.url}/v2/reserved_ips/104.248.100.101/actions`, {
        method: 'POST', body: JSON.stringify({ type: 'assign', droplet_id: 1002 }),
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, signal: AbortSignal.timeout(200),
      }),
      { name: 'TimeoutError' },
    );
    assert.deepEqual((await log()).map((r) => r.status), [0, 0]);
    assert.equal((await state()).actions.length, 2);
  });

  test('a fault without a way to lose the answer, or with bad timings, is refused', async () => {
    assert.match((await admin('POST', '/faults', { path: '.', applyThenFail: true }, 400)).body.message, /applyThenFail needs status, hang or reset/);
    assert.match((await admin('POST', '/faults', { path: '.', trickleMs: -1 }, 400)).body.message, /trickleMs must be a non-negative integer/);
  });
});

test('a fault header set to null removes a header the emulator would send', async () => {
  await admin('POST', '/faults', { path: '^/v2/account$', status: 429, headers: { 'retry-after': null } });
  const res = await api('GET', '/v2/account');
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), null);
  assert.match(res.headers.get('ratelimit-reset') ?? '', /^\d+$/);
});
