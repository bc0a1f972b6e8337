// Slimming keeps every field the reconciler reads: each reader gives the same answer on the
// slim object as on the object as the API server sends it (the benchmark's DOKS-shaped pods,
// nodes and Leases), and the bulk is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { leaseJson, nodeJson, podJson } from '../bench/realistic-objects.ts';
import { anchorAnnotationKey, floatingIpKeys } from '../shared/keys.ts';
import { nodeAnchor } from './exposure/facts.ts';
import { heartbeatOf } from './heartbeats.ts';
import { pagedList } from './informers.ts';
import type { ListPage } from './informers.ts';
import { nodeFacts, podFacts } from './snapshot.ts';
import { slimLease, slimNode, slimPod } from './slim.ts';

const KEYS = floatingIpKeys();
const whole = podJson(KEYS, { name: 'app-7c9f8d6b5-x2k9p', namespace: 'games', nodeName: 'pool-b-1', nodeIp: '10.20.0.1', ips: '104.248.100.100, 104.248.100.101', workload: 'app', ageS: 60, seq: 7 }) as V1Pod;
const node = nodeJson('pool-b-1', 2001, 0) as V1Node;

test('slimPod: the facts, claims and Event fields read from it are those of the whole pod', () => {
  const terminating: V1Pod = { ...whole, metadata: { ...whole.metadata, deletionTimestamp: new Date(Date.UTC(2026, 0, 1)) } };
  for (const pod of [whole, terminating]) {
    const slim = slimPod(pod);
    assert.deepEqual(podFacts(slim, KEYS), podFacts(pod, KEYS));
    assert.deepEqual([slim.metadata?.namespace, slim.metadata?.labels], [pod.metadata?.namespace, pod.metadata?.labels], 'what the Service controller selects by');
    const m = slim.metadata;
    assert.deepEqual([m?.name, m?.namespace, m?.uid, m?.resourceVersion], [pod.metadata?.name, pod.metadata?.namespace, pod.metadata?.uid, pod.metadata?.resourceVersion]);
  }
});

test('slimPod: managedFields, containers, volumes and container statuses are gone', () => {
  const slim = slimPod(whole);
  assert.equal(slim.metadata?.managedFields, undefined);
  assert.equal(slim.metadata?.generateName, undefined);
  assert.deepEqual(Object.keys(slim.spec ?? {}).sort(), ['containers', 'nodeName', 'tolerations']);
  assert.deepEqual(slim.spec?.containers, []);
  assert.deepEqual(Object.keys(slim.status ?? {}).sort(), ['conditions', 'phase']);
  assert.deepEqual(slim.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-7c9f8d6b5', uid: whole.metadata?.ownerReferences?.[0]?.uid, controller: true }]);
});

test('slimPod: kubectl last-applied-configuration is dropped, every other annotation kept', () => {
  const applied: V1Pod = { ...whole, metadata: { ...whole.metadata, annotations: { ...whole.metadata?.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}' } } };
  assert.deepEqual(slimPod(applied).metadata?.annotations, whole.metadata?.annotations);
  assert.equal(slimPod(whole).metadata?.annotations, whole.metadata?.annotations, 'no copy when there is nothing to drop');
});

test('slimNode: node facts and the anchor annotation are those of the whole node; images, nodeInfo and managedFields are gone', () => {
  const cordoned: V1Node = { ...node, spec: { ...node.spec, unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } };
  const anchored: V1Node = { ...node, metadata: { ...node.metadata, annotations: { ...node.metadata?.annotations, [anchorAnnotationKey()]: '10.20.0.11' } } };
  for (const n of [node, cordoned, anchored, nodeJson('pool-b-2', 2002, 1, false) as V1Node]) {
    assert.deepEqual(nodeFacts(slimNode(n)), nodeFacts(n));
    assert.deepEqual(nodeAnchor(slimNode(n), anchorAnnotationKey()), nodeAnchor(n, anchorAnnotationKey()));
  }
  const slim = slimNode(node);
  assert.deepEqual(Object.keys(slim.status ?? {}), ['conditions', 'addresses']);
  assert.deepEqual(slim.status?.addresses, node.status?.addresses?.filter((a) => a.type === 'InternalIP'), 'the InternalIP stays (liveness probes), the rest goes');
  assert.ok((slim.status?.addresses ?? []).length < (node.status?.addresses ?? []).length);
  assert.equal(slim.metadata?.managedFields, undefined);
});

test('slimLease: the heartbeat read from it is the whole Lease’s', () => {
  const lease = leaseJson('pool-b-1', 0, Date.UTC(2026, 0, 1, 0, 0, 7)) as V1Lease;
  assert.deepEqual(heartbeatOf(slimLease(lease)), heartbeatOf(lease));
  assert.deepEqual(heartbeatOf(slimLease(lease)), { renewMs: Date.UTC(2026, 0, 1, 0, 0, 7), durationMs: 40_000 });
  assert.equal(slimLease(lease).metadata?.managedFields, undefined);
});

test('pagedList: asks page after page with the continue token, slimming each page before the next', async () => {
  const all = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ metadata: { name, resourceVersion: '9' }, spec: { containers: [{ name: name.repeat(100) }] } }) as V1Pod);
  const asked: string[] = [];
  let slimmed = 0;
  const page: ListPage<V1Pod> = async ({ limit, _continue }) => {
    asked.push(`${limit}@${_continue ?? 'start'} after ${slimmed} slimmed`);
    const from = Number(_continue ?? 0);
    const more = from + limit < all.length;
    return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '42', ...(more ? { _continue: String(from + limit) } : {}) }, items: all.slice(from, from + limit) };
  };
  const list = await pagedList(page, (p) => (slimmed++, { metadata: p.metadata }), 2)();
  assert.deepEqual(asked, ['2@start after 0 slimmed', '2@2 after 2 slimmed', '2@4 after 4 slimmed']);
  assert.deepEqual(list.items.map((p) => [p.metadata?.name, p.spec]), [['a', undefined], ['b', undefined], ['c', undefined], ['d', undefined], ['e', undefined]]);
  assert.equal(list.metadata?.resourceVersion, '42');
  assert.equal(list.metadata?._continue, undefined);
});

test('pagedList: a page that fails (an expired continue token: 410) fails the whole list', async () => {
  const page: ListPage<V1Pod> = async ({ _continue }) => {
    if (_continue) throw Object.assign(new Error('The provided continue parameter is too old'), { code: 410 });
    return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1', _continue: 'next' }, items: [] };
  };
  await assert.rejects(pagedList(page)(), /continue parameter is too old/);
});
