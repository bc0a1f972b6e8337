// The client against the emulator: Transient failures (5xx, hangs, resets) retried with
// backoff, 429s honoured, and the shared rate budget. Calls counted from the request log,
// waits recorded by the injected sleep.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateBudget } from './budget.ts';
import { emulatorFixture, rejection, V4 } from '../../test/support/do-client-fixture.ts';

const { admin, calls, clock, fault, setup } = emulatorFixture();

test('5xx is retried with full-jitter backoff, then succeeds', async () => {
  await fault({ method: 'GET', path: '^/v2/reserved_ips/', status: 503, count: 2 });
  const { client, waits } = setup();
  const ip = await client.getReservedIp(V4);
  assert.deepEqual(ip, { ip: V4, family: 4, region: 'nyc3', dropletId: null, locked: false });
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 503`, `GET /v2/reserved_ips/${V4} 503`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, [50, 100], 'random 0.5 of 100, 200');
});

test('5xx on every attempt: Transient after maxAttempts, no more calls', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 500, count: 10 });
  const { client, waits } = setup();
  const err = await rejection(client.getReservedIp(V4));
  assert.equal(err.errorClass, 'Transient');
  assert.equal(err.status, 500);
  assert.match(err.message, /^GET \/v2\/reserved_ips\/\{reserved_ip\} \(reserved IP 104\.248\.100\.100\) failed \(after 4 attempts\): HTTP 500/);
  assert.equal((await calls()).length, 4);
  assert.deepEqual(waits, [50, 100, 200]);
});

test('a hanging request times out and is retried as Transient', async () => {
  await fault({ path: '^/v2/reserved_ips/', hang: true, count: 1 });
  const { client, waits, responses } = setup();
  const ip = await client.getReservedIp(V4);
  assert.equal(ip.ip, V4);
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 0`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, [50]);
  assert.deepEqual(responses.map((r) => r.code), ['error', '200']);
});

test('a reset connection is retried as Transient', async () => {
  await fault({ path: '^/v2/reserved_ips/', reset: true, count: 1 });
  const { client, waits } = setup();
  assert.equal((await client.getReservedIp(V4)).ip, V4);
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 0`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, [50]);
});

test('connection errors on every attempt end as Transient naming the error code', async () => {
  await fault({ path: '^/v2/reserved_ips/', reset: true, count: 10 });
  const { client } = setup({ retry: { maxAttempts: 2, baseMs: 100, capMs: 1000 } });
  const err = await rejection(client.getReservedIp(V4));
  assert.equal(err.errorClass, 'Transient');
  assert.equal(err.status, undefined);
  assert.match(err.message, /failed \(after 2 attempts\): no response \(ECONNRESET\)$/);
});

test('429 waits what retry-after says, then retries', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '3' }, count: 1 });
  const { client, waits } = setup();
  assert.equal((await client.getReservedIp(V4)).ip, V4);
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 429`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, [3000]);
});

test("the emulator's own per-minute limit: the 429's retry-after is honoured", async () => {
  await admin('PUT', '/ratelimit', { perMinute: 2 });
  const { client, waits } = setup();
  await client.getReservedIp(V4);
  await client.getReservedIp(V4);
  await client.getReservedIp(V4);
  assert.deepEqual(await calls(), [...Array(2).fill(`GET /v2/reserved_ips/${V4} 200`), `GET /v2/reserved_ips/${V4} 429`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, [60_000]);
});

test('a 429 asking for longer than maxRateLimitWaitMs fails fast as RateLimited', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '30' }, count: 1 });
  const { client, waits } = setup({ retry: { maxRateLimitWaitMs: 10_000 } });
  const err = await rejection(client.getReservedIp(V4));
  assert.equal(err.errorClass, 'RateLimited');
  assert.equal(err.retryAfterMs, 30_000);
  assert.deepEqual(waits, []);
  assert.equal((await calls()).length, 1);
});

test('retry-after: 86400 is obeyed for 60 s only (MAX_RETRY_AFTER_MS), then the call asks again', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '86400' }, count: 1 });
  const { client, waits } = setup();
  assert.equal((await client.getReservedIp(V4)).ip, V4);
  assert.deepEqual(waits, [60_000]);
  assert.deepEqual(await calls(), [`GET /v2/reserved_ips/${V4} 429`, `GET /v2/reserved_ips/${V4} 200`]);
});

test('the shared budget spaces calls out before DigitalOcean has to say 429', async () => {
  const { client, waits } = setup({ budget: createRateBudget({ perMinute: 2, now: clock.now }) });
  for (let i = 0; i < 3; i++) await client.getReservedIp(V4);
  assert.deepEqual(waits, [30_000]);
  assert.deepEqual(await calls(), Array(3).fill(`GET /v2/reserved_ips/${V4} 200`));
});

test('after a long 429 block, callers fail fast as RateLimited without queueing, for the capped 60 s', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '600' }, count: 1 });
  const budget = createRateBudget({ perMinute: 60, now: clock.now });
  const { client, waits } = setup({ budget, retry: { maxRateLimitWaitMs: 5_000 } });
  const errors = [];
  for (let i = 0; i < 5; i++) errors.push(await rejection(client.getReservedIp(V4)));
  assert.deepEqual(errors.map((e) => e.errorClass), Array(5).fill('RateLimited'));
  assert.equal(errors[0]?.retryAfterMs, 60_000, 'retry-after 600 s is read as 60 s');
  assert.equal((await calls()).length, 1, 'only the first call reached the API');
  assert.deepEqual(waits, []);
  clock.tick(60_000);
  assert.equal((await client.getReservedIp(V4)).ip, V4);
});
