// The decision: which droplet should hold each reserved IP, and why. Pure — no await, no
// clock, no environment; `now` comes in as an argument, so every rule is a table test.
//
// Rules, in order, for one IP:
// 1. Claimants are the pods whose annotation lists the IP. Pods of one namespace, owner and
//    annotation value form a workload ("group"). When several groups claim the IP the oldest
//    wins (oldest pod, then UID); every pod of a losing group gets a `conflict` report.
// 2. A pending DigitalOcean action on the IP (ours, not yet expired) or a locked IP: wait.
// 3. Sticky: the holder keeps the IP while its droplet runs an eligible pod of the winner.
// 4. Otherwise the IP moves to an eligible pod's droplet, oldest pod first, skipping droplets
//    that already hold (or are about to hold) another reserved IP of the same family — a
//    droplet takes one IPv4 and one IPv6. The IPs of one group are placed together, in
//    annotation order, so a pool spreads over distinct droplets the same way whichever IP
//    is planned first.
// 5. No eligible pod: leave the IP where it is and report it; unassign only if configured.
//    An unassigned IP whose pods are all still starting (younger than STARTUP_GRACE_MS) just
//    waits: that is a rollout, not a problem.
//
// Cool-off: after a completed move the IP is not moved *voluntarily* for `coolOffMs`. A
// holder that cannot serve (NotReady, cordoned, tainted, gone, unassigned, outside the
// cluster) is always replaced at once — availability first. Voluntary changes are those
// that take a working IP away: handing it from a conflict loser that still serves to the
// winner (winner age changes when its oldest pod restarts, so two workloads could otherwise
// ping-pong the IP) and unassigning an unplaced IP (a single pod's readiness blip would
// otherwise cost an unassign + assign pair, each a DigitalOcean action).
import { byAge, podEligibility } from './eligibility.ts';
import type { Eligibility } from './eligibility.ts';
import type { Action, Family, IpStatus, NodeFacts, PlanResult, PodFacts, PodRef, Reason, Snapshot } from './model.ts';

interface Candidate {
  readonly pod: PodFacts;
  readonly dropletId: number;
  readonly node: NodeFacts;
}

interface Group {
  readonly key: string;
  /** oldest first */
  readonly pods: readonly PodFacts[];
  /** eligible pods, oldest first */
  readonly eligible: readonly Candidate[];
}

interface World {
  readonly snap: Snapshot;
  readonly now: number;
  readonly dropletNodes: ReadonlyMap<number, NodeFacts>;
  readonly groups: ReadonlyMap<string, Group>;
  /** ip → groups claiming it, winner first */
  readonly claims: ReadonlyMap<string, readonly Group[]>;
  readonly why: ReadonlyMap<string, Eligibility>;
}

/**
 * How long a new pod may be Pending or not yet Ready before an unassigned IP that waits for
 * it is reported as unplaced (readiness probes with an initial delay need some time).
 */
export const STARTUP_GRACE_MS = 60_000;

const starting = (pod: PodFacts, now: number): boolean =>
  !pod.terminating && (pod.phase === 'Pending' || (pod.phase === 'Running' && !pod.ready)) && now - pod.createdMs < STARTUP_GRACE_MS;

const groupKey = (pod: PodFacts): string => `${pod.namespace}\n${pod.owner}\n${pod.claim}`;
const ref = (pod: PodFacts): PodRef => ({ uid: pod.uid, namespace: pod.namespace, name: pod.name });
const podName = (pod: PodFacts): string => `${pod.namespace}/${pod.name}`;

function buildWorld(snap: Snapshot, now: number): World {
  const nodesByName = new Map(snap.nodes.map((n) => [n.name, n]));
  const dropletNodes = new Map<number, NodeFacts>();
  for (const n of snap.nodes) if (n.dropletId !== null) dropletNodes.set(n.dropletId, n);
  const why = new Map<string, Eligibility>();
  const members = new Map<string, PodFacts[]>();
  for (const pod of [...snap.pods].sort(byAge)) {
    why.set(pod.uid, podEligibility(pod, nodesByName));
    const list = members.get(groupKey(pod)) ?? [];
    list.push(pod);
    members.set(groupKey(pod), list);
  }
  const groups = new Map<string, Group>();
  const claims = new Map<string, Group[]>();
  for (const [key, pods] of members) {
    const eligible: Candidate[] = [];
    for (const pod of pods) {
      const e = why.get(pod.uid);
      if (e?.ok) eligible.push({ pod, dropletId: e.dropletId, node: e.node });
    }
    const group = { key, pods, eligible };
    groups.set(key, group);
    for (const addr of pods[0]?.addresses ?? []) claims.set(addr.text, [...(claims.get(addr.text) ?? []), group]);
  }
  // Groups were created oldest first, so each claim list already has the winner first.
  return { snap, now, dropletNodes, groups, claims, why };
}

function pendingTarget(w: World, ip: string): number | null | undefined {
  const pending = w.snap.memory.get(ip)?.pending;
  if (!pending || w.now >= pending.expiresMs) return undefined;
  // DigitalOcean shows no lock: the action is over (done, or errored and the IP stayed).
  if (w.snap.holders.get(ip)?.locked === false) return undefined;
  return pending.dropletId;
}

function effectiveHolder(w: World, ip: string): number | null {
  const pending = pendingTarget(w, ip);
  return pending !== undefined ? pending : (w.snap.holders.get(ip)?.dropletId ?? null);
}

function familyOf(w: World, ip: string): Family {
  const known = w.snap.holders.get(ip)?.family;
  if (known) return known;
  return w.claims.get(ip)?.[0]?.pods[0]?.addresses.find((a) => a.text === ip)?.family ?? (ip.includes(':') ? 6 : 4);
}

/** Desired droplet for every IP of `group` in `family` that the group wins. */
function placeFamily(w: World, group: Group, family: Family): Map<string, Candidate | null> {
  const mine = (group.pods[0]?.addresses ?? [])
    .filter((a) => a.family === family && w.claims.get(a.text)?.[0] === group)
    .map((a) => a.text);
  const others = [...new Set([...w.snap.holders.keys(), ...w.snap.memory.keys()])].filter(
    (ip) => !mine.includes(ip) && familyOf(w, ip) === family,
  );
  const used = new Set<number>();
  for (const ip of others) {
    const holder = effectiveHolder(w, ip);
    if (holder !== null) used.add(holder);
  }
  const result = new Map<string, Candidate | null>();
  for (const ip of mine) {
    const holder = effectiveHolder(w, ip);
    const sticky = group.eligible.find((c) => c.dropletId === holder);
    if (sticky && !used.has(sticky.dropletId)) {
      result.set(ip, sticky);
      used.add(sticky.dropletId);
    }
  }
  for (const ip of mine) {
    if (result.has(ip)) continue;
    const next = group.eligible.find((c) => !used.has(c.dropletId)) ?? null;
    result.set(ip, next);
    if (next) used.add(next.dropletId);
  }
  return result;
}

function conflictReports(ip: string, groups: readonly Group[]): Action[] {
  const [winner, ...losers] = groups;
  const winnerPod = winner?.pods[0];
  if (!winnerPod) return [];
  return losers.flatMap((g) =>
    g.pods.map((pod) => ({
      type: 'report' as const,
      ip,
      reason: 'conflict' as const,
      pod: ref(pod),
      detail: `reserved IP ${ip} is also claimed by ${podName(winnerPod)}, an older workload, which keeps it`,
    })),
  );
}

/** Why the holder does not serve the winner: the move reason plus a sentence. */
function holderProblem(w: World, holder: number | null, groups: readonly Group[]): { reason: Reason; detail: string } {
  if (holder === null) return { reason: 'unassigned', detail: 'the IP has no holder' };
  const node = w.dropletNodes.get(holder);
  if (!node) {
    const deleted = w.snap.deletedNodes?.get(holder);
    if (deleted !== undefined) return { reason: 'holder-node-deleted', detail: `node ${deleted} (droplet ${holder}) was deleted` };
    return { reason: 'holder-outside-cluster', detail: `droplet ${holder} is not a node of this cluster` };
  }
  if (groups.slice(1).some((g) => g.eligible.some((c) => c.dropletId === holder))) {
    return { reason: 'conflict-winner', detail: `droplet ${holder} serves a workload that lost the claim` };
  }
  const onNode = groups[0]?.pods.find((p) => p.nodeName === node.name);
  const e = onNode && w.why.get(onNode.uid);
  const because = e && !e.ok ? e.why : `no pod of the workload runs on node ${node.name}`;
  return { reason: 'holder-not-eligible', detail: `droplet ${holder} cannot serve: ${because}` };
}

function unplacedDetail(w: World, ip: string, group: Group, family: Family): string {
  if (group.eligible.length > 0) {
    const droplets = new Set(group.eligible.map((c) => c.dropletId));
    const blockers = [...w.snap.holders.keys()]
      .filter((other) => other !== ip && familyOf(w, other) === family && droplets.has(effectiveHolder(w, other) ?? 0))
      .map((other) => `${other} on ${effectiveHolder(w, other)}`);
    return `every eligible pod's droplet already holds a reserved IPv${family} (${blockers.join(', ')})`;
  }
  const first = group.pods[0];
  const e = first && w.why.get(first.uid);
  return `no eligible pod${e && !e.ok ? ` (${e.why})` : ''}`;
}

function planIp(w: World, ip: string): { actions: Action[]; status: IpStatus } {
  const holderFacts = w.snap.holders.get(ip);
  const holder = holderFacts?.dropletId ?? null;
  const status = (state: IpStatus['state'], desired: number | null, holderLost = false): IpStatus => ({ ip, state, holder, desired, holderLost });
  const groups = w.claims.get(ip) ?? [];
  const winner = groups[0];
  if (!winner) return { actions: [], status: status('unclaimed', holder) };
  const actions = conflictReports(ip, groups);

  const pending = pendingTarget(w, ip);
  if (pending !== undefined || holderFacts?.locked) return { actions, status: status('waiting', pending ?? holder) };

  const family = familyOf(w, ip);
  if (winner.eligible.some((c) => c.dropletId === holder)) return { actions, status: status('placed', holder) };

  const { reason, detail } = holderProblem(w, holder, groups);
  const lastMove = w.snap.memory.get(ip)?.lastMoveMs;
  const coolingOff = lastMove !== undefined && w.now - lastMove < w.snap.config.coolOffMs;
  const holderLost = reason === 'holder-not-eligible' || reason === 'holder-node-deleted' || reason === 'holder-outside-cluster';
  if (reason === 'conflict-winner' && coolingOff) return { actions, status: status('waiting', holder) };

  const target = placeFamily(w, winner, family).get(ip);
  if (target) {
    actions.push({ type: 'assign', ip, reason, detail, dropletId: target.dropletId, pod: ref(target.pod), node: target.node.name });
    return { actions, status: status('moving', target.dropletId, holderLost) };
  }
  if (holder === null && winner.eligible.length === 0 && winner.pods.every((p) => starting(p, w.now))) {
    // A new workload's pods are still scheduling or starting: nothing is wrong yet, and a
    // Warning on every rollout would teach people to ignore floatip's Warnings.
    return { actions, status: status('starting', null) };
  }
  const why = unplacedDetail(w, ip, winner, family);
  if (w.snap.config.unassignWhenUnplaced && holderLost && !coolingOff) {
    actions.push({ type: 'unassign', ip, reason: 'unplaced', detail: `${why}; ${detail}` });
    return { actions, status: status('moving', null, holderLost) };
  }
  const wait = w.snap.config.unassignWhenUnplaced && holderLost ? '; unassign waits for the cool-off' : '';
  actions.push({ type: 'report', ip, reason: 'unplaced', detail: `${why}${wait}`, pod: ref(winner.pods[0] as PodFacts) });
  return { actions, status: status('unplaced', null, holderLost) };
}

export function plan(snap: Snapshot, now: number): PlanResult {
  const w = buildWorld(snap, now);
  const actions: Action[] = [];
  const statuses: IpStatus[] = [];
  for (const ip of snap.targets) {
    const r = planIp(w, ip);
    actions.push(...r.actions);
    statuses.push(r.status);
  }
  return { actions, statuses };
}
