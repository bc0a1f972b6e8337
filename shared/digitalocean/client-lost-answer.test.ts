// Writes whose answer was lost (5xx, reset, timeout after DigitalOcean applied them): the
// client reads the IP before it sends again, so an applied action is followed, not repeated.
// The emulator's applyThenFail fault applies the POST and then loses the answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emulatorFixture, rejection, V4, V6 } from '../../test/support/do-client-fixture.ts';

const { admin, calls, fault, setup } = emulatorFixture();

const actions = async () => ((await admin('GET', '/state')).body as { actions: { id: number; type: string }[] }).actions;
const posts = async () => (await calls()).filter((c) => c.startsWith('POST '));

test('a POST applied but answered 500: the IP is read, the running action found and followed; one POST', async () => {
  await fault({ method: 'POST', path: '/actions$', applyThenFail: true, status: 500 });
  const { client, waits } = setup();
  const outcome = await client.assign(V4, 1001);
  const [action] = await actions();
  assert.deepEqual(outcome, { actionId: action?.id, status: 'completed', dropletId: 1001 });
  assert.deepEqual(await calls(), [
    `POST /v2/reserved_ips/${V4}/actions 500`,
    `GET /v2/reserved_ips/${V4} 200`,
    `GET /v2/reserved_ips/${V4}/actions 200`,
    ...Array(3).fill(`GET /v2/reserved_ips/${V4}/actions/${action?.id} 200`),
    `GET /v2/reserved_ips/${V4} 200`,
  ]);
  assert.deepEqual(waits, [500, 1000, 2000]);
  assert.equal((await actions()).length, 1);
  assert.equal((await admin('GET', '/holders')).body[V4], 1001);
});

test('an unassign applied, then the connection reset: the running unassign is followed; one POST', async () => {
  await admin('PUT', `/holders/${V4}`, { droplet_id: 1003 });
  await fault({ method: 'POST', path: '/actions$', applyThenFail: true, reset: true });
  const { client } = setup();
  const outcome = await client.unassign(V4);
  assert.deepEqual([outcome.status, outcome.dropletId, outcome.actionId], ['completed', null, (await actions())[0]?.id]);
  assert.deepEqual(await posts(), [`POST /v2/reserved_ips/${V4}/actions 0`]);
  assert.equal((await admin('GET', '/holders')).body[V4], null);
});

test('a hung assign that DigitalOcean applied: one POST, the action followed to completion', async () => {
  await fault({ method: 'POST', path: '/actions$', applyThenFail: true, hang: true });
  const { client } = setup();
  const outcome = await client.assign(V4, 1002);
  assert.deepEqual([outcome.status, outcome.dropletId], ['completed', 1002]);
  assert.deepEqual(await posts(), [`POST /v2/reserved_ips/${V4}/actions 0`]);
  assert.equal((await actions()).length, 1);
});

test('a 500 that was not applied: the read shows the IP unchanged, then one retry after backoff', async () => {
  await fault({ method: 'POST', path: '/actions$', status: 500 });
  const { client, waits } = setup();
  const outcome = await client.assign(V4, 1001);
  assert.deepEqual([outcome.status, outcome.dropletId], ['completed', 1001]);
  assert.deepEqual((await calls()).slice(0, 3), [`POST /v2/reserved_ips/${V4}/actions 500`, `GET /v2/reserved_ips/${V4} 200`, `POST /v2/reserved_ips/${V4}/actions 201`]);
  assert.deepEqual(waits, [50, 500, 1000, 2000], 'backoff, then the action polls');
  assert.equal((await actions()).length, 1);
});

test('IPv6 shows no lock: the repeated POST is refused (422) while the first action runs, reported InProgress; one action', async () => {
  await fault({ method: 'POST', path: '/actions$', applyThenFail: true, status: 503 });
  const { client } = setup();
  const err = await rejection(client.assign(V6, 1001));
  assert.equal(err.errorClass, 'InProgress');
  assert.match(err.message, /refused for now, try again later \(422\): .*already has a pending event/);
  assert.deepEqual(await posts(), [`POST /v2/reserved_ipv6/${V6}/actions 503`, `POST /v2/reserved_ipv6/${V6}/actions 422`]);
  assert.equal((await actions()).length, 1);
});

test('never applied, every try: Transient after maxAttempts POSTs, each followed by a read', async () => {
  await fault({ method: 'POST', path: '/actions$', status: 500, count: 10 });
  const { client } = setup({ retry: { maxAttempts: 2, baseMs: 100, capMs: 1000 } });
  const err = await rejection(client.assign(V4, 1001));
  assert.equal(err.errorClass, 'Transient');
  assert.match(err.message, /HTTP 500.*; tried 2 times, and the IP shows the assign was not applied$/);
  assert.deepEqual(await calls(), [
    `POST /v2/reserved_ips/${V4}/actions 500`, `GET /v2/reserved_ips/${V4} 200`,
    `POST /v2/reserved_ips/${V4}/actions 500`, `GET /v2/reserved_ips/${V4} 200`,
  ]);
});

test('the read after a lost answer fails too: Transient saying the outcome is unknown; no second POST', async () => {
  await fault({ method: 'POST', path: '/actions$', status: 500 });
  await fault({ method: 'GET', path: `^/v2/reserved_ips/${V4.replace(/\./g, '\\.')}$`, status: 500, count: 10 });
  const { client } = setup({ retry: { maxAttempts: 2, baseMs: 100, capMs: 1000 } });
  const err = await rejection(client.assign(V4, 1001));
  assert.equal(err.errorClass, 'Transient');
  assert.match(err.message, /whether DigitalOcean applied it is unknown, because re-reading the IP failed too: GET/);
  assert.equal((await posts()).length, 1);
});

test('locked by an action of another kind: InProgress, the assign is not sent again', async () => {
  await admin('PUT', `/holders/${V4}`, { droplet_id: 1002 });
  await admin('PUT', '/action-delay', { ms: 3_600_000 });
  assert.equal((await setup({ actionWait: { initialMs: 500, maxMs: 2000, totalMs: 0 } }).client.unassign(V4)).status, 'in-progress');
  await fault({ method: 'POST', path: '/actions$', status: 500 });
  const { client } = setup();
  const err = await rejection(client.assign(V4, 1001));
  assert.equal(err.errorClass, 'InProgress');
  assert.match(err.message, /now has an action in progress \(held by droplet 1002\), so the assign is not sent again/);
  assert.deepEqual((await posts()).slice(1), [`POST /v2/reserved_ips/${V4}/actions 500`]);
  assert.deepEqual((await actions()).map((a) => a.type), ['unassign_ip']);
});
