// The client against the emulator: 422s explained by re-reading the IP (success, InProgress,
// Conflict, Terminal), 401/403 with the scope needed, 404 NotFound. None is retried blindly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emulatorFixture, rejection, V4, V4B } from '../../test/support/do-client-fixture.ts';

const { admin, calls, fault, setup } = emulatorFixture();

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
