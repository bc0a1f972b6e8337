// The harness itself against the real control plane: kwok nodes with the DOKS shape, a
// Deployment whose pods are scheduled and become Ready, node loss, and RBAC from deploy/
// actually limiting what a floatip service account may do.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, AppsV1Api, AuthenticationV1Api, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { NODE_LEASE_NAMESPACE, readyStatus, startControlPlane, waitFor } from './harness.ts';
import type { ControlPlane } from './harness.ts';

const isReady = (pod: V1Pod) =>
  pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

// The client types MicroTime as a Date; on the wire (and so at run time) it is a string.
const millis = (t: Date | string | undefined) => (t === undefined ? NaN : new Date(t).getTime());

async function apiStatus(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('test control plane', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;

  before(async () => {
    cp = await startControlPlane();
    console.error(`# control plane up in ${cp.startup.totalMs} ms (API server ready after ${cp.startup.apiServerReadyMs} ms)`);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await Promise.all([cp.addNode('pool-a-1', { dropletId: 1001 }), cp.addNode('pool-a-2', { dropletId: 1002 })]);
  });
  after(() => cp?.stop());

  test('fake nodes look like DOKS workers and are Ready', async () => {
    const node = await core.readNode({ name: 'pool-a-1' });
    assert.equal(node.spec?.providerID, 'digitalocean://1001');
    assert.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'pool-a-1');
    assert.equal(node.metadata?.labels?.['doks.digitalocean.com/node-pool'], 'pool-a');
    assert.equal(node.metadata?.labels?.['topology.kubernetes.io/region'], 'nyc3');
    assert.equal(node.metadata?.annotations?.['kwok.x-k8s.io/node'], 'fake');
    assert.equal(node.status?.allocatable?.['pods'], '110');
    assert.equal(readyStatus(node), 'True');
  });

  test('a Deployment with 2 replicas ends with 2 pods Running and Ready on kwok nodes', async () => {
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx:1.29' }] } },
        },
      },
    });
    const deployment = await waitFor(
      'deployment web to report 2 ready replicas',
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace: 'default', name: 'web' });
        return d.status?.readyReplicas === 2 ? d : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(deployment.status?.availableReplicas, 2);
    const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items;
    assert.equal(pods.length, 2);
    assert.deepEqual(pods.map(isReady), [true, true]);
    for (const pod of pods) assert.match(pod.spec?.nodeName ?? '', /^pool-a-[12]$/);
    for (const pod of pods) assert.match(pod.status?.podIP ?? '', /^10\.244\./);
  });

  test('a NotReady node gets the not-ready taints, its pods keep their status; back to Ready, untainted', async () => {
    const podsOn = async (node: string) =>
      (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web', fieldSelector: `spec.nodeName=${node}` })).items;
    const node = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items[0]?.spec?.nodeName ?? '';
    assert.match(node, /^pool-a-[12]$/);
    await cp.setNodeReady(node, false);
    assert.equal(readyStatus(await core.readNode({ name: node })), 'False');
    // The API server (TaintNodesByCondition) adds NoSchedule, the node lifecycle controller NoExecute.
    const taints = await waitFor(`both not-ready taints on ${node}`, async () => {
      const t = (await core.readNode({ name: node })).spec?.taints ?? [];
      return t.filter((x) => x.key === 'node.kubernetes.io/not-ready').length === 2 ? t : undefined;
    });
    assert.deepEqual(taints.map((t) => `${t.key}:${t.effect}`).sort(), [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/not-ready:NoSchedule',
    ]);
    // Like a kubelet reporting NotReady: the pods' own status is left alone.
    const pods = await podsOn(node);
    assert.ok(pods.length > 0);
    assert.deepEqual(pods.map(isReady), pods.map(() => true));
    await cp.setNodeReady(node, true);
    assert.equal(readyStatus(await core.readNode({ name: node })), 'True');
    await waitFor(`the not-ready taints to leave ${node}`, async () => ((await core.readNode({ name: node })).spec?.taints ?? []).length === 0);
  });

  test('a partitioned node goes Unknown and its pods NotReady; healed, both are Ready again', async () => {
    const node = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items[0]?.spec?.nodeName ?? '';
    const podsOn = async () =>
      (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web', fieldSelector: `spec.nodeName=${node}` })).items;
    const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const readLease = () => leases.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name: node });
    const live = await readLease();
    assert.ok(live.spec?.holderIdentity, 'kwok holds the node Lease');
    assert.equal(live.spec?.leaseDurationSeconds, cp.timing.nodeLeaseDurationSeconds);

    const frozen = await cp.partitionNode(node);
    const unknown = (await core.readNode({ name: node })).status?.conditions?.find((c) => c.type === 'Ready');
    // set by the node lifecycle controller, not by a kubelet
    assert.deepEqual([unknown?.status, unknown?.reason], ['Unknown', 'NodeStatusUnknown']);
    // Like a dead kubelet's: the same holder and duration, and not written since the partition
    // took hold, more than a grace period (five renew intervals) ago.
    const dead = await readLease();
    assert.deepEqual(
      [dead.spec?.holderIdentity, dead.spec?.leaseDurationSeconds, dead.metadata?.resourceVersion, millis(dead.spec?.renewTime)],
      [live.spec?.holderIdentity, live.spec?.leaseDurationSeconds, frozen.resourceVersion, frozen.renewTime?.getTime()],
    );
    await waitFor(`pods on ${node} marked NotReady`, async () => (await podsOn()).every((p) => !isReady(p)));
    const taints = await waitFor(`the unreachable taints on ${node}`, async () => {
      const t = (await core.readNode({ name: node })).spec?.taints ?? [];
      return t.length === 2 ? t : undefined;
    });
    assert.deepEqual(taints.map((t) => `${t.key}:${t.effect}`).sort(), [
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/unreachable:NoSchedule',
    ]);
    await cp.healNode(node);
    assert.equal(readyStatus(await core.readNode({ name: node })), 'True');
    const renewed = await readLease();
    assert.equal(renewed.spec?.holderIdentity, live.spec?.holderIdentity);
    assert.ok(millis(renewed.spec?.renewTime) > (frozen.renewTime?.getTime() ?? Infinity), 'renewed after the heal');
    const pods = await podsOn();
    assert.ok(pods.length > 0);
    assert.deepEqual(pods.map(isReady), pods.map(() => true));
  });

  test('a pod set NotReady keeps running and stays NotReady until set Ready again', async () => {
    const pod = (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items[0];
    const name = pod?.metadata?.name ?? '';
    await cp.setPodReady('default', name, false);
    const conditionsOf = async () => {
      const p = await core.readNamespacedPod({ namespace: 'default', name });
      const status = (type: string) => p.status?.conditions?.find((c) => c.type === type)?.status;
      return [p.status?.phase, status('Ready'), status('ContainersReady'), p.metadata?.uid];
    };
    assert.deepEqual(await conditionsOf(), ['Running', 'False', 'False', pod?.metadata?.uid]);
    // the Deployment controller sees it too (kwok did not set it back)
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    await waitFor('deployment web to count 1 ready replica', async () => (await apps.readNamespacedDeployment({ namespace: 'default', name: 'web' })).status?.readyReplicas === 1);
    assert.deepEqual(await conditionsOf(), ['Running', 'False', 'False', pod?.metadata?.uid]);
    await cp.setPodReady('default', name, true);
    assert.deepEqual(await conditionsOf(), ['Running', 'True', 'True', pod?.metadata?.uid]);
  });

  test('a deleted node is gone', async () => {
    await cp.addNode('pool-a-3', { dropletId: 1003 });
    await cp.deleteNode('pool-a-3');
    assert.equal(await apiStatus(core.readNode({ name: 'pool-a-3' })), 404);
    const names = (await core.listNode()).items.map((n) => n.metadata?.name).sort();
    assert.deepEqual(names, ['pool-a-1', 'pool-a-2']);
  });

  test('a service account runs with exactly the RBAC from deploy/', async () => {
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await cp.applyManifests('deploy/manifests/webhook-rbac.yaml');
    const kc = await cp.kubeConfigForServiceAccount('floatip-system', 'floatip-webhook');
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    assert.equal(review.status?.userInfo?.username, 'system:serviceaccount:floatip-system:floatip-webhook');
    const sa = kc.makeApiClient(CoreV1Api);
    // Outside anything the webhook needs: other namespaces' secrets, and nodes.
    assert.equal(await apiStatus(sa.listNamespacedSecret({ namespace: 'kube-system' })), 403);
    assert.equal(await apiStatus(sa.deleteNode({ name: 'pool-a-1' })), 403);
    assert.equal(await apiStatus(core.readNode({ name: 'pool-a-1' })), 200);
  });
});
