import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { parseIpPolicy } from '../shared/ip-policy.ts';
import { dropletIdOf, indexPods, nodeFacts, ownerKey, podFacts } from './snapshot.ts';

const KEYS = floatingIpKeys();

test('snapshot: droplet id only from digitalocean://<positive integer>', () => {
  assert.deepEqual(
    ['digitalocean://1001', 'digitalocean://0', 'digitalocean://12a', 'aws:///i-1', 'digitalocean://', undefined].map(dropletIdOf),
    [1001, null, null, null, null, null],
  );
});

test('snapshot: a Deployment rollout is one workload, other owners are by uid, bare pods share one', () => {
  const rs = (name: string, hash: string): V1Pod => ({
    metadata: { labels: { 'pod-template-hash': hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: `uid-${name}`, controller: true }] },
  });
  assert.equal(ownerKey(rs('web-5d8f7', '5d8f7')), 'ReplicaSet/web');
  assert.equal(ownerKey(rs('web-66b4c', '66b4c')), 'ReplicaSet/web');
  assert.equal(ownerKey({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'ss-1', controller: true }] } }), 'StatefulSet/ss-1');
  assert.equal(ownerKey({ metadata: {} }), '');
});

test('snapshot: pod facts read phase, Ready, deletion, node, age, tolerations and the canonical claim', () => {
  const pod: V1Pod = {
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: 'u1',
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      deletionTimestamp: new Date('2026-01-01T00:01:00Z'),
      annotations: { [KEYS.annotation]: '104.248.100.101 , 2604:A880:800:14:0:0:0:1000' },
    },
    spec: { nodeName: 'n1', containers: [], tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
  assert.deepEqual(podFacts(pod, KEYS), {
    uid: 'u1',
    namespace: 'shop',
    name: 'web-1',
    phase: 'Running',
    ready: true,
    terminating: true,
    nodeName: 'n1',
    createdMs: Date.UTC(2026, 0, 1),
    owner: '',
    claim: '104.248.100.101,2604:a880:800:14::1000',
    addresses: [
      { text: '104.248.100.101', family: 4 },
      { text: '2604:a880:800:14::1000', family: 6 },
    ],
    tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
  });
});

test('snapshot: pods with a missing or unparsable annotation are ignored with a reason', () => {
  const bad: V1Pod = { metadata: { name: 'a', uid: 'ua', annotations: { [KEYS.annotation]: 'not-an-ip' } } };
  const none: V1Pod = { metadata: { name: 'b', uid: 'ub' } };
  const good: V1Pod = { metadata: { name: 'c', uid: 'uc', annotations: { [KEYS.annotation]: '104.248.100.100' } } };
  const index = indexPods([bad, none, good], KEYS);
  assert.deepEqual(index.facts.map((f) => f.uid), ['uc']);
  assert.deepEqual([...index.byUid.keys()], ['uc']);
  assert.equal(index.ignored.length, 2);
  assert.equal(index.ignored[1]?.reason, `pod has no ${KEYS.annotation} annotation`);
  assert.ok((index.ignored[0]?.reason ?? '').includes('not-an-ip'), index.ignored[0]?.reason);
});

test('snapshot: node facts', () => {
  assert.deepEqual(
    nodeFacts({
      metadata: { name: 'n1', uid: 'un1', deletionTimestamp: new Date(0) },
      spec: { providerID: 'digitalocean://1001', unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
    }),
    { name: 'n1', uid: 'un1', ready: false, unschedulable: true, terminating: true, dropletId: 1001, taints: [{ key: 'node.kubernetes.io/unschedulable', value: undefined, effect: 'NoSchedule' }] },
  );
});

test('snapshot: the namespace IP policy drops the addresses a namespace may not claim; none left = ignored with the reason', () => {
  const policy = parseIpPolicy('namespaces:\n  shop: ["104.248.100.0/30"]\n');
  const inNs = (namespace: string, value: string): V1Pod => ({ metadata: { name: 'p', uid: `u-${namespace}`, namespace, annotations: { [KEYS.annotation]: value } } });
  const partly = podFacts(inNs('shop', '104.248.100.1, 104.248.100.9'), KEYS, policy);
  assert.ok(!('ignored' in partly));
  assert.deepEqual([partly.claim, partly.addresses, partly.notAllowed], ['104.248.100.1', [{ text: '104.248.100.1', family: 4 }], ['104.248.100.9']]);
  assert.deepEqual(podFacts(inNs('games', '104.248.100.1'), KEYS, policy), {
    ignored: 'reserved IP 104.248.100.1 may not be claimed in namespace games (floatip IP policy allows here: none)',
    notAllowed: ['104.248.100.1'],
  });
  const all = podFacts(inNs('shop', '104.248.100.1'), KEYS, policy);
  assert.ok(!('ignored' in all) && all.notAllowed === undefined, 'nothing refused: no notAllowed field');
  assert.deepEqual(indexPods([inNs('games', '104.248.100.1'), inNs('shop', '104.248.100.2')], KEYS, policy).facts.map((f) => f.namespace), ['shop']);
});
