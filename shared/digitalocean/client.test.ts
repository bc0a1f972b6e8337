// The real client against the DigitalOcean emulator: moves, IPv6 action polling, pagination,
// bounded action waits, token hygiene and spec-valid requests. Error classes are in
// client-errors.test.ts, retries and rate limits in client-retry.test.ts.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { emulatorFixture, rejection, TOKEN, V4, V4B, V6 } from '../../test/support/do-client-fixture.ts';
import { userAgent } from './client.ts';

const { admin, calls, fault, requests, setup } = emulatorFixture();

import { specValidator } from '../../test/do-emulator/spec-validator.ts';

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

test('the emulator logs the User-Agent of each request, so a test can tell which replica wrote', async () => {
  const a = setup({ userAgent: userAgent('reconciler', 'replica-a') });
  const b = setup({ userAgent: userAgent('reconciler', 'replica-b') });
  await a.client.getReservedIp(V4);
  await b.client.assign(V4, 1001);
  const agents = [...new Set((await requests()).map((r) => r.userAgent?.split(' ')[1]))];
  assert.deepEqual(agents, ['reconciler/replica-a', 'reconciler/replica-b']);
});
