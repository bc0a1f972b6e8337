// Cancellation and the per-request deadline, against the emulator: an aborted signal aborts the
// request on the socket (a write in flight never applies), ends every wait at once (backoff,
// rate budget, 429, action polling), sends nothing more, and rejects with the signal's reason.
// A body that trickles in is cut off by the deadline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InFlightRequest } from '../../test/do-emulator/admin-routes.ts';
import { waitFor } from '../../test/do-emulator/testing.ts';
import { createRateBudget } from './budget.ts';
import { emulatorFixture, rejection, V4 } from '../../test/support/do-client-fixture.ts';
import { DoApiError, isAbort } from './port.ts';

const { admin, calls, clock, fault, requests, setup } = emulatorFixture();

/** A sleep that records its waits and never ends by itself, and a promise of its first call. */
function stuckSleep() {
  const waits: number[] = [];
  let started: () => void = () => undefined;
  const firstWait = new Promise<void>((resolve) => (started = resolve));
  const sleep = (ms: number) => {
    waits.push(ms);
    started();
    return new Promise<void>(() => undefined);
  };
  return { waits, firstWait, sleep };
}

async function reasonOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

test('abort while a write is in flight: aborted on the socket, the write never applies, rejects with the reason', async () => {
  await fault({ method: 'POST', path: '/actions$', latencyMs: 30_000 });
  const { client } = setup({ timeoutMs: 60_000 });
  const controller = new AbortController();
  const assigning = reasonOf(client.assign(V4, 1001, { signal: controller.signal }));
  await waitFor('the POST to reach the emulator', async () => ((await admin('GET', '/in-flight')).body as InFlightRequest[]).find((r) => r.method === 'POST'));
  controller.abort();
  const err = await assigning;
  assert.equal(err, controller.signal.reason);
  assert.equal((err as Error).name, 'AbortError');
  assert.equal(isAbort(err), true);
  const logged = await waitFor('the aborted POST in the log', async () => (await requests()).find((r) => r.aborted === true));
  assert.deepEqual([logged.method, logged.status], ['POST', 0]);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 0`]);
  assert.deepEqual(((await admin('GET', '/state')).body as { actions: unknown[] }).actions, []);
});

test('abort during the retry backoff: the wait ends, no further request, the custom reason comes back', async () => {
  await fault({ method: 'GET', path: '^/v2/reserved_ips/', status: 500, count: 5 });
  const { waits, firstWait, sleep } = stuckSleep();
  const { client } = setup({ sleep });
  const controller = new AbortController();
  const reading = reasonOf(client.getReservedIp(V4, { signal: controller.signal }));
  await firstWait;
  const reason = new Error('leadership term 7 ended');
  controller.abort(reason);
  const err = await reading;
  assert.equal(err, reason);
  assert.equal(isAbort(err), true, 'a custom reason is recognised too');
  assert.deepEqual(waits, [50]);
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 500`]);
});

test('abort during the rate-budget wait: rejects, and the reservation is given back', async () => {
  const budget = createRateBudget({ perMinute: 1, now: clock.now });
  const { waits, firstWait, sleep } = stuckSleep();
  const { client } = setup({ sleep, budget });
  await client.getReservedIp(V4);
  const controller = new AbortController();
  const reading = reasonOf(client.getReservedIp(V4, { signal: controller.signal }));
  await firstWait;
  assert.equal(budget.available(), -1, 'one caller queued');
  controller.abort();
  assert.equal(isAbort(await reading), true);
  assert.deepEqual(waits, [60_000]);
  assert.equal(budget.available(), 0, 'the queued place was refunded');
  assert.equal((await calls()).length, 1);
});

test('abort during the wait after a 429 without retry-after (seconds, not the hourly reset)', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': null } });
  const { waits, firstWait, sleep } = stuckSleep();
  const { client } = setup({ sleep });
  const controller = new AbortController();
  const reading = reasonOf(client.getReservedIp(V4, { signal: controller.signal }));
  await firstWait;
  controller.abort();
  assert.equal(isAbort(await reading), true);
  assert.deepEqual(waits, [1500], 'equal jitter under 2 s with random 0.5');
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 429`]);
});

test('abort during action polling: rejects, no poll is sent (the action itself goes on at DigitalOcean)', async () => {
  const { waits, firstWait, sleep } = stuckSleep();
  const { client } = setup({ sleep });
  const controller = new AbortController();
  const assigning = reasonOf(client.assign(V4, 1001, { signal: controller.signal }));
  await firstWait;
  controller.abort();
  assert.equal(isAbort(await assigning), true);
  assert.deepEqual(waits, [500]);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 201`]);
});

test('an already aborted signal sends nothing, for every method', async () => {
  const { client } = setup();
  const signal = AbortSignal.abort();
  const attempts = [
    client.getAccount({ signal }), client.listReservedIps({ signal }), client.getReservedIp(V4, { signal }),
    client.assign(V4, 1001, { signal }), client.unassign(V4, { signal }), client.getDroplet(1001, { signal }),
    client.listFirewalls({ signal }), client.deleteFirewall('c0ffee00-0000-4000-8000-0000000000f1', { signal }),
    client.createFirewall({ name: 'x1', inbound: [{ protocol: 'tcp', ports: '22', addresses: ['0.0.0.0/0'] }], outbound: [], tags: [], dropletIds: [] }, { signal }),
  ];
  for (const p of attempts) assert.equal(await reasonOf(p), signal.reason);
  assert.deepEqual(await calls(), []);
});

test('isAbort is false for DigitalOcean failures and other errors', () => {
  assert.equal(isAbort(new DoApiError('Transient', 'x')), false);
  assert.equal(isAbort(new Error('x')), false);
  assert.equal(isAbort(undefined), false);
  assert.equal(isAbort('AbortError'), false);
});

test('the deadline covers the body: a body trickling in for 3 s fails within the 400 ms deadline', async () => {
  await fault({ path: '^/v2/reserved_ips/', trickleMs: 3000 });
  const { client } = setup({ timeoutMs: 400, retry: { maxAttempts: 1 } });
  const started = performance.now();
  const err = await rejection(client.getReservedIp(V4));
  const elapsedMs = performance.now() - started;
  assert.equal(err.errorClass, 'Transient');
  assert.match(err.message, /failed: no complete response within 400 ms$/);
  // The bound the task asks for: well under the 3 s the body would take.
  assert.ok(elapsedMs >= 390 && elapsedMs < 2000, `failed after ${Math.round(elapsedMs)} ms`);
  const logged = await waitFor('the cut-off request in the log', async () => (await requests())[0]);
  assert.deepEqual([logged.status, logged.aborted], [200, true]);
});

test('a trickled body past the deadline is Transient and retried (GET)', async () => {
  await fault({ path: '^/v2/reserved_ips/', trickleMs: 3000, count: 1 });
  const { client, waits } = setup({ timeoutMs: 400 });
  assert.equal((await client.getReservedIp(V4)).ip, V4);
  assert.deepEqual(waits, [50]);
  assert.equal((await calls()).length, 2);
});
