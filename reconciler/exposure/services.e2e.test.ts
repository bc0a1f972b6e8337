// The Service controller alone against the real kube-apiserver, as the floatip-reconciler
// service account with exactly the RBAC from deploy/manifests, its informers real; only the
// reserved IPs' holders (the IP controller's knowledge) are given by the test. Covers what
// the traffic e2e does not: IPv6, a user's externalIPs, every warning once, a Service that
// leaves the class, and beforeAssign's promise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { ApiException, CoreV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Event, V1Pod, V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { startControlPlane, waitFor } from '../../test/cluster/harness.ts';
import { readManifests } from '../../test/cluster/manifests.ts';
import type { ControlPlane } from '../../test/cluster/harness.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createKubernetesEventSink } from '../events.ts';
import { kubeClientOf } from '../../test/support/kube-client.ts';
import { createInformers, kubeInformerFactory } from '../informers.ts';
import type { Informers } from '../informers.ts';
import { createReconcilerMetrics } from '../metrics.ts';
import { createExposureMetrics } from './metrics.ts';
import type { HolderEntry } from '../model.ts';
import { createServiceController } from './service-controller.ts';
import type { ServiceController, ServiceControllerDeps } from './service-controller.ts';
import { workloadKey } from '../claims.ts';
import { createWorldIndex } from '../world-index.ts';
import { createRuntime } from '../runtime/runtime.ts';
import { createServiceWriter } from './service-writer.ts';

const KEYS = floatingIpKeys();
const CLASS = 'k8s.haim.dev/floating-ip';
const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';
const V4 = '104.248.100.100';
const V6 = '2604:a880:800:14::1000';
const NS = 'default';

describe('Service controller on the real API server', () => {
  let cp: ControlPlane;
  let admin: CoreV1Api;
  let informers: Informers;
  let controller: ServiceController;
  let holders: HolderEntry[] = [];
  const term = new AbortController();
  const runtime = createRuntime();
  const logs: Record<string, unknown>[] = [];

  const pod = (name: string, labels: Record<string, string>, annotation?: string): V1Pod => ({
    metadata: { name, namespace: NS, labels, ...(annotation ? { annotations: { [KEYS.annotation]: annotation } } : {}) },
    spec: { nodeName: 'pool-a-1', containers: [{ name: 'app', image: 'registry.invalid/app:1' }], automountServiceAccountToken: false },
  });
  const service = (name: string, app: string | undefined, ports: { protocol: string; port: number }[] = [{ protocol: 'UDP', port: 7777 }]): V1Service => ({
    metadata: { name, namespace: NS },
    spec: { type: 'LoadBalancer', loadBalancerClass: CLASS, allocateLoadBalancerNodePorts: false, ...(app ? { selector: { app } } : {}), ports: ports.map((p, i) => ({ name: `p${i}`, ...p })) },
  });
  const read = (name: string) => admin.readNamespacedService({ namespace: NS, name });
  const eventsOf = async (name: string): Promise<CoreV1Event[]> =>
    (await admin.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.kind=Service,involvedObject.name=${name}` })).items;
  // floatip's Warnings only (the API server's own repair loop may record one, e.g. ClusterIPNotAllocated)
  const warnings = async (name: string) => (await eventsOf(name)).filter((e) => e.type === 'Warning' && e.source?.component === 'floatip-reconciler').map((e) => [e.reason, e.message, e.count]);
  const setHolders = (list: [string, number | null, number?][]) => {
    holders = list.map(([ip, dropletId, movingTo]) => ({ ip, family: ip.includes(':') ? 6 : 4, dropletId, ...(movingTo === undefined ? {} : { movingTo }) }));
    controller.holdersChanged();
  };

  before(async () => {
    cp = await startControlPlane({ scheduler: false, controllerManager: false, kwok: false });
    admin = cp.kubeConfig.makeApiClient(CoreV1Api);
    await admin.createNamespace({ body: { metadata: { name: 'floatip-system' } } }).catch((err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    });
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    await Promise.all([cp.addNode('pool-a-1', { dropletId: 1001, ready: false }), cp.addNode('pool-a-2', { dropletId: 1002, ready: false }), cp.addNode('pool-a-3', { dropletId: 1003, ready: false })]);
    for (const [name, anchor] of [['pool-a-1', '10.20.0.11'], ['pool-a-2', '10.20.0.12']] as const) {
      await admin.patchNode({ name, body: { metadata: { annotations: { [ANCHOR_KEY]: anchor } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    }

    const kc = await cp.kubeConfigForServiceAccount('floatip-system', 'floatip-reconciler');
    const core = kc.makeApiClient(CoreV1Api);
    const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
    // The IP controller's claim view, its winners as plan() names them (the oldest workload).
    const index = createWorldIndex(KEYS);
    const claims: ServiceControllerDeps['claims'] = {
      podClaim: (p) => {
        const e = index.entry(p);
        return { ips: e.ips, ...(e.facts ? { workload: workloadKey(e.facts) } : {}) };
      },
      winner: (ip) => index.claims.workloads(ip)[0]?.key,
    };
    controller = createServiceController({
      runtime,
      world: { listServices: () => informers.listServices(), listPods: () => informers.listPods(), listNodes: () => informers.listNodes(), holders: () => holders },
      claims,
      writer: createServiceWriter(core),
      events: createKubernetesEventSink({ api: core, logger }),
      logger,
      metrics: createExposureMetrics(new Registry()),
      config: { annotation: KEYS.annotation, anchorAnnotation: ANCHOR_KEY, loadBalancerClass: CLASS, resyncIntervalMs: 60_000 },
    });
    informers = createInformers({
      factory: kubeInformerFactory(kubeClientOf(kc), KEYS.selector),
      namespaces: [],
      onPod: (p, old) => {
        index.podChanged(p, old);
        controller.podChanged(p, old);
      },
      onNode: () => controller.nodeChanged(),
      onService: (s, old) => controller.serviceChanged(s, old),
      metrics: createReconcilerMetrics(),
      logger,
    });
    informers.start();
    await informers.whenSynced();
    runtime.start({ signal: term.signal, valid: () => !term.signal.aborted });
  });
  after(async () => {
    term.abort();
    await runtime.stop();
    await informers?.stop();
    await cp?.stop();
  });

  // this API server is IPv4-only, like a DOKS cluster: a Service listing a reserved IPv6 says it is ignored there
  const NO_V6 = ['FloatingIPNoIPv6Family', `reserved IPv6 ${V6} is listed in spec.externalIPs, but this Service has only the IPv4 family: kube-proxy and Cilium ignore it. On a dual-stack cluster set ipFamilyPolicy: PreferDualStack; DOKS nodes have no IPv6, so there use a reserved IPv4`, 1];

  test('an IPv4 + IPv6 pool: the holder anchor and the reserved IPv6 itself; ingress both', async () => {
    setHolders([[V4, 1001], [V6, 1001]]);
    await admin.createNamespacedPod({ namespace: NS, body: pod('dual-1', { app: 'dual', [KEYS.label]: 'true' }, `${V4}, ${V6}`) });
    await admin.createNamespacedService({ namespace: NS, body: service('dual', 'dual') });
    const svc = await waitFor('externalIPs and ingress', async () => {
      const s = await read('dual');
      return s.status?.loadBalancer?.ingress?.length === 2 ? s : undefined;
    });
    assert.deepEqual(svc.spec?.externalIPs, ['10.20.0.11', V6]);
    assert.deepEqual(svc.status?.loadBalancer?.ingress?.map((i) => i.ip), [V4, V6]);
    assert.deepEqual(await warnings('dual'), [NO_V6]);
  });

  test('beforeAssign resolves once the target anchor is in the Service; the old one leaves when the holders show the move', async () => {
    assert.deepEqual(await controller.beforeAssign(V4, 1002, 5000, AbortSignal.timeout(10_000)), { kind: 'exposed' });
    assert.deepEqual((await read('dual')).spec?.externalIPs, ['10.20.0.11', '10.20.0.12', V6], 'read from the API server right after the promise');
    setHolders([[V4, 1002], [V6, 1001]]);
    // V6 still sits on 1001, but only V4 needed that droplet's anchor: 10.20.0.11 leaves
    await waitFor('only the new anchor', async () => (await read('dual')).spec?.externalIPs?.join() === `10.20.0.12,${V6}`);
  });

  test("a user's externalIPs are replaced with a warning naming the manager", async () => {
    const svc = await read('dual');
    await admin.replaceNamespacedService({ namespace: NS, name: 'dual', body: { ...svc, spec: { ...svc.spec, externalIPs: ['203.0.113.7'] } }, fieldManager: 'kubectl-edit' });
    await waitFor('floatip list back', async () => (await read('dual')).spec?.externalIPs?.join() === `10.20.0.12,${V6}`);
    assert.deepEqual((await warnings('dual')).filter((w) => w[0] !== NO_V6[0]), [
      ['FloatingIPExternalIPsOverwritten', 'spec.externalIPs 203.0.113.7 (set by kubectl-edit) replaced: floatip owns the externalIPs of Services of its class; remove them from your manifest', 1],
    ]);
  });

  test('warnings, each recorded once however often the Service is looked at', async () => {
    setHolders([[V4, 1003], [V6, 1001]]);
    await admin.createNamespacedPod({ namespace: NS, body: pod('plain-1', { app: 'plain' }) });
    await admin.createNamespacedService({ namespace: NS, body: service('noselector', undefined) });
    await admin.createNamespacedService({ namespace: NS, body: service('plain', 'plain') });
    await admin.createNamespacedService({ namespace: NS, body: service('sctp', 'dual', [{ protocol: 'UDP', port: 7777 }, { protocol: 'SCTP', port: 5000 }]) });
    const expected: Record<string, unknown[]> = {
      noselector: [['FloatingIPNoSelector', "Service has no selector: floatip exposes the reserved IPs that the Service's selected pods claim with annotation k8s.haim.dev/floating-ip", 1]],
      plain: [['FloatingIPNoAnnotation', 'the pods this Service selects carry no k8s.haim.dev/floating-ip annotation: add it to their pod template (e.g. "104.248.100.100")', 1]],
      sctp: [
        ['FloatingIPUnsupportedProtocol', "port SCTP/5000 ignored by floatip's DigitalOcean firewall, which opens only TCP and UDP", 1],
        ['FloatingIPNoAnchor', `node pool-a-3 (droplet 1003) has no ${ANCHOR_KEY} annotation: is the floatip agent running there? Traffic to ${V4} is not accepted on it until it is`, 1],
        NO_V6,
      ],
    };
    for (const [name, want] of Object.entries(expected)) {
      await waitFor(`the warnings of ${name}`, async () => {
        const got = await warnings(name);
        if (got.length !== want.length) throw new Error(JSON.stringify(got));
        return true;
      });
    }
    for (let i = 0; i < 3; i++) controller.nodeChanged(); // three more looks at every Service
    await waitFor('the next Service update', async () => (await read('sctp')).spec?.externalIPs?.join() === V6);
    for (const [name, want] of Object.entries(expected)) assert.deepEqual((await warnings(name)).sort(), [...want].sort(), name);
    assert.deepEqual((await read('noselector')).spec?.externalIPs, undefined);
  });

  test('the examples in deploy/examples are valid objects for the API server (dry run)', async () => {
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const files = (await readdir('deploy/examples')).filter((f) => f.endsWith('.yaml')).map((f) => `deploy/examples/${f}`);
    assert.ok(files.length >= 2, files.join());
    for (const file of files) {
      const docs = await readManifests(file);
      for (const obj of docs) await objects.create({ ...obj, metadata: { ...obj.metadata, namespace: NS } }, undefined, 'All');
      assert.ok(docs.length > 0, file);
    }
  });

  test('a Service that leaves the class (type ClusterIP) gets its externalIPs and ingress back', async () => {
    setHolders([[V4, 1001], [V6, 1001]]);
    await waitFor('dual exposed again', async () => (await read('dual')).spec?.externalIPs?.join() === `10.20.0.11,${V6}`);
    const svc = await read('dual');
    await admin.replaceNamespacedService({
      namespace: NS,
      name: 'dual',
      body: { ...svc, spec: { ...svc.spec, type: 'ClusterIP', loadBalancerClass: undefined, allocateLoadBalancerNodePorts: undefined } },
    });
    // the API server clears the load balancer status of a ClusterIP itself; floatip gives back what it owned
    const released = await waitFor('floatip to own nothing of it any more', async () => {
      const s = await read('dual');
      return (s.metadata?.managedFields ?? []).some((m) => m.manager === 'floatip') ? undefined : s;
    });
    assert.deepEqual([released.spec?.externalIPs, released.status?.loadBalancer?.ingress], [undefined, undefined]);
    assert.ok(logs.some((l) => l['msg'] === 'Service is no longer of floatip class; gave back its externalIPs and load balancer ingress' && l['service'] === `${NS}/dual`));
  });
});
