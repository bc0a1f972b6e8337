import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Firewall, FirewallSpec } from '../../shared/digitalocean/port.ts';
import type { ServiceFacts } from './model.ts';
import { clusterUuidOf } from '../cluster-identity.ts';
import { describeChange, desiredFirewall, planFirewall, sameFirewall } from './firewall-plan.ts';

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
const rules = (spec: FirewallSpec | null) => spec?.inbound.map((r) => [r.protocol, r.ports, r.addresses]);

test('desired firewall: name, target tag, no outbound, no droplet ids', () => {
  assert.deepEqual(desiredFirewall([svc([['UDP', 7777], ['TCP', 8080]])], UUID), {
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
    ['two Services on one port: one rule', [svc([['TCP', 443]]), svc([['TCP', 443], ['TCP', 80]])], [['tcp', '80', ALL], ['tcp', '443', ALL]]],
    ['same port, both protocols: two rules', [svc([['TCP', 53], ['UDP', 53]])], [['tcp', '53', ALL], ['udp', '53', ALL]]],
    ['source ranges', [svc([['TCP', 22]], { sourceRanges: ['203.0.113.0/24', '2001:db8::/32'] })], [['tcp', '22', ['2001:db8::/32', '203.0.113.0/24']]]],
    ['ranges of two Services are joined', [svc([['TCP', 22]], { sourceRanges: ['198.51.100.0/24'] }), svc([['TCP', 22]], { sourceRanges: ['203.0.113.0/24'] })], [['tcp', '22', ['198.51.100.0/24', '203.0.113.0/24']]]],
    ['one Service open to all on the port: everywhere wins', [svc([['TCP', 22]], { sourceRanges: ['203.0.113.0/24'] }), svc([['TCP', 22]])], [['tcp', '22', ALL]]],
  ];
  for (const [name, services, want] of rows) assert.deepEqual(rules(desiredFirewall(services, UUID)), want, name);
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
  const want = desiredFirewall([svc([['UDP', 7777], ['TCP', 8080]])], UUID);
  const wider = desiredFirewall([svc([['UDP', 7777], ['TCP', 8080], ['TCP', 9090]])], UUID);
  const rows: [string, FirewallSpec | null, Firewall[], unknown][] = [
    ['equal (rule and address order aside): nothing', want, [DOKS, existing()], []],
    ['missing (deleted by hand): create', want, [DOKS], [['create', 'no firewall of that name exists (new, or deleted by hand)']]],
    ['a port added: update', wider, [existing()], [['update', 'fw-1', 'tcp/9090 added']]],
    ['a port removed', desiredFirewall([svc([['UDP', 7777]])], UUID), [existing()], [['update', 'fw-1', 'tcp/8080 removed']]],
    ['sources changed', desiredFirewall([svc([['UDP', 7777], ['TCP', 8080]], { sourceRanges: ['203.0.113.0/24'] })], UUID), [existing()], [['update', 'fw-1', 'tcp/8080 sources changed, udp/7777 sources changed']]],
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
  for (const desired of [null, desiredFirewall([svc([['TCP', 1]])], UUID)]) {
    assert.ok(planFirewall(desired, NAME, [DOKS]).every((a) => a.type === 'create'));
  }
});

test('sameFirewall and describeChange agree', () => {
  const d = desiredFirewall([svc([['UDP', 7777], ['TCP', 8080]])], UUID) as FirewallSpec;
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
