import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.ts';
import type { IpMemory } from './ip-state.ts';
import type { Action, Family, HolderFacts, NodeFacts, PlanConfig, PodFacts, Snapshot, Taint, Toleration } from './model.ts';

const A4 = '104.248.100.100';
const B4 = '104.248.100.101';
const C4 = '104.248.100.102';
const A6 = '2604:a880:800:14::1000';
const NOW = 1_000_000;
const COOL = 30_000;
const FLOOR = 1_000;
const POLL = 2_000;
const CLUSTER_TAG = 'k8s:c0ffee00-0000-4000-8000-000000000001';
const config = (o: Partial<PlanConfig> = {}): PlanConfig => ({ coolOffMs: COOL, unassignWhenUnplaced: false, adoptable: () => false, retryFloorMs: FLOOR, pendingPollMs: POLL, ...o });
const pendingTo = (dropletId: number | null, expiresMs: number) => ({ dropletId, expiresMs, actionId: 7, reason: 'unassigned' as const, startedMs: NOW - 100 });
const failedTarget = (dropletId: number, untilMs: number) => ({ dropletId, untilMs, errorClass: 'NotFound' as const, message: 'droplet not found' });

interface PodOpts {
  node?: string;
  age?: number; // seconds before NOW; larger = older
  ready?: boolean;
  phase?: string;
  terminating?: boolean;
  owner?: string;
  ns?: string;
  ips?: string[];
  tolerations?: Toleration[];
  uid?: string;
}
function pod(name: string, o: PodOpts = {}): PodFacts {
  const ips = o.ips ?? [A4];
  return {
    uid: o.uid ?? `uid-${name}`,
    namespace: o.ns ?? 'default',
    name,
    phase: o.phase ?? 'Running',
    ready: o.ready ?? true,
    terminating: o.terminating ?? false,
    nodeName: 'node' in o ? o.node : 'n1',
    createdMs: NOW - (o.age ?? 100) * 1000,
    owner: o.owner ?? 'ReplicaSet/web',
    claim: ips.join(','),
    addresses: ips.map((text) => ({ text, family: (text.includes(':') ? 6 : 4) as Family })),
    tolerations: o.tolerations ?? [],
  };
}
function node(name: string, droplet: number | null, o: Partial<Omit<NodeFacts, 'name' | 'dropletId'>> = {}): NodeFacts {
  return { name, uid: `uid-${name}`, ready: true, unschedulable: false, terminating: false, dropletId: droplet, taints: [], ...o };
}
const NODES = [node('n1', 1001), node('n2', 1002), node('n3', 1003)];
const taint = (key: string, effect: string): Taint => ({ key, effect });
const free = (ip: string): [string, HolderFacts] => [ip, { family: ip.includes(':') ? 6 : 4, dropletId: null, locked: false }];
const on = (ip: string, droplet: number, locked = false): [string, HolderFacts] => [ip, { family: ip.includes(':') ? 6 : 4, dropletId: droplet, locked }];

interface Case {
  name: string;
  pods: PodFacts[];
  nodes?: NodeFacts[];
  holders?: [string, HolderFacts][];
  memory?: [string, IpMemory][];
  targets?: string[];
  unassign?: boolean;
  deletedNodes?: [number, string][];
  dropletTags?: [number, string[]][];
  adoptable?: string[];
  /** node → ms since its Lease was renewed (duration 40 s, the kubelet's); turns heartbeats on */
  leases?: [string, number][];
  /** a fixed heartbeat grace instead of half the Lease's duration */
  graceMs?: number;
  expect: string[];
  /** requeueAfterMs of the result */
  requeue?: number;
  state?: string; // state of the first target, plus "!" when holderLost
}

function fmt(a: Action): string {
  const target = a.dropletId === undefined ? '' : ` ${a.dropletId}`;
  const who = a.pod ? ` ${a.pod.namespace}/${a.pod.name}` : '';
  const where = a.node ? `@${a.node}` : '';
  return `${a.type} ${a.ip}${target}${who}${where} ${a.reason}`;
}

const cases: Case[] = [
  // --- first assignment and deterministic choice
  { name: 'unassigned IP goes to the only eligible pod', pods: [pod('a', { node: 'n2' })], expect: [`assign ${A4} 1002 default/a@n2 unassigned`], state: 'moving' },
  { name: 'oldest eligible pod wins', pods: [pod('a', { node: 'n1', age: 10 }), pod('b', { node: 'n2', age: 20 })], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'same age: lower UID wins', pods: [pod('b', { node: 'n1', uid: 'u2' }), pod('a', { node: 'n2', uid: 'u1' })], expect: [`assign ${A4} 1002 default/a@n2 unassigned`] },
  { name: 'not-ready pods are skipped in the choice', pods: [pod('a', { node: 'n1', age: 50, ready: false }), pod('b', { node: 'n2' })], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'cool-off does not delay a first assignment', pods: [pod('a')], memory: [[A4, { lastMoveMs: NOW - 1000 }]], expect: [`assign ${A4} 1001 default/a@n1 unassigned`] },
  // --- stickiness
  { name: 'eligible holder keeps the IP', pods: [pod('a', { node: 'n1' })], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  { name: 'sticky even when a newer holder is not the oldest pod', pods: [pod('old', { node: 'n1', age: 500 }), pod('new', { node: 'n2', age: 5 })], holders: [on(A4, 1002)], expect: [], state: 'placed' },
  { name: 'tolerated NoSchedule taint keeps the holder', pods: [pod('a', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ip', effect: 'NoSchedule' }] }), pod('b', { node: 'n2', age: 500 })], nodes: [node('n1', 1001, { taints: [{ key: 'dedicated', value: 'ip', effect: 'NoSchedule' }] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  { name: 'PreferNoSchedule taint does not block', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('x', 'PreferNoSchedule')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  { name: 'two pods on the holder droplet: still placed', pods: [pod('a', { node: 'n1' }), pod('b', { node: 'n1', ready: false })], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  // --- holder not eligible: move at once
  { name: 'holder node NotReady moves the IP', pods: [pod('a', { node: 'n1', age: 500 }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`], state: 'moving!' },
  { name: 'holder pod not Ready moves the IP', pods: [pod('a', { ready: false }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'terminating holder pod hands over before it is gone', pods: [pod('a', { terminating: true }), pod('b', { node: 'n3' })], holders: [on(A4, 1001)], expect: [`assign ${A4} 1003 default/b@n3 holder-not-eligible`] },
  { name: 'holder pod Failed moves the IP', pods: [pod('a', { phase: 'Failed', ready: false }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'cordoned holder node hands over proactively', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { unschedulable: true }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'unschedulable taint moves even when tolerated (DaemonSet)', pods: [pod('a', { tolerations: [{ operator: 'Exists' }] }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('node.kubernetes.io/unschedulable', 'NoSchedule')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'untolerated NoExecute taint moves the IP', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('maintenance', 'NoExecute')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'untolerated NoSchedule taint moves the IP', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('maintenance', 'NoSchedule')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'autoscaler scale-down taint moves the IP', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('ToBeDeletedByClusterAutoscaler', 'NoSchedule')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'holder node being deleted moves the IP', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { terminating: true }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'holder droplet without a pod of the workload', pods: [pod('b', { node: 'n2' })], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'cool-off does not delay leaving a NotReady holder', pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002)], holders: [on(A4, 1001)], memory: [[A4, { lastMoveMs: NOW - 1000 }]], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'pod whose node is unknown is not eligible', pods: [pod('a', { node: 'gone', age: 500 }), pod('b', { node: 'n2' })], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'unscheduled pod is not eligible', pods: [pod('a', { node: undefined, age: 500 }), pod('b', { node: 'n3' })], expect: [`assign ${A4} 1003 default/b@n3 unassigned`] },
  // --- providerID and droplets outside the cluster
  { name: 'node without providerID is skipped', pods: [pod('a', { node: 'n1', age: 500 }), pod('b', { node: 'n2' })], nodes: [node('n1', null), node('n2', 1002)], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  // --- start-up grace: a rollout is not a problem
  { name: 'unassigned IP, pod still Pending: waits without a report', pods: [pod('a', { phase: 'Pending', ready: false, node: undefined, age: 5 })], expect: [], state: 'starting' },
  { name: 'unassigned IP, pod Running but not yet Ready for 30 s: waits', pods: [pod('a', { ready: false, age: 30 })], expect: [], state: 'starting' },
  { name: 'unassigned IP, pod not Ready past the start-up grace: reported', pods: [pod('a', { ready: false, age: 61 })], expect: [`report ${A4} default/a unplaced`], state: 'unplaced' },
  { name: 'start-up grace does not apply to a lost holder', pods: [pod('a', { ready: false, age: 5 })], holders: [on(A4, 1001)], expect: [`report ${A4} default/a unplaced`], state: 'unplaced!' },
  { name: 'NoExecute tolerated only for a while (tolerationSeconds): hand over now', pods: [pod('a', { tolerations: [{ key: 'maintenance', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('maintenance', 'NoExecute')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'NoExecute tolerated forever keeps the holder', pods: [pod('a', { tolerations: [{ key: 'maintenance', operator: 'Exists', effect: 'NoExecute' }] }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { taints: [taint('maintenance', 'NoExecute')] }), node('n2', 1002)], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  { name: 'only pod on a node without providerID: unplaced', pods: [pod('a')], nodes: [node('n1', null)], expect: [`report ${A4} default/a unplaced`], state: 'unplaced' },
  { name: 'holder node deleted: moves at once and says so', pods: [pod('b', { node: 'n2' })], nodes: [node('n2', 1002)], holders: [on(A4, 1001)], deletedNodes: [[1001, 'n1']], expect: [`assign ${A4} 1002 default/b@n2 holder-node-deleted`], state: 'moving!' },
  { name: 'holder node deleted, no other pod: reported, IP left in place', pods: [pod('a', { node: 'n1' })], nodes: [node('n2', 1002)], holders: [on(A4, 1001)], deletedNodes: [[1001, 'n1']], expect: [`report ${A4} default/a unplaced`], state: 'unplaced!' },
  // --- claim policy: droplets outside the cluster
  { name: 'holder outside the cluster is left alone and reported', pods: [pod('a', { node: 'n3' })], holders: [on(A4, 9999)], expect: [`report ${A4} default/a held-outside-cluster`], state: 'foreign' },
  { name: 'holder outside the cluster: reported once', pods: [pod('a', { node: 'n3' })], holders: [on(A4, 9999)], memory: [[A4, { reported: ['held-outside-cluster\nuid-a\n9999'] }]], expect: [], state: 'foreign' },
  { name: 'holder outside the cluster, listed as adoptable: taken at once', pods: [pod('a', { node: 'n3' })], holders: [on(A4, 9999)], adoptable: [A4], expect: [`assign ${A4} 1003 default/a@n3 holder-outside-cluster`], state: 'moving!' },
  { name: "holder with this cluster's tag but no node (moved by hand): repaired", pods: [pod('a', { node: 'n3' })], holders: [on(A4, 9999)], dropletTags: [[9999, ['k8s', CLUSTER_TAG]]], expect: [`assign ${A4} 1003 default/a@n3 holder-outside-cluster`] },
  { name: "holder tagged for another cluster: left alone", pods: [pod('a', { node: 'n3' })], holders: [on(A4, 9999)], dropletTags: [[9999, ['k8s', 'k8s:0000aaaa-0000-4000-8000-000000000002']]], expect: [`report ${A4} default/a held-outside-cluster`], state: 'foreign' },
  { name: 'holder moved by hand to another node of the cluster: brought back', pods: [pod('a', { node: 'n3' })], holders: [on(A4, 1002)], expect: [`assign ${A4} 1003 default/a@n3 holder-not-eligible`] },
  { name: 'holder outside the cluster, no eligible pod: left alone', pods: [pod('a', { ready: false })], holders: [on(A4, 9999)], expect: [`report ${A4} default/a held-outside-cluster`], state: 'foreign' },
  { name: 'unassigned IP of the account is free to take', pods: [pod('a', { node: 'n2' })], holders: [free(A4)], expect: [`assign ${A4} 1002 default/a@n2 unassigned`] },
  // --- nothing eligible
  { name: 'unclaimed IP is left alone', pods: [], holders: [on(A4, 1001)], expect: [], state: 'unclaimed' },
  { name: 'no eligible pod: IP stays on the dead holder and is reported', pods: [pod('a')], nodes: [node('n1', 1001, { ready: false })], holders: [on(A4, 1001)], expect: [`report ${A4} default/a unplaced`], state: 'unplaced!' },
  { name: 'unassign option: dead holder is unassigned', pods: [pod('a')], nodes: [node('n1', 1001, { ready: false })], holders: [on(A4, 1001)], unassign: true, expect: [`unassign ${A4} unplaced`], state: 'moving!' },
  { name: 'unassign option: unassigned IP is only reported', pods: [pod('a', { ready: false })], unassign: true, expect: [`report ${A4} default/a unplaced`], state: 'unplaced' },
  { name: 'unassign option: waits for the cool-off', pods: [pod('a')], nodes: [node('n1', 1001, { ready: false })], holders: [on(A4, 1001)], memory: [[A4, { lastMoveMs: NOW - COOL + 1 }]], unassign: true, expect: [`report ${A4} default/a unplaced`] },
  { name: 'unassign option: after the cool-off it unassigns', pods: [pod('a')], nodes: [node('n1', 1001, { ready: false })], holders: [on(A4, 1001)], memory: [[A4, { lastMoveMs: NOW - COOL }]], unassign: true, expect: [`unassign ${A4} unplaced`] },
  // --- pending actions and DigitalOcean locks
  { name: 'pending action not expired: wait', pods: [pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002)], holders: [on(A4, 1001, true)], memory: [[A4, { pending: pendingTo(1003, NOW + 1) }]], expect: [], state: 'waiting', requeue: 1 },
  { name: 'pending action: look again after the poll period', pods: [pod('b', { node: 'n2' })], holders: [on(A4, 1001, true)], memory: [[A4, { pending: pendingTo(1003, NOW + 60_000) }]], expect: [], state: 'waiting', requeue: POLL },
  { name: 'pending action expired: plan again', pods: [pod('b', { node: 'n2' })], holders: [on(A4, 1001)], memory: [[A4, { pending: pendingTo(1003, NOW) }]], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'IP locked by DigitalOcean: wait', pods: [pod('b', { node: 'n2' })], holders: [on(A4, 1001, true)], expect: [], state: 'waiting', requeue: POLL },
  // --- failed targets: failover is never blocked by one droplet
  { name: 'a droplet that failed as target is skipped: the next eligible one at once', pods: [pod('a', { node: 'n1', age: 500 }), pod('b', { node: 'n2', age: 300 }), pod('c', { node: 'n3', age: 100 })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002), node('n3', 1003)], holders: [on(A4, 1001)], memory: [[A4, { failedTargets: [failedTarget(1002, NOW + 60_000)] }]], expect: [`assign ${A4} 1003 default/c@n3 holder-not-eligible`] },
  { name: 'a failed target is tried again once its time is up', pods: [pod('b', { node: 'n2', age: 300 }), pod('c', { node: 'n3', age: 100 })], holders: [free(A4)], memory: [[A4, { failedTargets: [failedTarget(1002, NOW)] }]], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'every eligible droplet failed: reported, looked at again when the first expires', pods: [pod('b', { node: 'n2' })], holders: [free(A4)], memory: [[A4, { failedTargets: [failedTarget(1002, NOW + 45_000)] }]], expect: [`report ${A4} default/b unplaced`], state: 'unplaced', requeue: 45_000 },
  { name: 'a failed target does not move a sticky holder', pods: [pod('b', { node: 'n2' })], holders: [on(A4, 1002)], memory: [[A4, { failedTargets: [failedTarget(1002, NOW + 45_000)] }]], expect: [], state: 'placed' },
  // --- retries: a backoff holds back only the same target; evidence cuts it short
  { name: 'retry backoff towards the same droplet: wait for it', pods: [pod('b', { node: 'n2' })], holders: [free(A4)], memory: [[A4, { retry: { dropletId: 1002, failures: 3, atMs: NOW - 100, retryAtMs: NOW + 5000, errorClass: 'Transient' } }]], expect: [], state: 'waiting', requeue: 5000 },
  { name: 'retry backoff: new evidence after the floor cuts it short', pods: [pod('b', { node: 'n2' })], holders: [free(A4)], memory: [[A4, { evidenceMs: NOW - 10, retry: { dropletId: 1002, failures: 3, atMs: NOW - FLOOR, retryAtMs: NOW + 5000, errorClass: 'Transient' } }]], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'retry backoff: new evidence within the floor waits for the floor', pods: [pod('b', { node: 'n2' })], holders: [free(A4)], memory: [[A4, { evidenceMs: NOW - 10, retry: { dropletId: 1002, failures: 3, atMs: NOW - 400, retryAtMs: NOW + 5000, errorClass: 'Transient' } }]], expect: [], state: 'waiting', requeue: FLOOR - 400 },
  { name: 'retry backoff meant for another droplet does not hold back a failover', pods: [pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002)], holders: [on(A4, 1001)], memory: [[A4, { retry: { dropletId: 1003, failures: 5, atMs: NOW - 100, retryAtMs: NOW + 30_000, errorClass: 'Transient' } }]], expect: [`assign ${A4} 1002 default/b@n2 holder-not-eligible`] },
  { name: 'rate limited: every target waits', pods: [pod('b', { node: 'n2' })], holders: [free(A4)], memory: [[A4, { retry: { dropletId: 1003, failures: 1, atMs: NOW - 100, retryAtMs: NOW + 7000, errorClass: 'RateLimited' } }]], expect: [], state: 'waiting', requeue: 7000 },
  // --- pools
  { name: 'pool spreads over distinct droplets', targets: [A4, B4], pods: [pod('a', { node: 'n1', age: 30, ips: [A4, B4] }), pod('b', { node: 'n2', age: 20, ips: [A4, B4] })], holders: [free(A4), free(B4)], expect: [`assign ${A4} 1001 default/a@n1 unassigned`, `assign ${B4} 1002 default/b@n2 unassigned`] },
  { name: 'pool: planning the second IP alone gives the same droplet', targets: [B4], pods: [pod('a', { node: 'n1', age: 30, ips: [A4, B4] }), pod('b', { node: 'n2', age: 20, ips: [A4, B4] })], holders: [free(A4), free(B4)], expect: [`assign ${B4} 1002 default/b@n2 unassigned`] },
  { name: 'pool larger than the eligible droplets: the rest is unplaced', targets: [A4, B4], pods: [pod('a', { node: 'n1', ips: [A4, B4] })], holders: [free(A4), free(B4)], expect: [`assign ${A4} 1001 default/a@n1 unassigned`, `report ${B4} default/a unplaced`] },
  { name: 'pool: a sticky IP keeps its droplet, the other takes the oldest free one', targets: [A4, B4], pods: [pod('a', { node: 'n1', age: 30, ips: [A4, B4] }), pod('b', { node: 'n2', age: 20, ips: [A4, B4] })], holders: [free(A4), on(B4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'pool: two pods on one droplet count once', targets: [A4, B4], pods: [pod('a', { node: 'n1', age: 30, ips: [A4, B4] }), pod('b', { node: 'n1', age: 20, ips: [A4, B4] }), pod('c', { node: 'n3', age: 10, ips: [A4, B4] })], holders: [free(A4), free(B4)], expect: [`assign ${A4} 1001 default/a@n1 unassigned`, `assign ${B4} 1003 default/c@n3 unassigned`] },
  { name: 'pool failover: both IPs lose their droplets at once, no collision', targets: [A4, B4], pods: [pod('a', { node: 'n1', age: 30, ips: [A4, B4] }), pod('b', { node: 'n2', age: 20, ips: [A4, B4] }), pod('c', { node: 'n3', age: 10, ips: [A4, B4] })], nodes: [node('n1', 1001), node('n2', 1002, { ready: false }), node('n3', 1003, { ready: false }), node('n4', 1004)], holders: [on(A4, 1002), on(B4, 1003)], expect: [`assign ${A4} 1001 default/a@n1 holder-not-eligible`, `report ${B4} default/a unplaced`] },
  // --- one IPv4 and one IPv6 per droplet
  { name: 'IPv4 and IPv6 of one claim may share a droplet', targets: [A4, A6], pods: [pod('a', { node: 'n1', ips: [A4, A6] })], holders: [free(A4), free(A6)], expect: [`assign ${A4} 1001 default/a@n1 unassigned`, `assign ${A6} 1001 default/a@n1 unassigned`] },
  { name: 'droplet holding another IPv4 of another claim is skipped', pods: [pod('a', { node: 'n1', age: 30 }), pod('b', { node: 'n2', age: 20 })], holders: [free(A4), on(C4, 1001)], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  { name: 'only droplet already holds an IPv4: unplaced', pods: [pod('a', { node: 'n1' })], holders: [free(A4), on(C4, 1001)], expect: [`report ${A4} default/a unplaced`] },
  { name: 'another IPv6 on the droplet does not block an IPv4', pods: [pod('a', { node: 'n1' })], holders: [free(A4), on(A6, 1001)], expect: [`assign ${A4} 1001 default/a@n1 unassigned`] },
  { name: 'pending assignment of another IPv4 reserves its droplet', pods: [pod('a', { node: 'n1', age: 30 }), pod('b', { node: 'n2', age: 20 })], holders: [free(A4), [C4, { family: 4, dropletId: null, locked: true }]], memory: [[C4, { pending: pendingTo(1001, NOW + 5000) }]], expect: [`assign ${A4} 1002 default/b@n2 unassigned`] },
  // --- conflicts between workloads
  { name: 'two workloads: the older wins, the loser is reported', pods: [pod('x', { owner: 'StatefulSet/u1', node: 'n1', age: 300 }), pod('y', { owner: 'StatefulSet/u2', node: 'n2', age: 30 })], expect: [`report ${A4} default/y conflict`, `assign ${A4} 1001 default/x@n1 unassigned`] },
  { name: 'conflict: every pod of the losing workload is reported', pods: [pod('x', { owner: 'A', age: 300 }), pod('y1', { owner: 'B', node: 'n2', age: 30 }), pod('y2', { owner: 'B', node: 'n3', age: 20 })], holders: [on(A4, 1001)], expect: [`report ${A4} default/y1 conflict`, `report ${A4} default/y2 conflict`], state: 'placed' },
  { name: 'conflict across namespaces', pods: [pod('x', { ns: 'a', age: 300 }), pod('y', { ns: 'b', node: 'n2', age: 30 })], holders: [on(A4, 1001)], expect: [`report ${A4} b/y conflict`] },
  { name: 'conflict: each loser is reported once', pods: [pod('x', { owner: 'A', age: 300 }), pod('y1', { owner: 'B', node: 'n2', age: 30 }), pod('y2', { owner: 'B', node: 'n3', age: 20 })], holders: [on(A4, 1001)], memory: [[A4, { reported: ['conflict\nuid-y1\ndefault\nA'] }]], expect: [`report ${A4} default/y2 conflict`], state: 'placed' },
  // --- workload identity excludes the annotation value (rollouts that edit it)
  { name: 'same owner, different annotation value: one workload, no conflict', pods: [pod('x', { ips: [A4], age: 300 }), pod('y', { ips: [A4, B4], node: 'n2', age: 30 })], holders: [on(A4, 1001)], expect: [], state: 'placed' },
  { name: 'rollout adds an IP: the placed one stays, the new one goes to a new pod', targets: [B4], pods: [pod('old', { ips: [A4], node: 'n1', age: 300 }), pod('new1', { ips: [A4, B4], node: 'n1', age: 30 }), pod('new2', { ips: [A4, B4], node: 'n2', age: 20 })], holders: [on(A4, 1001), free(B4)], expect: [`assign ${B4} 1002 default/new2@n2 unassigned`] },
  { name: 'rollout: the IP never stays on a terminating old pod', pods: [pod('old', { ips: [A4], node: 'n1', age: 300, terminating: true }), pod('new', { ips: [A4, B4], node: 'n2', age: 30 })], holders: [on(A4, 1001)], expect: [`assign ${A4} 1002 default/new@n2 holder-not-eligible`] },
  { name: 'rollout removes an IP: new pods do not take it', targets: [B4], pods: [pod('old', { ips: [A4, B4], node: 'n1', age: 300, ready: false }), pod('new', { ips: [A4], node: 'n2', age: 30 })], nodes: NODES, holders: [on(A4, 1002), on(B4, 1001)], expect: [`report ${B4} default/old unplaced`], state: 'unplaced!' },
  { name: 'conflict: a winner without eligible pods still wins', pods: [pod('x', { owner: 'A', age: 300, ready: false }), pod('y', { owner: 'B', node: 'n2', age: 30 })], expect: [`report ${A4} default/y conflict`, `report ${A4} default/x unplaced`] },
  // --- claims follow time, not age: the holding workload keeps the IP (issue 15)
  { name: 'a newer workload holds the IP: an older claimant does not pre-empt it, and is the one reported', pods: [pod('x', { owner: 'A', node: 'n1', age: 300 }), pod('y', { owner: 'B', node: 'n2', age: 30 })], holders: [on(A4, 1002)], expect: [`report ${A4} default/x conflict`], state: 'placed' },
  { name: 'annotation added to an old running pod in another namespace: the holder keeps it', pods: [pod('old', { ns: 'other', owner: 'ReplicaSet/old', node: 'n1', age: 86_400 }), pod('web', { ns: 'shop', node: 'n2', age: 60 })], holders: [on(A4, 1002)], expect: [`report ${A4} other/old conflict`], state: 'placed' },
  { name: 'holding workload: its holder pod turns NotReady, it fails over within itself', pods: [pod('old', { owner: 'A', node: 'n1', age: 900 }), pod('h1', { owner: 'B', node: 'n2', age: 60, ready: false }), pod('h2', { owner: 'B', node: 'n3', age: 50 })], holders: [on(A4, 1002)], expect: [`report ${A4} default/old conflict`, `assign ${A4} 1003 default/h2@n3 holder-not-eligible`], state: 'moving!' },
  { name: 'holding workload without any eligible pod: nobody holds, the oldest wins', pods: [pod('old', { owner: 'A', node: 'n1', age: 900 }), pod('h1', { owner: 'B', node: 'n2', age: 60, ready: false })], holders: [on(A4, 1002)], expect: [`report ${A4} default/h1 conflict`, `assign ${A4} 1001 default/old@n1 holder-not-eligible`] },
  { name: 'holder node deleted: nobody holds, the oldest wins', pods: [pod('old', { owner: 'A', node: 'n1', age: 900 }), pod('h2', { owner: 'B', node: 'n3', age: 50 })], nodes: [node('n1', 1001), node('n3', 1003)], holders: [on(A4, 1002)], deletedNodes: [[1002, 'n2']], expect: [`report ${A4} default/h2 conflict`, `assign ${A4} 1001 default/old@n1 holder-node-deleted`] },
  { name: 'a move in flight counts as held by its target', pods: [pod('old', { owner: 'A', node: 'n1', age: 900 }), pod('h2', { owner: 'B', node: 'n3', age: 50 })], holders: [on(A4, 1002, true)], memory: [[A4, { pending: pendingTo(1003, NOW + 60_000) }]], expect: [`report ${A4} default/old conflict`], state: 'waiting', requeue: POLL },
  { name: 'unheld IP, an old pod annotated late: the oldest wins (nobody holds it)', pods: [pod('old', { ns: 'other', owner: 'ReplicaSet/old', node: 'n1', age: 86_400 }), pod('web', { ns: 'shop', node: 'n2', age: 60 })], holders: [free(A4)], expect: [`report ${A4} shop/web conflict`, `assign ${A4} 1001 other/old@n1 unassigned`] },
  { name: 'starting pods: look again when the start-up grace ends', pods: [pod('a', { ready: false, age: 20 })], expect: [], state: 'starting', requeue: 40_000 },
  { name: 'conflict on one pool IP leaves the other IP to the newer workload', targets: [B4], pods: [pod('x', { owner: 'A', ips: [A4], age: 300 }), pod('y', { owner: 'B', node: 'n2', ips: [A4, B4], age: 30 })], holders: [on(A4, 1001), free(B4)], expect: [`assign ${B4} 1002 default/y@n2 unassigned`] },
  // --- heartbeats: fail over before Kubernetes notices (Lease duration 40 s → grace 20 s)
  { name: 'heartbeat: holder silent past the grace, a fresh node can take it: moves before NotReady', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n1', 21_000], ['n2', 1000], ['n3', 1000]], expect: [`assign ${A4} 1002 default/b@n2 holder-heartbeat-lost`], state: 'moving!' },
  { name: 'heartbeat: holder silent within the grace keeps it; look again when the grace ends', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n1', 15_000], ['n2', 1000], ['n3', 1000]], expect: [], state: 'placed', requeue: 5001 },
  { name: 'heartbeat: exactly at the grace is not yet stale', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n1', 20_000], ['n2', 1000], ['n3', 1000]], expect: [], state: 'placed' },
  { name: 'heartbeat: no node with a fresh Lease can take it: stays', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n1', 30_000], ['n3', 1000]], expect: [], state: 'placed' },
  { name: 'heartbeat: the other pod is on a stale node too: stays', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001), node('n2', 1002), node('n3', 1003), node('n4', 1004), node('n5', 1005)], holders: [on(A4, 1001)], leases: [['n1', 30_000], ['n2', 25_000], ['n3', 1000], ['n4', 1000], ['n5', 1000]], expect: [], state: 'placed' },
  { name: 'heartbeat guard: 2 of 3 nodes stale — nothing moves on heartbeat grounds', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' }), pod('c', { node: 'n3', age: 10 })], holders: [on(A4, 1001)], leases: [['n1', 30_000], ['n2', 30_000], ['n3', 1000]], expect: [], state: 'placed' },
  { name: 'heartbeat guard: half the nodes stale is not more than half', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], nodes: [node('n1', 1001), node('n2', 1002)], holders: [on(A4, 1001)], leases: [['n1', 30_000], ['n2', 1000]], expect: [`assign ${A4} 1002 default/b@n2 holder-heartbeat-lost`] },
  { name: 'heartbeat: a fixed grace overrides the Lease duration', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n1', 6000], ['n2', 1000], ['n3', 1000]], graceMs: 5000, expect: [`assign ${A4} 1002 default/b@n2 holder-heartbeat-lost`] },
  { name: 'heartbeat: a node without a Lease is never judged', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })], holders: [on(A4, 1001)], leases: [['n2', 1000], ['n3', 1000]], expect: [], state: 'placed' },
  { name: 'heartbeat: a failover prefers a target whose node heartbeats', pods: [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2', age: 200 }), pod('c', { node: 'n3', age: 100 })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002), node('n3', 1003)], holders: [on(A4, 1001)], leases: [['n1', 1000], ['n2', 25_000], ['n3', 1000]], expect: [`assign ${A4} 1003 default/c@n3 holder-not-eligible`] },
];

/** Holders go into the per-IP memory, as the controller keeps them. */
function memoryOf(targets: readonly string[], holders: [string, HolderFacts][] = [], memory: [string, IpMemory][] = []): Map<string, IpMemory> {
  const m = new Map<string, IpMemory>();
  for (const [ip, h] of [...targets.map((ip) => free(ip)), ...holders]) m.set(ip, { holder: h });
  for (const [ip, mem] of memory) m.set(ip, { ...m.get(ip), ...mem });
  return m;
}

function snapshot(o: { targets?: string[]; pods: PodFacts[]; nodes?: NodeFacts[]; deletedNodes?: [number, string][]; dropletTags?: [number, string[]][]; config?: Partial<PlanConfig> }): Snapshot {
  return {
    targets: o.targets ?? [A4],
    pods: o.pods,
    nodes: o.nodes ?? NODES,
    deletedNodes: new Map(o.deletedNodes ?? []),
    dropletTags: new Map(o.dropletTags ?? []),
    clusterTag: CLUSTER_TAG,
    config: config(o.config),
  };
}

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const targets = c.targets ?? [A4];
    const adoptable = new Set(c.adoptable ?? []);
    const heartbeat = c.leases ? { enabled: true, graceMs: c.graceMs } : undefined;
    const snap = { ...snapshot({ ...c, targets, config: { unassignWhenUnplaced: c.unassign ?? false, adoptable: (ip) => adoptable.has(ip), heartbeat } }), heartbeats: new Map((c.leases ?? []).map(([n, ago]) => [n, { renewMs: NOW - ago, durationMs: 40_000 }])) };
    const result = plan(snap, memoryOf(targets, c.holders, c.memory), NOW);
    assert.deepEqual(result.actions.map(fmt), c.expect);
    if (c.state !== undefined) {
      const s = result.statuses[0];
      assert.equal(`${s?.state}${s?.holderLost ? '!' : ''}`, c.state);
    }
    if (c.requeue !== undefined) assert.equal(result.requeueAfterMs, c.requeue);
  });
}

test('plan: reasons carry a readable detail', () => {
  const snap = snapshot({ pods: [pod('a'), pod('b', { node: 'n2' })], nodes: [node('n1', 1001, { ready: false }), node('n2', 1002)] });
  const memory = memoryOf([A4], [on(A4, 1001)]);
  const [action] = plan(snap, memory, NOW).actions;
  assert.equal(action?.detail, 'droplet 1001 cannot serve: node n1 is NotReady');
  assert.deepEqual(plan(snap, memory, NOW).statuses, [{ ip: A4, state: 'moving', holder: 1001, desired: 1002, holderLost: true, reportKeys: [], winner: 'default\nReplicaSet/web' }]);
});

test('plan: unplaced detail names the first reason', () => {
  const snap = snapshot({ pods: [pod('a', { ready: false })] });
  assert.equal(plan(snap, memoryOf([A4]), NOW).actions[0]?.detail, 'no eligible pod (pod default/a is not Ready)');
});

test('plan: an IP blocked by the per-family limit names the IPs in the way', () => {
  const snap = snapshot({ pods: [pod('a', { node: 'n1' }), pod('b', { node: 'n2' })] });
  const memory = memoryOf([A4], [on(B4, 1001), on(C4, 1002), on(A6, 1002)]);
  assert.equal(
    plan(snap, memory, NOW).actions[0]?.detail,
    'no eligible droplet can take it now: the other eligible droplets already hold a reserved IPv4 (104.248.100.101 on 1001, 104.248.100.102 on 1002)',
  );
});

test('plan: the outside-cluster report names the IP and the droplet', () => {
  const snap = snapshot({ pods: [pod('a', { node: 'n3' })] });
  const [report] = plan(snap, memoryOf([A4], [on(A4, 9999)]), NOW).actions;
  assert.equal(report?.detail, `reserved IP ${A4} is held by droplet 9999, which is not part of this cluster; floatip leaves it there (list it in --adoptable-ips to let floatip take it)`);
});

test('plan: heartbeats off — a silent holder keeps the IP, as without Leases', () => {
  const pods = [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })];
  const heartbeats = new Map([['n1', { renewMs: NOW - 60_000, durationMs: 40_000 }], ['n2', { renewMs: NOW, durationMs: 40_000 }], ['n3', { renewMs: NOW, durationMs: 40_000 }]]);
  const off = { ...snapshot({ pods, config: { heartbeat: { enabled: false } } }), heartbeats };
  const on4 = { ...snapshot({ pods, config: { heartbeat: { enabled: true } } }), heartbeats };
  const memory = memoryOf([A4], [on(A4, 1001)]);
  assert.deepEqual(plan(off, memory, NOW).actions, []);
  const [move] = plan(on4, memory, NOW).actions;
  assert.equal(move?.detail, 'node n1 (droplet 1001) has not renewed its heartbeat for 60 s (grace 20 s); its pods may still look Ready');
  assert.deepEqual(plan(on4, memory, NOW).statuses[0]?.suspect, { node: 'n1', lostSinceMs: NOW - 40_000 });
});

test('plan: the heartbeat summary says how many nodes look silent and whether the guard holds', () => {
  const pods = [pod('a', { node: 'n1', age: 300 }), pod('b', { node: 'n2' })];
  const lease = (ago: number) => ({ renewMs: NOW - ago, durationMs: 40_000 });
  const at = (leases: [string, number][]) => ({ ...snapshot({ pods, config: { heartbeat: { enabled: true } } }), heartbeats: new Map(leases.map(([n, ago]) => [n, lease(ago)])) });
  const memory = memoryOf([A4], [on(A4, 1001)]);
  assert.deepEqual(plan(at([['n1', 30_000], ['n2', 0], ['n3', 0]]), memory, NOW).heartbeat, { known: 3, stale: 1, guarded: false });
  assert.deepEqual(plan(at([['n1', 30_000], ['n2', 30_000], ['n3', 0]]), memory, NOW).heartbeat, { known: 3, stale: 2, guarded: true });
  assert.equal(plan(snapshot({ pods }), memory, NOW).heartbeat, undefined, 'heartbeats off: no summary');
});
