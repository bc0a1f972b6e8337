import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnchorRange } from '../../shared/anchors.ts';
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { isFloatipService, nodeAnchor, selects, serviceFacts } from './facts.ts';

const CLASS = 'k8s.haim.dev/floating-ip';

function service(over: { spec?: V1Service['spec']; status?: V1Service['status']; managedFields?: object[] } = {}): V1Service {
  return {
    metadata: { name: 'game', namespace: 'default', managedFields: (over.managedFields ?? []) as never },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASS, selector: { app: 'game' }, ports: [{ port: 7777, protocol: 'UDP' }, { port: 8080 }], ...over.spec },
    ...(over.status ? { status: over.status } : {}),
  };
}

test('serviceFacts: class, ports (TCP by default), source ranges, current externalIPs and ingress', () => {
  const f = serviceFacts(
    service({ spec: { externalIPs: ['10.20.0.11'], loadBalancerSourceRanges: ['203.0.113.0/24'] }, status: { loadBalancer: { ingress: [{ ip: '104.248.100.100' }, { hostname: 'x.example' }] } } }),
    CLASS,
  );
  assert.deepEqual(f, {
    key: 'default/game',
    namespace: 'default',
    name: 'game',
    floatip: true,
    selector: { app: 'game' },
    ports: [{ protocol: 'UDP', port: 7777 }, { protocol: 'TCP', port: 8080 }],
    sourceRanges: ['203.0.113.0/24'],
    externalIPs: ['10.20.0.11'],
    ingress: ['104.248.100.100'],
    externalIPsOwners: [],
    ownedByFloatip: false,
  });
  // the families as the API server fills them in, for the IPv6 family warning
  assert.deepEqual(serviceFacts(service({ spec: { ipFamilies: ['IPv4'] } }), CLASS).ipFamilies, ['IPv4']);
});

test('serviceFacts: floatip only for type LoadBalancer with its class', () => {
  const rows: [V1Service['spec'], boolean][] = [
    [{ type: 'LoadBalancer', loadBalancerClass: CLASS }, true],
    [{ type: 'LoadBalancer', loadBalancerClass: 'other.example/lb' }, false],
    [{ type: 'LoadBalancer', loadBalancerClass: undefined }, false],
    [{ type: 'ClusterIP', loadBalancerClass: CLASS }, false],
  ];
  for (const [spec, want] of rows) assert.equal(serviceFacts(service({ spec }), CLASS).floatip, want, JSON.stringify(spec));
});

test('serviceFacts: who owns spec.externalIPs and the ingress, from managedFields', () => {
  const managedFields = [
    { manager: 'kubectl-client-side-apply', operation: 'Update', fieldsV1: { 'f:spec': { 'f:externalIPs': {}, 'f:ports': {} } } },
    { manager: 'helm', operation: 'Update', fieldsV1: { 'f:spec': { 'f:ports': {} } } },
    { manager: 'floatip', operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } } },
  ];
  const f = serviceFacts(service({ managedFields }), CLASS);
  assert.deepEqual([f.externalIPsOwners, f.ownedByFloatip], [['kubectl-client-side-apply'], true]);

  const statusOnSpec = [{ manager: 'floatip', operation: 'Apply', fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } } }];
  assert.equal(serviceFacts(service({ managedFields: statusOnSpec }), CLASS).ownedByFloatip, false, 'ingress counts only on the status subresource');
  const ours = [{ manager: 'floatip', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:externalIPs': {} } } }];
  assert.deepEqual([serviceFacts(service({ managedFields: ours }), CLASS).externalIPsOwners, serviceFacts(service({ managedFields: ours }), CLASS).ownedByFloatip], [[], true]);
});

test('isFloatipService: type LoadBalancer with floatip\'s class, nothing else', () => {
  const svc = (type: string, loadBalancerClass?: string): V1Service => ({ metadata: { name: 's' }, spec: { type, ...(loadBalancerClass ? { loadBalancerClass } : {}) } });
  assert.equal(isFloatipService(svc('LoadBalancer', CLASS), CLASS), true);
  assert.equal(isFloatipService(svc('LoadBalancer', 'other/class'), CLASS), false);
  assert.equal(isFloatipService(svc('LoadBalancer'), CLASS), false);
  assert.equal(isFloatipService(svc('ClusterIP', CLASS), CLASS), false);
  assert.equal(isFloatipService(undefined, CLASS), false);
});

test('nodeAnchor: droplet nodes only; the annotation must be an address in the anchor range', () => {
  const node = (providerID: string | undefined, value?: string): V1Node => ({
    metadata: { name: 'pool-a-1', ...(value === undefined ? {} : { annotations: { 'k8s.haim.dev/anchor-ipv4': value } }) },
    spec: { providerID },
  });
  const key = 'k8s.haim.dev/anchor-ipv4';
  assert.deepEqual(nodeAnchor(node('digitalocean://1001', '10.20.0.11'), key), [1001, { nodeName: 'pool-a-1', anchor: '10.20.0.11' }]);
  assert.deepEqual(nodeAnchor(node('digitalocean://1001', ' 10.20.0.11\n'), key), [1001, { nodeName: 'pool-a-1', anchor: '10.20.0.11' }]);
  assert.deepEqual(nodeAnchor(node('digitalocean://1001'), key), [1001, { nodeName: 'pool-a-1', anchor: undefined }]);
  assert.deepEqual(nodeAnchor(node('digitalocean://1001', '2604::1'), key), [1001, { nodeName: 'pool-a-1', anchor: undefined, invalid: '2604::1', why: '"2604::1" is not an IPv4 address' }]);
  // only droplet anchors (issue 15): an agent cannot publish 8.8.8.8 or 127.0.0.1 into a Service
  for (const bad of ['8.8.8.8', '127.0.0.1', '10.21.0.1']) {
    assert.deepEqual(nodeAnchor(node('digitalocean://1001', bad), key), [1001, { nodeName: 'pool-a-1', anchor: undefined, invalid: bad, why: `"${bad}" is not in the droplet anchor range 10.20.0.0/16` }], bad);
  }
  assert.deepEqual(nodeAnchor(node('digitalocean://1001', '10.30.0.5'), key, parseAnchorRange('10.30.0.0/16')), [1001, { nodeName: 'pool-a-1', anchor: '10.30.0.5' }]);
  assert.equal(nodeAnchor(node('aws:///i-1', '10.20.0.11'), key), null);
  assert.equal(nodeAnchor(node(undefined), key), null);
});

test('selects: every selector entry must match; an empty selector selects nothing', () => {
  assert.equal(selects({ app: 'a' }, { app: 'a', x: 'y' }), true);
  assert.equal(selects({ app: 'a', tier: 'b' }, { app: 'a' }), false);
  assert.equal(selects({}, { app: 'a' }), false);
  assert.equal(selects(undefined, { app: 'a' }), false);
});
