// The reconcile loop: informer callbacks mark reserved IPs dirty, the work queue runs one IP
// at a time (per key), each run builds a snapshot, plans and acts. A periodic resync lists
// DigitalOcean's reserved IPs (one paginated list) to refresh holders and repair drift.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { ReservedIpPort } from '../shared/digitalocean/port.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { Logger } from '../shared/logger.ts';
import { RetryLater, createActuator } from './actuator.ts';
import type { ActuatorState } from './actuator.ts';
import type { EventSink } from './events.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import type { IpStatus } from './model.ts';
import { plan, STARTUP_GRACE_MS } from './plan.ts';
import { createWorkQueue } from './queue.ts';
import type { RunResult, WorkQueue } from './queue.ts';
import { realTimer } from '../shared/timers.ts';
import type { SetTimer } from '../shared/timers.ts';
import { dropletIdOf } from './snapshot.ts';
import { createWorldCache, podsFor } from './world-index.ts';

export type { EventSink };

/** Read access to the informer caches (arrays of the objects, nothing more). */
export interface WorldSource {
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
}

export interface ControllerConfig {
  keys: FloatingIpKeys;
  dryRun: boolean;
  coolOffMs: number;
  unassignWhenUnplaced: boolean;
  resyncIntervalMs: number;
  actionExpiryMs: number;
}

export interface Controller {
  /** informer callbacks: only mark IPs dirty */
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
  /** begin draining the queue + periodic DigitalOcean resync (on becoming leader) */
  start(): void;
  /** stop draining, wait for in-flight work (losing leadership / SIGTERM) */
  stop(): Promise<void>;
  /** list DigitalOcean's reserved IPs (paginated) and mark every known IP dirty */
  resyncNow(): Promise<void>;
}

export interface ControllerDeps {
  port: ReservedIpPort;
  world: WorldSource;
  events: EventSink;
  logger: Logger;
  metrics: ReconcilerMetrics;
  config: ControllerConfig;
  now?: () => number;
  setTimer?: SetTimer;
  /** parallel IPs in flight (default 4) */
  concurrency?: number;
  /** how often to re-read an IP whose DigitalOcean action is still in progress (default 2 s) */
  pendingPollMs?: number;
  /** per-IP retry backoff for errors without a class delay (default 100 ms doubling to 60 s) */
  backoff?: { baseMs?: number; capMs?: number };
}

export function createController(deps: ControllerDeps): Controller {
  const { config, metrics, world } = deps;
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? realTimer;
  const log = deps.logger;
  const pendingPollMs = deps.pendingPollMs ?? 2_000;
  const state: ActuatorState = { holders: new Map(), memory: new Map() };
  const evidence = new Map<string, number>(); // ip → first event time since its last run
  const unplaced = new Set<string>();
  // pod uid → the invalid annotation value already warned about (dropped with the pod)
  const invalidSeen = new Map<string, string | undefined>();
  // droplet id → name of a deleted node: lets the move say "node X was deleted" rather than
  // "not a node of this cluster". Bounded; a droplet that joins again is forgotten.
  const deletedNodes = new Map<number, string>();
  const DELETED_NODES_KEPT = 1024;
  let queue: WorkQueue | undefined;
  let resyncTimer: (() => void) | undefined;
  let resyncing: Promise<void> | undefined;
  let holdersStale = true;
  let podsByUid: ReadonlyMap<string, V1Pod> = new Map();
  const cache = createWorldCache(config.keys);

  const actuator = createActuator({
    port: deps.port,
    events: deps.events,
    logger: log,
    metrics,
    dryRun: config.dryRun,
    actionExpiryMs: config.actionExpiryMs,
    pendingPollMs,
    now,
    state,
    pod: (uid) => podsByUid.get(uid),
  });

  function mark(ip: string): void {
    if (!queue) return;
    if (!evidence.has(ip)) evidence.set(ip, now());
    queue.add(ip);
  }

  /** IPs the pod's annotation claims; an invalid current value is warned about once per pod. */
  function claimedIps(pod: V1Pod | undefined, current = true): readonly string[] {
    if (!pod) return [];
    const { ips, invalid } = cache.entry(pod);
    if (invalid === undefined) return ips;
    const uid = pod.metadata?.uid ?? '';
    const value = pod.metadata?.annotations?.[config.keys.annotation];
    if (current && queue && !(invalidSeen.has(uid) && invalidSeen.get(uid) === value)) {
      invalidSeen.set(uid, value);
      log.warn({ namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid, reason: invalid }, 'pod annotation ignored');
      void deps.events.record({ pod, type: 'Warning', reason: 'FloatingIPInvalid', message: invalid });
    }
    return [];
  }

  function heldBy(dropletId: number | null): string[] {
    if (dropletId === null) return [];
    return [...state.holders].filter(([, h]) => h.dropletId === dropletId).map(([ip]) => ip);
  }

  function podsOn(nodeName: string | undefined): readonly string[] {
    if (!nodeName) return [];
    return cache.pods(world.listPods()).byNode.get(nodeName)?.flatMap((p) => claimedIps(p)) ?? [];
  }

  async function refreshHolders(): Promise<void> {
    const started = now();
    const list = await deps.port.listReservedIps();
    for (const r of list) {
      const mem = state.memory.get(r.ip);
      // An action of ours that finished after the list was read is newer than the list.
      if (mem?.lastMoveMs !== undefined && mem.lastMoveMs >= started) continue;
      state.holders.set(r.ip, { family: r.family, dropletId: r.dropletId, locked: r.locked });
    }
    const listed = new Set(list.map((r) => r.ip));
    for (const ip of state.holders.keys()) if (!listed.has(ip)) state.holders.delete(ip);
    metrics.holder.reset();
    for (const [ip, h] of state.holders) if (h.dropletId !== null) metrics.holder.set({ ip, droplet: String(h.dropletId) }, 1);
    holdersStale = false;
  }

  /** Before planning an IP with a pending action (or never seen), read its holder afresh. */
  async function refreshOne(ip: string): Promise<void> {
    let listed = false;
    if (holdersStale) {
      await (resyncing ?? refreshHolders());
      listed = !holdersStale;
    }
    if (!listed && (state.memory.get(ip)?.pending || !state.holders.has(ip))) {
      try {
        const r = await deps.port.getReservedIp(ip);
        state.holders.set(ip, { family: r.family, dropletId: r.dropletId, locked: r.locked });
      } catch (err) {
        if (!(err instanceof DoApiError && err.errorClass === 'NotFound')) throw err;
        state.holders.delete(ip); // not in this account: the assign will say so
      }
    }
    const mem = state.memory.get(ip);
    if (mem?.pending && mem.pending.expiresMs <= now()) state.memory.set(ip, { ...mem, pending: undefined });
    const pending = state.memory.get(ip)?.pending;
    const holder = state.holders.get(ip);
    if (pending && holder && !holder.locked) {
      if (holder.dropletId === pending.dropletId) await actuator.pendingCompleted(ip);
      else {
        log.warn({ ip, droplet: pending.dropletId, holder: holder.dropletId }, 'DigitalOcean action ended without moving the IP; planning again');
        state.memory.set(ip, { ...state.memory.get(ip), pending: undefined });
      }
    }
  }

  function noteStatus(status: IpStatus, evidenceMs: number): void {
    const { ip } = status;
    const mem = state.memory.get(ip) ?? {};
    if (status.holderLost && mem.holderLostMs === undefined) state.memory.set(ip, { ...mem, holderLostMs: evidenceMs });
    if (status.state === 'placed' || status.state === 'unclaimed') {
      if (mem.holderLostMs !== undefined) state.memory.set(ip, { ...mem, holderLostMs: undefined });
      actuator.clearReports(ip);
    }
    if (status.state === 'unplaced') {
      unplaced.add(ip);
      metrics.unplaced.set({ ip }, 1);
    } else if (unplaced.delete(ip)) {
      metrics.unplaced.set({ ip }, 0);
    }
  }

  function waitFor(status: IpStatus): number | undefined {
    // Pod events re-plan sooner; this re-check reports a pod that never starts.
    if (status.state === 'starting') return STARTUP_GRACE_MS;
    if (status.state !== 'waiting') return undefined;
    const mem = state.memory.get(status.ip);
    const t = now();
    if (mem?.pending && mem.pending.expiresMs > t) return Math.min(pendingPollMs, mem.pending.expiresMs - t);
    if (mem?.lastMoveMs !== undefined && mem.lastMoveMs + config.coolOffMs > t) return mem.lastMoveMs + config.coolOffMs - t;
    return pendingPollMs; // locked by DigitalOcean
  }

  async function reconcile(ip: string): Promise<RunResult> {
    const evidenceMs = evidence.get(ip) ?? now();
    evidence.delete(ip);
    await refreshOne(ip);
    const index = cache.pods(world.listPods());
    podsByUid = index.byUid;
    const result = plan(
      {
        targets: [ip],
        pods: podsFor(index, ip),
        nodes: cache.nodes(world.listNodes()),
        holders: state.holders,
        memory: state.memory,
        deletedNodes,
        config: { coolOffMs: config.coolOffMs, unassignWhenUnplaced: config.unassignWhenUnplaced },
      },
      now(),
    );
    const status = result.statuses[0];
    if (status) noteStatus(status, evidenceMs);
    let requeueAfterMs = status && waitFor(status);
    try {
      for (const action of result.actions) {
        const r = await actuator.execute(action);
        if (r.requeueAfterMs !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, r.requeueAfterMs);
        // A droplet freed or taken may unblock IPs that had nowhere to go.
        if (action.type !== 'report' && !config.dryRun) for (const other of unplaced) if (other !== ip) mark(other);
      }
    } catch (err) {
      if (err instanceof RetryLater && err.refreshHolders) holdersStale = true;
      throw err;
    }
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  function scheduleResync(ms: number): void {
    resyncTimer?.();
    resyncTimer = setTimer(() => {
      resyncTimer = undefined;
      void resyncNow();
    }, ms);
  }

  async function resyncNow(): Promise<void> {
    if (resyncing) return resyncing;
    resyncing = (async () => {
      try {
        await refreshHolders();
        const ips = new Set([...world.listPods().flatMap((p) => claimedIps(p)), ...state.memory.keys()]);
        for (const ip of ips) mark(ip);
        if (queue) scheduleResync(config.resyncIntervalMs);
      } catch (err) {
        metrics.reconcileErrors.inc({ class: err instanceof DoApiError ? err.errorClass : 'internal' });
        log.warn({ err }, 'DigitalOcean resync failed; retrying');
        if (queue) scheduleResync(Math.min(config.resyncIntervalMs, 10_000));
      } finally {
        resyncing = undefined;
      }
    })();
    return resyncing;
  }

  return {
    podChanged(pod, old) {
      for (const ip of new Set([...claimedIps(pod), ...claimedIps(old, false)])) mark(ip);
      if (pod === undefined && old?.metadata?.uid) invalidSeen.delete(old.metadata.uid);
    },
    nodeChanged(node, old) {
      const current = dropletIdOf(node?.spec?.providerID);
      const previous = dropletIdOf(old?.spec?.providerID);
      if (current !== null) deletedNodes.delete(current);
      if (node === undefined && previous !== null && old?.metadata?.name) {
        deletedNodes.set(previous, old.metadata.name);
        if (deletedNodes.size > DELETED_NODES_KEPT) deletedNodes.delete(deletedNodes.keys().next().value as number);
      }
      const names = new Set([node?.metadata?.name, old?.metadata?.name]);
      const droplets = new Set([dropletIdOf(node?.spec?.providerID), dropletIdOf(old?.spec?.providerID)]);
      const ips = new Set([...[...names].flatMap(podsOn), ...[...droplets].flatMap(heldBy)]);
      for (const ip of ips) mark(ip);
    },
    start() {
      if (queue) return;
      holdersStale = true;
      queue = createWorkQueue({
        worker: reconcile,
        concurrency: deps.concurrency ?? 4,
        backoff: deps.backoff,
        setTimer,
        now,
        onDepth: (d) => metrics.queueDepth.set(d),
        onError(ip, err, retryInMs) {
          if (!(err instanceof RetryLater)) {
            metrics.reconcileErrors.inc({ class: err instanceof DoApiError ? err.errorClass : 'internal' });
            log.warn({ ip, err, retryInMs }, 'reconcile failed');
          }
        },
      });
      void resyncNow();
    },
    async stop() {
      const q = queue;
      queue = undefined;
      resyncTimer?.();
      resyncTimer = undefined;
      await resyncing;
      await q?.shutdown();
      evidence.clear();
    },
    resyncNow,
  };
}
