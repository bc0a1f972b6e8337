// The reconciler side of the scale benchmark, run as its own process (bench/scale.ts forks it)
// so its memory is the reconciler's alone, not the emulator's. It builds what a real process
// holds: client-node ListWatch caches filled through the reconciler's informer factory
// (listWatchFactory: the objects are slimmed on their way in) from API-server-shaped objects,
// the controller fed by the informers' callbacks, the real DigitalOcean client over loopback.
// Watch events are pushed by this script: node failures and returns, and the kubelets' Lease
// renewals (1,000 nodes renew 100 Leases a second).
//
// Decision latency here: t0 = just before the node's MODIFIED event is handed to the watch;
// t1 = the reconciler's HTTP client starts the assign POST (diagnostics channel
// `http.client.request.start`, same process and clock) — the loopback hop is not included.
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { createDoClient } from '../shared/digitalocean/client.ts';
import { createRateBudget } from '../shared/digitalocean/budget.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import { createController } from '../reconciler/ip/controller.ts';
import { NODE_LEASE_NAMESPACE, createInformers, listWatchFactory } from '../reconciler/informers.ts';
import type { InformerFactory, ListFunctions, ListPage } from '../reconciler/informers.ts';
import { createReconcilerMetrics } from '../reconciler/metrics.ts';
import { quietLogger } from './decision.ts';
import { ipFor } from './memory.ts';
import { leaseJson, nodeJson, podJson } from './realistic-objects.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

export interface ChildOptions {
  readonly url: string;
  readonly ips: number;
  readonly podsPerIp: number;
  readonly nodes: number;
  readonly failovers: number;
  /** false: cache the objects whole (what the informers did before slimming) */
  readonly slim: boolean;
  /**
   * DigitalOcean's 250 requests/min budget, with the first `held` IPs already placed: a
   * failover is started once the first placements of the others have used up the budget.
   */
  readonly rateLimited?: { readonly held: number } | undefined;
  readonly actionDelayMs: number;
}

export interface ChildResult {
  /** RSS and heap after a forced GC, once every IP is placed (rate-limited: at the failover) */
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** the heap V8 keeps committed: after the list burst it stays near its peak, hence the RSS */
  readonly heapTotalMiB: number;
  /** RSS once the informers have listed, before the controller starts */
  readonly listedRssMiB: number;
  /** before any object was listed: the process with its modules loaded */
  readonly idleRssMiB: number;
  /** heap held by the informer caches and the controller's index */
  readonly worldHeapMiB: number;
  readonly listMs: number;
  readonly initialPlacementMs: number;
  readonly resyncListMs: number;
  readonly resyncAllMs: number;
  readonly decisionMs: Summary;
  readonly rateLimited?: {
    readonly failoverMs: number | null;
    readonly placedBeforeFailover: number;
    readonly waiting: number;
    readonly startedAfterMs: number;
  };
}

const MiB = 1024 * 1024;
const KEYS = floatingIpKeys();
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`;
const RENEW_EVERY_MS = 10_000;
const RENEW_TICK_MS = 100;
const FAILOVER_TIMEOUT_MS = 30_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A Watch that never connects: the benchmark hands each event to the ListWatch itself. */
class PushedWatch extends Watch {
  readonly #handlers = new Map<string, (phase: string, obj: unknown) => void>();
  override async watch(path: string, _params: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown) => void): Promise<AbortController> {
    this.#handlers.set(path, callback);
    return new AbortController();
  }
  emit(path: string, phase: 'ADDED' | 'MODIFIED' | 'DELETED', obj: unknown): void {
    const handler = this.#handlers.get(path);
    if (!handler) throw new Error(`benchmark: no watch on ${path}`);
    handler(phase, obj);
  }
}

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('benchmark: run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage();
}

/**
 * A list call as the generated API answers it: items deserialized from JSON, `limit` at a time
 * with a continue token, as the API server pages. Only the page asked for is ever built.
 */
function pages<T extends KubernetesObject>(type: string, count: number, at: (i: number) => Record<string, unknown>): ListPage<T> {
  return async ({ limit, _continue }) => {
    const from = Number(_continue ?? 0);
    const to = Math.min(count, from + limit);
    const items = Array.from({ length: to - from }, (_, k) => ObjectSerializer.deserialize(at(from + k), `V1${type}`) as T);
    return { apiVersion: 'v1', kind: `${type}List`, metadata: { resourceVersion: '1', ...(to < count ? { _continue: String(to) } : {}) }, items };
  };
}

const nodeName = (i: number) => `pool-b-${i + 1}`;
const dropletOf = (i: number) => 2001 + i;

export async function runChild(o: ChildOptions): Promise<ChildResult> {
  const m0 = collect();
  const step = Math.floor(o.nodes / o.podsPerIp);
  const podAt = (seq: number) => {
    const w = Math.floor(seq / o.podsPerIp);
    const k = seq % o.podsPerIp;
    const n = (w + k * step) % o.nodes;
    const name = `app-${w}-7c9f8d6b5-${k.toString(36).padStart(5, '0')}`;
    return podJson(KEYS, { name, namespace: `team-${w % 10}`, nodeName: nodeName(n), nodeIp: `10.20.${n >> 8}.${n & 255}`, ips: ipFor(w), workload: `app-${w}`, ageS: 10_000 - k, seq });
  };
  const t0 = Date.now();
  let rv = 10_000_000;
  const lists: ListFunctions = {
    pods: () => pages('Pod', o.ips * o.podsPerIp, podAt),
    nodes: () => pages('Node', o.nodes, (i) => nodeJson(nodeName(i), dropletOf(i), i)),
    services: () => pages('Service', 0, () => ({})),
    nodeLeases: () => pages('Lease', o.nodes, (i) => leaseJson(nodeName(i), i, t0 - (i % 100) * 100)),
  };
  const watch = new PushedWatch(new KubeConfig());
  const factory = o.slim ? listWatchFactory(watch, lists, KEYS.selector) : wholeFactory(watch, lists);
  const metrics = createReconcilerMetrics();
  const budget = createRateBudget(o.rateLimited ? {} : { perMinute: 1_000_000 });
  const port = createDoClient({
    token: 'bench-token',
    baseUrl: o.url,
    budget,
    // as reconciler/main.ts builds it: short waits, the per-IP state machine does the rest
    actionWait: { initialMs: o.actionDelayMs * 2, maxMs: 4_000, totalMs: 5_000 },
    retry: { maxRateLimitWaitMs: 5_000 },
  });
  let assigned = 0;
  const assignedIps = new Map<string, number>();
  let runs = 0;
  const controller = createController({
    port,
    world: { listPods: () => informers.listPods(), listNodes: () => informers.listNodes(), listNodeLeases: () => informers.listNodeLeases() },
    events: {
      record: async (e) => {
        if (e.reason !== 'FloatingIPAssigned') return;
        assigned++;
        const ip = /^Reserved IP (\S+) assigned/.exec(e.message)?.[1] ?? '';
        assignedIps.set(ip, (assignedIps.get(ip) ?? 0) + 1);
      },
    },
    logger: quietLogger(),
    metrics,
    onReconciled: () => void runs++,
    config: { keys: KEYS, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: 3_600_000, actionExpiryMs: 300_000 },
  });
  const informers = createInformers({
    factory,
    namespaces: [],
    onPod: (p, old) => controller.podChanged(p, old),
    onNode: (n, old) => controller.nodeChanged(n, old),
    onNodeLease: (l, old) => controller.nodeLeaseChanged(l, old),
    metrics,
    logger: quietLogger(),
  });

  /** ip → instants its assign POSTs started */
  const posts = new Map<string, number[]>();
  subscribe('http.client.request.start', (message) => {
    const req = (message as { request: ClientRequest }).request;
    const ip = /^\/v2\/reserved_ips\/([^/]+)\/actions$/.exec(req.path)?.[1];
    if (req.method === 'POST' && ip) posts.set(ip, [...(posts.get(ip) ?? []), performance.now()]);
  });

  const tList = performance.now();
  informers.start();
  await informers.whenSynced();
  const listMs = performance.now() - tList;
  const m1 = collect();

  // The kubelets: every node renews its Lease every 10 s, spread evenly.
  let renewAt = 0;
  const renewer = setInterval(() => {
    const batch = Math.ceil((o.nodes * RENEW_TICK_MS) / RENEW_EVERY_MS);
    for (let b = 0; b < batch; b++, renewAt = (renewAt + 1) % o.nodes) {
      const lease = leaseJson(nodeName(renewAt), renewAt, Date.now());
      (lease.metadata as { resourceVersion: string }).resourceVersion = String(++rv);
      watch.emit(LEASE_PATH, 'MODIFIED', lease);
    }
  }, RENEW_TICK_MS);

  const until = async (what: string, fn: () => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = performance.now() + timeoutMs;
    while (!fn()) {
      if (performance.now() > deadline) return false;
      await sleep(2);
    }
    return true;
  };
  const setNode = (i: number, ready: boolean) => {
    const n = nodeJson(nodeName(i), dropletOf(i), i, ready);
    (n.metadata as { resourceVersion: string }).resourceVersion = String(++rv);
    if (!ready) (n.spec as { taints?: unknown[] }).taints = ['NoSchedule', 'NoExecute'].map((effect) => ({ key: 'node.kubernetes.io/unreachable', effect, timeAdded: new Date().toISOString() }));
    watch.emit('/api/v1/nodes', 'MODIFIED', n);
  };
  /** fail the holder of `ip`, wait for the assign POST; the node comes back afterwards */
  const failover = async (ip: string, wait: 'request' | 'moved' = 'moved'): Promise<number | null> => {
    const holder = controller.holders().find((h) => h.ip === ip)?.dropletId;
    if (holder == null) throw new Error(`benchmark: ${ip} has no holder`);
    const i = holder - 2001;
    const before = assignedIps.get(ip) ?? 0;
    const seen = posts.get(ip)?.length ?? 0;
    const start = performance.now();
    setNode(i, false);
    const moved = await until(`${ip} moved`, () => (posts.get(ip)?.length ?? 0) > seen && (wait === 'request' || (assignedIps.get(ip) ?? 0) > before), FAILOVER_TIMEOUT_MS);
    const at = posts.get(ip)?.[seen];
    setNode(i, true);
    return moved && at !== undefined ? at - start : null;
  };

  try {
    if (o.rateLimited) return await rateLimitedRun(o, { controller, metrics, budget, failover, assignedCount: () => assigned, m0, m1, listMs, collect });

    const tStart = performance.now();
    controller.start();
    if (!(await until('all placed', () => assigned >= o.ips, 300_000))) throw new Error(`benchmark: only ${assigned} of ${o.ips} IPs placed`);
    const initialPlacementMs = performance.now() - tStart;
    await sleep(200);
    const m2 = collect();

    const runsBefore = runs;
    const tResync = performance.now();
    await controller.resyncNow();
    const resyncListMs = performance.now() - tResync;
    // (a controller without the onReconciled hook cannot say when it is done)
    if (runsBefore > 0) await until('every IP re-planned', () => runs >= runsBefore + o.ips, 60_000);
    const resyncAllMs = performance.now() - tResync;

    const ips = Array.from({ length: o.ips }, (_, w) => ipFor(w));
    const decisions: number[] = [];
    for (let j = 0; j < o.failovers; j++) {
      const ms = await failover(ips[(j * 7) % ips.length] as string);
      if (ms === null) throw new Error('benchmark: a failover did not happen within 30 s');
      decisions.push(ms);
      // the node's return re-plans the IPs of its pods (no move): let that finish first
      await sleep(100);
    }
    return {
      rssMiB: m2.rss / MiB,
      heapUsedMiB: m2.heapUsed / MiB,
      heapTotalMiB: m2.heapTotal / MiB,
      listedRssMiB: m1.rss / MiB,
      idleRssMiB: m0.rss / MiB,
      worldHeapMiB: (m1.heapUsed - m0.heapUsed) / MiB,
      listMs,
      initialPlacementMs,
      resyncListMs,
      resyncAllMs,
      decisionMs: summarize(decisions),
    };
  } finally {
    clearInterval(renewer);
    await controller.stop();
    await informers.stop();
  }
}

/** ListWatches that list everything at once and cache it as it arrives: the informers before slimming. */
function wholeFactory(watch: Watch, lists: ListFunctions): InformerFactory {
  const make = <T extends KubernetesObject>(path: string, page: ListPage<T>, selector?: string) => new ListWatch<T>(path, watch, () => page({ limit: Number.MAX_SAFE_INTEGER }), false, selector);
  return {
    pods: () => make('/api/v1/pods', lists.pods(undefined), KEYS.selector),
    nodes: () => make('/api/v1/nodes', lists.nodes()),
    nodeLeases: () => make(LEASE_PATH, lists.nodeLeases()),
  };
}

interface RateLimitedDeps {
  readonly controller: ReturnType<typeof createController>;
  readonly metrics: ReturnType<typeof createReconcilerMetrics>;
  readonly budget: ReturnType<typeof createRateBudget>;
  readonly failover: (ip: string, wait: 'request' | 'moved') => Promise<number | null>;
  readonly assignedCount: () => number;
  readonly m0: NodeJS.MemoryUsage;
  readonly m1: NodeJS.MemoryUsage;
  readonly listMs: number;
  readonly collect: () => NodeJS.MemoryUsage;
}

/** First placements queued behind the 250/min budget; then one held IP's holder fails. */
async function rateLimitedRun(o: ChildOptions, d: RateLimitedDeps): Promise<ChildResult> {
  const held = o.rateLimited?.held ?? 0;
  const tStart = performance.now();
  d.controller.start();
  // Rate-limited: callers are queued in the budget (negative tokens), a second at least.
  const deadline = performance.now() + 60_000;
  while (d.budget.available() >= 0 || performance.now() - tStart < 1_000) {
    if (performance.now() > deadline) throw new Error('benchmark: the first placements never used up the rate budget');
    await sleep(10);
  }
  await sleep(2_000);
  const placed = d.assignedCount();
  const startedAfterMs = performance.now() - tStart;
  const waiting = o.ips - held - placed;
  // the assign request is the decision; its action then waits for the budget like any call
  const failoverMs = await d.failover(ipFor(0), 'request');
  const m2 = d.collect();
  return {
    rssMiB: m2.rss / MiB,
    heapUsedMiB: m2.heapUsed / MiB,
    heapTotalMiB: m2.heapTotal / MiB,
    listedRssMiB: d.m1.rss / MiB,
    idleRssMiB: d.m0.rss / MiB,
    worldHeapMiB: (d.m1.heapUsed - d.m0.heapUsed) / MiB,
    listMs: d.listMs,
    initialPlacementMs: NaN,
    resyncListMs: NaN,
    resyncAllMs: NaN,
    decisionMs: summarize(failoverMs === null ? [] : [failoverMs]),
    rateLimited: { failoverMs, placedBeforeFailover: placed, waiting, startedAfterMs },
  };
}

if (process.send) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
  try {
    const result = await runChild(options);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (err) {
    process.send({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1));
  }
}
