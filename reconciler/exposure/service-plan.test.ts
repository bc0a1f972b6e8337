import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '../../shared/addresses.ts';
import type { HolderEntry } from '../model.ts';
import type { NodeAnchor, PodClaims, ServiceFacts, ServicePlan } from './model.ts';
import { compareAddresses, exposedMessage, planService } from './service-plan.ts';
import type { ServicePlanInput } from './service-plan.ts';

const V4 = '104.248.100.100';
const V4B = '104.248.100.101';
const V6 = '2604:a880:800:14::1000';
const KEYS = { annotation: 'k8s.haim.dev/floating-ip', anchor: 'k8s.haim.dev/anchor-ipv4' };

const svc = (over: Partial<ServiceFacts> = {}): ServiceFacts => ({
  key: 'default/game',
  namespace: 'default',
  name: 'game',
  floatip: true,
  selector: { app: 'game' },
  ports: [{ protocol: 'UDP', port: 7777 }],
  sourceRanges: [],
  externalIPs: [],
  ingress: [],
  externalIPsOwners: [],
  ownedByFloatip: false,
  ...over,
});
const pod = (ips: string[], labels: Record<string, string> = { app: 'game' }, namespace = 'default'): PodClaims => ({
  namespace,
  labels,
  addresses: ips.map((ip) => parseAddress(ip) ?? assert.fail(ip)),
});
const holder = (ip: string, dropletId: number | null, movingTo?: number | null): [string, HolderEntry] => [
  ip,
  { ip, family: ip.includes(':') ? 6 : 4, dropletId, ...(movingTo === undefined ? {} : { movingTo }) },
];
const NODES = new Map<number, NodeAnchor>([
  [1001, { nodeName: 'pool-a-1', anchor: '10.20.0.11' }],
  [1002, { nodeName: 'pool-a-2', anchor: '10.20.0.12' }],
  [1003, { nodeName: 'pool-a-3', anchor: undefined }],
  [1004, { nodeName: 'pool-a-4', anchor: undefined, invalid: '8.8.8.8', why: '"8.8.8.8" is not in the droplet anchor range 10.20.0.0/16' }],
]);

function input(over: Partial<ServicePlanInput> = {}): ServicePlanInput {
  return {
    service: svc(),
    pods: [pod([V4])],
    holders: new Map([holder(V4, 1001)]),
    intents: new Map(),
    nodes: NODES,
    remembered: new Map(),
    selectsUnannotatedPods: false,
    keys: KEYS,
    ...over,
  };
}

/** [externalIPs, ingress, writeSpec, writeStatus, warning reasons] of an expose plan */
function summary(plan: ServicePlan): unknown {
  if (plan.kind !== 'expose') return plan.kind;
  return [plan.externalIPs, plan.ingress, plan.writeSpec, plan.writeStatus, plan.warnings.map((w) => w.reason)];
}

test('externalIPs and ingress: one row per rule', () => {
  const rows: [string, Partial<ServicePlanInput>, unknown][] = [
    ['held IPv4: the holder anchor, ingress the reserved IP', {}, [['10.20.0.11'], [V4], true, true, []]],
    ['already written: nothing to write', { service: svc({ externalIPs: ['10.20.0.11'], ingress: [V4] }) }, [['10.20.0.11'], [V4], false, false, []]],
    ['moving (movingTo): both anchors until it has left', { holders: new Map([holder(V4, 1001, 1002)]) }, [['10.20.0.11', '10.20.0.12'], [V4], true, true, []]],
    ['announced (intent) before the assign is sent: both anchors', { intents: new Map([[V4, 1002]]) }, [['10.20.0.11', '10.20.0.12'], [V4], true, true, []]],
    ['unassigned, being given to 1002', { holders: new Map([holder(V4, null)]), intents: new Map([[V4, 1002]]) }, [['10.20.0.12'], [], true, false, []]],
    ['unassigned and no move: nothing yet', { holders: new Map([holder(V4, null)]) }, [[], [], false, false, []]],
    ['unknown to DigitalOcean so far: nothing yet', { holders: new Map() }, [[], [], false, false, []]],
    ['the holder node was deleted: its remembered anchor stays, no ingress', { nodes: new Map([...NODES].filter(([d]) => d !== 1001)), remembered: new Map([[1001, '10.20.0.11']]) }, [['10.20.0.11'], [], true, false, []]],
    ['reserved IPv6: the address itself, whether placed or not', { pods: [pod([V6])], holders: new Map([holder(V6, null)]) }, [[V6], [], true, false, []]],
    ['IPv4 and IPv6 of one pool: IPv4 anchors first, ingress both', { pods: [pod([V6, V4])], holders: new Map([holder(V4, 1002), holder(V6, 1002)]) }, [['10.20.0.12', V6], [V4, V6], true, true, []]],
    ['two IPv4s on two droplets, in numeric order', { pods: [pod([V4B]), pod([V4])], holders: new Map([holder(V4, 1002), holder(V4B, 1001)]) }, [['10.20.0.11', '10.20.0.12'], [V4, V4B], true, true, []]],
    ['pods of another app or namespace are not selected', { pods: [pod([V4], { app: 'web' }), pod([V4], { app: 'game' }, 'other')] }, [[], [], false, false, []]],
    ['selector subset matches (pods carry more labels)', { pods: [pod([V4], { app: 'game', tier: 'x' })] }, [['10.20.0.11'], [V4], true, true, []]],
    ['a stale list is replaced', { service: svc({ externalIPs: ['10.20.0.12'], ingress: [V4] }) }, [['10.20.0.11'], [V4], true, false, []]],
    ['same set, other order: rewritten in order', { pods: [pod([V4, V6])], holders: new Map([holder(V4, 1001)]), service: svc({ externalIPs: [V6, '10.20.0.11'] }) }, [['10.20.0.11', V6], [V4], true, true, []]],
  ];
  for (const [name, over, want] of rows) assert.deepEqual(summary(planService(input(over))), want, name);
});

test('not of floatip class: ignored, or released when floatip wrote to it', () => {
  assert.equal(planService(input({ service: svc({ floatip: false }) })).kind, 'ignore');
  assert.equal(planService(input({ service: svc({ floatip: false, ownedByFloatip: true, externalIPs: ['10.20.0.11'] }) })).kind, 'release');
});

test('warnings, each a sentence a person can act on', () => {
  const rows: [string, Partial<ServicePlanInput>, [string, string][]][] = [
    ['no selector', { service: svc({ selector: undefined }) }, [['FloatingIPNoSelector', "Service has no selector: floatip exposes the reserved IPs that the Service's selected pods claim with annotation k8s.haim.dev/floating-ip"]]],
    ['empty selector', { service: svc({ selector: {} }) }, [['FloatingIPNoSelector', "Service has no selector: floatip exposes the reserved IPs that the Service's selected pods claim with annotation k8s.haim.dev/floating-ip"]]],
    ['selected pods without the annotation', { pods: [], selectsUnannotatedPods: true }, [['FloatingIPNoAnnotation', 'the pods this Service selects carry no k8s.haim.dev/floating-ip annotation: add it to their pod template (e.g. "104.248.100.100")']]],
    ['SCTP', { service: svc({ ports: [{ protocol: 'UDP', port: 7777 }, { protocol: 'SCTP', port: 5000 }, { protocol: 'SCTP', port: 5001 }] }) }, [['FloatingIPUnsupportedProtocol', "ports SCTP/5000, SCTP/5001 ignored by floatip's DigitalOcean firewall, which opens only TCP and UDP"]]],
    ['user-set externalIPs', { service: svc({ externalIPs: ['203.0.113.7'], externalIPsOwners: ['kubectl-client-side-apply'] }) }, [['FloatingIPExternalIPsOverwritten', 'spec.externalIPs 203.0.113.7 (set by kubectl-client-side-apply) replaced: floatip owns the externalIPs of Services of its class; remove them from your manifest']]],
    ['node without the agent annotation', { holders: new Map([holder(V4, 1003)]) }, [['FloatingIPNoAnchor', 'node pool-a-3 (droplet 1003) has no k8s.haim.dev/anchor-ipv4 annotation: is the floatip agent running there? Traffic to 104.248.100.100 is not accepted on it until it is']]],
    ['node with a bad anchor annotation', { holders: new Map([holder(V4, 1004)]) }, [['FloatingIPNoAnchor', 'node pool-a-4 (droplet 1004) has an unusable k8s.haim.dev/anchor-ipv4 ("8.8.8.8" is not in the droplet anchor range 10.20.0.0/16): is the floatip agent running there? Traffic to 104.248.100.100 is not accepted on it until it is']]],
    ['reserved IPv6 into an IPv4-only Service', { service: svc({ ipFamilies: ['IPv4'] }), pods: [pod([V4, V6])], holders: new Map([holder(V4, 1001), holder(V6, 1001)]) }, [['FloatingIPNoIPv6Family', `reserved IPv6 ${V6} is listed in spec.externalIPs, but this Service has only the IPv4 family: kube-proxy and Cilium ignore it. On a dual-stack cluster set ipFamilyPolicy: PreferDualStack; DOKS nodes have no IPv6, so there use a reserved IPv4`]]],
  ];
  for (const [name, over, want] of rows) {
    const plan = planService(input(over));
    assert.equal(plan.kind, 'expose', name);
    if (plan.kind === 'expose') assert.deepEqual(plan.warnings.map((w) => [w.reason, w.message]), want, name);
  }
  // no family warning: dual-stack, IPv6-only, families not known, or no IPv6 claimed
  for (const ipFamilies of [['IPv4', 'IPv6'], ['IPv6'], undefined]) {
    const plan = planService(input({ service: svc(ipFamilies ? { ipFamilies } : {}), pods: [pod([V6])], holders: new Map([holder(V6, 1001)]) }));
    assert.deepEqual(plan.kind === 'expose' && plan.warnings, [], String(ipFamilies));
  }
  const v4only = planService(input({ service: svc({ ipFamilies: ['IPv4'] }) }));
  assert.deepEqual(v4only.kind === 'expose' && v4only.warnings, []);
  // no warning: the externalIPs already are floatip's list, whoever else co-owns them
  const same = planService(input({ service: svc({ externalIPs: ['10.20.0.11'], externalIPsOwners: ['helm'] }) }));
  assert.deepEqual(same.kind === 'expose' && same.warnings, []);
  // a droplet that is no node of this cluster (held outside) gets no anchor and no warning here
  const outside = planService(input({ holders: new Map([holder(V4, 4242)]) }));
  assert.deepEqual(summary(outside), [[], [], false, false, []]);
});

test('the FloatingIPExposed message says what each external IP is for', () => {
  const plan = planService(input({ pods: [pod([V4, V6])], holders: new Map([holder(V4, 1001, 1002), holder(V6, 1001)]) }));
  assert.equal(plan.kind, 'expose');
  if (plan.kind !== 'expose') return;
  assert.equal(
    exposedMessage(plan),
    `externalIPs 10.20.0.11 (anchor of droplet 1001 for ${V4}), 10.20.0.12 (anchor of droplet 1002 for ${V4}), ${V6} (reserved IPv6); ingress ${V4}, ${V6}`,
  );
  assert.equal(exposedMessage({ externalIPs: [], ingress: [], exposed: [] }), 'externalIPs cleared: no reserved IP of the selected pods is on a droplet with a known anchor');
});

test('address order: IPv4 numerically (10.20.0.9 before 10.20.0.10), then IPv6', () => {
  assert.deepEqual(['2604::1', '10.20.0.10', '10.20.0.9', '1.2.3.4', '2001::1'].sort(compareAddresses), ['1.2.3.4', '10.20.0.9', '10.20.0.10', '2001::1', '2604::1']);
});
