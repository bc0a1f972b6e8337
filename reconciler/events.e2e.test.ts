// The Event sink against the real kube-apiserver, as the floatip-reconciler service account
// with exactly the RBAC from deploy/manifests: create, then aggregate with a merge patch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startControlPlane } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { createLogger } from '../shared/logger.ts';
import { createKubernetesEventSink } from './events.ts';

let cp: ControlPlane;
let pod: V1Pod;
let sink: ReturnType<typeof createKubernetesEventSink>;
const logs: Record<string, unknown>[] = [];

before(async () => {
  cp = await startControlPlane({ scheduler: false, controllerManager: false, kwok: false });
  const admin = cp.kubeConfig.makeApiClient(CoreV1Api);
  try {
    await admin.createNamespace({ body: { metadata: { name: 'floatip-system' } } });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
  await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
  pod = await admin.createNamespacedPod({
    namespace: 'default',
    body: { metadata: { name: 'web-1' }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
  });
  const kc = await cp.kubeConfigForServiceAccount('floatip-system', 'floatip-reconciler');
  const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
  sink = createKubernetesEventSink({ api: kc.makeApiClient(CoreV1Api), logger, instance: 'floatip-reconciler-0' });
});
after(() => cp?.stop());

test('events e2e: a repeated Event is one object with a count, a new message is a new object', async () => {
  const e = { pod, type: 'Warning' as const, reason: 'FloatingIPUnplaced', message: 'Reserved IP 104.248.100.100: no eligible pod' };
  await sink.record(e);
  await sink.record(e);
  await sink.record({ ...e, type: 'Normal', reason: 'FloatingIPAssigned', message: 'Reserved IP 104.248.100.100 assigned to droplet 1001' });
  assert.deepEqual(logs, []);
  const list = await cp.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.uid=${pod.metadata?.uid}` });
  const seen = list.items
    .map((ev) => [ev.type, ev.reason, ev.count, ev.source?.component, ev.reportingComponent, ev.involvedObject.name])
    .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  assert.deepEqual(seen, [
    ['Normal', 'FloatingIPAssigned', 1, 'floatip-reconciler', 'floatip-reconciler', 'web-1'],
    ['Warning', 'FloatingIPUnplaced', 2, 'floatip-reconciler', 'floatip-reconciler', 'web-1'],
  ]);
});
