// The informer factory against the real kube-apiserver: lists come page by page (continue
// tokens from the API server), and what the caches hold — listed or watched — is slimmed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api, CoreV1Api, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { createLogger } from '../shared/logger.ts';
import { startControlPlane, waitFor } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { kubeClientOf } from '../test/support/kube-client.ts';
import { NODE_LEASE_NAMESPACE, createInformers, kubeInformerFactory } from './informers.ts';
import { createReconcilerMetrics } from './metrics.ts';

const KEYS = floatingIpKeys();
let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane({ scheduler: false, controllerManager: false, kwok: false });
});
after(() => cp?.stop());

const pod = (name: string, labeled = true): V1Pod => ({
  metadata: { name, namespace: 'default', labels: labeled ? { [KEYS.label]: 'true', app: 'web' } : {}, annotations: { [KEYS.annotation]: '104.248.100.100' } },
  spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', env: [{ name: 'A', value: 'x'.repeat(200) }] }], automountServiceAccountToken: false },
});

test('informers e2e: 7 labeled pods listed 2 a page all arrive, slimmed; so do watched updates, nodes and Leases', async () => {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  for (let i = 1; i <= 7; i++) await core.createNamespacedPod({ namespace: 'default', body: pod(`web-${i}`) });
  await core.createNamespacedPod({ namespace: 'default', body: pod('unlabeled', false) });
  await core.createNode({ body: { metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } }, spec: { providerID: 'digitalocean://1001' } } });
  const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
  await leases.createNamespacedLease({
    namespace: NODE_LEASE_NAMESPACE,
    body: { metadata: { name: 'n1' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: new V1MicroTime(Date.UTC(2026, 0, 1)) } },
  });

  const seen: V1Pod[] = [];
  const informers = createInformers({
    factory: kubeInformerFactory(kubeClientOf(cp.kubeConfig), KEYS.selector, undefined, 2),
    namespaces: [],
    onPod: (p) => void (p && seen.push(p)),
    onNode: () => undefined,
    onNodeLease: () => undefined,
    metrics: createReconcilerMetrics(),
    logger: createLogger({ level: 'silent' }),
  });
  informers.start();
  try {
    await waitFor('informers synced', async () => informers.synced(), { timeoutMs: 10_000 });
    const names = informers.listPods().map((p) => p.metadata?.name ?? '').sort();
    assert.deepEqual(names, ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6', 'web-7']);
    const listed = informers.listPods()[0] as V1Pod;
    assert.equal(listed.metadata?.managedFields, undefined);
    assert.deepEqual(listed.spec?.containers, []);
    assert.equal(listed.metadata?.annotations?.[KEYS.annotation], '104.248.100.100');
    assert.equal(listed.status?.phase, 'Pending');
    const node = informers.listNodes()[0] as V1Node;
    assert.deepEqual([node.metadata?.name, node.spec?.providerID, node.metadata?.managedFields], ['n1', 'digitalocean://1001', undefined]);
    const lease = informers.listNodeLeases()[0] as V1Lease;
    assert.deepEqual([lease.metadata?.name, lease.spec?.leaseDurationSeconds, lease.metadata?.managedFields], ['n1', 40, undefined]);

    // A watched update arrives slimmed too, with the resourceVersion the cache compares.
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const patched = await core.patchNamespacedPod({ namespace: 'default', name: 'web-3', body: { metadata: { labels: { tier: 'front' } } } }, mergePatch);
    await waitFor('the watched update', async () => seen.some((p) => p.metadata?.labels?.tier === 'front'));
    const update = seen.find((p) => p.metadata?.labels?.tier === 'front') as V1Pod;
    assert.equal(update.metadata?.managedFields, undefined);
    assert.deepEqual(update.spec?.containers, []);
    assert.equal(update.metadata?.resourceVersion, patched.metadata?.resourceVersion);
  } finally {
    await informers.stop();
  }
});
