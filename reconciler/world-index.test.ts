import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import type { IpMemory } from './ip-state.ts';
import type { Heartbeat, HolderFacts, Snapshot } from './model.ts';
import { plan } from './plan.ts';
import type { IndexedSnapshot } from './plan.ts';
import { indexPods, nodeFacts } from './snapshot.ts';
import { createWorldIndex } from './world-index.ts';

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
const CONFIG: Snapshot['config'] = { coolOffMs: 30_000, unassignWhenUnplaced: false, adoptable: () => false, retryFloorMs: 1000, pendingPollMs: 2000 };
const fromList = (ip: string, list: readonly V1Pod[], nodeList: readonly V1Node[] = nodes): Snapshot => ({
  targets: [ip],
  pods: indexPods(list, KEYS).facts,
  nodes: nodeList.map(nodeFacts),
  config: CONFIG,
});
const indexOf = (list: readonly V1Pod[], nodeList: readonly V1Node[] = nodes) => {
  const index = createWorldIndex(KEYS);
  index.sync(list, nodeList);
  return index;
};
const fromIndex = (ip: string, index: ReturnType<typeof createWorldIndex>): IndexedSnapshot => ({ targets: [ip], claims: index.claims, config: CONFIG });

test('world index: planning from the index decides exactly as planning from the pod list', () => {
  const index = indexOf(pods);
  for (const ip of [A4, B4, C4, D4, A6, '104.248.100.200']) assert.deepEqual(plan(fromIndex(ip, index), memory, NOW), plan(fromList(ip, pods), memory, NOW), ip);
  // 1001 holds D4, so A4 goes to pool-2's droplet: the older solo wins B4, so pool places
  // A4 alone (planned from A4's claimants only, B4 would take 1002 and leave A4 unplaced).
  const moves = plan(fromIndex(A4, index), memory, NOW).actions.map((a) => [a.type, a.dropletId, a.pod?.name]);
  assert.deepEqual(moves, [['report', undefined, 'late-1'], ['assign', 1002, 'pool-2']]);
});

test('world index: per IP the winner first, claimants and eligible ones oldest first, per droplet and node', () => {
  const index = indexOf(pods);
  const v = index.claims;
  assert.deepEqual(v.workloads(B4).map((w) => w.key), ['shop\nStatefulSet/ss-solo', 'shop\nStatefulSet/ss-pool']);
  assert.deepEqual(v.workloads(A4).map((w) => w.key), ['shop\nStatefulSet/ss-pool', 'shop\nStatefulSet/ss-late']);
  const [pool] = v.workloads(A4);
  assert.deepEqual(pool?.addresses(), [B4, A4]);
  assert.deepEqual(pool?.claimants(A4).map((p) => p.name), ['pool-1', 'pool-2']);
  assert.equal(pool?.oldest().name, 'pool-1');
  const [dual] = v.workloads(C4);
  assert.deepEqual(dual?.eligible(C4).map((c) => [c.pod.name, c.dropletId]), [['dual-2', 1005]], 'dual-1 is on NotReady n4');
  assert.equal(dual?.eligibleOn(1005, A6)?.pod.name, 'dual-2');
  assert.equal(dual?.eligibleOn(1004, C4), undefined);
  assert.equal(dual?.claimantOn('n4', C4)?.name, 'dual-1');
  assert.equal(v.nodeOfDroplet(1003)?.name, 'n3');
  assert.deepEqual([...index.claimedIps()], [B4, A4, C4, A6, D4]);
  assert.deepEqual([...index.podsOn('n3')].map((p) => p.metadata?.name), ['solo-1', 'bad-1', 'nouid-1']);
  assert.deepEqual([...index.invalidPods()].map((p) => p.metadata?.name), ['bad-1']);
  assert.equal(index.pod('uid-late-1')?.metadata?.name, 'late-1');
  assert.equal(index.pod('uid-plain-1'), undefined, 'only pods with a usable annotation');
});

test('world index: a pod object is parsed once; its entry says what the annotation claims', () => {
  const index = createWorldIndex(KEYS);
  const [pool, , , , , , , plain, bad, nouid] = pods as [V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod, V1Pod];
  assert.equal(index.entry(pool), index.entry(pool));
  assert.deepEqual(index.entry(pool).ips, [B4, A4]);
  assert.equal(index.entry(pool).facts?.claim, `${B4},${A4}`);
  assert.deepEqual(index.entry(plain), { ips: [] });
  assert.deepEqual(index.entry(nouid), { ips: [D4] });
  assert.deepEqual(index.entry(bad).ips, []);
  assert.ok(index.entry(bad).invalid?.includes('not-an-ip'), index.entry(bad).invalid);
  // A changed pod is a new object (informers never edit in place): it is read afresh.
  assert.deepEqual(index.entry({ ...pool, metadata: { ...pool.metadata, annotations: { [KEYS.annotation]: C4 } } }).ips, [C4]);
});

test('world index: events update it in place — an edited annotation, a deletion, a node going NotReady, a sync', () => {
  const index = indexOf(pods);
  const v = index.claims;
  const names = (ip: string) => v.workloads(ip).flatMap((w) => w.claimants(ip).map((p) => p.name));
  const late = pods[3] as V1Pod;
  const edited = pod('late-1', 'n5', { ips: C4, workload: 'late', ageS: 10 });
  index.podChanged(edited, late);
  assert.deepEqual(names(A4), ['pool-1', 'pool-2']);
  assert.deepEqual(names(C4), ['dual-1', 'dual-2', 'late-1']);
  index.podChanged(undefined, edited);
  assert.deepEqual(names(C4), ['dual-1', 'dual-2']);
  assert.equal(index.pod('uid-late-1'), undefined);
  // n4 turns Ready: dual-1, the older pod, becomes the first eligible claimant
  index.nodeChanged(node('n4', 1004), nodes[3]);
  assert.deepEqual(v.workloads(C4)[0]?.eligible(C4).map((c) => c.pod.name), ['dual-1', 'dual-2']);
  index.nodeChanged(undefined, node('n5', 1005));
  assert.deepEqual(v.workloads(C4)[0]?.eligible(C4).map((c) => c.pod.name), ['dual-1']);
  assert.equal(v.nodeOfDroplet(1005), undefined);
  // a sync to the original lists undoes all of it
  index.sync(pods, nodes);
  for (const ip of [A4, B4, C4, D4, A6]) assert.deepEqual(plan(fromIndex(ip, index), memory, NOW), plan(fromList(ip, pods), memory, NOW), ip);
});

/** mulberry32: a small seeded generator, so a failure can be replayed */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('world index: after any sequence of pod and node events, every IP plans as from the whole lists', () => {
  const IPS = [A4, B4, C4, D4, A6];
  const CLAIMS = [A4, B4, `${A4},${B4}`, `${B4}, ${C4}`, `${C4},${A6}`, D4, `${A4},${B4},${C4},${D4}`, 'not-an-ip'];
  for (const seed of [1, 2, 3, 4]) {
    const r = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const podsNow = new Map<string, V1Pod>();
    const nodesNow = new Map<string, V1Node>();
    const index = createWorldIndex(KEYS);
    const heartbeats = new Map<string, Heartbeat>();
    const mem = new Map<string, IpMemory>(IPS.map((ip) => [ip, { holder: { family: ip.includes(':') ? 6 : 4, dropletId: pick([null, 1001, 1002, 1003, 1006]), locked: false } }]));
    let uid = 0;
    for (let step = 0; step < 250; step++) {
      const what = r();
      if (what < 0.55) {
        const name = `p${Math.floor(r() * 14)}`;
        const old = podsNow.get(name);
        const p = pod(name, pick(['n1', 'n2', 'n3', 'n4', 'n5', 'n6']), { ips: pick(CLAIMS), workload: pick(['a', 'b', 'c', 'd']), ageS: Math.floor(r() * 600), ready: r() > 0.2, uid: `u${uid++}` });
        if (r() < 0.1 && p.metadata) p.metadata.deletionTimestamp = new Date(NOW);
        podsNow.set(name, p);
        index.podChanged(p, old);
      } else if (what < 0.7) {
        const name = pick([...podsNow.keys()]);
        const old = name === undefined ? undefined : podsNow.get(name);
        if (old && name) {
          podsNow.delete(name);
          index.podChanged(undefined, old);
        }
      } else if (what < 0.95) {
        const name = pick(['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
        const n = node(name, 1000 + Number(name.slice(1)), r() > 0.3);
        if (n.spec && r() < 0.15) n.spec.unschedulable = true;
        if (n.spec && r() < 0.1) n.spec.providerID = undefined;
        const old = nodesNow.get(name);
        nodesNow.set(name, n);
        index.nodeChanged(n, old);
        heartbeats.set(name, { renewMs: NOW - Math.floor(r() * 40_000), durationMs: 40_000 });
      } else {
        const name = pick([...nodesNow.keys()]);
        const old = name === undefined ? undefined : nodesNow.get(name);
        if (old && name) {
          nodesNow.delete(name);
          index.nodeChanged(undefined, old);
        }
      }
      const config = { ...CONFIG, heartbeat: { enabled: true } };
      const list: Snapshot = { targets: IPS, pods: indexPods([...podsNow.values()], KEYS).facts, nodes: [...nodesNow.values()].map(nodeFacts), heartbeats, config };
      const indexed: IndexedSnapshot = { targets: IPS, claims: index.claims, heartbeats, config };
      assert.deepEqual(plan(indexed, mem, NOW), plan(list, mem, NOW), `seed ${seed}, step ${step}`);
      for (const ip of IPS) assert.deepEqual(plan({ ...indexed, targets: [ip] }, mem, NOW), plan({ ...list, targets: [ip] }, mem, NOW), `seed ${seed}, step ${step}, ${ip}`);
    }
  }
});
