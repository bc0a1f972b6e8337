// Decision latency and DigitalOcean calls per failover: createController driven directly
// with an in-memory WorldSource, against the real DigitalOcean client and the emulator over
// loopback HTTP, all in this process.
//
// The two instants of "decision latency":
//   t0 = performance.now() just before `controller.nodeChanged(...)` is called for the
//        holder's node, which was marked NotReady (even iterations) or removed (odd ones) in
//        the WorldSource — the informer callback of a real process;
//   t1 = performance.now() when the emulator's HTTP server has parsed the request line and
//        headers of the `POST /v2/reserved_ips/{ip}/actions` that follows (diagnostics
//        channel `http.server.request.start`, same process, same clock).
// So it covers the work queue, the snapshot and plan, the client's rate budget and axios, and
// the loopback hop; not the action's own duration (see the end-to-end figure for that).
import { performance } from 'node:perf_hooks';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { createDoClient } from '../shared/digitalocean/client.ts';
import { createRateBudget } from '../shared/digitalocean/budget.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import { createLogger } from '../shared/logger.ts';
import { createController } from '../reconciler/ip/controller.ts';
import { createReconcilerMetrics } from '../reconciler/metrics.ts';
import { defaultWorld, startEmulator } from '../test/do-emulator/server.ts';
import { adminClient, isAssignRequest, node, pod, portOf, routeOf, sleep, watchServerRequests } from './fixtures.ts';
import type { ReceivedRequest } from './fixtures.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

export interface DecisionOptions {
  readonly iterations: number;
  /** failovers run first and not counted (JIT warm-up) */
  readonly warmup: number;
  /** how long the emulator keeps an action in progress */
  readonly actionDelayMs: number;
}

export interface DecisionResult {
  readonly latencyMs: Summary;
  readonly callsPerFailover: { readonly mean: number; readonly max: number; readonly min: number };
  /** mean calls per failover by "METHOD /route/template" */
  readonly byRoute: Readonly<Record<string, number>>;
}

const IP = '104.248.100.100';
const NODES: readonly (readonly [string, number])[] = [['n1', 1001], ['n2', 1002], ['n3', 1003]];
const FAILOVER_TIMEOUT_MS = 10_000;
/** idle time after the old holder's node comes back, so its (no-op) reconcile is not counted */
const SETTLE_MS = 10;

export const NO_LIMITS = { perMinute: 1_000_000, perHour: 100_000_000 } as const;

/** A client as the process builds it, minus the 250/min budget (hundreds of moves a minute here). */
export function benchClient(baseUrl: string, actionDelayMs: number) {
  return createDoClient({
    token: 'bench-token',
    baseUrl,
    budget: createRateBudget({ perMinute: NO_LIMITS.perMinute }),
    // First poll once the emulator's action is done: with DigitalOcean's action finishing
    // within the default 500 ms first wait, production makes the same calls.
    actionWait: { initialMs: actionDelayMs * 2, maxMs: 4_000, totalMs: 30_000 },
  });
}

export const quietLogger = () => createLogger({ level: 'info', name: 'bench' }, { write: () => undefined });

export async function benchDecision(opts: DecisionOptions): Promise<DecisionResult> {
  const keys = floatingIpKeys();
  const emu = await startEmulator({ actionDelayMs: opts.actionDelayMs, state: { ...defaultWorld(), rateLimit: NO_LIMITS } });
  const admin = adminClient(emu.url);
  const received: ReceivedRequest[] = [];
  const unwatch = watchServerRequests(portOf(emu.url), (r) => received.push(r));
  const nodes: V1Node[] = NODES.map(([name, id]) => node(name, id));
  const pods: V1Pod[] = NODES.map(([name], i) => pod(keys, { name: `web-${i + 1}`, nodeName: name, ips: IP, workload: 'web', ageS: 300 - i * 100 }));
  let onAssigned: (() => void) | undefined;
  const controller = createController({
    port: benchClient(emu.url, opts.actionDelayMs),
    world: { listPods: () => pods, listNodes: () => nodes },
    events: { record: async (e) => void (e.reason === 'FloatingIPAssigned' && onAssigned?.()) },
    logger: quietLogger(),
    metrics: createReconcilerMetrics(),
    config: { keys, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: 3_600_000, actionExpiryMs: 300_000 },
  });
  const assigned = () =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`benchmark: no FloatingIPAssigned event within ${FAILOVER_TIMEOUT_MS} ms`)), FAILOVER_TIMEOUT_MS);
      onAssigned = () => {
        clearTimeout(timer);
        onAssigned = undefined;
        resolve();
      };
    });

  const latencies: number[] = [];
  const calls: number[] = [];
  const routes = new Map<string, number>();
  try {
    const first = assigned();
    controller.start();
    await first;
    for (let i = 0; i < opts.warmup + opts.iterations; i++) {
      const holder = (await admin.holders())[IP];
      const idx = nodes.findIndex((n) => n.spec?.providerID === `digitalocean://${holder}`);
      const before = nodes[idx];
      const entry = NODES[idx];
      if (!before || !entry) throw new Error(`benchmark: holder ${holder} is not one of the nodes`);
      await admin.clearRequests();
      received.length = 0;
      const done = assigned();
      const removed = i % 2 === 1;
      const lost = node(entry[0], entry[1], false);
      if (removed) nodes.splice(idx, 1);
      else nodes[idx] = lost;
      const t0 = performance.now();
      controller.nodeChanged(removed ? undefined : lost, before);
      await done;
      const post = received.find((r) => isAssignRequest(r) && r.at >= t0);
      if (!post) throw new Error('benchmark: the failover completed without an assign request');
      const log = await admin.requests();
      if (i >= opts.warmup) {
        latencies.push(post.at - t0);
        calls.push(log.length);
        for (const r of log) routes.set(routeOf(r.method, r.path), (routes.get(routeOf(r.method, r.path)) ?? 0) + 1);
      }
      // The node comes back Ready: the IP stays where it is now (sticky), no call expected.
      const back = node(entry[0], entry[1]);
      if (removed) nodes.splice(idx, 0, back);
      else nodes[idx] = back;
      controller.nodeChanged(back, removed ? undefined : lost);
      await sleep(SETTLE_MS);
    }
  } finally {
    await controller.stop();
    unwatch();
    await emu.close();
  }
  const n = opts.iterations;
  return {
    latencyMs: summarize(latencies),
    callsPerFailover: { mean: calls.reduce((s, x) => s + x, 0) / n, max: Math.max(...calls), min: Math.min(...calls) },
    byRoute: Object.fromEntries([...routes].sort().map(([route, count]) => [route, count / n])),
  };
}
