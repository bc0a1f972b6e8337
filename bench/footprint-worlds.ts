// The two worlds of the footprint benchmark, on the harness's real control plane with the
// DigitalOcean emulator. The 3-node world runs a default install: two webhook replicas
// (self-managed TLS), two reconciler replicas, an agent per node. The scale world runs one
// reconciler against 10,000 DOKS-shaped pods on 1,000 kwok nodes (500 IPs × 20 pods, as
// bench/scale.ts), every IP already on its oldest pod's droplet, so nothing waits for
// DigitalOcean's 250 requests/min. Each process is read after start-up has settled and
// again after its work: reviews, a failover, a resync, the agents' re-checks.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api, PatchStrategy, V1MicroTime, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { agentCredentials, applyAgentManifests, metadataUrlOf } from '../test/agent-fixture.ts';
import { NODE_LEASE_NAMESPACE, registerWebhooks, startControlPlane } from '../test/cluster/harness.ts';
import { freePort } from '../test/cluster/processes.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { RunningEmulator } from '../test/do-emulator/server.ts';
import { DEFAULT_CLUSTER_ID, doksWorkerTags } from '../test/do-emulator/world.ts';
import { loadFixture } from '../webhook/fixtures/reviews.ts';
import { generateLoopbackTls } from '../webhook/tls/certs.ts';
import { NO_LIMITS } from './decision.ts';
import { adminClient, pod, sleep, until } from './fixtures.ts';
import { startProcess } from './footprint-processes.ts';
import type { RunningProcess } from './footprint-processes.ts';
import { ipFor } from './memory.ts';
import { leaseJson, podJson } from './realistic-objects.ts';

const NS = 'floatip-system';
const TOKEN = 'footprint-token';
const KEYS = floatingIpKeys();
/** the reading: 15 s after start */
export const SETTLE_MS = 15_000;
/** short, so that resyncs (and agent re-checks) happen inside the work phase */
const RESYNC = '10s';
const AGENT_INTERVAL = '5s';
const REVIEWS_PER_REPLICA = 400;

export type Log = (s: string) => void;

const serviceAccountKubeconfig = async (cp: ControlPlane, name: string): Promise<string> => (await cp.kubeConfigForServiceAccount(NS, name)).exportConfig();

/** kubeconfig JSON in a file the process may read */
async function kubeconfigFile(dir: string, name: string, json: string): Promise<string> {
  const path = `${dir}/${name}.kubeconfig`;
  await writeFile(path, json, { mode: 0o600 });
  return path;
}

function postReview(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // the webhook's certificate names its Service, not 127.0.0.1: the benchmark only measures
    const req = request(url, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function webPod(name: string, nodeName: string, ageS: number): V1Pod {
  const p = pod(KEYS, { name, namespace: 'default', nodeName, ips: '104.248.100.100', workload: 'web', ageS });
  const tolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }));
  return { metadata: { ...p.metadata, uid: undefined, creationTimestamp: undefined, ownerReferences: undefined }, spec: { ...p.spec, automountServiceAccountToken: false, tolerations } } as V1Pod;
}

/** Fail the IP's holder node until the IP moves, then heal it. */
async function failover(cp: ControlPlane, emu: RunningEmulator, ip: string, nodeOf: (dropletId: number) => string, timeoutMs: number): Promise<void> {
  const admin = adminClient(emu.url);
  const holder = await until(`${ip} to have a holder`, async () => (await admin.holders())[ip] ?? undefined, timeoutMs, 200);
  await cp.setNodeReady(nodeOf(holder), false);
  await until(`${ip} to move off ${nodeOf(holder)}`, async () => {
    const now = (await admin.holders())[ip];
    return now != null && now !== holder;
  }, timeoutMs, 100);
  await cp.setNodeReady(nodeOf(holder), true);
}

function reconcilerEnv(emu: RunningEmulator, kubeconfig: string, podName: string): Record<string, string> {
  return { DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: emu.url, KUBECONFIG: kubeconfig, POD_NAME: podName, POD_NAMESPACE: NS };
}

const RECONCILER_ARGS = ['--health-port', '0', '--metrics-port', '0', '--resync-interval', RESYNC];
const synced = (l: Record<string, unknown>) => l['msg'] === 'informer caches synced; joining leader election';

const FLOOR_SCRIPT = fileURLToPath(new URL('./footprint-floor.js', import.meta.url));

/** Node's own floor, measured beside the install with the agent's flags (bench/footprint-floor.js). */
export interface Floor<P> {
  readonly idle: P;
  readonly https: P;
}

export interface ThreeNodeWorld {
  /** webhook ×2, reconciler ×2, agent ×3: what `helm install` starts on three nodes */
  readonly processes: RunningProcess[];
  /** Node's floor with the agent's flags: idle, and one HTTPS connection to the API server */
  readonly floor: Floor<RunningProcess>;
}

/** webhook ×2, reconciler ×2, agent ×3: what `helm install` starts on three nodes; and Node's floor beside them. */
export async function threeNodeWorld(dir: string, log: Log): Promise<ThreeNodeWorld> {
  log('footprint: 3-node world (control plane, emulator, manifests)');
  const [cp, emu] = await Promise.all([startControlPlane(), startEmulator({ token: TOKEN, actionDelayMs: 100 })]);
  const procs: RunningProcess[] = [];
  let floor: Floor<RunningProcess> | undefined;
  try {
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await cp.applyManifests('deploy/manifests/webhook-rbac.yaml');
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    await applyAgentManifests(cp);
    // the configurations whose caBundle the webhooks keep; Ignore: nothing here depends on them
    await registerWebhooks(cp, { url: 'https://127.0.0.1:9/', caBundlePem: generateLoopbackTls().caPem, failurePolicy: 'Ignore' });
    const nodes = [1001, 1002, 1003].map((dropletId, i) => ({ name: `pool-a-${i + 1}`, dropletId }));
    await Promise.all(nodes.map((n) => cp.addNode(n.name, { dropletId: n.dropletId })));
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedPod({ namespace: 'default', body: webPod('web-1', 'pool-a-1', 200) });
    await core.createNamespacedPod({ namespace: 'default', body: webPod('web-2', 'pool-a-2', 100) });

    log('footprint: starting webhook ×2, reconciler ×2, agent ×3 (dist/, chart node flags)');
    const webhookKc = await kubeconfigFile(dir, 'webhook', await serviceAccountKubeconfig(cp, 'floatip-webhook'));
    const webhookArgs = ['--self-signed-tls', '--port', '0', '--namespace', NS];
    const webhooks: RunningProcess[] = [];
    // one after the other: the first creates the TLS Secret, the second finds it (a restart's case)
    for (const n of ['a', 'b']) {
      const w = startProcess(`webhook-${n}`, 'webhook', webhookArgs, { KUBECONFIG: webhookKc, POD_NAMESPACE: NS });
      procs.push(w);
      webhooks.push(w);
      await w.line('webhook ready', (l) => l['msg'] === 'webhook ready');
    }
    const reconcilerKc = await kubeconfigFile(dir, 'reconciler', await serviceAccountKubeconfig(cp, 'floatip-reconciler'));
    for (const n of ['a', 'b']) procs.push(startProcess(`reconciler-${n}`, 'reconciler', RECONCILER_ARGS, reconcilerEnv(emu, reconcilerKc, `floatip-reconciler-${n}`)));
    // the agents answer indirect liveness probes, as the chart runs them: a key, a port each
    const keyFile = `${dir}/liveness-key`;
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    for (const n of nodes) {
      // credentials bound to the DaemonSet's pod on that node, as JSON (what a pod reads needs no YAML parser)
      const kc = await kubeconfigFile(dir, `agent-${n.name}`, (await agentCredentials(cp, n.name)).kubeConfig.exportConfig());
      const probes = { FLOATIP_LIVENESS_KEY_FILE: keyFile, FLOATIP_LIVENESS_PORT: String(await freePort()), HOST_IP: '127.0.0.1' };
      procs.push(startProcess(`agent-${n.name}`, 'agent', ['--node-name', n.name, '--metadata-url', metadataUrlOf(emu.url, n.dropletId), '--interval', AGENT_INTERVAL], { KUBECONFIG: kc, ...probes }));
    }
    const floorKc = await kubeconfigFile(dir, 'floor', (await agentCredentials(cp, nodes[0]?.name ?? '')).kubeConfig.exportConfig());
    floor = {
      idle: startProcess('node idle', 'agent', ['--idle'], {}, FLOOR_SCRIPT),
      https: startProcess('node + 1 HTTPS conn.', 'agent', [`/api/v1/nodes/${nodes[0]?.name ?? ''}`], { KUBECONFIG: floorKc }, FLOOR_SCRIPT),
    };
    const references = [floor.idle, floor.https];
    await Promise.all(references.map((p) => p.line('floor ready', (l) => l['msg'] === 'floor ready')));
    await Promise.all(procs.filter((p) => p.component === 'reconciler').map((p) => p.line('informers synced', synced)));
    await Promise.all(procs.filter((p) => p.component === 'agent').map((p) => p.line('anchor recorded', (l) => typeof l['anchor'] === 'string')));
    await Promise.all(procs.filter((p) => p.component === 'agent').map((p) => p.line('probe endpoint', (l) => l['msg'] === 'answering indirect liveness probes')));
    await sleep(SETTLE_MS);
    for (const p of [...procs, ...references]) p.measure('startup');

    log(`footprint: work — ${REVIEWS_PER_REPLICA} reviews per webhook replica, a failover, a resync, agent re-checks every ${AGENT_INTERVAL}`);
    const review = JSON.stringify(loadFixture('pod-create-from-replicaset'));
    for (const w of webhooks) {
      const url = String((await w.line('webhook ready', (l) => l['msg'] === 'webhook ready'))['url']);
      for (let i = 0; i < REVIEWS_PER_REPLICA; i++) {
        const status = await postReview(`${url}/${i % 2 === 0 ? 'validate' : 'mutate'}`, review);
        if (status !== 200) throw new Error(`benchmark: ${w.name} answered a review with ${status}`);
      }
    }
    await failover(cp, emu, '104.248.100.100', (id) => `pool-a-${id - 1000}`, 60_000);
    await sleep(12_000); // one resync interval and a bit: the resync has run
    for (const p of [...procs, ...references]) p.measure('work');
    return { processes: procs, floor };
  } finally {
    await Promise.all([...procs, ...(floor ? [floor.idle, floor.https] : [])].map((p) => p.stop()));
    await emu.close();
    await cp.stop();
  }
}

export const SCALE = { ips: 500, podsPerIp: 20, nodes: 1000 } as const;

/** run `fn` over `items`, `width` at a time */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

/**
 * One reconciler (the leader) at 10,000 pods on 1,000 nodes. No kwok, controller-manager or
 * scheduler: on a loaded machine kwok cannot keep a thousand nodes Ready. The benchmark plays
 * the kubelets itself — it writes each node Ready and each pod's DOKS-shaped status once, and
 * renews node Leases (20 a second; a Lease lasts an hour here, so a slow renewal is never a
 * heartbeat failure).
 */
export async function scaleWorld(dir: string, log: Log): Promise<RunningProcess> {
  const { ips, podsPerIp, nodes } = SCALE;
  log(`footprint: scale world — ${ips * podsPerIp} pods on ${nodes} nodes (control plane without kwok, emulator)`);
  const nodeName = (i: number) => `pool-b-${i + 1}`;
  const dropletOf = (i: number) => 2001 + i;
  const [cp, emu] = await Promise.all([
    startControlPlane({ scheduler: false, controllerManager: false, kwok: false }),
    startEmulator({
      token: TOKEN,
      actionDelayMs: 100,
      state: {
        region: 'nyc3',
        droplets: Array.from({ length: nodes }, (_, i) => ({ id: dropletOf(i), name: nodeName(i), tags: doksWorkerTags(DEFAULT_CLUSTER_ID) })),
        // IP w's oldest pod runs on node w: every IP starts where it belongs
        reservedIps: Array.from({ length: ips }, (_, w) => ({ ip: ipFor(w), dropletId: dropletOf(w) })),
        rateLimit: NO_LIMITS,
      },
    }),
  ]);
  let reconciler: RunningProcess | undefined;
  let renewer: NodeJS.Timeout | undefined;
  try {
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const t0 = Date.now();
    await inBatches(Array.from({ length: nodes }, (_, i) => i), 16, async (i) => {
      await cp.addNode(nodeName(i), { dropletId: dropletOf(i) });
      await cp.setNodeReady(nodeName(i), true);
      // the not-ready taint the API server puts on a new node; the node controller would lift it
      await core.patchNode({ name: nodeName(i), body: { spec: { taints: [] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      const lease = leaseJson(nodeName(i), i, Date.now());
      await leases.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body: { metadata: { name: nodeName(i) }, spec: { ...(lease['spec'] as object), leaseDurationSeconds: 3600, renewTime: new V1MicroTime() } } });
    });
    log(`footprint: ${nodes} nodes Ready with their Leases in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const namespaces = Array.from({ length: 10 }, (_, i) => `team-${i}`);
    for (const name of namespaces) {
      await core.createNamespace({ body: { metadata: { name } } });
      await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
    }
    const step = Math.floor(nodes / podsPerIp);
    const t1 = Date.now();
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    // the oldest pods (k = 0) first: the API server's creation time then says who is oldest
    const order = Array.from({ length: ips * podsPerIp }, (_, i) => (i % ips) * podsPerIp + Math.floor(i / ips));
    await inBatches(order, 32, async (seq) => {
      const w = Math.floor(seq / podsPerIp);
      const k = seq % podsPerIp;
      const n = (w + k * step) % nodes;
      const json = podJson(KEYS, { name: `app-${w}-7c9f8d6b5-${k.toString(36).padStart(5, '0')}`, namespace: `team-${w % 10}`, nodeName: nodeName(n), nodeIp: `10.20.${n >> 8}.${n & 255}`, ips: ipFor(w), workload: `app-${w}`, ageS: 10_000 - k, seq });
      const meta = json['metadata'] as Record<string, unknown>;
      // what the API server sets itself; no owner (the garbage collector would delete pods of a missing ReplicaSet)
      for (const key of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'ownerReferences', 'generateName']) delete meta[key];
      const { status, ...pod } = json;
      const name = String(meta['name']);
      const namespace = String(meta['namespace']);
      await core.createNamespacedPod({ namespace, body: pod as V1Pod });
      // the kubelet's report: running and Ready, with DOKS-shaped container statuses
      await core.patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch);
    });
    log(`footprint: ${ips * podsPerIp} pods created and reported Ready in ${((Date.now() - t1) / 1000).toFixed(0)} s`);

    let next = 0;
    renewer = setInterval(() => {
      for (let b = 0; b < 20; b++, next = (next + 1) % nodes) {
        void leases.patchNamespacedLease({ name: nodeName(next), namespace: NODE_LEASE_NAMESPACE, body: { spec: { renewTime: new V1MicroTime() } } }, mergePatch).catch(() => undefined);
      }
    }, 1_000);
    const kc = await kubeconfigFile(dir, 'reconciler-scale', await serviceAccountKubeconfig(cp, 'floatip-reconciler'));
    reconciler = startProcess('reconciler-scale', 'reconciler', RECONCILER_ARGS, reconcilerEnv(emu, kc, 'floatip-reconciler-scale'));
    await reconciler.line('informers synced', synced, 180_000);
    await sleep(SETTLE_MS);
    reconciler.measure('startup');
    log('footprint: scale world — a failover and a resync');
    // a failover that does not happen is reported, not fatal: the memory is still read
    await failover(cp, emu, ipFor(1), (id) => nodeName(id - 2001), 120_000).catch((err: unknown) => {
      log(`footprint: scale world — ${(err as Error).message}; last reconciler lines: ${JSON.stringify(reconciler?.lines.slice(-3))}`);
    });
    await sleep(12_000);
    reconciler.measure('work');
    return reconciler;
  } finally {
    clearInterval(renewer);
    await reconciler?.stop();
    await emu.close();
    await cp.stop();
  }
}
