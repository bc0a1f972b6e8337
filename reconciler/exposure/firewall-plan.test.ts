import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Firewall, FirewallSpec } from '../../shared/digitalocean/port.ts';
import type { ServiceFacts } from './model.ts';
import { clusterUuidOf } from '../cluster-identity.ts';
import { describeChange, desiredFirewall, exposingServices, MAX_RULES, planFirewall, sameFirewall } from './firewall-plan.ts';
import type { PodClaims } from './model.ts';
import { createPortPolicy, parsePortList } from './port-policy.ts';

const UUID = 'c0ffee00-0000-4000-8000-000000000001';
const NAME = `floatip-${UUID}`;
const ALL = ['0.0.0.0/0', '::/0'];

const svc = (ports: [string, number][], over: Partial<ServiceFacts> = {}): ServiceFacts => ({
  key: 'default/s',
  namespace: 'default',
  name: 's',
  floatip: true,
  selector: { app: 's' },
  ports: ports.map(([protocol, port]) => ({ protocol, port })),
  sourceRanges: [],
  externalIPs: [],
  ingress: [],
  externalIPsOwners: [],
  ownedByFloatip: false,
  ...over,
});
const EXPOSE_ALL = { exposing: () => true };
const spec = (services: ServiceFacts[]) => desiredFirewall(services, UUID, EXPOSE_ALL).spec;
const rules = (spec: FirewallSpec | null) => spec?.inbound.map((r) => [r.protocol, r.ports, r.addresses]);

test('desired firewall: name, target tag, no outbound, no droplet ids', () => {
  assert.deepEqual(spec([svc([['UDP', 7777], ['TCP', 8080]])]), {
    name: NAME,
    inbound: [
      { protocol: 'tcp', ports: '8080', addresses: ALL },
      { protocol: 'udp', ports: '7777', addresses: ALL },
    ],
    outbound: [],
    tags: [`k8s:${UUID}`],
    dropletIds: [],
  });
});

test('desired rules: one per (protocol, port), table', () => {
  const rows: [string, ServiceFacts[], unknown][] = [
    ['no Service: no firewall', [], undefined],
    ['only SCTP: no firewall', [svc([['SCTP', 5000]])], undefined],
    ['not of floatip class: ignored', [svc([['TCP', 80]], { floatip: false })], undefined],
    ['two Services on one port: one rule', [svc([['TCP', 443]]), svc([['TCP', 443], ['TCP', 80]], { key: 'b/s' })], [['tcp', '80', ALL], ['tcp', '443', ALL]]],
    ['same port, both protocols: two rules', [svc([['TCP', 53], ['UDP', 53]])], [['tcp', '53', ALL], ['udp', '53', ALL]]],
    ['source ranges', [svc([['TCP', 2222]], { sourceRanges: ['203.0.113.0/24', '2001:db8::/32'] })], [['tcp', '2222', ['2001:db8::/32', '203.0.113.0/24']]]],
    ['two Services, same ranges: one rule', [svc([['TCP', 2222]], { sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 2222]], { key: 'b/s', sourceRanges: [' 203.0.113.0/24'] })], [['tcp', '2222', ['203.0.113.0/24']]]],
    ['a restricted port is not widened by a newer Service', [svc([['TCP', 8443]], { createdMs: 1, sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 8443]], { key: 'other/s', createdMs: 2 })], [['tcp', '8443', ['203.0.113.0/24']]]],
    ['nor joined with other ranges', [svc([['TCP', 8443]], { createdMs: 1, sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 8443]], { key: 'other/s', createdMs: 2, sourceRanges: ['198.51.100.0/24'] })], [['tcp', '8443', ['203.0.113.0/24']]]],
    ['an open port is not narrowed by a newer Service', [svc([['TCP', 8443]], { key: 'other/s', createdMs: 2, sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 8443]], { createdMs: 1 })], [['tcp', '8443', ALL]]],
    ['consecutive ports merge into a range', [svc([['TCP', 8002], ['TCP', 8000], ['TCP', 8001], ['TCP', 8004], ['UDP', 8003]])], [['tcp', '8000-8002', ALL], ['tcp', '8004', ALL], ['udp', '8003', ALL]]],
    ['ports of two Services with the same sources merge', [svc([['TCP', 9000]]), svc([['TCP', 9001]], { key: 'b/s' })], [['tcp', '9000-9001', ALL]]],
    ['ports with other sources do not merge', [svc([['TCP', 9000]]), svc([['TCP', 9001]], { key: 'b/s', sourceRanges: ['203.0.113.0/24'] })], [['tcp', '9000', ALL], ['tcp', '9001', ['203.0.113.0/24']]]],
    ['default port policy: kubelet, etcd, SSH, NodePorts closed', [svc([['TCP', 10250], ['TCP', 10255], ['TCP', 10256], ['TCP', 2379], ['TCP', 2380], ['TCP', 22], ['UDP', 22], ['TCP', 30000], ['UDP', 32767], ['TCP', 443]])], [['tcp', '443', ALL]]],
    ['only TCP/UDP, denied ports: no firewall', [svc([['TCP', 10250], ['SCTP', 5000]])], undefined],
  ];
  for (const [name, services, want] of rows) assert.deepEqual(rules(spec(services)), want, name);
});

const existing = (over: Partial<Firewall> = {}): Firewall => ({
  id: 'fw-1',
  status: 'succeeded',
  name: NAME,
  inbound: [
    { protocol: 'udp', ports: '7777', addresses: ['::/0', '0.0.0.0/0'] },
    { protocol: 'tcp', ports: '8080', addresses: ALL },
  ],
  outbound: [],
  tags: [`k8s:${UUID}`],
  dropletIds: [],
  ...over,
});
const DOKS: Firewall = { ...existing({ id: 'doks', name: `k8s-${UUID}-worker` }) };

test('compare, then at most one write: table', () => {
  const want = spec([svc([['UDP', 7777], ['TCP', 8080]])]);
  const wider = spec([svc([['UDP', 7777], ['TCP', 8080], ['TCP', 9090]])]);
  const rows: [string, FirewallSpec | null, Firewall[], unknown][] = [
    ['equal (rule and address order aside): nothing', want, [DOKS, existing()], []],
    ['missing (deleted by hand): create', want, [DOKS], [['create', 'no firewall of that name exists (new, or deleted by hand)']]],
    ['a port added: update', wider, [existing()], [['update', 'fw-1', 'tcp/9090 added']]],
    ['a port removed', spec([svc([['UDP', 7777]])]), [existing()], [['update', 'fw-1', 'tcp/8080 removed']]],
    ['sources changed', spec([svc([['UDP', 7777], ['TCP', 8080]], { sourceRanges: ['203.0.113.0/24'] })]), [existing()], [['update', 'fw-1', 'tcp/8080 sources changed, udp/7777 sources changed']]],
    ['someone added an outbound rule and a droplet', want, [existing({ outbound: [{ protocol: 'tcp', ports: '0', addresses: ALL }], dropletIds: [1001] })], [['update', 'fw-1', 'targets changed, outbound rules removed']]],
    ['no Service left: delete ours only', null, [DOKS, existing()], [['delete', 'fw-1', 'no Service of floatip class is left']]],
    ['no Service and no firewall: nothing', null, [DOKS], []],
    ['two of ours: the second is deleted', want, [existing(), existing({ id: 'fw-2' })], [['delete', 'fw-2', `a second firewall named ${NAME}`]]],
  ];
  for (const [name, desired, list, expected] of rows) {
    const actions = planFirewall(desired, NAME, list).map((a) => (a.type === 'create' ? [a.type, a.reason] : [a.type, a.id, a.reason]));
    assert.deepEqual(actions, expected, name);
  }
});

test('the DOKS firewall is never written, whatever it holds', () => {
  for (const desired of [null, spec([svc([['TCP', 1]])])]) {
    assert.ok(planFirewall(desired, NAME, [DOKS]).every((a) => a.type === 'create'));
  }
});

test('sameFirewall and describeChange agree', () => {
  const d = spec([svc([['UDP', 7777], ['TCP', 8080]])]) as FirewallSpec;
  assert.equal(sameFirewall(existing(), d), true);
  assert.equal(describeChange(existing(), d), 'no change');
  assert.equal(sameFirewall(existing({ tags: ['k8s:other'] }), d), false);
});

test('clusterUuidOf: the k8s:<uuid> tag of a worker droplet', () => {
  assert.equal(clusterUuidOf(['k8s', `k8s:${UUID}`, 'k8s-worker']), UUID);
  assert.equal(clusterUuidOf(['k8s', 'k8s-worker', 'k8s:not-a-uuid']), undefined);
  assert.equal(clusterUuidOf([]), undefined);
  assert.equal(clusterUuidOf([`k8s:${'-'.repeat(36)}`]), undefined, 'not 36 dashes (the claim policy once accepted them)');
});

const refusals = (services: ServiceFacts[], opts: Partial<Parameters<typeof desiredFirewall>[2]> = {}) =>
  desiredFirewall(services, UUID, { ...EXPOSE_ALL, ...opts }).refusals.map((r) => [r.service, r.reason, r.ports.join(' ')]);

test('refusals: which Service, which ports, why — table', () => {
  const rows: [string, ServiceFacts[], unknown][] = [
    ['nothing refused', [svc([['TCP', 443]])], []],
    ['denied ports, one refusal per Service', [svc([['TCP', 10250], ['TCP', 2379], ['TCP', 22], ['TCP', 443]])], [['default/s', 'FloatingIPPortNotAllowed', 'tcp/10250 tcp/2379 tcp/22']]],
    ['a newer Service on a restricted port', [svc([['TCP', 8443]], { key: 'shop/web', createdMs: 1, sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 8443], ['TCP', 9000]], { key: 'other/x', createdMs: 2 })], [['other/x', 'FloatingIPSourceRangesConflict', 'tcp/8443']]],
    ['same sources share the port, no refusal', [svc([['TCP', 8443]], { key: 'a/s', createdMs: 1 }), svc([['TCP', 8443]], { key: 'b/s', createdMs: 2 })], []],
  ];
  for (const [name, services, want] of rows) assert.deepEqual(refusals(services), want, name);
  const [conflict] = desiredFirewall(rows[2]?.[1] ?? [], UUID, EXPOSE_ALL).refusals;
  assert.deepEqual(conflict?.owners, ['shop/web'], 'the owner goes to the operator log');
  assert.doesNotMatch(conflict?.message ?? '', /shop|203\.0\.113/, "the Warning in another tenant's namespace names neither the owner nor its ranges");
});

test('rule limit: checked before writing; the Service that does not fit is refused whole, the rest is kept', () => {
  const big = svc(Array.from({ length: 60 }, (_, i): [string, number] => ['TCP', 20_000 + 2 * i]), { key: 'big/s', createdMs: 2 });
  const shop = svc([['TCP', 9443]], { key: 'shop/web', createdMs: 3 });
  const old = svc([['UDP', 7777]], { key: 'game/udp', createdMs: 1 });
  const d = desiredFirewall([big, shop, old], UUID, EXPOSE_ALL);
  assert.deepEqual(d.spec?.inbound.map((r) => `${r.protocol}/${r.ports}`), ['tcp/9443', 'udp/7777']);
  assert.deepEqual(d.refusals.map((r) => [r.service, r.reason, r.ports.length]), [['big/s', 'FloatingIPFirewallFull', 60]]);
  assert.match(d.refusals[0]?.message ?? '', /would need 61 rules and DigitalOcean allows 50/);
  // 60 consecutive ports are one range rule: they fit
  const range = svc(Array.from({ length: 60 }, (_, i): [string, number] => ['TCP', 20_000 + i]), { key: 'big/s', createdMs: 2 });
  assert.deepEqual(desiredFirewall([range, shop], UUID, EXPOSE_ALL).spec?.inbound.map((r) => r.ports), ['9443', '20000-20059']);
  // exactly at the limit fits
  const fifty = svc(Array.from({ length: MAX_RULES }, (_, i): [string, number] => ['UDP', 40_000 + 2 * i]), { createdMs: 1 });
  assert.equal(desiredFirewall([fifty], UUID, EXPOSE_ALL).spec?.inbound.length, MAX_RULES);
  assert.equal(desiredFirewall([fifty, shop], UUID, EXPOSE_ALL).refusals[0]?.service, 'shop/web');
});

test('only Services exposing a won IP open ports', () => {
  const a = svc([['TCP', 443]], { key: 'a/s', namespace: 'a' });
  const b = svc([['TCP', 8443]], { key: 'b/s', namespace: 'b' });
  assert.deepEqual(rules(desiredFirewall([a, b], UUID, { exposing: (x) => x.key === 'b/s' }).spec), [['tcp', '8443', ALL]]);
  assert.equal(desiredFirewall([a, b], UUID, { exposing: () => false }).spec, null);
});

test('port policy: operator lifts or adds ports, table', () => {
  const policy = createPortPolicy({ allowed: parsePortList('tcp/22, 30000-30010', 'a'), denied: parsePortList('udp/53,8080-8081,tcp/30005', 'd') });
  const rows: [string, number, boolean][] = [
    ['tcp', 22, true], ['udp', 22, false], ['tcp', 30000, true], ['udp', 30010, true], ['tcp', 30011, false], ['tcp', 30005, false],
    ['udp', 53, false], ['tcp', 53, true], ['tcp', 8081, false], ['tcp', 10250, false], ['tcp', 443, true],
  ];
  for (const [protocol, port, open] of rows) assert.equal(policy.refuses(protocol as 'tcp' | 'udp', port) === undefined, open, `${protocol}/${port}`);
  assert.equal(policy.refuses('tcp', 10250), 'tcp/10250 is the kubelet API, never opened unless the operator lifts it (--firewall-allowed-ports)');
  for (const bad of ['0', '70000', '20-10', 'sctp/5', 'x']) assert.throws(() => parsePortList(bad, '--firewall-allowed-ports'), /^Error: --firewall-allowed-ports: /, bad);
});

test('exposingServices: a selected pod whose workload won an IP that sits on (or moves to) a droplet, table', () => {
  const V4 = '104.248.100.100';
  // addresses are the IPs the pod's workload WON (judged-claims.ts): a loser's pod has none
  const pod = (namespace: string, app: string, won: string[] = [V4]): PodClaims => ({ namespace, labels: { app }, addresses: won.map((text) => ({ text, family: 4 as const })) });
  const shop = svc([['TCP', 443]], { key: 'shop/web', namespace: 'shop', selector: { app: 'web' } });
  const other = svc([['TCP', 443]], { key: 'other/x', namespace: 'other', selector: { app: 'x' } });
  const bare = svc([['TCP', 10250]], { key: 'shop/bare', namespace: 'shop', selector: undefined });
  const held = (dropletId: number | null, movingTo?: number) => new Map([[V4, { ip: V4, family: 4 as const, dropletId, ...(movingTo ? { movingTo } : {}) }]]);
  const rows: [string, PodClaims[], ReturnType<typeof held>, string[]][] = [
    ['the winner is selected and the IP is held', [pod('shop', 'web')], held(1001), ['shop/web']],
    ['IP unassigned: nobody exposes', [pod('shop', 'web')], held(null), []],
    ['the other namespace lost: it exposes nothing', [pod('shop', 'web'), pod('other', 'x', [])], held(1001), ['shop/web']],
    ['moving to its first droplet', [pod('other', 'x')], held(null, 1002), ['other/x']],
    ['a selector-less Service exposes nothing', [pod('shop', 'web')], held(1001), ['shop/web']],
    ['a won IP nobody holds', [pod('shop', 'web', ['104.248.100.101'])], held(1001), []],
    ['same labels, other namespace: not selected', [pod('other', 'web')], held(1001), []],
  ];
  for (const [name, pods, holders, want] of rows) assert.deepEqual([...exposingServices([shop, other, bare], pods, holders)].sort(), want, name);
});
