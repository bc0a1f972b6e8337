// Spec conformance: one walk through every operation of the OpenAPI spec, success and error
// statuses, each response validated (body + rate-limit headers) by `apiClient`. The walk
// must reach every operation the spec defines, and the validator must reject bad bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createFakeClock } from '../support/fake-clock.ts';
import { startEmulator } from './server.ts';
import type { RunningEmulator } from './server.ts';
import { specValidator } from './spec-validator.ts';
import { adminClient, apiClient } from './testing.ts';
import type { Api } from './testing.ts';
import { DEFAULT_FIREWALL_ID } from './world.ts';

const clock = createFakeClock();
let emu: RunningEmulator;
const seen = new Set<string>();

before(async () => {
  emu = await startEmulator({ clock, actionDelayMs: 300 });
});
after(() => emu.close());

/** Every spec operation with a status, e.g. `GET /v2/account 200`, the walk answered. */
function record(method: string, path: string, res: { status: number }): void {
  const op = specValidator().operationFor(method, path);
  if (op !== undefined) seen.add(`${op} ${res.status}`);
}

async function walkIpv4(api: Api, prefix: string, key: string): Promise<void> {
  const ip = '104.248.100.100';
  await api('GET', `/v2/${prefix}?per_page=1&page=2`);
  const regional = await api('POST', `/v2/${prefix}`, { region: 'nyc3' });
  await api('POST', `/v2/${prefix}`, { droplet_id: 1003 });
  await api('GET', `/v2/${prefix}/${ip}`);
  await api('GET', `/v2/${prefix}/203.0.113.1`);
  const assigned = await api('POST', `/v2/${prefix}/${ip}/actions`, { type: 'assign', droplet_id: 1001 });
  await api('POST', `/v2/${prefix}/${ip}/actions`, { type: 'unassign' });
  await api('GET', `/v2/${prefix}/${ip}`); // locked, old holder
  clock.tick(300);
  await api('GET', `/v2/${prefix}/${ip}`); // held: the droplet object is rendered in full
  await api('GET', `/v2/${prefix}/${ip}/actions`);
  await api('GET', `/v2/${prefix}/${ip}/actions/${assigned.body.action.id}`);
  await api('GET', `/v2/${prefix}/${ip}/actions/99999999`);
  await api('POST', `/v2/${prefix}/203.0.113.1/actions`, { type: 'unassign' });
  await api('POST', `/v2/${prefix}/${ip}/actions`, { type: 'unassign' });
  clock.tick(300);
  await api('DELETE', `/v2/${prefix}/${regional.body[key].ip}`);
  await api('DELETE', `/v2/${prefix}/${regional.body[key].ip}`);
}

async function walkIpv6(api: Api): Promise<void> {
  const created = await api('POST', '/v2/reserved_ipv6', { region_slug: 'nyc3' });
  const ip = created.body.reserved_ipv6.ip as string;
  await api('GET', '/v2/reserved_ipv6');
  await api('POST', `/v2/reserved_ipv6/${ip}/actions`, { type: 'assign', droplet_id: 1002 });
  await api('POST', '/v2/reserved_ipv6/2001:db8::1/actions', { type: 'unassign' });
  await api('DELETE', `/v2/reserved_ipv6/${ip}`); // 422: locked
  clock.tick(300);
  await api('GET', `/v2/reserved_ipv6/${ip}`);
  await api('GET', '/v2/reserved_ipv6/2001:db8::1');
  await api('DELETE', `/v2/reserved_ipv6/${ip}`);
  await api('DELETE', `/v2/reserved_ipv6/${ip}`);
}

async function walkFirewalls(api: Api): Promise<void> {
  const body = { name: 'walk', inbound_rules: [{ protocol: 'tcp', ports: '443', sources: { addresses: ['0.0.0.0/0'] } }] };
  await api('GET', '/v2/firewalls');
  await api('POST', '/v2/firewalls', { name: 'no-rules' });
  await api('POST', '/v2/firewalls', { name: 'zero-ports', inbound_rules: [{ protocol: 'tcp', ports: '0', sources: { addresses: ['0.0.0.0/0'] } }] });
  const id = (await api('POST', '/v2/firewalls', body)).body.firewall.id as string;
  await api('GET', `/v2/firewalls/${id}`);
  await api('PUT', `/v2/firewalls/${id}`, { ...body, tags: ['k8s'] });
  for (const [sub, payload] of [
    ['droplets', { droplet_ids: [1001] }],
    ['tags', { tags: ['k8s-worker'] }],
    ['rules', { outbound_rules: [{ protocol: 'udp', ports: '53', destinations: { addresses: ['0.0.0.0/0'] } }] }],
  ] as const) {
    await api('POST', `/v2/firewalls/${id}/${sub}`, payload);
    await api('DELETE', `/v2/firewalls/${id}/${sub}`, payload);
  }
  await api('POST', `/v2/firewalls/${DEFAULT_FIREWALL_ID}/droplets`, { droplet_ids: [4242] });
  await api('DELETE', `/v2/firewalls/${id}`);
  await api('GET', `/v2/firewalls/${id}`);
  await api('PUT', `/v2/firewalls/${id}`, body);
}

describe('spec conformance', () => {
  test('a walk through every operation: each response validates against the spec', async () => {
    const api = apiClient(emu.url, 'dop_v1_walk', record);
    const admin = adminClient(emu.url);
    await api('GET', '/v2/account');
    await apiClient(emu.url, null, record)('GET', '/v2/account');
    await api('GET', '/v2/droplets?tag_name=k8s-worker&per_page=2');
    await api('GET', '/v2/droplets/1001');
    await api('GET', '/v2/droplets/4242');
    await walkIpv4(api, 'reserved_ips', 'reserved_ip');
    await admin('POST', '/reset');
    await walkIpv4(api, 'floating_ips', 'floating_ip');
    await walkIpv6(api);
    await walkFirewalls(api);
    await api('GET', '/v2/actions/70000001');
    await api('GET', '/v2/actions/1');
    await admin('POST', '/faults', { path: '^/v2/droplets$', status: 500 });
    await api('GET', '/v2/droplets');
    await admin('PUT', '/ratelimit', { perMinute: 0 });
    await api('GET', '/v2/reserved_ips');

    const reached = new Set([...seen].map((s) => s.replace(/ \d+$/, '')));
    assert.deepEqual(specValidator().operations().filter((op) => !reached.has(op)), []);
    for (const expected of [
      'GET /v2/account 401', 'GET /v2/reserved_ips 429', 'GET /v2/droplets 500', 'GET /v2/droplets/{droplet_id} 404',
      'POST /v2/reserved_ips/{reserved_ip}/actions 422', 'POST /v2/floating_ips/{floating_ip}/actions 404',
      'DELETE /v2/reserved_ipv6/{reserved_ipv6} 422', 'POST /v2/firewalls 400', 'POST /v2/firewalls 422', 'PUT /v2/firewalls/{firewall_id} 404',
      'GET /v2/reserved_ips/{reserved_ip}/actions/{action_id} 404', 'POST /v2/reserved_ipv6 201', 'POST /v2/firewalls 202',
    ]) {
      assert.ok(seen.has(expected), `walk did not produce ${expected}`);
    }
  });
});

describe('the validator itself', () => {
  const v = specValidator();

  test('rejects a body that breaks the schema, naming the field', () => {
    const errors = v.validateResponse('GET', '/v2/reserved_ips/1.2.3.4', 200, { reserved_ip: { ip: 'not-an-ip', locked: 'no' } });
    assert.deepEqual(errors, [
      'GET /v2/reserved_ips/{reserved_ip} 200 (reserved_ip): /reserved_ip/ip must match format "ipv4" (#/properties/ip/format)',
      'GET /v2/reserved_ips/{reserved_ip} 200 (reserved_ip): /reserved_ip/locked must be boolean (#/properties/locked/type)',
    ]);
  });

  test('lists need meta; errors need id and message; IPv6 actions need an integer resource_id', () => {
    assert.match(v.validateResponse('GET', '/v2/droplets', 200, { droplets: [] }).join(), /must have required property 'meta'/);
    assert.match(v.validateResponse('POST', '/v2/reserved_ips/1.2.3.4/actions', 422, { message: 'x' }).join(), /required property 'id'/);
    const action = { id: 1, status: 'completed', type: 'assign_ip', resource_id: null };
    assert.match(v.validateResponse('POST', '/v2/reserved_ipv6/::1/actions', 201, { action }).join(), /resource_id must be integer/);
  });

  test('nullable fields accept null; headers must be integers; 204 must be empty', () => {
    const action = { id: 1, status: 'in-progress', type: 'assign_ip', completed_at: null, resource_id: null, region_slug: null };
    assert.deepEqual(v.validateResponse('GET', '/v2/actions/1', 200, { action }), []);
    const headers = { 'ratelimit-limit': '5000', 'ratelimit-remaining': 'lots', 'ratelimit-reset': '1' };
    assert.deepEqual(v.validateResponse('GET', '/v2/actions/1', 200, { action }, headers), [
      'GET /v2/actions/{action_id} 200 (action): header ratelimit-remaining must be an integer, got lots',
    ]);
    assert.deepEqual(v.validateResponse('DELETE', '/v2/reserved_ips/1.2.3.4', 204, { x: 1 }), [
      'DELETE /v2/reserved_ips/{reserved_ip} 204 (no_content): the spec declares no body, got one',
    ]);
    assert.deepEqual(v.validateResponse('GET', '/v2/volumes', 200, {}), ['/v2/volumes: no such path in the spec']);
  });
});
