// The IP controller: which droplet holds each reserved IP. Informer callbacks mark IPs dirty
// (triggers.ts says which); each run of an IP refreshes what it must know of DigitalOcean
// (cloud-view.ts), plans (plan.ts), acts (actuator.ts) and feeds every outcome to the per-IP
// state machine (ip-state.ts). Resync — list DigitalOcean's reserved IPs, mark every IP — is
// the RESYNC key of its queue.
//
// It runs on the runtime (runtime/runtime.ts), which owns the term: `begin` starts with empty
// memory, the runtime aborts the runs at the term's end and fences the write port. It is also
// the one view of claims: the Service controller reads a pod's claims (namespace IP policy
// applied, parsed once) and each IP's winner from here.
import { DoApiError } from '../../shared/digitalocean/port.ts';
import { createActuator } from '../actuator.ts';
import type { Exposure } from '../actuator.ts';
import { workloadKey } from '../claims.ts';
import type { EventSink } from '../events.ts';
import { apply, pendingOf } from '../ip-state.ts';
import type { IpMemory, Outcome } from '../ip-state.ts';
import type { HolderEntry, IpStatus } from '../model.ts';
import { plan } from '../plan.ts';
import { createRuntime, RESYNC } from '../runtime/runtime.ts';
import type { RunResult, Term } from '../runtime/runtime.ts';
import { createTriggers } from '../triggers.ts';
import { createWorldIndex } from '../world-index.ts';
import type { Controller, ControllerDeps } from './api.ts';
import { createCloudView } from './cloud-view.ts';
import type { CloudView, DropletReader, IpRecords } from './cloud-view.ts';
import { createLeaseCache } from './lease-cache.ts';
import { createStatusGauges } from './status-gauges.ts';

export type { DropletReader, EventSink, Exposure, HolderEntry, Term };
export type { ClaimsView, Controller, ControllerConfig, ControllerDeps, PodClaim, WorldSource } from './api.ts';

/** plan → act rounds in one run: a failed target is replaced at once, within bounds. */
const MAX_PASSES = 4;
/**
 * Queue priorities: an IP that has a holder may be losing it (a failover, or a sticky re-plan
 * that costs no DigitalOcean call); one without is a first placement, which can wait when
 * DigitalOcean's rate budget is the bottleneck.
 */
const FAILOVER = 0;
const FIRST_PLACEMENT = 1;

interface TermState {
  readonly memory: Map<string, IpMemory>;
  readonly cloud: CloudView;
  /** ip → the workload that won it at its last plan */
  readonly winners: Map<string, string>;
}

export function createController(deps: ControllerDeps): Controller {
  const { config, metrics, world } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const runtime = deps.runtime ?? createRuntime({ now, ...(deps.setTimer ? { setTimer: deps.setTimer } : {}) });
  const port = runtime.fence(deps.port, { assign: 2, unassign: 1 });
  const planConfig = {
    coolOffMs: config.coolOffMs,
    unassignWhenUnplaced: config.unassignWhenUnplaced,
    adoptable: config.adoptable ?? (() => false),
    retryFloorMs: deps.backoff?.floorMs ?? 1_000,
    pendingPollMs: deps.pendingPollMs ?? 2_000,
    heartbeat: config.heartbeat ?? { enabled: true },
  };
  const heartbeatsOn = planConfig.heartbeat.enabled && world.listNodeLeases !== undefined;
  const index = createWorldIndex(config.keys, config.ipPolicy);
  const leases = createLeaseCache(planConfig.heartbeat);
  const gauges = createStatusGauges(metrics, log);
  let current: TermState | undefined;
  /** droplet → failing since, confirmed dead by liveness probes (undefined: probes off) */
  let unreachable: ReadonlyMap<number, number> | undefined;

  const actuator = createActuator({
    port,
    events: deps.events,
    logger: log,
    metrics,
    dryRun: config.dryRun,
    actionExpiryMs: config.actionExpiryMs,
    now,
    pod: (uid) => index.pod(uid),
    exposure: deps.exposure,
    ...(config.exposeWait ? { exposeWait: config.exposeWait } : {}),
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
    s.memory.set(ip, apply(s.memory.get(ip), { kind: 'evidence' }, now()));
    queue.add(ip);
  }

  /** The one way memory changes; keeps the holder gauge in step. */
  function record(s: TermState, ip: string, outcome: Outcome): void {
    const was = s.memory.get(ip);
    const after = apply(was, outcome, now());
    s.memory.set(ip, after);
    const waited = was?.pending?.action;
    if (waited && !after.pending && after.lastMoveMs !== was?.lastMoveMs) void actuator.completedLater(waited, was);
    gauges.holderChanged(ip, was?.holder?.dropletId, after.holder?.dropletId);
    if (was?.pending && !after.pending && after.lastMoveMs === was.lastMoveMs && outcome.kind === 'observed') {
      log.warn({ ip, droplet: was.pending.dropletId, holder: after.holder?.dropletId ?? null }, 'DigitalOcean action ended without moving the IP; planning again');
    }
  }

  function noteStatus(s: TermState, status: IpStatus): void {
    gauges.planned(status);
    const before = s.winners.get(status.ip);
    if (status.winner === undefined) s.winners.delete(status.ip);
    else s.winners.set(status.ip, status.winner);
    // The Services expose only what their pods won: a new winner changes what they say.
    if (before !== status.winner) deps.exposure?.holdersChanged();
  }

  async function reconcileIp(s: TermState, ip: string, signal: AbortSignal): Promise<RunResult> {
    await s.cloud.refresh(ip);
    let requeueAfterMs: number | undefined;
    for (let pass = 0; pass < MAX_PASSES && !signal.aborted; pass++) {
      const snapshot = {
        targets: [ip],
        claims: index.claims,
        deletedNodes: triggers.deletedNodes(),
        dropletTags: s.cloud.dropletTags(),
        clusterTag: s.cloud.clusterTag(),
        heartbeats: heartbeatsOn ? leases.heartbeats() : undefined,
        unreachable,
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
        const outcomes = await actuator.execute(action, s.memory.get(ip), signal);
        if (signal.aborted) return {}; // the term is over: its outcomes are not ours to keep
        for (const o of outcomes) {
          record(s, ip, o);
          if (o.kind === 'target-failed' && o.errorClass === 'Conflict') s.cloud.markHoldersStale();
        }
        if (action.type !== 'report') {
          moved = true;
          deps.exposure?.holdersChanged();
          // A droplet freed or taken may unblock IPs that had nowhere to go.
          if (!config.dryRun) for (const other of gauges.unplaced()) if (other !== ip) mark(s, other);
        }
      }
      if (!moved || config.dryRun) break;
      await s.cloud.refreshIfStale();
    }
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  async function resync(s: TermState): Promise<void> {
    await s.cloud.refreshHolders();
    deps.exposure?.holdersChanged();
    deps.onHoldersListed?.();
    for (const ip of new Set([...triggers.allClaimedIps(), ...s.memory.keys()])) mark(s, ip);
  }

  const queue = runtime.register({
    name: 'ip',
    resyncMs: config.resyncIntervalMs,
    concurrency: deps.concurrency ?? 4,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    priority: (ip) => (current?.memory.get(ip)?.holder?.dropletId != null ? FAILOVER : FIRST_PLACEMENT),
    begin(term) {
      // The world may have been filled without events (tests, benchmarks): start from it.
      index.sync(world.listPods(), world.listNodes());
      if (heartbeatsOn) leases.sync(world.listNodeLeases?.() ?? []);
      const memory = new Map<string, IpMemory>();
      const records: IpRecords = { get: (ip) => memory.get(ip), entries: () => memory.entries(), record: (ip, o) => s && record(s, ip, o) };
      const s: TermState = { memory, winners: new Map(), cloud: createCloudView({ port, droplets: deps.droplets, claims: index.claims, records, logger: log, now, signal: term.signal }) };
      current = s;
    },
    end() {
      current = undefined;
      gauges.reset();
    },
    async reconcile(key, ctx) {
      const s = current;
      if (!s) return;
      if (key === RESYNC) return resync(s);
      return reconcileIp(s, key, ctx.signal);
    },
    onError(key, err, retryInMs) {
      metrics.reconcileErrors.inc({ class: err instanceof DoApiError ? err.errorClass : 'internal' });
      if (key === RESYNC) log.warn({ err, retryInMs }, 'DigitalOcean resync failed; retrying');
      else log.warn({ ip: key, err, retryInMs }, 'reconcile failed');
    },
    onDepth: (d) => metrics.queueDepth.set(d),
    onRun: (key) => {
      if (key !== RESYNC) deps.onReconciled?.(key);
    },
  });

  return {
    podChanged(pod, old) {
      index.podChanged(pod, old);
      const s = current;
      for (const ip of triggers.podChanged(pod, old)) if (s) mark(s, ip);
    },
    nodeChanged(node, old) {
      index.nodeChanged(node, old);
      const s = current;
      for (const ip of triggers.nodeChanged(node, old)) if (s) mark(s, ip);
    },
    nodeLeaseChanged(lease, old) {
      // A fresh node's renewal changes nothing; a node heartbeating again after a silence may
      // take IPs it could not (its holder's own silence is seen by the timer plan() asked for).
      const name = leases.changed(lease, old, now());
      const s = current;
      if (name === undefined || !s) return;
      const node = index.node(name);
      for (const ip of triggers.nodeChanged(node, node)) mark(s, ip);
    },
    start: (term) => runtime.start(term),
    stop: () => runtime.stop(),
    async resyncNow() {
      if (current) await queue.flush(RESYNC);
    },
    livenessChanged(dead) {
      const before = unreachable ?? new Map<number, number>();
      unreachable = dead;
      const s = current;
      if (!s) return;
      const changed = new Set<number>();
      for (const id of dead.keys()) if (!before.has(id)) changed.add(id);
      for (const id of before.keys()) if (!dead.has(id)) changed.add(id);
      if (changed.size === 0) return;
      // A dead holder's IPs move; a droplet back from the dead may take IPs that had nowhere to go.
      const unplaced = gauges.unplaced();
      for (const [ip, m] of s.memory) if ((m.holder?.dropletId != null && changed.has(m.holder.dropletId)) || unplaced.has(ip)) mark(s, ip);
    },
    livenessTargets() {
      const out = new Set<number>();
      const s = current;
      if (!s) return out;
      for (const [ip, m] of s.memory) {
        const holder = m.holder?.dropletId;
        if (holder == null) continue;
        out.add(holder);
        const winner = index.claims.workloads(ip)[0];
        const next = winner?.eligible(ip).find((c) => c.dropletId !== holder && !unreachable?.has(c.dropletId));
        if (next) out.add(next.dropletId);
      }
      return out;
    },
    quietDroplets() {
      const out = new Set<number>();
      if (!heartbeatsOn) return out;
      const t = now();
      const beats = leases.heartbeats();
      for (const n of index.claims.nodes()) {
        const h = beats.get(n.name);
        if (n.dropletId !== null && h && t - h.renewMs > h.durationMs / 4 + 2_000) out.add(n.dropletId);
      }
      return out;
    },
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
    podClaim(pod) {
      const e = index.entry(pod);
      return { ips: e.ips, ...(e.facts ? { workload: workloadKey(e.facts) } : {}), ...(e.notAllowed ? { notAllowed: e.notAllowed } : {}) };
    },
    winner: (ip) => current?.winners.get(ip),
    clusterUuid: () => current?.cloud.clusterUuid() ?? Promise.resolve(undefined),
  };
}
