// Wiring of the reconcile loop, nothing more: informer callbacks mark reserved IPs dirty
// (triggers.ts says which), a work queue runs one IP at a time, each run reads what it needs
// from DigitalOcean, plans (plan.ts), acts (actuator.ts) and feeds every outcome to the per-IP
// state machine (ip-state.ts). A periodic resync lists DigitalOcean's reserved IPs to refresh
// holders and repair drift.
//
// All of it belongs to a leadership term: `start(term)` begins with empty memory, every
// DigitalOcean call carries the term's signal, no write starts once the term is no longer
// valid, outcomes that arrive after it ended are dropped, and `stop()` cancels instead of
// waiting. A new term starts from a full DigitalOcean list, as a new leader must.
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { CallOptions, ReservedIpPort } from '../shared/digitalocean/port.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { Logger } from '../shared/logger.ts';
import { realTimer } from '../shared/timers.ts';
import type { SetTimer } from '../shared/timers.ts';
import { createActuator } from './actuator.ts';
import type { Exposure } from './actuator.ts';
import type { EventSink } from './events.ts';
import { apply, pendingOf } from './ip-state.ts';
import type { IpMemory, Outcome } from './ip-state.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import type { Family, Heartbeat, HolderFacts, IpStatus } from './model.ts';
import { plan } from './plan.ts';
import { createWorkQueue } from './runtime/queue.ts';
import type { RunResult, WorkQueue } from './runtime/queue.ts';
import { createTriggers } from './triggers.ts';
import { heartbeatOf, staleAt } from './heartbeats.ts';
import { createWorldIndex } from './world-index.ts';

export type { EventSink, Exposure };

/**
 * Read access to the informer caches (arrays of the objects, nothing more). They are read
 * when a term starts; after that the controller follows them through podChanged,
 * nodeChanged and nodeLeaseChanged, which must be called for every change (the informers'
 * callbacks), so that no reconcile run has to read a whole list.
 */
export interface WorldSource {
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
  /** the node Leases of kube-node-lease (heartbeats); absent: heartbeat detection is off */
  listNodeLeases?(): readonly V1Lease[];
}

/** A leadership term (leader.ts): work may start only while `valid()`; `signal` aborts at its end. */
export interface Term {
  readonly signal: AbortSignal;
  valid(): boolean;
}

/** The droplet tags of one droplet (the CloudPort's getDroplet satisfies it). */
export interface DropletReader {
  getDroplet(id: number, opts?: CallOptions): Promise<{ readonly id: number; readonly tags: readonly string[] }>;
}

export interface ControllerConfig {
  keys: FloatingIpKeys;
  dryRun: boolean;
  coolOffMs: number;
  unassignWhenUnplaced: boolean;
  resyncIntervalMs: number;
  actionExpiryMs: number;
  /** claim policy: may this IP be taken from a droplet outside the cluster? default: none */
  adoptable?: (ip: string) => boolean;
  /** heartbeat-based failover (node Leases); default on, grace = half the Lease duration */
  heartbeat?: { enabled: boolean; graceMs?: number | undefined };
  /** namespace IP policy: addresses a pod's namespace may not claim are dropped; default: all allowed */
  ipPolicy?: IpPolicy;
}

export interface HolderEntry {
  readonly ip: string;
  readonly family: Family;
  readonly dropletId: number | null;
  /** target of an assign in flight or pending, if any */
  readonly movingTo?: number | null;
}

export interface Controller {
  /** informer callbacks: only mark IPs dirty */
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
  /** a node Lease changed: a node heartbeating again may take IPs it could not */
  nodeLeaseChanged(lease: V1Lease | undefined, old?: V1Lease): void;
  /** begin a term: empty memory, drain the queue, periodic resync (default: a term until stop) */
  start(term?: Term): void;
  /** end the term: cancel the calls in flight, drop their outcomes, forget the term's memory */
  stop(): Promise<void>;
  /** list DigitalOcean's reserved IPs (paginated) and mark every known IP dirty */
  resyncNow(): Promise<void>;
  /** DigitalOcean's holders as this term knows them */
  holders(): readonly HolderEntry[];
}

export interface ControllerDeps {
  port: ReservedIpPort;
  /** droplet tags for the claim policy (cluster tag, holders outside the cluster); none: unknown */
  droplets?: DropletReader | undefined;
  world: WorldSource;
  events: EventSink;
  logger: Logger;
  metrics: ReconcilerMetrics;
  config: ControllerConfig;
  exposure?: Exposure | undefined;
  now?: () => number;
  setTimer?: SetTimer;
  /** parallel IPs in flight (default 4) */
  concurrency?: number;
  /** how often to re-read an IP whose DigitalOcean action is still in progress (default 2 s) */
  pendingPollMs?: number;
  /** retries of unexpected errors; floorMs also bounds how soon evidence cuts a backoff short */
  backoff?: { baseMs?: number; capMs?: number; floorMs?: number };
  /** called after every run of an IP, whatever its result (benchmarks wait on it) */
  onReconciled?: (ip: string) => void;
}

/** plan → act rounds in one run: a failed target is replaced at once, within bounds. */
const MAX_PASSES = 4;
/** how long droplet tags (claim policy) are trusted before they are read again */
const DROPLET_TAGS_TTL_MS = 5 * 60_000;
/**
 * Queue priorities: an IP that has a holder may be losing it (a failover, or a sticky re-plan
 * that costs no DigitalOcean call); one without is a first placement, which can wait when
 * DigitalOcean's rate budget is the bottleneck.
 */
const FAILOVER = 0;
const FIRST_PLACEMENT = 1;

interface TermState {
  readonly term: Term;
  readonly queue: WorkQueue;
  readonly memory: Map<string, IpMemory>;
  readonly dropletTags: Map<number, { tags: readonly string[]; atMs: number }>;
  clusterTag: string | undefined;
  holdersStale: boolean;
  resyncing: Promise<void> | undefined;
  cancelResync: (() => void) | undefined;
  readonly unplaced: Set<string>;
  readonly foreign: Map<string, number>;
  /** IPs whose holder is suspected (missed heartbeat), to count each suspicion once */
  readonly suspected: Set<string>;
}

export function createController(deps: ControllerDeps): Controller {
  const { config, metrics, world } = deps;
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? realTimer;
  const log = deps.logger;
  const adoptable = config.adoptable ?? (() => false);
  const planConfig = {
    coolOffMs: config.coolOffMs,
    unassignWhenUnplaced: config.unassignWhenUnplaced,
    adoptable,
    retryFloorMs: deps.backoff?.floorMs ?? 1_000,
    pendingPollMs: deps.pendingPollMs ?? 2_000,
    heartbeat: config.heartbeat ?? { enabled: true },
  };
  /** node name → its heartbeat, kept from the Lease events */
  const leases = new Map<string, Heartbeat>();
  const index = createWorldIndex(config.keys, config.ipPolicy);
  let current: TermState | undefined;

  const actuator = createActuator({
    port: deps.port,
    events: deps.events,
    logger: log,
    metrics,
    dryRun: config.dryRun,
    actionExpiryMs: config.actionExpiryMs,
    now,
    pod: (uid) => index.pod(uid),
    exposure: deps.exposure,
  });

  const triggers = createTriggers({
    keys: config.keys,
    index,
    logger: log,
    events: deps.events,
    heldBy: (dropletId) => [...(current?.memory ?? [])].filter(([, m]) => m.holder?.dropletId === dropletId).map(([ip]) => ip),
    active: () => current !== undefined,
  });

  function mark(s: TermState, ip: string): void {
    if (s.term.signal.aborted) return;
    s.memory.set(ip, apply(s.memory.get(ip), { kind: 'evidence' }, now()));
    s.queue.add(ip);
  }

  /** The one way memory changes; keeps the holder gauge in step. */
  function record(s: TermState, ip: string, outcome: Outcome): void {
    const was = s.memory.get(ip);
    const before = was?.holder;
    const after = apply(was, outcome, now());
    s.memory.set(ip, after);
    const waited = was?.pending?.action;
    if (waited && !after.pending && after.lastMoveMs !== was?.lastMoveMs) void actuator.completedLater(waited, was);
    if (before?.dropletId !== after.holder?.dropletId) {
      if (before?.dropletId != null) metrics.holder.remove({ ip, droplet: String(before.dropletId) });
      if (after.holder?.dropletId != null) metrics.holder.set({ ip, droplet: String(after.holder.dropletId) }, 1);
    }
    if (was?.pending && !after.pending && after.lastMoveMs === was.lastMoveMs && outcome.kind === 'observed') {
      log.warn({ ip, droplet: was.pending.dropletId, holder: after.holder?.dropletId ?? null }, 'DigitalOcean action ended without moving the IP; planning again');
    }
  }

  const holderOf = (r: { family: Family; dropletId: number | null; locked: boolean }): HolderFacts => ({ family: r.family, dropletId: r.dropletId, locked: r.locked });

  async function refreshHolders(s: TermState): Promise<void> {
    const started = now();
    const list = await deps.port.listReservedIps({ signal: s.term.signal });
    if (s.term.signal.aborted) return;
    const listed = new Set(list.map((r) => r.ip));
    for (const r of list) record(s, r.ip, { kind: 'observed', holder: holderOf(r), readStartedMs: started });
    for (const [ip, m] of s.memory) if (!listed.has(ip) && m.holder) record(s, ip, { kind: 'observed', holder: null, readStartedMs: started });
    s.holdersStale = false;
    deps.exposure?.holdersChanged();
  }

  /** What a run must know before planning: a fresh holder where it may have changed, droplet tags. */
  async function refresh(s: TermState, ip: string): Promise<void> {
    const signal = s.term.signal;
    if (s.holdersStale) await (s.resyncing ?? refreshHolders(s));
    const mem = s.memory.get(ip);
    if (mem?.holder === undefined || pendingOf(mem, now()) || mem.holder?.locked) {
      const started = now();
      try {
        const r = await deps.port.getReservedIp(ip, { signal });
        record(s, ip, { kind: 'observed', holder: holderOf(r), readStartedMs: started });
      } catch (err) {
        if (!(err instanceof DoApiError && err.errorClass === 'NotFound')) throw err;
        record(s, ip, { kind: 'observed', holder: null, readStartedMs: started }); // not in this account: the assign will say so
      }
    }
    await learnTags(s, s.memory.get(ip)?.holder?.dropletId ?? null);
  }

  /** Droplet tags for the claim policy: the cluster's own tag, and a non-node holder's tags. */
  async function learnTags(s: TermState, holder: number | null): Promise<void> {
    const reader = deps.droplets;
    if (!reader) return;
    if (s.clusterTag === undefined) {
      let anyDroplet: number | null = null;
      for (const n of index.claims.nodes()) if ((anyDroplet = n.dropletId) !== null) break;
      if (anyDroplet !== null) {
        const tags = await tagsOf(s, reader, anyDroplet);
        s.clusterTag = tags?.find((t) => /^k8s:[0-9a-f-]{36}$/.test(t));
      }
    }
    if (holder !== null && !index.claims.nodeOfDroplet(holder)) await tagsOf(s, reader, holder);
  }

  async function tagsOf(s: TermState, reader: DropletReader, id: number): Promise<readonly string[] | undefined> {
    const known = s.dropletTags.get(id);
    if (known && now() - known.atMs < DROPLET_TAGS_TTL_MS) return known.tags;
    try {
      const d = await reader.getDroplet(id, { signal: s.term.signal });
      s.dropletTags.set(id, { tags: d.tags, atMs: now() });
      return d.tags;
    } catch (err) {
      if (s.term.signal.aborted) throw err;
      // Unknown tags leave the droplet "outside": the safe side of the claim policy.
      if (!(err instanceof DoApiError && err.errorClass === 'NotFound')) log.warn({ droplet: id, err }, 'cannot read droplet tags; treating it as outside the cluster for now');
      s.dropletTags.set(id, { tags: [], atMs: now() });
      return undefined;
    }
  }

  function noteStatus(s: TermState, status: IpStatus): void {
    const { ip } = status;
    if (status.suspect && !s.suspected.has(ip)) {
      s.suspected.add(ip);
      metrics.heartbeatSuspicions.inc();
      log.warn({ ip, node: status.suspect.node, droplet: status.holder }, 'holder node missed its heartbeat');
    } else if (!status.suspect) s.suspected.delete(ip);
    if (status.state === 'unplaced') {
      s.unplaced.add(ip);
      metrics.unplaced.set({ ip }, 1);
    } else if (s.unplaced.delete(ip)) metrics.unplaced.set({ ip }, 0);
    const foreignHolder = s.foreign.get(ip);
    if (status.state === 'foreign' && status.holder !== null) {
      if (foreignHolder !== undefined && foreignHolder !== status.holder) metrics.heldOutsideCluster.remove({ ip, droplet: String(foreignHolder) });
      s.foreign.set(ip, status.holder);
      metrics.heldOutsideCluster.set({ ip, droplet: String(status.holder) }, 1);
    } else if (foreignHolder !== undefined) {
      s.foreign.delete(ip);
      metrics.heldOutsideCluster.remove({ ip, droplet: String(foreignHolder) });
    }
  }

  async function reconcile(s: TermState, ip: string, signal: AbortSignal): Promise<RunResult> {
    await refresh(s, ip);
    let requeueAfterMs: number | undefined;
    for (let pass = 0; pass < MAX_PASSES && !signal.aborted; pass++) {
      const snapshot = {
        targets: [ip],
        claims: index.claims,
        deletedNodes: triggers.deletedNodes(),
        dropletTags: new Map([...s.dropletTags].map(([id, t]) => [id, t.tags])),
        clusterTag: s.clusterTag,
        heartbeats: planConfig.heartbeat.enabled && world.listNodeLeases ? leases : undefined,
        config: planConfig,
      };
      const result = plan(snapshot, s.memory, now());
      if (result.heartbeat) {
        metrics.nodesHeartbeatStale.set(result.heartbeat.stale);
        metrics.heartbeatGuard.set(result.heartbeat.guarded ? 1 : 0);
      }
      const status = result.statuses[0];
      if (status) {
        record(s, ip, { kind: 'planned', status, reportKeys: status.reportKeys, evidenceMs: status.suspect?.lostSinceMs ?? s.memory.get(ip)?.evidenceMs ?? now() });
        noteStatus(s, status);
      }
      requeueAfterMs = result.requeueAfterMs;
      let moved = false;
      for (const action of result.actions) {
        // A write starts only inside a term that is still valid at this instant.
        if (action.type !== 'report' && !s.term.valid()) return {};
        const outcomes = await actuator.execute(action, s.memory.get(ip), signal);
        if (signal.aborted) return {}; // the term is over: its outcomes are not ours to keep
        for (const o of outcomes) {
          record(s, ip, o);
          if (o.kind === 'target-failed' && o.errorClass === 'Conflict') s.holdersStale = true;
        }
        if (action.type !== 'report') {
          moved = true;
          deps.exposure?.holdersChanged();
          // A droplet freed or taken may unblock IPs that had nowhere to go.
          if (!config.dryRun) for (const other of s.unplaced) if (other !== ip) mark(s, other);
        }
      }
      if (!moved || config.dryRun) break;
      if (s.holdersStale) await (s.resyncing ?? refreshHolders(s));
    }
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  function scheduleResync(s: TermState, ms: number): void {
    s.cancelResync?.();
    s.cancelResync = setTimer(() => {
      s.cancelResync = undefined;
      void resync(s);
    }, ms);
  }

  function resync(s: TermState): Promise<void> {
    if (s.resyncing) return s.resyncing;
    s.resyncing = (async () => {
      try {
        await refreshHolders(s);
        if (s.term.signal.aborted) return;
        const ips = new Set([...triggers.allClaimedIps(), ...s.memory.keys()]);
        for (const ip of ips) mark(s, ip);
        scheduleResync(s, config.resyncIntervalMs);
      } catch (err) {
        if (s.term.signal.aborted) return;
        metrics.reconcileErrors.inc({ class: err instanceof DoApiError ? err.errorClass : 'internal' });
        log.warn({ err }, 'DigitalOcean resync failed; retrying');
        scheduleResync(s, Math.min(config.resyncIntervalMs, 10_000));
      } finally {
        s.resyncing = undefined;
      }
    })();
    return s.resyncing;
  }

  function begin(term: Term): TermState {
    const s: TermState = {
      term,
      memory: new Map(),
      dropletTags: new Map(),
      clusterTag: undefined,
      holdersStale: true,
      resyncing: undefined,
      cancelResync: undefined,
      unplaced: new Set(),
      foreign: new Map(),
      suspected: new Set(),
      queue: createWorkQueue({
        worker: (ip, signal) => reconcile(s, ip, AbortSignal.any([signal, term.signal])).finally(() => deps.onReconciled?.(ip)),
        priority: (ip) => (s.memory.get(ip)?.holder?.dropletId != null ? FAILOVER : FIRST_PLACEMENT),
        concurrency: deps.concurrency ?? 4,
        backoff: deps.backoff,
        setTimer,
        now,
        onDepth: (d) => metrics.queueDepth.set(d),
        onError(ip, err, retryInMs) {
          if (term.signal.aborted) return;
          metrics.reconcileErrors.inc({ class: err instanceof DoApiError ? err.errorClass : 'internal' });
          log.warn({ ip, err, retryInMs }, 'reconcile failed');
        },
      }),
    };
    return s;
  }

  async function end(s: TermState): Promise<void> {
    s.cancelResync?.();
    await s.queue.shutdown(); // aborts the runs in flight; their outcomes are dropped
    await s.resyncing?.catch(() => undefined);
    metrics.holder.reset();
    metrics.unplaced.reset();
    metrics.heldOutsideCluster.reset();
    metrics.queueDepth.set(0);
  }

  /** a term started without one from the elector ends with stop() */
  let ownAbort: AbortController | undefined;
  const stopping = new WeakMap<TermState, Promise<void>>();
  function stopTerm(s: TermState): Promise<void> {
    if (current === s) current = undefined;
    const done = stopping.get(s) ?? end(s);
    stopping.set(s, done);
    return done;
  }

  return {
    podChanged(pod, old) {
      const s = current;
      index.podChanged(pod, old);
      for (const ip of triggers.podChanged(pod, old)) if (s) mark(s, ip);
    },
    nodeChanged(node, old) {
      const s = current;
      index.nodeChanged(node, old);
      for (const ip of triggers.nodeChanged(node, old)) if (s) mark(s, ip);
    },
    nodeLeaseChanged(lease, old) {
      const s = current;
      const name = (lease ?? old)?.metadata?.name;
      if (!name || !planConfig.heartbeat.enabled) return;
      const before = leases.get(name);
      const h = lease && heartbeatOf(lease);
      if (h) leases.set(name, h);
      else leases.delete(name);
      if (!s) return;
      // A fresh node's renewal changes nothing; a node heartbeating again after a silence may
      // take IPs it could not (its holder's own silence is seen by the timer plan() asked for).
      const wasStale = before !== undefined && staleAt(before, planConfig.heartbeat.graceMs) < now();
      if (!wasStale) return;
      const node = index.node(name);
      for (const ip of triggers.nodeChanged(node, node)) mark(s, ip);
    },
    start(term) {
      if (current) return;
      let t = term;
      if (!t) {
        const own = new AbortController();
        t = { signal: own.signal, valid: () => !own.signal.aborted };
        ownAbort = own;
      }
      // The world may have been filled without events (tests, benchmarks): start from it.
      index.sync(world.listPods(), world.listNodes());
      if (planConfig.heartbeat.enabled && world.listNodeLeases) {
        leases.clear();
        for (const lease of world.listNodeLeases()) {
          const h = heartbeatOf(lease);
          if (h && lease.metadata?.name) leases.set(lease.metadata.name, h);
        }
      }
      const s = begin(t);
      current = s;
      t.signal.addEventListener('abort', () => void stopTerm(s), { once: true });
      void resync(s);
    },
    stop() {
      ownAbort?.abort(new Error('controller stopped'));
      ownAbort = undefined;
      return current ? stopTerm(current) : Promise.resolve();
    },
    resyncNow: () => (current ? resync(current) : Promise.resolve()),
    holders() {
      const s = current;
      if (!s) return [];
      const t = now();
      const out: HolderEntry[] = [];
      for (const [ip, m] of s.memory) {
        if (!m.holder) continue;
        const pending = pendingOf(m, t);
        out.push(pending ? { ip, family: m.holder.family, dropletId: m.holder.dropletId, movingTo: pending.dropletId } : { ip, family: m.holder.family, dropletId: m.holder.dropletId });
      }
      return out;
    },
  };
}
