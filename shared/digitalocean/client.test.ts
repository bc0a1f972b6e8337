// The real client against the DigitalOcean emulator: one test per error class, proving the
// calls made (the emulator's request log), the waits (recorded by an injected sleep that
// advances the emulator's manual clock) and the outcome. Only the request timeout is real time.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, beforeEach, test } from 'node:test';
import { createManualClock } from '../../test/do-emulator/clock.ts';
import { startEmulator } from '../../test/do-emulator/server.ts';
import type { RunningEmulator } from '../../test/do-emulator/server.ts';
import { adminClient } from '../../test/do-emulator/testing.ts';
import { specValidator } from '../../test/do-emulator/spec-validator.ts';
import { createLogger } from '../logger.ts';
import { createDoClient } from './client.ts';
import type { DoClientOptions, ResponseRecord } from './client.ts';
import { DoApiError } from './port.ts';

const TOKEN = 'dop_v1_0123456789abcdef-never-print-me';
const V4 = '104.248.100.100';
const V4B = '104.248.100.101';
const V6 = '2604:a880:800:14::1000';

const clock = createManualClock();
let emu: RunningEmulator;
let admin: ReturnType<typeof adminClient>;

before(async () => {
  emu = await startEmulator({ clock, token: TOKEN, actionDelayMs: 2000 });
  admin = adminClient(emu.url);
});
after(() => emu.close());
beforeEach(() => admin('POST', '/reset'));

interface Logged {
  method: string;
  path: string;
  query: string;
  status: number;
  body: unknown;
}

async function requests(): Promise<Logged[]> {
  return (await admin('GET', '/requests')).body as Logged[];
}
const calls = async () => (await requests()).map((r) => `${r.method} ${r.path} ${r.status}`);

function setup(extra: Partial<DoClientOptions> = {}) {
  const waits: number[] = [];
  const logLines: string[] = [];
  const responses: ResponseRecord[] = [];
  const client = createDoClient({
    token: TOKEN,
    baseUrl: emu.url,
    timeoutMs: 400,
    now: clock.now,
    sleep: async (ms) => {
      waits.push(ms);
      clock.advance(ms);
    },
    random: () => 0.5,
    retry: { maxAttempts: 4, baseMs: 100, capMs: 1000 },
    actionWait: { initialMs: 500, maxMs: 2000, totalMs: 10_000 },
    logger: createLogger({ level: 'debug', name: 'test' }, { write: (line: string) => logLines.push(line) }),
    onResponse: (r) => responses.push(r),
    ...extra,
  });
  return { client, waits, logLines, responses };
}

async function rejection(p: Promise<unknown>): Promise<DoApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DoApiError, `expected DoApiError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const fault = (spec: Record<string, unknown>) => admin('POST', '/faults', spec);

test('assign IPv4: one POST, polls the per-IP action with doubling waits until completed', async () => {
  const { client, waits, responses } = setup();
  const outcome = await client.assign(V4, 1001);
  const log = await requests();
  const actionId = outcome.actionId;
  assert.deepEqual(outcome, { actionId, status: 'completed', dropletId: 1001 });
  assert.deepEqual(
    log.map((r) => `${r.method} ${r.path} ${r.status}`),
    [`POST /v2/reserved_ips/${V4}/actions 201`, ...Array(3).fill(`GET /v2/reserved_ips/${V4}/actions/${actionId} 200`)],
  );
  assert.deepEqual(log[0]?.body, { type: 'assign', droplet_id: 1001 });
  assert.deepEqual(waits, [500, 1000, 2000], 'action completes 2 s after it started');
  assert.deepEqual((await admin('GET', '/holders')).body[V4], 1001);
  assert.deepEqual(
    responses.map((r) => [r.method, r.route, r.code, r.rateLimitRemaining]),
    [
      ['POST', '/v2/reserved_ips/{reserved_ip}/actions', '201', 4999],
      ['GET', '/v2/reserved_ips/{reserved_ip}/actions/{action_id}', '200', 4998],
      ['GET', '/v2/reserved_ips/{reserved_ip}/actions/{action_id}', '200', 4997],
      ['GET', '/v2/reserved_ips/{reserved_ip}/actions/{action_id}', '200', 4996],
    ],
  );
});

test('assign IPv6 polls /v2/actions/{id} (no per-IP action route upstream)', async () => {
  const { client, waits } = setup();
  const outcome = await client.assign(V6, 1002);
  assert.deepEqual(outcome, { actionId: outcome.actionId, status: 'completed', dropletId: 1002 });
  assert.deepEqual(await calls(), [
    `POST /v2/reserved_ipv6/${V6}/actions 201`,
    ...Array(3).fill(`GET /v2/actions/${outcome.actionId} 200`),
  ]);
  assert.deepEqual(waits, [500, 1000, 2000]);
});

test('unassign: a completed action leaves the IP without a holder', async () => {
  await admin('PUT', `/holders/${V4}`, { droplet_id: 1003 });
  const { client } = setup();
  const outcome = await client.unassign(V4);
  assert.deepEqual(outcome, { actionId: outcome.actionId, status: 'completed', dropletId: null });
  assert.deepEqual((await requests())[0]?.body, { type: 'unassign' });
  assert.equal((await admin('GET', '/holders')).body[V4], null);
});

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
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '900' }, count: 1 });
  const { client, waits } = setup();
  const err = await rejection(client.getReservedIp(V4));
  assert.equal(err.errorClass, 'RateLimited');
  assert.equal(err.retryAfterMs, 900_000);
  assert.deepEqual(waits, []);
  assert.equal((await calls()).length, 1);
});

test('the shared budget spaces calls out before DigitalOcean has to say 429', async () => {
  const { createRateBudget } = await import('./budget.ts');
  const { client, waits } = setup({ budget: createRateBudget({ perMinute: 2, now: clock.now }) });
  for (let i = 0; i < 3; i++) await client.getReservedIp(V4);
  assert.deepEqual(waits, [30_000]);
  assert.deepEqual(await calls(), Array(3).fill(`GET /v2/reserved_ips/${V4} 200`));
});

test('422 with the IP already on the target droplet is success without an action', async () => {
  await admin('PUT', `/holders/${V4}`, { droplet_id: 1001 });
  const { client, waits } = setup();
  assert.deepEqual(await client.assign(V4, 1001), { actionId: 0, status: 'completed', dropletId: 1001 });
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 422`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, []);
});

test('unassigning an IP that has no holder is success without an action', async () => {
  const { client } = setup();
  assert.deepEqual(await client.unassign(V4), { actionId: 0, status: 'completed', dropletId: null });
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 422`, `GET /v2/reserved_ips/${V4} 200`]);
});

test('422 because the droplet holds another reserved IPv4 is a Conflict naming it', async () => {
  await admin('PUT', `/holders/${V4B}`, { droplet_id: 1001 });
  const { client, waits } = setup();
  const err = await rejection(client.assign(V4, 1001));
  assert.equal(err.errorClass, 'Conflict');
  assert.equal(err.status, 422);
  assert.equal(err.message, `droplet 1001 already holds reserved IPv4 ${V4B}; a droplet holds at most one, so ${V4} cannot be assigned to it`);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 422`, `GET /v2/reserved_ips/${V4} 200`, 'GET /v2/reserved_ips 200']);
  assert.deepEqual(waits, []);
});

test('422 while the IP is locked by a running action is InProgress, not retried', async () => {
  await admin('PUT', '/action-delay', { ms: 3_600_000 });
  const first = setup({ actionWait: { initialMs: 500, maxMs: 2000, totalMs: 0 } });
  assert.equal((await first.client.assign(V4, 1001)).status, 'in-progress');
  await admin('DELETE', '/requests');
  const { client, waits } = setup();
  const err = await rejection(client.assign(V4, 1002));
  assert.equal(err.errorClass, 'InProgress');
  assert.match(err.message, /^reserved IP 104\.248\.100\.100 has an action in progress/);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 422`, `GET /v2/reserved_ips/${V4} 200`]);
  assert.deepEqual(waits, []);
});

test('422 because the droplet has a pending event is InProgress with the API reason', async () => {
  await admin('PUT', '/droplets/1001/pending-event', { pending: true });
  const { client } = setup();
  const err = await rejection(client.assign(V4, 1001));
  assert.equal(err.errorClass, 'InProgress');
  assert.match(err.message, /Droplet already has a pending event/);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 422`, `GET /v2/reserved_ips/${V4} 200`, 'GET /v2/reserved_ips 200']);
});

test('422 for a droplet in another region is Terminal', async () => {
  await admin('POST', '/droplets', { id: 2001, name: 'elsewhere', region: 'ams3' });
  const { client } = setup();
  const err = await rejection(client.assign(V4, 2001));
  assert.equal(err.errorClass, 'Terminal');
  assert.match(err.message, /same region/);
});

test('404 on assign: NotFound naming the IP and the droplet', async () => {
  const { client } = setup();
  const err = await rejection(client.assign(V4, 4242));
  assert.equal(err.errorClass, 'NotFound');
  assert.match(err.message, /^reserved IP 104\.248\.100\.100 or droplet 4242 is not in this DigitalOcean account \(404 on POST \/v2\/reserved_ips\/\{reserved_ip\}\/actions\): Droplet 4242 could not be found/);
  assert.deepEqual(await calls(), [`POST /v2/reserved_ips/${V4}/actions 404`]);
});

test('after a long 429 block, callers fail fast as RateLimited without queueing', async () => {
  await fault({ path: '^/v2/reserved_ips/', status: 429, headers: { 'retry-after': '600' }, count: 1 });
  const { createRateBudget } = await import('./budget.ts');
  const budget = createRateBudget({ perMinute: 60, now: clock.now });
  const { client, waits } = setup({ budget });
  const errors = [];
  for (let i = 0; i < 5; i++) errors.push(await rejection(client.getReservedIp(V4)));
  assert.deepEqual(errors.map((e) => [e.errorClass, e.retryAfterMs]), [['RateLimited', 600_000], ...Array(4).fill(['RateLimited', 600_000])]);
  assert.equal((await calls()).length, 1, 'only the first call reached the API');
  assert.deepEqual(waits, []);
  clock.advance(600_000);
  assert.equal((await client.getReservedIp(V4)).ip, V4);
});

test('401: Terminal, one call, message names the scopes and the classic alternative', async () => {
  const { client, waits } = setup({ token: 'dop_v1_wrong' });
  const account = await rejection(client.getAccount());
  assert.equal(account.errorClass, 'Terminal');
  assert.equal(account.status, 401);
  assert.match(account.message, /401.*account:read scope \(custom-scoped token\) or "read and write" access \(classic token\)/);
  const move = await rejection(client.assign(V4, 1001));
  assert.match(move.message, /reserved_ip:update and droplet:read scopes/);
  assert.deepEqual(await calls(), ['GET /v2/account 401', `POST /v2/reserved_ips/${V4}/actions 401`]);
  assert.deepEqual(waits, []);
});

test('403: Terminal with the scope needed', async () => {
  await fault({ path: '^/v2/reserved_ips$', status: 403, count: 1 });
  const { client } = setup();
  const err = await rejection(client.listReservedIps());
  assert.equal(err.errorClass, 'Terminal');
  assert.match(err.message, /\(403\)\. It needs the reserved_ip:read and droplet:read scopes/);
  assert.equal((await calls()).length, 1);
});

test('404: NotFound, the IP is not in this account, no retry', async () => {
  const { client, waits } = setup();
  const err = await rejection(client.getReservedIp('203.0.113.9'));
  assert.equal(err.errorClass, 'NotFound');
  assert.match(err.message, /^reserved IP 203\.0\.113\.9 is not in this DigitalOcean account \(404 on GET \/v2\/reserved_ips\/\{reserved_ip\}\)/);
  assert.deepEqual(await calls(), ['GET /v2/reserved_ips/203.0.113.9 404']);
  assert.deepEqual(waits, []);
});

test('an invalid address never reaches the API', async () => {
  const { client } = setup();
  const err = await rejection(client.getReservedIp('104.248.100.100/../../account'));
  assert.equal(err.errorClass, 'Terminal');
  assert.deepEqual(await calls(), []);
});

test('pagination: one request per page, following links.pages.next', async () => {
  const ips = ['104.248.100.1', '104.248.100.2', '104.248.100.3', '104.248.100.4', '104.248.100.5', '2604:a880:800:14::1', '2604:a880:800:14::2', '2604:a880:800:14::3'];
  await admin('POST', '/reset', { region: 'nyc3', droplets: [{ id: 1001, name: 'a' }], reservedIps: ips.map((ip) => ({ ip, dropletId: ip.endsWith('::2') ? 1001 : null })) });
  const { client } = setup({ pageSize: 2 });
  const all = await client.listReservedIps();
  assert.deepEqual(all.map((r) => r.ip).sort(), [...ips].sort());
  assert.deepEqual(all.find((r) => r.ip === '2604:a880:800:14::2'), { ip: '2604:a880:800:14::2', family: 6, region: 'nyc3', dropletId: 1001, locked: false });
  assert.deepEqual(
    (await requests()).map((r) => `${r.path}?${r.query}`),
    [1, 2, 3].map((p) => `/v2/reserved_ips?page=${p}&per_page=2`).concat([1, 2].map((p) => `/v2/reserved_ipv6?page=${p}&per_page=2`)),
  );
});

test('an action that never completes: bounded polling, then the holder is re-read, status in-progress', async () => {
  await admin('PUT', `/holders/${V4}`, { droplet_id: 1002 });
  await admin('PUT', '/action-delay', { ms: 3_600_000 });
  const { client, waits } = setup({ actionWait: { initialMs: 500, maxMs: 2000, totalMs: 5000 } });
  const outcome = await client.assign(V4, 1001);
  assert.deepEqual(outcome, { actionId: outcome.actionId, status: 'in-progress', dropletId: 1002 });
  assert.deepEqual(waits, [500, 1000, 2000, 1500], 'the last wait is cut to the 5 s bound');
  assert.deepEqual(await calls(), [
    `POST /v2/reserved_ips/${V4}/actions 201`,
    ...Array(4).fill(`GET /v2/reserved_ips/${V4}/actions/${outcome.actionId} 200`),
    `GET /v2/reserved_ips/${V4} 200`,
  ]);
});

test('a poll that fails ends the wait early: the IP is re-read instead of failing the move', async () => {
  await fault({ method: 'GET', path: '/actions/', status: 500, count: 10 });
  const { client, waits } = setup({ retry: { maxAttempts: 2, baseMs: 100, capMs: 1000 } });
  const outcome = await client.assign(V4, 1001);
  assert.deepEqual(outcome, { actionId: outcome.actionId, status: 'in-progress', dropletId: null });
  assert.deepEqual(waits, [500, 50]);
});

test('the token appears in no log line, error message, error JSON or metrics record', async () => {
  const wrong = setup({ token: `${TOKEN}-wrong` });
  const { client, logLines, responses } = setup();
  await fault({ path: '^/v2/reserved_ips/', hang: true, count: 1 });
  await fault({ path: '^/v2/reserved_ipv6/', status: 500, count: 10 });
  await admin('PUT', `/holders/${V4B}`, { droplet_id: 1003 });
  const errors = await Promise.all([
    rejection(wrong.client.getAccount()),
    rejection(client.getReservedIp(V6)),
    rejection(client.getReservedIp('203.0.113.9')),
    rejection(client.assign(V4, 1003)),
  ]);
  await client.getReservedIp(V4);
  const texts = [
    ...logLines,
    ...wrong.logLines,
    ...errors.flatMap((e) => [e.message, JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), String(e.stack)]),
    JSON.stringify(responses),
  ];
  assert.ok(logLines.length > 0, 'retries were logged');
  for (const text of texts) assert.ok(!text.includes(TOKEN), `token leaked in: ${text}`);
  assert.deepEqual(errors.map((e) => e.errorClass), ['Terminal', 'Transient', 'NotFound', 'Conflict']);
});

test('every request the client sends is a spec operation with a valid body', async () => {
  const { client } = setup();
  await client.getAccount();
  await client.listReservedIps();
  await client.assign(V4, 1001);
  await client.unassign(V4);
  await client.assign(V6, 1002);
  await client.unassign(V6);
  const spec = specValidator();
  const ops = new Set(spec.operations());
  const log = await requests();
  assert.equal(log.length > 10, true);
  for (const r of log) {
    const template = spec.templateFor(r.path);
    assert.ok(template !== undefined && ops.has(`${r.method} ${template}`), `${r.method} ${r.path} is not in the spec`);
    assert.equal(r.status >= 200 && r.status < 300, true, `${r.method} ${r.path} → ${r.status}`);
    if (r.method !== 'POST') continue;
    const schema = `reserved_ip${template.includes('ipv6') ? 'v6' : ''}_action_${(r.body as { type: string }).type}`;
    assert.deepEqual(spec.validateSchema(schema, r.body), [], `${r.method} ${r.path} ${JSON.stringify(r.body)}`);
  }
});
