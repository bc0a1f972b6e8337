// End-to-end failover on the real control plane, as the demo measures it: the reconciler
// process (startReconciler, in this process, informers and leader election included) with
// the emulator; the node holding the IP is deleted through the API. The controller-manager
// runs because its node lifecycle controller lifts the not-ready taint new nodes start with.
//
// Instants, all on this process's performance.now():
//   t0 = just before the DELETE of the holder's Node is sent to the API server (its answer
//        is timed too: the informers see the deletion only once it is stored);
//   t1 = the emulator's server receives the assign POST (diagnostics channel, as in decision.ts);
//   t2 = the emulator shows the new holder: its action completed (admin /holders polled every
//        5 ms, so t2 is late by at most one poll plus one loopback round trip).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { createLogger } from '../shared/logger.ts';
import { parseConfig } from '../reconciler/config.ts';
import { startReconciler } from '../reconciler/main.ts';
import type { RunningReconciler } from '../reconciler/main.ts';
import { startControlPlane } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { RunningEmulator } from '../test/do-emulator/server.ts';
import { DEFAULT_CLUSTER_ID, doksWorkerTags } from '../test/do-emulator/world.ts';
import { adminClient, isAssignRequest, pod, portOf, until, watchServerRequests } from './fixtures.ts';
import type { ReceivedRequest } from './fixtures.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

export interface E2eOptions {
  readonly iterations: number;
  readonly actionDelayMs: number;
  /** the reconciler's log level (its lines go to stderr) */
  readonly logLevel: 'warn' | 'info' | 'debug';
}

export interface E2eResult {
  /** node DELETE sent → the API server's answer (part of the next figure) */
  readonly deleteAnsweredMs: Summary;
  /** node DELETE sent → assign request received by the emulator */
  readonly toAssignRequestMs: Summary;
  /** node DELETE sent → the emulator's action completed (the demo's figure) */
  readonly toActionCompletedMs: Summary;
  readonly controlPlaneStartMs: number;
}

const IP = '104.248.100.100';
const NS = 'default';


function webPod(name: string, nodeName: string, ageS: number): V1Pod {
  const p = pod(floatingIpKeys(), { name, namespace: NS, nodeName, ips: IP, workload: 'web', ageS });
  // The tolerations a real cluster adds by default (DefaultTolerationSeconds): without them
  // the node lifecycle controller evicts the pod if it sees the new node NotReady once.
  const tolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }));
  // The API server sets uid and creationTimestamp; kwok runs the pod and reports it Ready.
  // No ownerReferences: the garbage collector deletes dependents of a ReplicaSet that does
  // not exist. Pods without an owner and with the same annotation value form one workload.
  return { metadata: { ...p.metadata, uid: undefined, creationTimestamp: undefined, ownerReferences: undefined }, spec: { ...p.spec, automountServiceAccountToken: false, tolerations } } as V1Pod;
}

/** completed moves in the reconciler's own metrics (the first placement counts as one) */
async function movesOf(r: RunningReconciler): Promise<number> {
  const values = (await r.metrics.moves.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function podReady(core: CoreV1Api, name: string): Promise<boolean> {
  const p = await core.readNamespacedPod({ namespace: NS, name });
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function addWorker(cp: ControlPlane, emu: RunningEmulator, core: CoreV1Api, i: number): Promise<[string, number]> {
  const name = `pool-b-${i}`;
  const dropletId = 2000 + i;
  await adminClient(emu.url).call('POST', '/droplets', { id: dropletId, name, tags: doksWorkerTags(DEFAULT_CLUSTER_ID) });
  await cp.addNode(name, { dropletId });
  await core.createNamespacedPod({ namespace: NS, body: webPod(`web-${i}`, name, 1000 - i) });
  await until(`pod web-${i} Ready`, () => podReady(core, `web-${i}`), 30_000, 50);
  return [name, dropletId];
}

export async function benchEndToEnd(opts: E2eOptions): Promise<E2eResult> {
  const started = performance.now();
  const [cp, emu] = await Promise.all([startControlPlane({ scheduler: false }), startEmulator({ actionDelayMs: opts.actionDelayMs })]);
  const controlPlaneStartMs = performance.now() - started;
  const admin = adminClient(emu.url);
  const received: ReceivedRequest[] = [];
  const unwatch = watchServerRequests(portOf(emu.url), (r) => received.push(r));
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  let reconciler: RunningReconciler | undefined;
  const toRequest: number[] = [];
  const toCompleted: number[] = [];
  const answered: number[] = [];
  try {
    await core.createNamespace({ body: { metadata: { name: 'floatip-system' } } }).catch((err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    });
    // Every worker exists before the reconciler starts: a pod created while the
    // controller-manager's pod GC sweeps the pods of a deleted node was seen to vanish.
    const workers = new Map<number, string>(); // droplet → node name
    const ids = Array.from({ length: opts.iterations + 2 }, (_, i) => i + 1);
    for (const [name, id] of await Promise.all(ids.map((i) => addWorker(cp, emu, core, i)))) workers.set(id, name);
    // The process's defaults (cool-off, lease timings, action wait), only the ports are free.
    const parsed = parseConfig({
      argv: ['--health-port', '0', '--metrics-port', '0', '--log-level', opts.logLevel],
      env: { DIGITALOCEAN_TOKEN: 'bench-token', DIGITALOCEAN_API_URL: emu.url, KUBECONFIG: cp.kubeconfigPath, POD_NAME: 'bench' },
      readFile: (path) => readFileSync(path, 'utf8'),
      hostname: 'bench',
    });
    if (parsed.kind !== 'ok') throw new Error(`benchmark: reconciler config: ${parsed.kind === 'error' ? parsed.message : 'help'}`);
    const logger = createLogger({ level: opts.logLevel, name: 'bench-reconciler' }, process.stderr);
    reconciler = await startReconciler(parsed.config, { kubeConfig: cp.kubeConfig, logger });
    const running = reconciler;
    await until(`${IP} assigned`, async () => (await movesOf(running)) >= 1, 60_000, 20);
    let holder = await until(`${IP} holder`, async () => (await admin.holders())[IP] ?? undefined, 1_000);

    for (let i = 0; i < opts.iterations; i++) {
      const lost = workers.get(holder);
      if (!lost) throw new Error(`benchmark: holder ${holder} is not a worker`);
      received.length = 0;
      const t0 = performance.now();
      await core.deleteNode({ name: lost });
      answered.push(performance.now() - t0);
      const moved = await until('the IP to move', async () => {
        const now = (await admin.holders())[IP];
        return now !== undefined && now !== null && now !== holder ? now : undefined;
      }, 30_000, 5);
      const t2 = performance.now();
      const post = received.find((r) => isAssignRequest(r) && r.at >= t0);
      if (!post) throw new Error('benchmark: the IP moved without an assign request');
      toRequest.push(post.at - t0);
      toCompleted.push(t2 - t0);
      workers.delete(holder);
      holder = moved;
      // The next deletion waits until the reconciler itself saw the action complete (its
      // client polls the action after 500 ms): the IP's work item is busy until then, and a
      // second loss inside that window is a different measurement.
      const r = reconciler;
      await until('the reconciler to record the move', async () => (await movesOf(r)) >= i + 2, 30_000, 10);
    }
  } finally {
    unwatch();
    await reconciler?.stop();
    await emu.close();
    await cp.stop();
  }
  return { deleteAnsweredMs: summarize(answered), toAssignRequestMs: summarize(toRequest), toActionCompletedMs: summarize(toCompleted), controlPlaneStartMs };
}
