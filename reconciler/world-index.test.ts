import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import type { IpMemory } from './ip-state.ts';
import type { HolderFacts, Snapshot } from './model.ts';
import { plan } from './plan.ts';
import { indexPods, nodeFacts } from './snapshot.ts';
import { createWorldCache, podsFor } from './world-index.ts';

const KEYS = floatingIpKeys();
const A4 = '104.248.100.100';
const B4 = '104.248.100.101';
const C4 = '104.248.100.102';
const D4 = '104.248.100.103';
const A6 = '2604:a880:800:14::1000';
const NOW = Date.UTC(2026, 0, 1);

function node(name: string, droplet: number, ready = true): V1Node {
  return {
    metadata: { name, uid: `uid-${name}` },
    spec: { providerID: `digitalocean://${droplet}` },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function pod(name: string, nodeName: string, o: { ips?: string; workload?: string; ageS?: number; uid?: string | null; ready?: boolean } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'shop',
      ...(o.uid === null ? {} : { uid: o.uid ?? `uid-${name}` }),
      creationTimestamp: new Date(NOW - (o.ageS ?? 0) * 1000),
      annotations: o.ips === undefined ? {} : { [KEYS.annotation]: o.ips },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: o.workload ?? name, uid: `ss-${o.workload ?? name}`, controller: true }],
    },
    spec: { nodeName, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

const nodes = [node('n1', 1001), node('n2', 1002), node('n3', 1003), node('n4', 1004, false), node('n5', 1005)];
// `pool` lists B4 first, but the older `solo` wins B4: placing A4 must know that.
const pods = [
  pod('pool-1', 'n1', { ips: `${B4},${A4}`, workload: 'pool', ageS: 500 }),
  pod('pool-2', 'n2', { ips: `${B4},${A4}`, workload: 'pool', ageS: 400 }),
  pod('solo-1', 'n3', { ips: B4, workload: 'solo', ageS: 900 }),
  pod('late-1', 'n5', { ips: A4, workload: 'late', ageS: 10 }),
  pod('dual-1', 'n4', { ips: `${C4},${A6}`, workload: 'dual', ageS: 300 }),
  pod('dual-2', 'n5', { ips: `${C4},${A6}`, workload: 'dual', ageS: 200 }),
  pod('other-1', 'n1', { ips: D4, workload: 'other', ageS: 100 }),
  pod('plain-1', 'n2'),
  pod('bad-1', 'n3', { ips: 'not-an-ip' }),
  pod('nouid-1', 'n3', { ips: D4, uid: null }),
];
const holders = new Map<string, HolderFacts>([
  [A4, { family: 4, dropletId: null, locked: false }],
  [B4, { family: 4, dropletId: 1003, locked: false }],
  [C4, { family: 4, dropletId: 1004, locked: false }],
  [D4, { family: 4, dropletId: 1001, locked: false }],
  [A6, { family: 6, dropletId: null, locked: false }],
]);
const memory = new Map<string, IpMemory>([...holders].map(([ip, holder]) => [ip, { holder }]));
const snapshot = (ip: string, podFacts: Snapshot['pods']): Snapshot => ({
  targets: [ip],
  pods: podFacts,
  nodes: nodes.map(nodeFacts),
  config: { coolOffMs: 30_000, unassignWhenUnplaced: false, adoptable: () => false, retryFloorMs: 1000, pendingPollMs: 2000 },
});

test('world index: planning an IP from its pods decides exactly as planning from every pod', () => {
  const index = createWorldCache(KEYS).pods(pods);
  const all = indexPods(pods, KEYS).facts;
  for (const ip of [A4, B4, C4, D4, A6]) assert.deepEqual(plan(snapshot(ip, podsFor(index, ip)), memory, NOW), plan(snapshot(ip, all), memory, NOW), ip);
  // 1001 holds D4, so A4 goes to pool-2's droplet. Planned from A4's claimants alone, pool
  // would seem to win B4 too, and B4 (listed first) would take 1002 and leave A4 unplaced.
  const moves = (pods: Snapshot['pods']) => plan(snapshot(A4, pods), memory, NOW).actions.map((a) => [a.type, a.dropletId, a.pod?.name]);
  assert.deepEqual(moves(podsFor(index, A4)), [['report', undefined, 'late-1'], ['assign', 1002, 'pool-2']]);
  assert.deepEqual(moves(index.claimants.get(A4) ?? []), [['report', undefined, 'late-1'], ['report', undefined, 'pool-1']]);
});

test('world index: an IP plans from its claimants and the claimants of their other IPs, in list order', () => {
  const index = createWorldCache(KEYS).pods(pods);
  const names = (ip: string) => podsFor(index, ip).map((p) => p.name);
  assert.deepEqual(names(A4), ['pool-1', 'pool-2', 'solo-1', 'late-1']);
  assert.deepEqual(names(B4), ['pool-1', 'pool-2', 'solo-1', 'late-1']);
  assert.deepEqual(names(C4), ['dual-1', 'dual-2']);
  assert.deepEqual(names(D4), ['other-1']);
  assert.deepEqual(names('104.248.100.200'), []);
  assert.deepEqual([...index.byUid.keys()], ['uid-pool-1', 'uid-pool-2', 'uid-solo-1', 'uid-late-1', 'uid-dual-1', 'uid-dual-2', 'uid-other-1']);
  assert.deepEqual(index.byNode.get('n3')?.map((p) => p.metadata?.name), ['solo-1', 'bad-1', 'nouid-1']);
});

test('world index: a pod object is parsed once; its entry says what the annotation claims', () => {
  const cache = createWorldCache(KEYS);
  const [pool, , , , , , , plain, bad, nouid] = pods as [V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod];
  assert.equal(cache.entry(pool), cache.entry(pool));
  assert.deepEqual(cache.entry(pool).ips, [B4, A4]);
  assert.equal(cache.entry(pool).facts?.claim, `${B4},${A4}`);
  assert.deepEqual(cache.entry(plain), { ips: [] });
  assert.deepEqual(cache.entry(nouid), { ips: [D4] });
  assert.deepEqual(cache.entry(bad).ips, []);
  assert.ok(cache.entry(bad).invalid?.includes('not-an-ip'), cache.entry(bad).invalid);
  // A changed pod is a new object (informers never edit in place): it is read afresh.
  assert.deepEqual(cache.entry({ ...pool, metadata: { ...pool.metadata, annotations: { [KEYS.annotation]: C4 } } }).ips, [C4]);
});

test('world index: the index and node facts are reused while the lists hold the same objects', () => {
  const cache = createWorldCache(KEYS);
  const list = [...pods];
  const first = cache.pods(list);
  assert.equal(cache.pods([...pods]), first);
  list[3] = pod('late-1', 'n2', { ips: A4, workload: 'late', ageS: 10 });
  const second = cache.pods(list);
  assert.notEqual(second, first);
  assert.deepEqual(second.byNode.get('n2')?.map((p) => p.metadata?.name), ['pool-2', 'late-1', 'plain-1']);
  list.pop(); // the source changed its array in place
  assert.notEqual(cache.pods(list), second);
  assert.equal(cache.pods(list).byNode.get('n3')?.length, 2);

  const nodeList = [...nodes];
  const facts = cache.nodes(nodeList);
  assert.equal(cache.nodes([...nodes]), facts);
  nodeList[0] = node('n1', 1001, false);
  const after = cache.nodes(nodeList);
  assert.deepEqual(after.map((n) => [n.name, n.ready]), [['n1', false], ['n2', true], ['n3', true], ['n4', false], ['n5', true]]);
  assert.equal(after[1], facts[1]);
});
