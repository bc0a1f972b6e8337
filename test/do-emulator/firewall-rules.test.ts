// DigitalOcean's firewall validation: the pure rules as tables, then the same rules through
// the API (status, message, what is stored and rendered), the limits on every sub-resource,
// tag targeting, and /_emulator/state rendering firewalls exactly as /v2/firewalls does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiFailure } from './api-error.ts';
import { checkLimits, isAddressOrCidr, LIMITS, normalizePorts } from './firewall-rules.ts';
import { emulatorPerFile } from './testing.ts';
import { DEFAULT_CLUSTER_ID, DEFAULT_FIREWALL_ID } from './world.ts';

const { api, admin } = emulatorPerFile({ actionDelayMs: 300 });

const everywhere = { addresses: ['0.0.0.0/0', '::/0'] };
const inbound = (ports: unknown, protocol = 'tcp', sources: unknown = everywhere) => ({ protocol, ports, sources });
const create = (body: Record<string, unknown>) => api('POST', '/v2/firewalls', { name: 'floatip-test', ...body });

/** status and message of a refusal, or the status alone */
function refusal(fn: () => unknown): [number, string] | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof ApiFailure);
    return [err.status, err.message];
  }
}

describe('ports', () => {
  test('tcp/udp: a port, a range or "all" (stored as "0"); "0" and "" are refused as DigitalOcean refuses them', () => {
    const table: [unknown, string | number][] = [
      ['80', '80'],
      ['1', '1'],
      ['65535', '65535'],
      ['8000-9000', '8000-9000'],
      ['1-65535', '1-65535'],
      ['5000-5000', '5000-5000'],
      ['all', '0'],
      [' 443 ', '443'],
      ['0', 422],
      ['00', 422],
      ['', 422],
      [undefined, 422],
      ['65536', 422],
      ['0-100', 422],
      ['9000-8000', 422],
      ['80,443', 422],
      ['http', 422],
      ['123456', 422],
      [80, 400],
    ];
    for (const [ports, expected] of table) {
      const got = refusal(() => normalizePorts('udp', ports, 'rule'));
      if (typeof expected === 'string') assert.equal(normalizePorts('udp', ports, 'rule'), expected, String(ports));
      else assert.ok(got !== 'accepted' && got[0] === expected, `${JSON.stringify(ports)} → ${JSON.stringify(got)}`);
    }
    assert.match(String(refusal(() => normalizePorts('tcp', '0', 'inbound_rules[0]'))), /You must specify a positive value for ports\. \(inbound_rules\[0\]\.ports "0"; use "all" for every port\)/);
  });

  test('icmp has no ports: whatever is sent, "0" is stored', () => {
    for (const ports of [undefined, '', '0', '1-65535', 'all']) assert.equal(normalizePorts('icmp', ports, 'rule'), '0');
  });
});

test('addresses: IPv4/IPv6 addresses and CIDRs only', () => {
  const table: [string, boolean][] = [
    ['1.2.3.4', true], ['18.0.0.0/8', true], ['0.0.0.0/0', true], ['::/0', true], ['2604:a880::/32', true],
    ['2604:a880:800:14::1000', true], ['1.2.3.4/33', false], ['::/129', false], ['1.2.3.4/', false],
    ['1.2.3.4/8/8', false], ['1.2.3', false], ['example.com', false], ['', false], ['1.2.3.4/-1', false],
  ];
  for (const [text, ok] of table) assert.equal(isAddressOrCidr(text), ok, text);
});

test('limits: 10 droplets, 5 tags, 50 rules in and out together', () => {
  const fw = (d: number, t: number, i: number, o: number) => ({
    dropletIds: Array.from({ length: d }, (_, n) => n),
    tags: Array.from({ length: t }, (_, n) => `t${n}`),
    inboundRules: Array(i).fill({}),
    outboundRules: Array(o).fill({}),
  });
  assert.deepEqual(LIMITS, { droplets: 10, tags: 5, rules: 50, targetEntries: 1000 });
  assert.equal(refusal(() => checkLimits(fw(10, 5, 25, 25))), 'accepted');
  assert.deepEqual(refusal(() => checkLimits(fw(11, 0, 1, 0))), [422, 'a firewall applies to at most 10 droplets (got 11); tag the droplets and add the tag instead']);
  assert.deepEqual(refusal(() => checkLimits(fw(0, 6, 1, 0))), [422, 'a firewall has at most 5 tags (got 6)']);
  assert.deepEqual(refusal(() => checkLimits(fw(0, 0, 26, 25))), [422, 'a firewall has at most 50 inbound and outbound rules together (got 51)']);
});

describe('through the API', () => {
  test('create stores what the API renders: "all" as "0", icmp ports "0", the sources given', async () => {
    const res = await create({
      inbound_rules: [inbound('all'), inbound('5000-5010', 'udp', { tags: ['k8s-worker'], droplet_ids: [1001] })],
      outbound_rules: [{ protocol: 'icmp', destinations: everywhere }],
    });
    assert.equal(res.status, 202);
    assert.deepEqual([res.body.firewall.inbound_rules, res.body.firewall.outbound_rules], [
      [{ protocol: 'tcp', ports: '0', sources: everywhere }, { protocol: 'udp', ports: '5000-5010', sources: { tags: ['k8s-worker'], droplet_ids: [1001] } }],
      [{ protocol: 'icmp', ports: '0', destinations: everywhere }],
    ]);
  });

  test('refusals: status and message per rule broken', async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ inbound_rules: [inbound('0')] }, 422, /^You must specify a positive value for ports/],
      [{ inbound_rules: [inbound('70000')] }, 422, /inbound_rules\[0\]\.ports "70000" is not within 1-65535/],
      [{ inbound_rules: [inbound('22', 'gre')] }, 400, /inbound_rules\[0\]\.protocol must be one of tcp, udp, icmp/],
      [{ inbound_rules: [{ protocol: 'tcp', ports: '22' }] }, 400, /inbound_rules\[0\]\.sources is required/],
      [{ outbound_rules: [{ protocol: 'tcp', ports: '22', sources: everywhere }] }, 400, /outbound_rules\[0\]\.destinations is required/],
      [{ inbound_rules: [inbound('22', 'tcp', { addresses: ['10.0.0.0/40'] })] }, 422, /"10\.0\.0\.0\/40" is not an IPv4 or IPv6 address or CIDR/],
      [{ inbound_rules: [inbound('22', 'tcp', { tags: ['no-such-tag'] })] }, 422, /inbound_rules\[0\]\.sources\.tags: tag "no-such-tag" does not exist/],
      [{ inbound_rules: [inbound('22')], tags: ['nope'] }, 422, /^tags: tag "nope" does not exist/],
      [{ inbound_rules: [inbound('22', 'tcp', { addresses: Array(1001).fill('1.2.3.4') })] }, 422, /has 1001 entries; a rule allows at most 1000/],
      [{ inbound_rules: Array.from({ length: 51 }, (_, i) => inbound(String(i + 1))) }, 422, /at most 50 inbound and outbound rules together \(got 51\)/],
      [{ inbound_rules: [inbound('22')], droplet_ids: [4242] }, 404, /Droplet 4242 could not be found/],
      [{ inbound_rules: [] }, 400, /at least one inbound or outbound rule/],
      [{ name: '-bad', inbound_rules: [inbound('22')] }, 400, /name must begin with an alphanumeric/],
    ];
    for (const [body, status, message] of cases) {
      const res = await create(body);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 120));
      assert.match(res.body.message, message);
    }
    assert.equal((await api('GET', '/v2/firewalls')).body.meta.total, 1, 'nothing was stored');
  });

  test('limits hold for PUT and every sub-resource; a refused change leaves the firewall as it was', async () => {
    for (let id = 2001; id <= 2011; id++) await admin('POST', '/droplets', { id, name: `d${id}` });
    const ten = Array.from({ length: 10 }, (_, i) => 2001 + i);
    const fw = (await create({ inbound_rules: [inbound('22')], droplet_ids: ten })).body.firewall;
    const more = await api('POST', `/v2/firewalls/${fw.id}/droplets`, { droplet_ids: [2011] });
    assert.deepEqual([more.status, more.body.message], [422, 'a firewall applies to at most 10 droplets (got 11); tag the droplets and add the tag instead']);
    const put = await api('PUT', `/v2/firewalls/${fw.id}`, { name: 'floatip-test', inbound_rules: [inbound('22')], droplet_ids: [...ten, 2011] });
    assert.equal(put.status, 422);
    const rules = await api('POST', `/v2/firewalls/${fw.id}/rules`, { inbound_rules: Array.from({ length: 50 }, (_, i) => inbound(String(i + 100))) });
    assert.equal(rules.status, 422);
    await admin('POST', '/droplets', { id: 3000, name: 'tagged', tags: ['a', 'b', 'c', 'd', 'e', 'f'] });
    assert.equal((await api('POST', `/v2/firewalls/${fw.id}/tags`, { tags: ['a', 'b', 'c', 'd', 'e'] })).status, 204);
    assert.equal((await api('POST', `/v2/firewalls/${fw.id}/tags`, { tags: ['f'] })).status, 422);
    assert.equal((await api('POST', `/v2/firewalls/${fw.id}/tags`, { tags: ['unknown'] })).status, 422);
    const got = (await api('GET', `/v2/firewalls/${fw.id}`)).body.firewall;
    assert.deepEqual([got.droplet_ids, got.tags, got.inbound_rules.length], [ten, ['a', 'b', 'c', 'd', 'e'], 1]);
  });

  test('removing a rule matches its stored form: "all" removes the rule shown as "0"', async () => {
    const fw = (await create({ inbound_rules: [inbound('all'), inbound('22')] })).body.firewall;
    assert.equal((await api('DELETE', `/v2/firewalls/${fw.id}/rules`, { inbound_rules: [inbound('all')] })).status, 204);
    assert.deepEqual((await api('GET', `/v2/firewalls/${fw.id}`)).body.firewall.inbound_rules, [{ protocol: 'tcp', ports: '22', sources: everywhere }]);
  });

  test('tags target droplets without listing them in droplet_ids; a seed tag exists without droplets', async () => {
    const res = await create({ inbound_rules: [inbound('8443')], tags: [`k8s:${DEFAULT_CLUSTER_ID}`] });
    assert.deepEqual([res.body.firewall.tags, res.body.firewall.droplet_ids], [[`k8s:${DEFAULT_CLUSTER_ID}`], []]);
    await admin('POST', '/reset', { droplets: [], tags: ['reserved-for-later'] });
    assert.equal((await create({ inbound_rules: [inbound('22')], tags: ['reserved-for-later'] })).status, 202);
  });

  test('/_emulator/state renders firewalls exactly as /v2/firewalls', async () => {
    await create({ inbound_rules: [inbound('all', 'udp')], outbound_rules: [{ protocol: 'icmp', ports: '7', destinations: everywhere }], droplet_ids: [1002] });
    const listed = (await api('GET', '/v2/firewalls')).body.firewalls;
    assert.equal(listed.length, 2);
    assert.deepEqual((await admin('GET', '/state')).body.firewalls, listed);
    const doks = listed.find((f: { id: string }) => f.id === DEFAULT_FIREWALL_ID);
    assert.deepEqual(doks.inbound_rules[2], { protocol: 'tcp', ports: '0', sources: { tags: [`k8s:${DEFAULT_CLUSTER_ID}`] } });
    assert.deepEqual(doks.outbound_rules.map((r: { ports: string }) => r.ports), ['0', '0', '0']);
  });
});
