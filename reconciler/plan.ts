// The decision: which droplet should hold each reserved IP, and why. Pure — no await, no
// clock, no environment; `now` and the per-IP memory (ip-state.ts) come in as arguments, so
// every rule is a table test. The answer says when to look again (`requeueAfterMs`).
//
// Rules, in order, for one IP:
// 1. Claimants are the pods whose annotation lists the IP. A workload is the pods of one
//    namespace and owner, whatever their annotation says (a rollout that edits the
//    annotation stays one workload). Claims follow time, not age: the workload that holds
//    the IP (its pod is on the holder's node) keeps it while it has an eligible pod, so a
//    claim that appears later — a new workload, or an annotation added to an old running
//    pod — never pre-empts it. Only when nobody in the cluster holds the IP does the oldest
//    workload win (oldest pod, then UID). Every claimant of a losing workload gets a
//    `conflict` report, once while it stays true.
// 2. A pending DigitalOcean action on the IP (ours, not yet expired) or a locked IP: wait.
// 3. Claim policy: an IP held by a droplet that is not (or was not recently) a node of this
//    cluster and does not carry the cluster's tag is left alone and reported, unless the
//    operator listed it as adoptable. Two clusters on one account never take IPs from each
//    other.
// 4. Sticky: the holder keeps the IP while its droplet runs an eligible claimant of the winner.
// 5. Otherwise the IP moves to an eligible claimant's droplet, oldest pod first, skipping
//    droplets that failed recently as this IP's target (404, 422, pending event…) and
//    droplets that already hold (or are about to hold) another reserved IP of the same family
//    — a droplet takes one IPv4 and one IPv6. The IPs of one workload are placed together, in
//    annotation order, so a pool spreads the same way whichever IP is planned first.
// 6. No eligible pod: leave the IP where it is and report it; unassign only if configured.
//    An unassigned IP whose pods are all still starting (younger than STARTUP_GRACE_MS) just
//    waits: that is a rollout, not a problem.
// 7. A retry backoff after a failed attempt holds back only a retry towards the same target;
//    new evidence (a pod or node event) cuts it short, down to a floor against hot loops.
// 8. Heartbeats (when enabled): a holder whose node Lease has not been renewed for longer
//    than the grace (half the Lease's duration, or a fixed one) loses the IP to an eligible
//    pod on a node with a fresh Lease — long before the node controller marks it NotReady.
//    Never when no fresh node can take it, nor when more than half of the nodes look stale
//    at once: then the API server, the network or this process is the likelier problem (like
//    the node lifecycle controller's unhealthy-zone threshold). New targets on fresh nodes are
//    preferred in every move.
// 9. Liveness (when enabled): a holder droplet confirmed dead by probes (reconciler/liveness,
//    which holds its own partition guard) loses the IP at once to an eligible pod on a droplet
//    not confirmed dead; such a droplet is never a target.
//
// Cool-off: after a completed move the IP is not moved *voluntarily* for `coolOffMs`. A
// holder that cannot serve (NotReady, cordoned, tainted, gone, unassigned) is always replaced
// at once — availability first. Voluntary changes are those that take a working IP away:
// handing it from a conflict loser that still serves to the winner, and unassigning an
// unplaced IP.
import { claimIndexOf } from './claims.ts';
import type { Candidate, ClaimView, WorkloadView } from './claims.ts';
import { staleAt as heartbeatStaleAt } from './heartbeats.ts';
import { failedTargetsOf, pendingOf, retryBlockedUntil } from './ip-state.ts';
import type { IpMemory } from './ip-state.ts';
import type { Action, Family, IpStatus, NodeFacts, PlanResult, PodFacts, PodRef, Reason, Snapshot } from './model.ts';

export type { IpMemory };

/**
 * A Snapshot whose claimants come from an index kept up to date as pods and nodes change
 * (world-index.ts) instead of a list: a decision then costs the same with 10 claimants or
 * 10,000 — no pass over the pods, no sort.
 */
export type IndexedSnapshot = Omit<Snapshot, 'pods' | 'nodes'> & { readonly claims: ClaimView };

/**
 * How long a new pod may be Pending or not yet Ready before an unassigned IP that waits for
 * it is reported as unplaced (readiness probes with an initial delay need some time).
 */
export const STARTUP_GRACE_MS = 60_000;

type Workload = WorkloadView;

/** What the node Leases say; every answer is "unknown" while heartbeats are off or guarded. */
interface HeartbeatView {
  readonly summary?: { readonly known: number; readonly stale: number; readonly guarded: boolean };
  /** when this node's Lease turns (or turned) stale; undefined: no Lease or not judged */
  staleAt(node: NodeFacts): number | undefined;
  /** stale now, and heartbeat judgments are not suspended */
  stale(node: NodeFacts): boolean;
  fresh(node: NodeFacts): boolean;
}

interface World {
  readonly snap: IndexedSnapshot;
  readonly claims: ClaimView;
  readonly heartbeat: HeartbeatView;
  readonly memory: ReadonlyMap<string, IpMemory>;
  readonly now: number;
}

const starting = (pod: PodFacts, now: number): boolean =>
  !pod.terminating && (pod.phase === 'Pending' || (pod.phase === 'Running' && !pod.ready)) && now - pod.createdMs < STARTUP_GRACE_MS;

const ref = (pod: PodFacts): PodRef => ({ uid: pod.uid, namespace: pod.namespace, name: pod.name });
const podName = (pod: PodFacts): string => `${pod.namespace}/${pod.name}`;

const UNKNOWN: HeartbeatView = { staleAt: () => undefined, stale: () => false, fresh: () => false };

function heartbeatView(snap: IndexedSnapshot, now: number): HeartbeatView {
  const config = snap.config.heartbeat;
  const leases = snap.heartbeats;
  if (!config?.enabled || !leases || leases.size === 0) return UNKNOWN;
  const staleAt = (node: NodeFacts): number | undefined => {
    const h = leases.get(node.name);
    return h === undefined ? undefined : heartbeatStaleAt(h, config.graceMs);
  };
  let known = 0;
  let stale = 0;
  for (const n of snap.claims.nodes()) {
    const at = staleAt(n);
    if (at === undefined) continue;
    known += 1;
    if (now > at) stale += 1;
  }
  // The guard: too many at once to be the nodes' fault.
  if (stale * 2 > known) return { ...UNKNOWN, summary: { known, stale, guarded: true } };
  return {
    summary: { known, stale, guarded: false },
    staleAt,
    stale: (n) => {
      const at = staleAt(n);
      return at !== undefined && now > at;
    },
    fresh: (n) => {
      const at = staleAt(n);
      return at !== undefined && now <= at;
    },
  };
}

function effectiveHolder(w: Pick<World, 'memory' | 'now'>, ip: string): number | null {
  const mem = w.memory.get(ip);
  const pending = pendingOf(mem, w.now);
  return pending ? pending.dropletId : (mem?.holder?.dropletId ?? null);
}

/**
 * The workloads claiming `ip`, the winner first: the workload holding it (a claimant on the
 * effective holder's droplet — eligible there, or else with an eligible pod elsewhere, which
 * then takes the IP over), else the oldest. Pod age decides only an IP nobody here holds.
 */
export function rankedWorkloads(w: Pick<World, 'claims' | 'memory' | 'now'>, ip: string): readonly Workload[] {
  const workloads = w.claims.workloads(ip);
  if (workloads.length < 2) return workloads;
  const holder = effectiveHolder(w, ip);
  const node = holder === null ? undefined : w.claims.nodeOfDroplet(holder);
  if (holder === null || !node) return workloads;
  const holding =
    workloads.find((g) => g.eligibleOn(holder, ip) !== undefined) ??
    workloads.find((g) => g.claimantOn(node.name, ip) !== undefined && g.eligible(ip).length > 0);
  if (!holding || holding === workloads[0]) return workloads;
  return [holding, ...workloads.filter((g) => g !== holding)];
}

function familyOf(w: World, ip: string): Family {
  return w.memory.get(ip)?.holder?.family ?? (ip.includes(':') ? 6 : 4);
}

/**
 * The claimants of `ip` in `workload` that may take it now, oldest first, nodes with a fresh
 * heartbeat first. Lazy: the caller takes the first that fits, usually the first one.
 */
function* candidatesFor(w: World, workload: Workload, ip: string, freshOnly = false): Generator<Candidate> {
  const failed = new Set(failedTargetsOf(w.memory.get(ip), w.now).map((f) => f.dropletId));
  const stale: Candidate[] = [];
  for (const c of workload.eligible(ip)) {
    if (failed.has(c.dropletId) || w.snap.unreachable?.has(c.dropletId)) continue;
    if (freshOnly) {
      if (w.heartbeat.fresh(c.node)) yield c;
    } else if (w.heartbeat.stale(c.node)) stale.push(c);
    else yield c;
  }
  yield* stale;
}

function firstOf<T>(items: Iterable<T>, ok: (item: T) => boolean): T | undefined {
  for (const item of items) if (ok(item)) return item;
  return undefined;
}

/**
 * Desired droplet for every IP of `workload` in `family` that the workload wins. `leaving`:
 * an IP whose holder must not keep it (heartbeat lost: to a fresh node only; unreachable:
 * `leavingFreshOnly` false, to any live droplet).
 */
function placeFamily(w: World, workload: Workload, family: Family, leaving?: string, leavingFreshOnly = true): Map<string, Candidate | null> {
  const mine = workload.addresses().filter((ip) => familyOf(w, ip) === family && rankedWorkloads(w, ip)[0] === workload);
  const used = new Set<number>();
  for (const [ip] of w.memory) {
    if (mine.includes(ip) || familyOf(w, ip) !== family) continue;
    const holder = effectiveHolder(w, ip);
    if (holder !== null) used.add(holder);
  }
  const result = new Map<string, Candidate | null>();
  for (const ip of mine) {
    if (ip === leaving) continue;
    const holder = effectiveHolder(w, ip);
    const sticky = holder === null ? undefined : workload.eligibleOn(holder, ip);
    if (sticky && !used.has(sticky.dropletId)) {
      result.set(ip, sticky);
      used.add(sticky.dropletId);
    }
  }
  for (const ip of mine) {
    if (result.has(ip)) continue;
    const next = firstOf(candidatesFor(w, workload, ip, ip === leaving && leavingFreshOnly), (c) => !used.has(c.dropletId) && !(ip === leaving && c.dropletId === effectiveHolder(w, ip))) ?? null;
    result.set(ip, next);
    if (next) used.add(next.dropletId);
  }
  return result;
}

function conflictReports(ip: string, workloads: readonly Workload[], holds: boolean): Action[] {
  const [winner, ...losers] = workloads;
  if (!winner) return [];
  const winnerPod = winner.oldest();
  const why = holds ? 'which holds it and keeps it while it has an eligible pod (claims follow time, not age)' : 'an older workload, which keeps it';
  return losers.flatMap((g) =>
    g
      .claimants(ip)
      .map((pod) => ({
        type: 'report' as const,
        ip,
        reason: 'conflict' as const,
        pod: ref(pod),
        detail: `reserved IP ${ip} is also claimed by ${podName(winnerPod)}, ${why}`,
        reportKey: `conflict\n${pod.uid}\n${winner.key}`,
      })),
  );
}

/** A droplet that is no node of this cluster, was none recently, and has not its tag. */
function outsideCluster(w: World, dropletId: number): boolean {
  if (w.claims.nodeOfDroplet(dropletId) || w.snap.deletedNodes?.has(dropletId)) return false;
  const tag = w.snap.clusterTag;
  return !(tag !== undefined && w.snap.dropletTags?.get(dropletId)?.includes(tag));
}

/** Why the holder does not serve the winner: the move reason plus a sentence. */
function holderProblem(w: World, ip: string, holder: number | null, workloads: readonly Workload[]): { reason: Reason; detail: string } {
  if (holder === null) return { reason: 'unassigned', detail: 'the IP has no holder' };
  const node = w.claims.nodeOfDroplet(holder);
  if (!node) {
    const deleted = w.snap.deletedNodes?.get(holder);
    if (deleted !== undefined) return { reason: 'holder-node-deleted', detail: `node ${deleted} (droplet ${holder}) was deleted` };
    const adopted = outsideCluster(w, holder) ? ', and the IP is listed as adoptable' : ', but carries its tag';
    return { reason: 'holder-outside-cluster', detail: `droplet ${holder} is not a node of this cluster${adopted}` };
  }
  if (workloads.slice(1).some((g) => g.eligibleOn(holder, ip) !== undefined)) {
    return { reason: 'conflict-winner', detail: `droplet ${holder} serves a workload that lost the claim` };
  }
  const onNode = workloads[0]?.claimantOn(node.name, ip);
  const e = onNode && w.claims.eligibility(onNode);
  const because = e && !e.ok ? e.why : `no pod of the workload runs on node ${node.name}`;
  return { reason: 'holder-not-eligible', detail: `droplet ${holder} cannot serve: ${because}` };
}

function unplacedDetail(w: World, ip: string, workload: Workload, family: Family): string {
  if (workload.eligible(ip).length > 0) {
    const failed = failedTargetsOf(w.memory.get(ip), w.now);
    const claimantOn = (droplet: number | null) => droplet !== null && workload.eligibleOn(droplet, ip) !== undefined;
    const parts = failed.filter((f) => claimantOn(f.dropletId)).map((f) => `droplet ${f.dropletId} failed: ${f.message}`);
    const blockers = [...w.memory.keys()]
      .filter((other) => other !== ip && familyOf(w, other) === family && claimantOn(effectiveHolder(w, other)))
      .map((other) => `${other} on ${effectiveHolder(w, other)}`);
    if (blockers.length > 0) parts.push(`the other eligible droplets already hold a reserved IPv${family} (${blockers.join(', ')})`);
    return `no eligible droplet can take it now: ${parts.join('; ')}`;
  }
  const claimant = workload.claimants(ip)[0];
  const e = claimant && w.claims.eligibility(claimant);
  return `no eligible pod${e && !e.ok ? ` (${e.why})` : ''}`;
}

interface IpPlan {
  readonly actions: Action[];
  readonly status: IpStatus;
  readonly requeueAfterMs?: number | undefined;
}

const soonest = (...ms: (number | undefined)[]): number | undefined => {
  const finite = ms.filter((m): m is number => m !== undefined && Number.isFinite(m));
  return finite.length === 0 ? undefined : Math.max(0, Math.min(...finite));
};

function planIp(w: World, ip: string): IpPlan {
  const mem = w.memory.get(ip);
  const holderFacts = mem?.holder ?? undefined;
  const holder = holderFacts?.dropletId ?? null;
  const workloads = rankedWorkloads(w, ip);
  const winner = workloads[0];
  const reports: Action[] = [];
  const done = (state: IpStatus['state'], desired: number | null, more: { holderLost?: boolean; requeueAfterMs?: number | undefined; actions?: Action[]; suspect?: IpStatus['suspect'] } = {}): IpPlan => {
    const all = [...reports, ...(more.actions ?? [])];
    const reportKeys = all.flatMap((a) => (a.reportKey === undefined ? [] : [a.reportKey]));
    const made = new Set(mem?.reported ?? []);
    const actions = all.filter((a) => a.reportKey === undefined || !made.has(a.reportKey));
    const status: IpStatus = { ip, state, holder, desired, holderLost: more.holderLost ?? false, reportKeys, ...(more.suspect ? { suspect: more.suspect } : {}), ...(winner ? { winner: winner.key } : {}) };
    return { actions, status, requeueAfterMs: more.requeueAfterMs };
  };
  if (!winner) return done('unclaimed', holder);
  reports.push(...conflictReports(ip, workloads, workloads[0] !== w.claims.workloads(ip)[0]));

  const pending = pendingOf(mem, w.now);
  if (pending) return done('waiting', pending.dropletId, { requeueAfterMs: Math.min(w.snap.config.pendingPollMs, pending.expiresMs - w.now) });
  if (holderFacts?.locked) return done('waiting', holder, { requeueAfterMs: w.snap.config.pendingPollMs });

  if (holder !== null && outsideCluster(w, holder) && !w.snap.config.adoptable(ip)) {
    const pod = winner.claimants(ip)[0] as PodFacts;
    reports.push({
      type: 'report',
      ip,
      reason: 'held-outside-cluster',
      pod: ref(pod),
      detail: `reserved IP ${ip} is held by droplet ${holder}, which is not part of this cluster; floatip leaves it there (list it in --adoptable-ips to let floatip take it)`,
      reportKey: `held-outside-cluster\n${pod.uid}\n${holder}`,
    });
    return done('foreign', holder);
  }

  const family = familyOf(w, ip);
  const serving = holder === null ? undefined : winner.eligibleOn(holder, ip);
  if (serving) {
    const deadSince = w.snap.unreachable?.get(serving.dropletId);
    if (deadSince !== undefined) return holderUnreachable(w, ip, mem, serving, deadSince, done);
    const staleAt = w.heartbeat.staleAt(serving.node);
    if (!w.heartbeat.stale(serving.node)) return done('placed', holder, { requeueAfterMs: staleAt === undefined ? undefined : staleAt - w.now + 1 });
    return heartbeatLost(w, ip, mem, serving, staleAt as number, done);
  }

  const { reason, detail } = holderProblem(w, ip, holder, workloads);
  const lastMove = mem?.lastMoveMs;
  const coolOffEnds = lastMove === undefined ? undefined : lastMove + w.snap.config.coolOffMs;
  const coolingOff = coolOffEnds !== undefined && w.now < coolOffEnds;
  const holderLost = reason === 'holder-not-eligible' || reason === 'holder-node-deleted' || reason === 'holder-outside-cluster';
  if (reason === 'conflict-winner' && coolingOff) return done('waiting', holder, { requeueAfterMs: (coolOffEnds as number) - w.now });

  const failedUntil = failedTargetsOf(mem, w.now).map((f) => f.untilMs - w.now);
  const target = placeFamily(w, winner, family).get(ip);
  if (target) {
    const blocked = retryBlockedUntil(mem, target.dropletId, w.now, w.snap.config.retryFloorMs);
    if (blocked !== undefined) return done('waiting', target.dropletId, { holderLost, requeueAfterMs: blocked - w.now });
    const assign: Action = { type: 'assign', ip, reason, detail, dropletId: target.dropletId, pod: ref(target.pod), node: target.node.name };
    return done('moving', target.dropletId, { holderLost, actions: [assign] });
  }
  const claimants = winner.claimants(ip);
  if (holder === null && winner.eligible(ip).length === 0 && claimants.every((p) => starting(p, w.now))) {
    // A new workload's pods are still scheduling or starting: nothing is wrong yet, and a
    // Warning on every rollout would teach people to ignore floatip's Warnings.
    const graceEnds = (claimants[0] as PodFacts).createdMs + STARTUP_GRACE_MS; // oldest first
    return done('starting', null, { requeueAfterMs: graceEnds - w.now });
  }
  const why = unplacedDetail(w, ip, winner, family);
  const requeueAfterMs = soonest(...failedUntil);
  if (w.snap.config.unassignWhenUnplaced && holderLost && !coolingOff) {
    const blocked = retryBlockedUntil(mem, null, w.now, w.snap.config.retryFloorMs);
    if (blocked !== undefined) return done('waiting', null, { holderLost, requeueAfterMs: blocked - w.now });
    return done('moving', null, { holderLost, actions: [{ type: 'unassign', ip, reason: 'unplaced', detail: `${why}; ${detail}` }] });
  }
  const wait = w.snap.config.unassignWhenUnplaced && holderLost ? '; unassign waits for the cool-off' : '';
  const first = claimants[0] ?? winner.oldest();
  const report: Action = { type: 'report', ip, reason: 'unplaced', detail: `${why}${wait}`, pod: ref(first), reportKey: `unplaced\n${first.uid}\n${why}${wait}` };
  const coolOffWait = wait && coolOffEnds !== undefined ? coolOffEnds - w.now : undefined;
  return done('unplaced', null, { holderLost, actions: [report], requeueAfterMs: soonest(requeueAfterMs, coolOffWait) });
}

type Done = (state: IpStatus['state'], desired: number | null, more?: { holderLost?: boolean; requeueAfterMs?: number | undefined; actions?: Action[]; suspect?: IpStatus['suspect'] }) => IpPlan;

/** The holder looks Ready but its node stopped heartbeating: hand over to a fresh node, if any. */
function heartbeatLost(w: World, ip: string, mem: IpMemory | undefined, serving: Candidate, staleAt: number, done: Done): IpPlan {
  const winner = rankedWorkloads(w, ip)[0] as Workload;
  const suspect = { node: serving.node.name, lostSinceMs: staleAt };
  const target = placeFamily(w, winner, familyOf(w, ip), ip).get(ip);
  // No fresh node can take it: moving would not help. A fresh node's renewal re-plans.
  if (!target) return done('placed', serving.dropletId, { suspect });
  const blocked = retryBlockedUntil(mem, target.dropletId, w.now, w.snap.config.retryFloorMs);
  if (blocked !== undefined) return done('waiting', target.dropletId, { holderLost: true, suspect, requeueAfterMs: blocked - w.now });
  const h = w.snap.heartbeats?.get(serving.node.name);
  const silentS = h ? Math.round((w.now - h.renewMs) / 100) / 10 : 0;
  const graceS = Math.round((staleAt - (h?.renewMs ?? staleAt)) / 100) / 10;
  const detail = `node ${serving.node.name} (droplet ${serving.dropletId}) has not renewed its heartbeat for ${silentS} s (grace ${graceS} s); its pods may still look Ready`;
  const assign: Action = { type: 'assign', ip, reason: 'holder-heartbeat-lost', detail, dropletId: target.dropletId, pod: ref(target.pod), node: target.node.name };
  return done('moving', target.dropletId, { holderLost: true, suspect, actions: [assign] });
}

/** Liveness probes found the holder droplet dead: hand over to a live droplet, if any. */
function holderUnreachable(w: World, ip: string, mem: IpMemory | undefined, serving: Candidate, sinceMs: number, done: Done): IpPlan {
  const winner = rankedWorkloads(w, ip)[0] as Workload;
  const suspect = { node: serving.node.name, lostSinceMs: sinceMs, why: 'unreachable' as const };
  const target = placeFamily(w, winner, familyOf(w, ip), ip, false).get(ip);
  if (!target) return done('placed', serving.dropletId, { suspect });
  const blocked = retryBlockedUntil(mem, target.dropletId, w.now, w.snap.config.retryFloorMs);
  if (blocked !== undefined) return done('waiting', target.dropletId, { holderLost: true, suspect, requeueAfterMs: blocked - w.now });
  const silentS = Math.round((w.now - sinceMs) / 100) / 10;
  const detail = `droplet ${serving.dropletId} (node ${serving.node.name}) has not answered liveness probes for ${silentS} s, from this reconciler nor from agents on other nodes; its pods may still look Ready`;
  const assign: Action = { type: 'assign', ip, reason: 'holder-unreachable', detail, dropletId: target.dropletId, pod: ref(target.pod), node: target.node.name };
  return done('moving', target.dropletId, { holderLost: true, suspect, actions: [assign] });
}

export function plan(snapshot: Snapshot | IndexedSnapshot, memory: ReadonlyMap<string, IpMemory>, now: number): PlanResult {
  const snap = 'claims' in snapshot ? snapshot : { ...snapshot, claims: claimIndexOf(snapshot.pods, snapshot.nodes) };
  const w: World = { snap, claims: snap.claims, memory, now, heartbeat: heartbeatView(snap, now) };
  const actions: Action[] = [];
  const statuses: IpStatus[] = [];
  let requeueAfterMs: number | undefined;
  for (const ip of snap.targets) {
    const r = planIp(w, ip);
    actions.push(...r.actions);
    statuses.push(r.status);
    requeueAfterMs = soonest(requeueAfterMs, r.requeueAfterMs);
  }
  const heartbeat = w.heartbeat.summary;
  return { actions, statuses, ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }), ...(heartbeat ? { heartbeat } : {}) };
}
