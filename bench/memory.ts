// Memory and resync cost at scale: a controller tracking many pods and IPs (a WorldSource of
// plain arrays, as the informer caches hold them) against the emulator seeded with as many
// reserved IPs and droplets.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { floatingIpKeys } from '../shared/keys.ts';
import { createController } from '../reconciler/ip/controller.ts';
import { createReconcilerMetrics } from '../reconciler/metrics.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { EmulatorSeed } from '../test/do-emulator/server.ts';
import { NO_LIMITS, benchClient, quietLogger } from './decision.ts';
import { adminClient, isAssignRequest, node, pod, portOf, routeOf, sleep, until, watchServerRequests } from './fixtures.ts';
import type { ReceivedRequest } from './fixtures.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

export interface MemoryOptions {
  readonly ips: number;
  readonly podsPerIp: number;
  readonly nodes: number;
  readonly actionDelayMs: number;
  /** single-IP failovers measured in the large world, after the resync */
  readonly scaleFailovers: number;
}

export interface MemoryResult {
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** heap held by the pod and node objects themselves (what the informer caches would hold) */
  readonly worldHeapMiB: number;
  /** heap added by the controller, client and metrics once every IP is placed */
  readonly trackingHeapMiB: number;
  /** first placement of every IP, from start() to the last FloatingIPAssigned event */
  readonly initialPlacementMs: number;
  /** resyncNow(): the paginated list and marking every IP dirty */
  readonly resyncListMs: number;
  /** resyncNow() until every IP has been re-planned (no move expected) */
  readonly resyncAllMs: number;
  readonly resyncCalls: Readonly<Record<string, number>>;
  readonly resyncWrites: number;
  /** decision latency (as in decision.ts) of one IP's failover among all the others */
  readonly scaleDecisionMs: Summary;
}

const MiB = 1024 * 1024;
const SCALE_SETTLE_MS = 250;

/** `gc()` without `--expose-gc` on the command line (`npm run bench` passes no node flags). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): NodeJS.MemoryUsage {
  gc();
  gc();
  return process.memoryUsage();
}

export function ipFor(i: number): string {
  return `104.248.${10 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

export function scaleSeed(opts: MemoryOptions): EmulatorSeed {
  return {
    region: 'nyc3',
    droplets: Array.from({ length: opts.nodes }, (_, i) => ({ id: 2001 + i, name: `pool-b-${i + 1}`, tags: ['k8s', 'k8s-worker'] })),
    reservedIps: Array.from({ length: opts.ips }, (_, i) => ({ ip: ipFor(i) })),
    rateLimit: NO_LIMITS,
  };
}

/**
 * One workload per IP with `podsPerIp` pods on distinct nodes; each workload's oldest pod
 * sits on its own node, so every IP has its own droplet (a droplet holds one reserved IPv4).
 */
export function scaleWorld(opts: MemoryOptions): { pods: V1Pod[]; nodes: V1Node[] } {
  const keys = floatingIpKeys();
  const nodes = Array.from({ length: opts.nodes }, (_, i) => node(`pool-b-${i + 1}`, 2001 + i));
  const step = Math.floor(opts.nodes / opts.podsPerIp);
  const pods: V1Pod[] = [];
  for (let w = 0; w < opts.ips; w++) {
    for (let k = 0; k < opts.podsPerIp; k++) {
      const nodeName = `pool-b-${((w + k * step) % opts.nodes) + 1}`;
      pods.push(pod(keys, { name: `app-${w}-${k}`, namespace: `team-${w % 10}`, nodeName, ips: ipFor(w), workload: `app-${w}`, ageS: 10_000 - k }));
    }
  }
  return { pods, nodes };
}

export async function benchMemory(opts: MemoryOptions): Promise<MemoryResult> {
  if (opts.ips > opts.nodes) throw new Error('benchmark: need at least one node per IP (a droplet holds one reserved IPv4)');
  const gc = collector();
  const emu = await startEmulator({ actionDelayMs: opts.actionDelayMs, state: scaleSeed(opts) });
  const admin = adminClient(emu.url);
  const received: ReceivedRequest[] = [];
  const unwatch = watchServerRequests(portOf(emu.url), (r) => received.push(r));
  const m0 = heapAfterGc(gc);
  const world = scaleWorld(opts);
  const m1 = heapAfterGc(gc);
  let runs = 0; // runs of an IP the controller finished
  let assignedCount = 0;
  const controller = createController({
    port: benchClient(emu.url, opts.actionDelayMs),
    world: { listPods: () => world.pods, listNodes: () => world.nodes },
    onReconciled: () => void runs++,
    events: { record: async (e) => void (e.reason === 'FloatingIPAssigned' && assignedCount++) },
    logger: quietLogger(),
    metrics: createReconcilerMetrics(),
    config: { keys: floatingIpKeys(), dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: 3_600_000, actionExpiryMs: 300_000 },
  });
  try {
    const t0 = performance.now();
    controller.start();
    await until(`${opts.ips} IPs placed`, () => assignedCount >= opts.ips, 120_000, 10);
    const initialPlacementMs = performance.now() - t0;
    const m2 = heapAfterGc(gc);

    await admin.clearRequests();
    const before = runs;
    const t1 = performance.now();
    await controller.resyncNow();
    const resyncListMs = performance.now() - t1;
    await until('every IP re-planned', () => runs >= before + opts.ips, 60_000, 1);
    const resyncAllMs = performance.now() - t1;
    const log = await admin.requests();

    // One failover at a time at this scale: the holder of IP w is node w (see scaleWorld).
    const scaled: number[] = [];
    for (let j = 0; j < opts.scaleFailovers; j++) {
      const w = (j * 7) % opts.ips;
      const before = world.nodes[w] as V1Node;
      const lost = node(before.metadata?.name ?? '', 2001 + w, false);
      const placed = assignedCount;
      received.length = 0;
      world.nodes[w] = lost;
      const t0 = performance.now();
      controller.nodeChanged(lost, before);
      await until(`IP ${ipFor(w)} moved`, () => assignedCount > placed, 10_000, 1);
      const post = received.find((r) => isAssignRequest(r) && r.at >= t0);
      if (post) scaled.push(post.at - t0);
      world.nodes[w] = before;
      controller.nodeChanged(before, lost);
      // the node's return re-plans the IPs of its pods (no move): let that finish first
      await sleep(SCALE_SETTLE_MS);
    }
    const resyncCalls: Record<string, number> = {};
    for (const r of log) resyncCalls[routeOf(r.method, r.path)] = (resyncCalls[routeOf(r.method, r.path)] ?? 0) + 1;
    return {
      rssMiB: m2.rss / MiB,
      heapUsedMiB: m2.heapUsed / MiB,
      worldHeapMiB: (m1.heapUsed - m0.heapUsed) / MiB,
      trackingHeapMiB: (m2.heapUsed - m1.heapUsed) / MiB,
      initialPlacementMs,
      resyncListMs,
      resyncAllMs,
      resyncCalls,
      resyncWrites: log.filter((r) => r.method !== 'GET').length,
      scaleDecisionMs: summarize(scaled),
    };
  } finally {
    unwatch();
    await controller.stop();
    await emu.close();
  }
}
