// Leader election and informer supervision against the real kube-apiserver, as the
// floatip-reconciler service account with exactly the RBAC from deploy/manifests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, AppsV1Api, CoordinationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { kubeClientOf } from '../test/support/kube-client.ts';
import { createLogger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import { createInformers, kubeInformerFactory } from './informers.ts';
import { createLeaderElector } from './leader.ts';
import type { LeaseApi } from './leader.ts';
import { createReconcilerMetrics } from './metrics.ts';

const NS = 'floatip-system';
const logger = createLogger({ level: 'silent' });

async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}

/** A lease client whose calls can be cut off, like a leader whose node lost the network. */
function cuttable(api: LeaseApi): { api: LeaseApi; cut: () => void } {
  let cut = false;
  const guard = <T>(call: () => Promise<T>) => (cut ? Promise.reject(new Error('network unreachable')) : call());
  return {
    cut: () => (cut = true),
    api: {
      readNamespacedLease: (p) => guard(() => api.readNamespacedLease(p)),
      createNamespacedLease: (p) => guard(() => api.createNamespacedLease(p)),
      replaceNamespacedLease: (p) => guard(() => api.replaceNamespacedLease(p)),
    },
  };
}

describe('reconciler against the real API server', () => {
  let cp: ControlPlane;
  let reconcilerKc: KubeConfig;
  let admin: CoordinationV1Api;

  before(async () => {
    cp = await startControlPlane({ scheduler: false, controllerManager: false, kwok: false });
    await ignoreConflict(cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } }));
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    reconcilerKc = await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
    admin = cp.kubeConfig.makeApiClient(CoordinationV1Api);
  });
  after(() => cp?.stop());

  function elector(name: string, identity: string, lease: { durationMs: number; renewDeadlineMs: number; retryPeriodMs: number }, api?: LeaseApi) {
    const events: string[] = [];
    const e = createLeaderElector({
      api: api ?? reconcilerKc.makeApiClient(CoordinationV1Api),
      name,
      namespace: NS,
      identity,
      leaseDurationMs: lease.durationMs,
      renewDeadlineMs: lease.renewDeadlineMs,
      retryPeriodMs: lease.retryPeriodMs,
      logger,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: () => {
        events.push('stopped');
      },
    });
    return { e, events };
  }
  const readLease = (name: string): Promise<V1Lease> => admin.readNamespacedLease({ name, namespace: NS });

  test('two electors: exactly one leads, the Lease names it, the other observes it', async () => {
    // the RBAC allows get/update on this one name only, so the tests use it in turn
    const name = 'floatip-reconciler';
    const timing = { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 };
    const a = elector(name, 'replica-a', timing);
    const b = elector(name, 'replica-b', timing);
    a.e.start();
    b.e.start();
    const leader = await waitFor('a leader', async () => (a.e.isLeader() ? a : b.e.isLeader() ? b : undefined));
    const standby = leader === a ? b : a;
    const leaderId = leader === a ? 'replica-a' : 'replica-b';
    await new Promise((resolve) => setTimeout(resolve, 1000)); // several renew rounds
    assert.equal(standby.e.isLeader(), false);
    assert.deepEqual(leader.events, ['started']);
    assert.deepEqual(standby.events, []);
    assert.equal(standby.e.observedLeader(), leaderId);
    const lease = await readLease(name);
    assert.equal(lease.spec?.holderIdentity, leaderId);
    assert.equal(lease.spec?.leaseDurationSeconds, 15);

    // release on stop: the standby takes over well before the 15 s lease could expire
    const released = Date.now();
    await leader.e.stop();
    assert.equal((await readLease(name)).spec?.holderIdentity, '');
    await waitFor('the standby to lead after the release', async () => standby.e.isLeader(), { timeoutMs: 5000, intervalMs: 20 });
    console.error(`# hand-over after release: ${Date.now() - released} ms`);
    assert.deepEqual(leader.events, ['started', 'stopped']);
    assert.equal((await readLease(name)).spec?.holderIdentity, standby === a ? 'replica-a' : 'replica-b');
    await standby.e.stop();
  });

  test('a leader cut off from the API server: the standby acquires only after expiry', async () => {
    const name = 'floatip-reconciler';
    const timing = { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
    const link = cuttable(reconcilerKc.makeApiClient(CoordinationV1Api));
    const a = elector(name, 'replica-c', timing, link.api);
    a.e.start();
    await waitFor('replica-c to lead', async () => a.e.isLeader());
    const b = elector(name, 'replica-d', timing);
    b.e.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    link.cut();
    const lastRenew = new Date(String((await readLease(name)).spec?.renewTime)).getTime();
    await waitFor('replica-d to lead', async () => b.e.isLeader(), { timeoutMs: 10_000, intervalMs: 20 });
    const lease = await readLease(name);
    const acquired = new Date(String(lease.spec?.acquireTime)).getTime();
    assert.equal(lease.spec?.holderIdentity, 'replica-d');
    assert.ok(acquired - lastRenew > 3000, `acquired ${acquired - lastRenew} ms after the last renew, before the lease expired`);
    await waitFor('replica-c to step down', async () => a.events.includes('stopped'));
    assert.equal(a.e.isLeader(), false);
    await a.e.stop();
    await b.e.stop();
  });

  test('someone else writing the Lease (a conflict on renew) does not cost leadership', async () => {
    const name = 'floatip-reconciler';
    const a = elector(name, 'replica-e', { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 });
    a.e.start();
    await waitFor('replica-e to lead', async () => a.e.isLeader());
    const before = await readLease(name);
    for (let i = 0; i < 3; i++) {
      const lease = await readLease(name);
      lease.metadata = { ...lease.metadata, annotations: { touched: String(i) } };
      await ignoreConflict(admin.replaceNamespacedLease({ name, namespace: NS, body: lease }));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const afterwards = await readLease(name);
    assert.equal(a.e.isLeader(), true);
    assert.deepEqual(a.events, ['started']);
    assert.equal(afterwards.spec?.holderIdentity, 'replica-e');
    assert.equal(afterwards.spec?.leaseTransitions, before.spec?.leaseTransitions);
    assert.notEqual(afterwards.spec?.renewTime, before.spec?.renewTime);
    await a.e.stop();
  });

  test('deploy/manifests/reconciler.yaml is accepted by the API server as written', async () => {
    await cp.applyManifests('deploy/manifests/reconciler.yaml');
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const d = await apps.readNamespacedDeployment({ name: 'floatip-reconciler', namespace: NS });
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    assert.equal(d.spec?.replicas, 2);
    assert.equal(pod?.serviceAccountName, 'floatip-reconciler');
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(c?.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c?.readinessProbe?.httpGet?.path, '/readyz');
    // the token is a mounted file from Secret digital-ocean-token, never an env variable
    assert.equal(c?.env?.find((e) => e.name === 'DIGITALOCEAN_TOKEN'), undefined);
    assert.equal(c?.env?.find((e) => e.name === 'DIGITALOCEAN_TOKEN_FILE')?.value, '/var/run/secrets/digitalocean/token');
    const tokenVolume = pod?.volumes?.find((v) => v.name === c?.volumeMounts?.find((m) => m.mountPath === '/var/run/secrets/digitalocean')?.name);
    assert.deepEqual([tokenVolume?.secret?.secretName, tokenVolume?.secret?.items?.map((i) => [i.key, i.path])], ['digital-ocean-token', [['token', 'token']]]);
    assert.equal(c?.env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  });

  test('informers: synced() turns true, only labeled pods are cached, and a 403 is survived by restarts', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const keys = floatingIpKeys();
    const pod = (name: string, labeled: boolean) => ({
      metadata: { name, namespace: 'default', labels: labeled ? { [keys.label]: 'true' } : {}, annotations: { [keys.annotation]: '104.248.100.100' } },
      spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }], automountServiceAccountToken: false },
    });
    await core.createNamespacedPod({ namespace: 'default', body: pod('labeled', true) });
    await core.createNamespacedPod({ namespace: 'default', body: pod('unlabeled', false) });

    // A service account without any RBAC yet: every list is answered 403.
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'late-rbac' } } });
    const kc = await cp.kubeConfigForServiceAccount(NS, 'late-rbac');
    const metrics = createReconcilerMetrics();
    const seen: string[] = [];
    const informers = createInformers({
      factory: kubeInformerFactory(kubeClientOf(kc), keys.selector),
      namespaces: [],
      onPod: (p, old) => seen.push(`${p ? 'pod' : 'deleted'} ${(p ?? old)?.metadata?.name}`),
      onNode: () => {},
      metrics,
      logger,
      backoff: { baseMs: 100, capMs: 400 },
    });
    informers.start();
    const restarts = async () => (await metrics.informerRestarts.get()).values.reduce((sum, v) => sum + v.value, 0);
    await waitFor('a restart after 403', async () => (await restarts()) >= 2);
    assert.equal(informers.synced(), false);

    // The fix arrives (as when RBAC is applied after the Deployment): the next restart syncs.
    const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'late-rbac' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'floatip-reconciler' },
        subjects: [{ kind: 'ServiceAccount', name: 'late-rbac', namespace: NS }],
      },
    });
    await waitFor('informers synced', async () => informers.synced(), { timeoutMs: 10_000 });
    assert.deepEqual(informers.listPods().map((p) => p.metadata?.name), ['labeled']);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'labeled', gracePeriodSeconds: 0 });
    await waitFor('the delete event', async () => seen.includes('deleted labeled'));
    // an update (deletionTimestamp set) may come between; the unlabeled pod never shows up
    assert.equal(seen[0], 'pod labeled');
    assert.equal(seen.at(-1), 'deleted labeled');
    assert.deepEqual(seen.filter((s) => s.includes('unlabeled')), []);
    await informers.stop();
    assert.equal(informers.synced(), false);
  });
});
