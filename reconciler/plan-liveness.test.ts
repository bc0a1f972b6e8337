import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.ts';
import type { IpMemory } from './ip-state.ts';
import type { NodeFacts, PodFacts, Snapshot } from './model.ts';

const IP = '104.248.100.100';
const NOW = 1_000_000;
const config = { coolOffMs: 30_000, unassignWhenUnplaced: false, adoptable: () => false, retryFloorMs: 1_000, pendingPollMs: 2_000 };
const node = (name: string, dropletId: number): NodeFacts => ({ name, uid: `uid-${name}`, ready: true, unschedulable: false, terminating: false, dropletId, taints: [] });
const pod = (name: string, nodeName: string, age: number): PodFacts => ({
  uid: `uid-${name}`,
  namespace: 'default',
  name,
  phase: 'Running',
  ready: true,
  terminating: false,
  nodeName,
  createdMs: NOW - age * 1000,
  owner: 'ReplicaSet/web',
  claim: IP,
  addresses: [{ text: IP, family: 4 }],
  tolerations: [],
});
const NODES = [node('n1', 1001), node('n2', 1002), node('n3', 1003)];
const PODS = [pod('a', 'n1', 300), pod('b', 'n2', 200), pod('c', 'n3', 100)];
const heldBy = (dropletId: number): Map<string, IpMemory> => new Map([[IP, { holder: { family: 4, dropletId, locked: false } } as IpMemory]]);
const snap = (unreachable?: Map<number, number>): Snapshot => ({ targets: [IP], pods: PODS, nodes: NODES, config, ...(unreachable ? { unreachable } : {}) });

interface Case {
  readonly name: string;
  readonly holder: number;
  readonly unreachable?: Map<number, number>;
  readonly want: { state: string; desired: number | null; reason?: string; suspect?: unknown };
}

const CASES: readonly Case[] = [
  { name: 'a live holder keeps the IP', holder: 1001, unreachable: new Map(), want: { state: 'placed', desired: 1001 } },
  {
    name: 'a holder confirmed dead loses it at once to the oldest live claimant',
    holder: 1001,
    unreachable: new Map([[1001, NOW - 900]]),
    want: { state: 'moving', desired: 1002, reason: 'holder-unreachable', suspect: { node: 'n1', lostSinceMs: NOW - 900, why: 'unreachable' } },
  },
  {
    name: 'a droplet confirmed dead is never a target',
    holder: 1001,
    unreachable: new Map([[1001, NOW - 900], [1002, NOW - 800]]),
    want: { state: 'moving', desired: 1003, reason: 'holder-unreachable', suspect: { node: 'n1', lostSinceMs: NOW - 900, why: 'unreachable' } },
  },
  {
    name: 'no live droplet to go to: it stays (moving would not help)',
    holder: 1001,
    unreachable: new Map([[1001, NOW - 900], [1002, NOW - 800], [1003, NOW - 700]]),
    want: { state: 'placed', desired: 1001, suspect: { node: 'n1', lostSinceMs: NOW - 900, why: 'unreachable' } },
  },
  { name: 'probes off (no map): only the other signals count', holder: 1001, want: { state: 'placed', desired: 1001 } },
];

for (const c of CASES) {
  test(`plan, liveness: ${c.name}`, () => {
    const r = plan(snap(c.unreachable), heldBy(c.holder), NOW);
    const status = r.statuses[0];
    assert.equal(status?.state, c.want.state);
    assert.equal(status?.desired, c.want.desired);
    assert.deepEqual(status?.suspect, c.want.suspect);
    const assign = r.actions.find((a) => a.type === 'assign');
    assert.equal(assign?.reason, c.want.reason);
    if (assign) assert.match(assign.detail, /has not answered liveness probes for 0\.9 s/);
  });
}
