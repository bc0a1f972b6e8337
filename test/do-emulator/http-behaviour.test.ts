// What the emulator does around the rules: rate budget and headers, injected faults, the
// request log, pagination, DO-shaped errors for bad requests, firewalls, the admin API.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiClient, emulatorPerFile } from './testing.ts';
import { DEFAULT_FIREWALL_ID } from './world.ts';

const emu = emulatorPerFile({ actionDelayMs: 300 });
const { clock, api, admin } = emu;

describe('rate budget', () => {
  test('per-minute budget: 429 with retry-after once spent, served again after the window', async () => {
    await admin('PUT', '/ratelimit', { perMinute: 3, perHour: 100 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api('GET', '/v2/account');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('ratelimit-limit'), '100');
      remaining.push(res.headers.get('ratelimit-remaining') ?? '');
    }
    assert.deepEqual(remaining, ['99', '98', '97']);
    const limited = await api('GET', '/v2/account');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.id, 'too_many_requests');
    assert.equal(limited.headers.get('retry-after'), '60');
    assert.equal(limited.headers.get('ratelimit-remaining'), '97');
    assert.equal(limited.headers.get('ratelimit-reset'), String(Math.ceil((clock.now() + 3_600_000) / 1000)));
    clock.tick(60_000);
    assert.equal((await api('GET', '/v2/account')).status, 200);
  });

  test('hourly budget: retry-after counts to the oldest request leaving the hour', async () => {
    await admin('PUT', '/ratelimit', { perMinute: 100, perHour: 2 });
    await api('GET', '/v2/account');
    clock.tick(600_000);
    await api('GET', '/v2/account');
    const limited = await api('GET', '/v2/account');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '3000');
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
  });

  test('401s do not spend the budget', async () => {
    await admin('PUT', '/ratelimit', { perMinute: 1 });
    assert.equal((await apiClient(emu.url, null)('GET', '/v2/account')).status, 401);
    assert.equal((await api('GET', '/v2/account')).status, 200);
    assert.equal((await api('GET', '/v2/account')).status, 429);
  });
});

describe('faults and the request log', () => {
  test('a status fault answers the next N matching requests, then normal service resumes', async () => {
    await admin('POST', '/faults', { method: 'GET', path: '^/v2/reserved_ips/[^/]+$', status: 503, count: 2 });
    await admin('POST', '/faults', { method: 'POST', path: '/actions$', status: 500 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await api('GET', '/v2/reserved_ips/104.248.100.100')).status);
    assert.deepEqual(statuses, [503, 503, 200]);
    assert.equal((await api('GET', '/v2/reserved_ips')).status, 200);
    const post = await api('POST', '/v2/reserved_ips/104.248.100.100/actions', { type: 'assign', droplet_id: 1001 });
    assert.equal(post.status, 500);
    assert.equal(post.body.id, 'server_error');
    const log = (await admin('GET', '/requests')).body as { seq: number; method: string; path: string; status: number; body: unknown }[];
    assert.deepEqual(
      log.map((r) => [r.seq, r.method, r.path, r.status]),
      [
        [1, 'GET', '/v2/reserved_ips/104.248.100.100', 503],
        [2, 'GET', '/v2/reserved_ips/104.248.100.100', 503],
        [3, 'GET', '/v2/reserved_ips/104.248.100.100', 200],
        [4, 'GET', '/v2/reserved_ips', 200],
        [5, 'POST', '/v2/reserved_ips/104.248.100.100/actions', 500],
      ],
    );
    assert.deepEqual(log[4]?.body, { type: 'assign', droplet_id: 1001 });
    await admin('DELETE', '/requests');
    assert.deepEqual((await admin('GET', '/requests')).body, []);
  });

  test('a 429 fault carries retry-after; custom body and headers are sent as given', async () => {
    await admin('POST', '/faults', { path: '^/v2/account$', status: 429 });
    const res = await api('GET', '/v2/account');
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '1');
    await admin('POST', '/faults', { path: '^/v2/account$', status: 429, headers: { 'retry-after': '7' }, body: { id: 'too_many_requests', message: 'slow down' } });
    const custom = await api('GET', '/v2/account');
    assert.equal(custom.headers.get('retry-after'), '7');
    assert.equal(custom.body.message, 'slow down');
  });

  test('reset destroys the connection; hang never answers; both are logged with status 0', async () => {
    await admin('POST', '/faults', { path: '^/v2/account$', reset: true });
    await assert.rejects(fetch(`${emu.url}/v2/account`, { headers: { authorization: 'Bearer t' } }), TypeError);
    await admin('POST', '/faults', { path: '^/v2/account$', hang: true });
    await assert.rejects(
      fetch(`${emu.url}/v2/account`, { headers: { authorization: 'Bearer t' }, signal: AbortSignal.timeout(200) }),
      (err: Error) => err.name === 'TimeoutError',
    );
    const log = (await admin('GET', '/requests')).body as { status: number }[];
    assert.deepEqual(log.map((r) => r.status), [0, 0]);
    assert.equal((await api('GET', '/v2/account')).status, 200);
  });

  test('latency delays the answer by at least latencyMs', async () => {
    await admin('POST', '/faults', { path: '^/v2/account$', latencyMs: 150 });
    const started = performance.now();
    assert.equal((await api('GET', '/v2/account')).status, 200);
    assert.ok(performance.now() - started >= 145);
  });

  test('admin requests are not logged; a bad fault is rejected', async () => {
    await admin('GET', '/holders');
    assert.deepEqual((await admin('GET', '/requests')).body, []);
    const bad = await admin('POST', '/faults', { path: '(' }, 400);
    assert.equal(bad.body.message, 'path is not a valid regular expression: (');
  });
});

describe('pagination, filters and error shapes', () => {
  test('reserved_ips pages: links.pages and meta.total, next links lead through every page', async () => {
    const first = await api('GET', '/v2/reserved_ips?per_page=2');
    assert.equal(first.body.meta.total, 3);
    assert.deepEqual(first.body.links.pages, {
      next: `${emu.url}/v2/reserved_ips?per_page=2&page=2`,
      last: `${emu.url}/v2/reserved_ips?per_page=2&page=2`,
    });
    const second = await api('GET', new URL(first.body.links.pages.next).pathname + new URL(first.body.links.pages.next).search);
    assert.deepEqual(second.body.reserved_ips.map((r: { ip: string }) => r.ip), ['104.248.100.102']);
    assert.deepEqual(Object.keys(second.body.links.pages), ['first', 'prev']);
    assert.deepEqual((await api('GET', '/v2/reserved_ips')).body.links, {});
  });

  test('/v2/actions lists every action, newest first', async () => {
    const first = (await api('POST', '/v2/reserved_ips/104.248.100.100/actions', { type: 'assign', droplet_id: 1001 })).body.action;
    const second = (await api('POST', '/v2/reserved_ipv6/2604:a880:800:14::1000/actions', { type: 'assign', droplet_id: 1002 })).body.action;
    const list = await api('GET', '/v2/actions?per_page=1');
    assert.deepEqual(list.body.actions.map((a: { id: number }) => a.id), [second.id]);
    assert.equal(list.body.meta.total, 2);
    assert.equal(second.id, first.id + 1);
  });

  test('droplets filtered by tag_name, sorted by id', async () => {
    await admin('POST', '/droplets', { id: 2000, name: 'other', tags: ['db'] });
    const workers = await api('GET', '/v2/droplets?tag_name=k8s-worker');
    assert.deepEqual(workers.body.droplets.map((d: { id: number }) => d.id), [1001, 1002, 1003]);
    assert.equal(workers.body.meta.total, 3);
    assert.deepEqual((await api('GET', '/v2/droplets?tag_name=db')).body.droplets.map((d: { name: string }) => d.name), ['other']);
  });

  test('unknown path or method is 404, unparsable JSON is 400, both in DO error shape', async () => {
    const unknown = await api('GET', '/v2/volumes');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.message, 'no route for GET /v2/volumes');
    assert.equal(typeof unknown.body.request_id, 'string');
    assert.equal((await api('PATCH', '/v2/reserved_ips/104.248.100.100')).status, 404);
    const res = await fetch(`${emu.url}/v2/reserved_ips/104.248.100.100/actions`, {
      method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{"type":',
    });
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys((await res.json()) as object), ['id', 'message', 'request_id']);
  });
});

describe('firewalls', () => {
  test('the default world has the DOKS worker firewall', async () => {
    const res = await api('GET', '/v2/firewalls');
    assert.deepEqual(res.body.firewalls.map((f: { name: string }) => f.name), ['k8s-c0ffee00-0000-4000-8000-000000000001-worker']);
  });

  test('create, read, update, sub-resources, delete', async () => {
    const rule = { protocol: 'udp', ports: '5000', sources: { addresses: ['0.0.0.0/0'] } };
    const created = await api('POST', '/v2/firewalls', { name: 'floatip-test', inbound_rules: [rule] });
    assert.equal(created.status, 202);
    const id = created.body.firewall.id as string;
    assert.equal((await api('POST', `/v2/firewalls/${id}/droplets`, { droplet_ids: [1001, 1002] })).status, 204);
    assert.equal((await api('DELETE', `/v2/firewalls/${id}/droplets`, { droplet_ids: [1001] })).status, 204);
    assert.equal((await api('POST', `/v2/firewalls/${id}/tags`, { tags: ['k8s'] })).status, 204);
    const outbound = { protocol: 'tcp', ports: 'all', destinations: { addresses: ['0.0.0.0/0'] } };
    assert.equal((await api('POST', `/v2/firewalls/${id}/rules`, { outbound_rules: [outbound] })).status, 204);
    assert.equal((await api('DELETE', `/v2/firewalls/${id}/rules`, { inbound_rules: [rule] })).status, 204);
    const got = (await api('GET', `/v2/firewalls/${id}`)).body.firewall;
    assert.deepEqual([got.droplet_ids, got.tags, got.inbound_rules, got.outbound_rules], [[1002], ['k8s'], [], [{ ...outbound, ports: '0' }]]);

    const put = await api('PUT', `/v2/firewalls/${id}`, { name: 'renamed', inbound_rules: [rule] });
    assert.equal(put.status, 200);
    assert.deepEqual([put.body.firewall.name, put.body.firewall.droplet_ids, put.body.firewall.outbound_rules], ['renamed', [], []]);
    assert.equal((await api('DELETE', `/v2/firewalls/${id}`)).status, 204);
    assert.equal((await api('GET', `/v2/firewalls/${id}`)).status, 404);
  });

  test('invalid firewalls are 400; unknown droplets 404', async () => {
    const noRules = await api('POST', '/v2/firewalls', { name: 'empty' });
    assert.equal(noRules.status, 400);
    assert.equal(noRules.body.message, 'a firewall needs at least one inbound or outbound rule');
    assert.equal((await api('POST', `/v2/firewalls/${DEFAULT_FIREWALL_ID}/droplets`, { droplet_ids: [42] })).status, 404);
  });
});

describe('admin API', () => {
  test('reset loads a seed; droplets get the next id; holders move by hand; state shows it all', async () => {
    await admin('POST', '/reset', {
      region: 'fra1',
      droplets: [{ id: 7, name: 'a' }],
      reservedIps: [{ ip: '203.0.113.10', dropletId: 7 }, { ip: '2001:db8::10' }],
    });
    const added = await admin('POST', '/droplets', { name: 'b' });
    assert.equal(added.status, 201);
    assert.equal(added.body.id, 1001);
    assert.equal(added.body.region.slug, 'fra1');
    await admin('PUT', '/holders/2001:db8::10', { droplet_id: 1001 });
    assert.deepEqual((await admin('GET', '/holders')).body, { '203.0.113.10': 7, '2001:db8::10': 1001 });
    await admin('PUT', '/holders/203.0.113.10', { droplet_id: 99 }, 404);
    const state = (await admin('GET', '/state')).body;
    assert.deepEqual(state.reservedIps.map((r: { ip: string; family: number }) => [r.ip, r.family]), [['203.0.113.10', 4], ['2001:db8::10', 6]]);
    assert.equal(state.region, 'fra1');
  });

  test('action-delay makes actions stay in-progress; reset restores the configured delay', async () => {
    await admin('PUT', '/action-delay', { ms: 3_600_000 });
    const { action } = (await api('POST', '/v2/reserved_ips/104.248.100.100/actions', { type: 'assign', droplet_id: 1001 })).body;
    clock.tick(300);
    assert.equal((await api('GET', `/v2/actions/${action.id}`)).body.action.status, 'in-progress');
    await admin('POST', '/reset');
    assert.equal((await admin('GET', '/state')).body.actionDelayMs, 300);
  });
});
