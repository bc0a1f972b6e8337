// CloudPort against the emulator: droplets, firewalls (list over pages, create, full-replacement
// update, delete that tolerates 404), a create whose answer was lost, error classes, and
// requests that are spec operations with spec-valid bodies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { specValidator } from '../../test/do-emulator/spec-validator.ts';
import { DEFAULT_CLUSTER_ID, DEFAULT_FIREWALL_ID } from '../../test/do-emulator/world.ts';
import { emulatorFixture, rejection } from '../../test/support/do-client-fixture.ts';
import type { FirewallSpec } from './port.ts';

const { admin, calls, fault, requests, setup } = emulatorFixture();

const ALL = ['0.0.0.0/0', '::/0'];
const spec: FirewallSpec = {
  name: 'floatip-c0ffee-udp',
  inbound: [
    { protocol: 'udp', ports: '27015', addresses: ALL },
    { protocol: 'tcp', ports: '0', addresses: [], tags: [`k8s:${DEFAULT_CLUSTER_ID}`] },
  ],
  outbound: [{ protocol: 'icmp', ports: '0', addresses: ALL }],
  tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
  dropletIds: [],
};

test('getDroplet: id, name and tags; 404 NotFound; a bad id never reaches the API', async () => {
  const { client } = setup();
  assert.deepEqual(await client.getDroplet(1002), { id: 1002, name: 'pool-a-2', tags: ['k8s', `k8s:${DEFAULT_CLUSTER_ID}`, 'k8s-worker'] });
  const missing = await rejection(client.getDroplet(4242));
  assert.equal(missing.errorClass, 'NotFound');
  assert.match(missing.message, /^droplet 4242 is not in this DigitalOcean account \(404 on GET \/v2\/droplets\/\{droplet_id\}\)/);
  assert.equal((await rejection(client.getDroplet(-1))).errorClass, 'Terminal');
  assert.deepEqual(await calls(), ['GET /v2/droplets/1002 200', 'GET /v2/droplets/4242 404']);
});

test('listFirewalls maps the DOKS firewall: all ports as "0", tag sources, every page', async () => {
  const { client } = setup({ pageSize: 1 });
  await client.createFirewall(spec);
  await client.createFirewall({ ...spec, name: 'floatip-second' });
  await admin('DELETE', '/requests');
  const all = await client.listFirewalls();
  assert.deepEqual(all.map((f) => f.name), [`k8s-${DEFAULT_CLUSTER_ID}-worker`, spec.name, 'floatip-second']);
  const doks = all[0];
  assert.deepEqual(doks, {
    id: DEFAULT_FIREWALL_ID,
    name: `k8s-${DEFAULT_CLUSTER_ID}-worker`,
    status: 'succeeded',
    inbound: [
      { protocol: 'tcp', ports: '30000-32767', addresses: ALL },
      { protocol: 'udp', ports: '30000-32767', addresses: ALL },
      { protocol: 'tcp', ports: '0', addresses: [], tags: [`k8s:${DEFAULT_CLUSTER_ID}`] },
    ],
    outbound: [
      { protocol: 'tcp', ports: '0', addresses: ALL },
      { protocol: 'udp', ports: '0', addresses: ALL },
      { protocol: 'icmp', ports: '0', addresses: ALL },
    ],
    tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
    dropletIds: [],
  });
  assert.deepEqual((await requests()).map((r) => r.query), [1, 2, 3].map((p) => `page=${p}&per_page=1`));
});

test('create, update (full replacement), delete twice: what was sent and what came back', async () => {
  const { client } = setup();
  const created = await client.createFirewall(spec);
  assert.deepEqual({ ...created, id: 'x' }, { ...spec, id: 'x', status: 'succeeded' });
  const sent = (await requests())[0]?.body as { inbound_rules: { ports: string }[] };
  assert.deepEqual(sent.inbound_rules.map((r) => r.ports), ['27015', 'all'], '"0" is sent as "all", which DigitalOcean accepts');
  const updated = await client.updateFirewall(created.id, { ...spec, inbound: [spec.inbound[0]!], tags: [], dropletIds: [1001] });
  assert.deepEqual([updated.id, updated.inbound.length, updated.tags, updated.dropletIds], [created.id, 1, [], [1001]]);
  await client.deleteFirewall(created.id);
  await client.deleteFirewall(created.id);
  assert.equal((await rejection(client.updateFirewall('../../account', spec))).errorClass, 'Terminal');
  assert.deepEqual(await calls(), [
    'POST /v2/firewalls 202', `PUT /v2/firewalls/${created.id} 200`, `DELETE /v2/firewalls/${created.id} 204`, `DELETE /v2/firewalls/${created.id} 404`,
  ]);
});

test('a create applied whose answer was lost: the firewall of that name is returned, never a second one', async () => {
  await fault({ method: 'POST', path: '^/v2/firewalls$', applyThenFail: true, status: 502 });
  const { client } = setup();
  const created = await client.createFirewall(spec);
  const stored = ((await admin('GET', '/state')).body as { firewalls: { id: string; name: string }[] }).firewalls.filter((f) => f.name === spec.name);
  assert.deepEqual(stored.map((f) => f.id), [created.id]);
  assert.deepEqual(await calls(), ['POST /v2/firewalls 502', 'GET /v2/firewalls 200']);
});

test('a create that failed without being applied is sent again after the list shows no such firewall', async () => {
  await fault({ method: 'POST', path: '^/v2/firewalls$', status: 500 });
  const { client, waits } = setup();
  assert.equal((await client.createFirewall(spec)).name, spec.name);
  assert.deepEqual(await calls(), ['POST /v2/firewalls 500', 'GET /v2/firewalls 200', 'POST /v2/firewalls 202']);
  assert.deepEqual(waits, [50]);
});

test('refusals keep their class and DigitalOcean\'s message; 401 names the firewall scope', async () => {
  const { client } = setup();
  const bad = await rejection(client.createFirewall({ ...spec, inbound: [{ protocol: 'tcp', ports: '70000', addresses: ALL }] }));
  assert.deepEqual([bad.errorClass, bad.status], ['Terminal', 422], 'the same body would be refused again');
  assert.match(bad.message, /^POST \/v2\/firewalls \(firewall floatip-c0ffee-udp\) refused \(HTTP 422\): inbound_rules\[0\]\.ports "70000" is not within 1-65535/);
  const unknownTag = await rejection(client.updateFirewall(DEFAULT_FIREWALL_ID, { ...spec, tags: ['missing'] }));
  assert.equal(unknownTag.errorClass, 'Terminal');
  assert.match(unknownTag.message, /tag "missing" does not exist/);
  assert.equal((await rejection(client.updateFirewall('c0ffee00-0000-4000-8000-00000000dead', spec))).errorClass, 'NotFound');
  const denied = await rejection(setup({ token: 'dop_v1_wrong' }).client.listFirewalls());
  assert.equal(denied.errorClass, 'Terminal');
  assert.match(denied.message, /firewall:read and droplet:read scopes/);
});

test('every firewall and droplet request is a spec operation; create and update bodies match the firewall schema', async () => {
  const { client } = setup();
  await client.getDroplet(1001);
  const fw = await client.createFirewall(spec);
  await client.listFirewalls();
  await client.updateFirewall(fw.id, { ...spec, dropletIds: [1003] });
  await client.deleteFirewall(fw.id);
  const v = specValidator();
  const ops = new Set(v.operations());
  for (const r of await requests()) {
    const template = v.templateFor(r.path);
    assert.ok(template !== undefined && ops.has(`${r.method} ${template}`), `${r.method} ${r.path} is not in the spec`);
    if (r.method === 'POST' || r.method === 'PUT') assert.deepEqual(v.validateSchema('firewall', r.body), [], JSON.stringify(r.body));
  }
});
