// The reserved-IP rules the real API enforces, on the emulator with a manual clock so
// action completion happens exactly when the test advances time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startEmulator } from './server.ts';
import { apiClient, emulatorPerFile } from './testing.ts';

const emu = emulatorPerFile({ actionDelayMs: 300 });
const { clock, api, admin } = emu;

const IP = '104.248.100.100';
const OTHER_IP = '104.248.100.101';
const assign = (ip: string, dropletId?: number) =>
  api('POST', `/v2/reserved_ips/${ip}/actions`, dropletId === undefined ? { type: 'assign' } : { type: 'assign', droplet_id: dropletId });
const holders = async () => (await admin('GET', '/holders')).body as Record<string, number | null>;

describe('authentication', () => {
  test('no bearer token: 401 unauthorized in the DigitalOcean error shape', async () => {
    const res = await apiClient(emu.url, null)('GET', '/v2/reserved_ips');
    assert.equal(res.status, 401);
    assert.equal(res.body.id, 'unauthorized');
    assert.equal(res.body.message, 'Unable to authenticate you');
  });

  test('without --token any bearer token is accepted; with one, only that token', async () => {
    assert.equal((await apiClient(emu.url, 'anything')('GET', '/v2/account')).status, 200);
    const strict = await startEmulator({ token: 'dop_v1_right', clock });
    try {
      assert.equal((await apiClient(strict.url, 'dop_v1_wrong')('GET', '/v2/account')).status, 401);
      const ok = await apiClient(strict.url, 'dop_v1_right')('GET', '/v2/account');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.account.status, 'active');
    } finally {
      await strict.close();
    }
  });
});

describe('assign and unassign', () => {
  test('assign answers 201 in-progress; the IP is locked with its old holder until the action completes', async () => {
    const res = await assign(IP, 1001);
    assert.equal(res.status, 201);
    const { action } = res.body;
    assert.equal(action.status, 'in-progress');
    assert.equal(action.type, 'assign_ip');
    assert.equal(action.resource_type, 'reserved_ip');
    assert.equal(action.resource_id, ((104 * 256 + 248) * 256 + 100) * 256 + 100);
    assert.equal(action.completed_at, null);

    const during = await api('GET', `/v2/reserved_ips/${IP}`);
    assert.equal(during.body.reserved_ip.locked, true);
    assert.equal(during.body.reserved_ip.droplet, null);
    clock.tick(299);
    assert.equal((await api('GET', `/v2/actions/${action.id}`)).body.action.status, 'in-progress');

    clock.tick(1);
    const done = await api('GET', `/v2/reserved_ips/${IP}/actions/${action.id}`);
    assert.equal(done.body.action.status, 'completed');
    assert.equal(typeof done.body.action.completed_at, 'string');
    const after = await api('GET', `/v2/reserved_ips/${IP}`);
    assert.equal(after.body.reserved_ip.locked, false);
    assert.equal(after.body.reserved_ip.droplet.id, 1001);
    assert.deepEqual((await api('GET', `/v2/reserved_ips/${IP}/actions`)).body.actions.map((a: { id: number }) => a.id), [action.id]);
  });

  test('a second action while the IP is locked: 422, and the first still wins', async () => {
    await assign(IP, 1001);
    const second = await assign(IP, 1002);
    assert.equal(second.status, 422);
    assert.equal(second.body.id, 'unprocessable_entity');
    assert.equal(second.body.message, 'The reserved IP already has a pending event.');
    clock.tick(300);
    assert.equal((await holders())[IP], 1001);
  });

  test('one reserved IPv4 per droplet: assigning a second one is 422', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    const res = await assign(OTHER_IP, 1001);
    assert.equal(res.status, 422);
    assert.equal(res.body.message, `Droplet already has a reserved IP assigned (${IP}).`);
    assert.equal((await holders())[OTHER_IP], null);
  });

  test('same region only: a droplet in another region is 422', async () => {
    await admin('POST', '/droplets', { id: 2001, name: 'sfo-node', region: 'sfo3' });
    const res = await assign(IP, 2001);
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'The reserved IP and the Droplet must be in the same region (nyc3 vs sfo3).');
  });

  test('a droplet with a pending event is 422, as target and as current holder', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    await admin('PUT', '/droplets/1002/pending-event', { pending: true });
    const toBusy = await assign(OTHER_IP, 1002);
    assert.equal(toBusy.status, 422);
    assert.equal(toBusy.body.message, 'Droplet already has a pending event.');

    await admin('PUT', '/droplets/1001/pending-event', { pending: true });
    assert.equal((await assign(IP, 1003)).status, 422);
    assert.equal((await api('POST', `/v2/reserved_ips/${IP}/actions`, { type: 'unassign' })).status, 422);

    await admin('PUT', '/droplets/1002/pending-event', { pending: false });
    assert.equal((await assign(OTHER_IP, 1002)).status, 201);
  });

  test('droplets touched by an in-progress action count as having a pending event', async () => {
    await assign(IP, 1001);
    const res = await assign(OTHER_IP, 1001);
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'Droplet already has a pending event.');
  });

  test('unknown IPs and droplets are 404', async () => {
    for (const path of ['/v2/reserved_ips/203.0.113.9', '/v2/droplets/9999', '/v2/reserved_ipv6/2001:db8::1', '/v2/actions/12345']) {
      const res = await api('GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.id, 'not_found');
    }
    const res = await assign(IP, 9999);
    assert.equal(res.status, 404);
    assert.equal(res.body.message, 'Droplet 9999 could not be found.');
    assert.equal((await api('GET', '/v2/reserved_ipv6/104.248.100.100')).status, 404);
  });

  test('assign without droplet_id is 422 (the spec body allows it, the real API does not)', async () => {
    const res = await assign(IP);
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'droplet_id is required to assign a reserved IP.');
    assert.equal((await api('GET', `/v2/reserved_ips/${IP}`)).body.reserved_ip.locked, false);
  });

  test('assigning an IP held by another droplet moves it; the old holder stays until completion', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    const { action } = (await assign(IP, 1002)).body;
    assert.equal((await api('GET', `/v2/reserved_ips/${IP}`)).body.reserved_ip.droplet.id, 1001);
    clock.tick(300);
    assert.equal((await api('GET', `/v2/actions/${action.id}`)).body.action.status, 'completed');
    assert.equal((await holders())[IP], 1002);
  });

  test('assigning to the droplet that already holds the IP is 422', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    const res = await assign(IP, 1001);
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'The reserved IP is already assigned to that Droplet.');
  });

  test('unassign releases the IP; unassigning an unassigned IP is 422', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    const res = await api('POST', `/v2/reserved_ips/${IP}/actions`, { type: 'unassign' });
    assert.equal(res.status, 201);
    assert.equal(res.body.action.type, 'unassign_ip');
    clock.tick(300);
    assert.equal((await holders())[IP], null);
    const again = await api('POST', `/v2/reserved_ips/${IP}/actions`, { type: 'unassign' });
    assert.equal(again.status, 422);
    assert.equal(again.body.message, 'The reserved IP is not assigned to a Droplet.');
  });

  test('an unknown action type is 422', async () => {
    const res = await api('POST', `/v2/reserved_ips/${IP}/actions`, { type: 'teleport' });
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'type must be one of: assign, unassign');
  });
});

describe('IPv6 and the legacy floating_ips paths', () => {
  test('IPv6 assign via /v2/reserved_ipv6/{ip}/actions, polled through /v2/actions/{id}', async () => {
    // a non-canonical spelling of 2604:a880:800:14::1000 finds the same address
    const res = await api('POST', '/v2/reserved_ipv6/2604:A880:0800:0014:0:0:0:1000/actions', { type: 'assign', droplet_id: 1002 });
    assert.equal(res.status, 201);
    assert.equal(res.body.action.resource_type, 'reserved_ipv6');
    clock.tick(300);
    assert.equal((await api('GET', `/v2/actions/${res.body.action.id}`)).body.action.status, 'completed');
    const got = await api('GET', '/v2/reserved_ipv6/2604:a880:800:14::1000');
    assert.equal(got.body.reserved_ipv6.droplet.id, 1002);
    assert.equal(got.body.reserved_ipv6.region_slug, 'nyc3');
    // IPv4 and IPv6 are counted separately: the droplet may also hold a reserved IPv4
    assert.equal((await assign(IP, 1002)).status, 201);
    const second6 = await api('POST', '/v2/reserved_ipv6/2604:a880:800:14::1001/actions', { type: 'assign', droplet_id: 1002 });
    assert.equal(second6.status, 422);
  });

  test('/v2/floating_ips serves the same addresses; its actions say floating_ip', async () => {
    const res = await api('POST', `/v2/floating_ips/${IP}/actions`, { type: 'assign', droplet_id: 1003 });
    assert.equal(res.status, 201);
    assert.equal(res.body.action.resource_type, 'floating_ip');
    assert.equal((await api('GET', `/v2/reserved_ips/${IP}`)).body.reserved_ip.locked, true);
    clock.tick(300);
    const got = await api('GET', `/v2/floating_ips/${IP}`);
    assert.equal(got.body.floating_ip.droplet.id, 1003);
    assert.equal((await api('GET', `/v2/floating_ips/${IP}/actions/${res.body.action.id}`)).body.action.status, 'completed');
    const list = await api('GET', '/v2/floating_ips');
    assert.deepEqual(list.body.floating_ips.map((f: { ip: string }) => f.ip), ['104.248.100.100', '104.248.100.101', '104.248.100.102']);
  });
});

describe('create, delete, droplets going away', () => {
  test('create reserved to a region (202) or assigned to a droplet (202 with links), then delete (204)', async () => {
    const regional = await api('POST', '/v2/reserved_ips', { region: 'nyc3' });
    assert.equal(regional.status, 202);
    assert.equal(regional.body.reserved_ip.droplet, null);
    assert.deepEqual(regional.body.links, {});
    const ip = regional.body.reserved_ip.ip as string;
    assert.equal((await api('DELETE', `/v2/reserved_ips/${ip}`)).status, 204);
    assert.equal((await api('GET', `/v2/reserved_ips/${ip}`)).status, 404);

    const assigned = await api('POST', '/v2/reserved_ips', { droplet_id: 1003 });
    assert.equal(assigned.status, 202);
    assert.equal(assigned.body.reserved_ip.locked, true);
    assert.equal(assigned.body.links.actions[0].rel, 'assign_ip');
    clock.tick(300);
    assert.equal((await holders())[assigned.body.reserved_ip.ip], 1003);

    const v6 = await api('POST', '/v2/reserved_ipv6', { region_slug: 'nyc3' });
    assert.equal(v6.status, 201);
    assert.equal((await api('DELETE', `/v2/reserved_ipv6/${v6.body.reserved_ipv6.ip}`)).status, 204);
    assert.equal((await api('POST', '/v2/reserved_ips', {})).status, 422);
  });

  test('destroying a droplet releases its IPs; an assign in flight to it errors', async () => {
    await admin('PUT', `/holders/${IP}`, { droplet_id: 1001 });
    const { action } = (await assign(OTHER_IP, 1002)).body;
    await admin('DELETE', '/droplets/1001');
    await admin('DELETE', '/droplets/1002');
    clock.tick(300);
    assert.equal((await api('GET', `/v2/actions/${action.id}`)).body.action.status, 'errored');
    const h = await holders();
    assert.equal(h[IP], null);
    assert.equal(h[OTHER_IP], null);
  });
});
