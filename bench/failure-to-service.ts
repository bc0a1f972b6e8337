// Failure to service, on the real control plane with the controller-manager at upstream
// timing (--node-monitor-grace-period 50 s): how long after a failure of the IP's holder the
// emulator shows the IP on a healthy droplet, with heartbeat detection on (the default) and
// off (--no-heartbeat-failover). Three failures:
//   partition  the holder's kubelet falls silent (a droplet that crashes, loses power or
//              network: partitionNode); without heartbeats only the node controller's
//              NotReady, a grace period later, tells anyone;
//   deletion   the holder's Node is deleted (kubectl delete node, the autoscaler);
//   pod        the holder's pod turns NotReady (a failing readiness probe).
// Instants on this process's performance.now(): t0 just before the failure is caused (for a
// partition: once partitionNode has seen kwok's writes refused, within 20 ms), t1 when the
// emulator's holder has changed (polled every 5 ms; the action takes actionDelayMs). For
// partitions the instant the node controller marked the node NotReady is recorded too, when
// it happened before the IP moved (polled every 100 ms).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { createLogger } from '../shared/logger.ts';
import { parseConfig } from '../reconciler/config.ts';
import { startReconciler } from '../reconciler/main.ts';
import type { RunningReconciler } from '../reconciler/main.ts';
import { readyStatus, startControlPlane, UPSTREAM_NODE_MONITOR_GRACE_MS } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { RunningEmulator } from '../test/do-emulator/server.ts';
import { DEFAULT_CLUSTER_ID, doksWorkerTags } from '../test/do-emulator/world.ts';
import { adminClient, pod, until } from './fixtures.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

export const FAILURES = ['partition', 'deletion', 'pod'] as const;
export type Failure = (typeof FAILURES)[number];
export type Mode = 'on' | 'off';

export interface FailureOptions {
  /** failures of each kind, per mode */
  readonly iterations: number;
  readonly actionDelayMs: number;
  readonly logLevel: 'warn' | 'info' | 'debug';
}

export interface FailureResult {
  /** failure caused → IP on a healthy droplet, per mode; `off` is missing when the reconciler has no --no-heartbeat-failover */
  readonly toServiceMs: Partial<Record<Mode, Record<Failure, Summary>>>;
  /** partition → the node controller marked the node NotReady (the partitions that lasted that long) */
  readonly nodeNotReadyMs: Summary;
  readonly nodeMonitorGracePeriodMs: number;
  readonly offUnsupported?: string;
}

const IP = '104.248.100.100';
const NS = 'default';
const OFF_FLAG = '--no-heartbeat-failover';

function failPod(name: string, nodeName: string): V1Pod {
  const p = pod(floatingIpKeys(), { name, namespace: NS, nodeName, ips: IP, workload: 'fail', ageS: 0 });
  // DefaultTolerationSeconds, as a real cluster adds: an unreachable node's pods stay 300 s.
  const tolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }));
  // No owner: pods with the same annotation value form one workload; the API server sets uid and age.
  return { metadata: { ...p.metadata, uid: undefined, creationTimestamp: undefined, ownerReferences: undefined }, spec: { ...p.spec, automountServiceAccountToken: false, tolerations } } as V1Pod;
}

async function movesOf(r: RunningReconciler): Promise<number> {
  return (await r.metrics.moves.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** The process's defaults plus `flags`; an error string when the reconciler rejects them. */
function reconcilerConfig(cp: ControlPlane, emu: RunningEmulator, logLevel: string, flags: readonly string[]) {
  return parseConfig({
    argv: ['--health-port', '0', '--metrics-port', '0', '--log-level', logLevel, ...flags],
    env: { DIGITALOCEAN_TOKEN: 'bench-token', DIGITALOCEAN_API_URL: emu.url, KUBECONFIG: cp.kubeconfigPath, POD_NAME: 'bench' },
    readFile: (path) => readFileSync(path, 'utf8'),
    hostname: 'bench',
  });
}

export async function benchFailureToService(opts: FailureOptions): Promise<FailureResult> {
  const grace = UPSTREAM_NODE_MONITOR_GRACE_MS;
  const [cp, emu] = await Promise.all([
    startControlPlane({ scheduler: false, nodeMonitorGracePeriodMs: grace }),
    startEmulator({ actionDelayMs: opts.actionDelayMs }),
  ]);
  const admin = adminClient(emu.url);
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const logger = createLogger({ level: opts.logLevel, name: 'bench-reconciler' }, process.stderr);
  let reconciler: RunningReconciler | undefined;
  const toService: Partial<Record<Mode, Record<Failure, number[]>>> = {};
  const notReady: number[] = [];
  let offUnsupported: string | undefined;
  try {
    await core.createNamespace({ body: { metadata: { name: 'floatip-system' } } }).catch((err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    });
    // Every worker exists before the reconciler starts (see e2e.ts): 3 that stay, and one per
    // deletion. Node i runs pod fail-i on droplet 3000+i.
    const workers = 3 + 2 * opts.iterations;
    const byDroplet = new Map<number, { node: string; pod: string }>();
    await Promise.all(
      Array.from({ length: workers }, async (_, i) => {
        const node = `pool-c-${i + 1}`;
        const dropletId = 3001 + i;
        await admin.call('POST', '/droplets', { id: dropletId, name: node, tags: doksWorkerTags(DEFAULT_CLUSTER_ID) });
        await cp.addNode(node, { dropletId });
        await core.createNamespacedPod({ namespace: NS, body: failPod(`fail-${i + 1}`, node) });
        byDroplet.set(dropletId, { node, pod: `fail-${i + 1}` });
      }),
    );
    await until('every pod Ready', async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS })).items;
      return pods.length === workers && pods.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 60_000, 100);

    const holderNow = async () => (await admin.holders())[IP] ?? undefined;
    let recorded = 0; // moves the running reconciler has completed

    /** causes `failure` on the holder, returns t1 - t0, and puts the world back (heal, re-ready) */
    async function once(r: RunningReconciler, failure: Failure): Promise<number> {
      const holder = await until(`${IP} holder`, holderNow, 5_000);
      const lost = byDroplet.get(holder);
      if (!lost) throw new Error(`benchmark: holder ${holder} is not a worker`);
      let t0 = performance.now();
      let markedAt: number | undefined;
      let watching = true;
      if (failure === 'partition') {
        await cp.partitionNode(lost.node, { awaitUnknown: false });
        t0 = performance.now();
        void (async () => {
          while (watching && markedAt === undefined) {
            const status = await core.readNode({ name: lost.node }).then(readyStatus, () => undefined);
            if (status === 'Unknown') markedAt = performance.now();
            else await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
      } else if (failure === 'deletion') {
        await core.deleteNode({ name: lost.node });
      } else {
        await cp.setPodReady(NS, lost.pod, false);
      }
      const moved = await until('the IP to move', async () => {
        const now = await holderNow();
        return now !== undefined && now !== holder ? now : undefined;
      }, grace + 30_000, 5);
      const t1 = performance.now();
      watching = false;
      if (markedAt !== undefined) notReady.push(markedAt - t0);
      if (!byDroplet.has(moved)) throw new Error(`benchmark: ${IP} moved to droplet ${moved}, no worker`);
      // The next failure waits until the reconciler itself saw the action complete: the IP's
      // work item is busy until then, and a second loss inside that window measures another thing.
      recorded++;
      await until('the reconciler to record the move', async () => (await movesOf(r)) >= recorded, 30_000, 10);
      if (failure === 'partition') await cp.healNode(lost.node);
      else if (failure === 'deletion') byDroplet.delete(holder);
      else await cp.setPodReady(NS, lost.pod, true);
      return t1 - t0;
    }

    for (const mode of ['on', 'off'] as const) {
      const parsed = reconcilerConfig(cp, emu, opts.logLevel, mode === 'off' ? [OFF_FLAG] : []);
      if (parsed.kind !== 'ok') {
        if (mode === 'on') throw new Error(`benchmark: reconciler config: ${parsed.kind === 'error' ? parsed.message : 'help'}`);
        offUnsupported = `the reconciler rejects ${OFF_FLAG}: ${parsed.kind === 'error' ? parsed.message : 'help'}`;
        break;
      }
      reconciler = await startReconciler(parsed.config, { kubeConfig: cp.kubeConfig, logger });
      const r = reconciler;
      await until(`reconciler (heartbeat ${mode}) to lead`, async () => r.isLeader(), 30_000, 20);
      recorded = await movesOf(r);
      if ((await holderNow()) === undefined) {
        recorded++;
        await until(`${IP} assigned`, async () => (await movesOf(r)) >= recorded, 60_000, 20);
      }
      const samples: Record<Failure, number[]> = { partition: [], deletion: [], pod: [] };
      for (const failure of FAILURES) for (let i = 0; i < opts.iterations; i++) samples[failure].push(await once(r, failure));
      toService[mode] = samples;
      await r.stop();
      reconciler = undefined;
    }
  } finally {
    await reconciler?.stop();
    await emu.close();
    await cp.stop();
  }
  const summaries = (s: Record<Failure, number[]>) => Object.fromEntries(FAILURES.map((f) => [f, summarize(s[f])])) as Record<Failure, Summary>;
  return {
    toServiceMs: Object.fromEntries(Object.entries(toService).map(([mode, s]) => [mode, summaries(s)])),
    nodeNotReadyMs: summarize(notReady),
    nodeMonitorGracePeriodMs: grace,
    ...(offUnsupported ? { offUnsupported } : {}),
  };
}
