// Is a probed droplet dead? The pure state machine of liveness (SWIM's probe → ping-req →
// confirm, as in hashicorp/memberlist), fed with probe results and answering with what to do.
// No clock, no I/O: `now` comes with every event, so every rule is a fake-clock table test.
//
// Per droplet:
// - ok: its kubelet port answers the leader's TCP handshakes. `failuresToSuspect`
//   consecutive failures make it suspect — or one, for a droplet this term never reached:
//   a new leader (whose predecessor may have died with a holder) asks the agents about an
//   inherited holder at its first failed probe. The agents still decide, so this is as safe.
// - suspect: the leader asks k agents on other nodes to probe it (one round at a time). Any
//   of them reaching it, or a direct probe answering, clears the suspicion: the path between
//   the leader and it is the problem, not the droplet. When the round ends with no prober
//   reaching it AND two of them answering "unreached" (or every prober asked, when fewer
//   were), it is dead. A round with fewer answers proves nothing (the leader may be the one
//   cut off, an agent may be starved): the next failure asks again.
// - dead: confirmed; the controller moves its IPs (reason holder-unreachable). A direct
//   probe answering again revives it (it gets no IP back: stickiness keeps the new holder).
//
// The guard, like the heartbeat guard: while more than half of the probed droplets fail the
// leader's own probes, the leader is the likelier problem, so nothing is confirmed dead.
// Droplets already dead when the guard engages stay dead (their IPs have moved), and droplets
// whose node Lease went quiet (`quiet`: they died earlier, Kubernetes says so too) are not
// counted — a new leader after several deaths would otherwise guard against itself.
//
// A new leader: for each holder it inherits, the first direct probe and a speculative round
// of indirect probes go out together ('inherit'); a failed first probe with that round already
// answered "unreached" is a verdict at once, saving one round trip of the agents.

export type Phase = 'ok' | 'suspect' | 'dead';

export interface DropletLiveness {
  readonly phase: Phase;
  /** consecutive failed direct probes */
  readonly failures: number;
  /** when the first of those failures' probes was sent: the evidence time of a failover */
  readonly failingSinceMs?: number | undefined;
  /** the indirect round under way: probers asked (-1 until known), answers of any kind, answers 'unreached' */
  readonly round?: { readonly id: number; readonly asked: number; readonly ended: number; readonly unreached: number } | undefined;
  /** rounds started so far for this droplet (round ids) */
  readonly rounds: number;
  /** a probe of this term reached it once: until then one failure is enough to ask the agents */
  readonly reached?: boolean;
  /** a speculative round (see 'inherit') ended with no prober reaching it: `unreached` answered so */
  readonly early?: { readonly unreached: number; readonly asked: number } | undefined;
}

export interface DetectorConfig {
  /** consecutive failed direct probes before a droplet is suspect (and indirect probes go out) */
  readonly failuresToSuspect: number;
  /**
   * droplets whose node Lease already went quiet (Kubernetes' own evidence of an earlier
   * death): their failures say nothing about this leader, so the guard does not count them
   */
  readonly quiet?: ReadonlySet<number>;
}

export type DetectorEvent =
  /** a direct probe sent at `sentMs` ended (answered, or failed: timeout, unreachable) */
  | { readonly kind: 'direct'; readonly droplet: number; readonly ok: boolean; readonly sentMs: number }
  /** a round was asked of `asked` probers (0: no prober available — the round ends at once, proving nothing) */
  | { readonly kind: 'asked'; readonly droplet: number; readonly round: number; readonly asked: number }
  /** one prober's answer in a round; 'no-answer': the prober did not answer (down, cut off, refused) */
  | { readonly kind: 'indirect'; readonly droplet: number; readonly round: number; readonly answer: 'reached' | 'unreached' | 'no-answer' }
  /** no longer probed (neither holder nor next target) */
  | { readonly kind: 'forget'; readonly droplet: number }
  /**
   * a new leader's first probe of a holder it inherited goes out: ask the agents at the same
   * time (its predecessor may have died with it, and the Lease expiry already cost seconds).
   * The agents' answer is kept; only a failed direct probe turns it into a verdict.
   */
  | { readonly kind: 'inherit'; readonly droplet: number };

export type Effect =
  | { readonly kind: 'suspected'; readonly droplet: number }
  /** send round `round` of indirect probes */
  | { readonly kind: 'ask'; readonly droplet: number; readonly round: number }
  /** suspicion cleared; `by` says who reached it */
  | { readonly kind: 'cleared'; readonly droplet: number; readonly by: 'direct' | 'indirect' }
  | { readonly kind: 'dead'; readonly droplet: number; readonly sinceMs: number; readonly probers: number }
  | { readonly kind: 'revived'; readonly droplet: number }
  /** a round ended without a verdict; `why` for the log */
  | { readonly kind: 'inconclusive'; readonly droplet: number; readonly why: 'too-few-answers' | 'guarded' };

export type LivenessMap = ReadonlyMap<number, DropletLiveness>;

const FRESH: DropletLiveness = { phase: 'ok', failures: 0, rounds: 0 };

/**
 * More than half of the probed droplets fail the leader's probes: the leader is cut off.
 * Droplets already dead, and those whose node Lease went quiet, are not counted.
 */
export function guarded(map: LivenessMap, quiet: ReadonlySet<number> = new Set()): boolean {
  let failing = 0;
  let probed = 0;
  for (const [id, d] of map) {
    if (d.phase === 'dead' || quiet.has(id)) continue;
    probed += 1;
    if (d.failures > 0) failing += 1;
  }
  return probed >= 2 && failing * 2 > probed;
}

/** Agents' "unreached" answers needed for a verdict: two, or every prober asked when fewer — one confused or starved agent kills nothing. */
const needed = (asked: number): number => Math.max(1, Math.min(2, asked));

export interface Step {
  readonly map: LivenessMap;
  readonly effects: readonly Effect[];
}

/** Apply one event; returns the new map (the old one is not changed) and what to do. */
export function step(map: LivenessMap, event: DetectorEvent, config: DetectorConfig): Step {
  const next = new Map(map);
  const effects: Effect[] = [];
  const id = event.droplet;
  if (event.kind === 'forget') {
    next.delete(id);
    return { map: next, effects };
  }
  const d = map.get(id) ?? FRESH;

  if (event.kind === 'inherit') {
    if (d.phase !== 'ok' || d.reached || d.round || d.failures > 0) return { map, effects };
    const round = d.rounds + 1;
    next.set(id, { ...d, rounds: round, round: { id: round, asked: -1, ended: 0, unreached: 0 } });
    effects.push({ kind: 'ask', droplet: id, round });
    return { map: next, effects };
  }

  if (event.kind === 'direct') {
    if (event.ok) {
      next.set(id, { phase: 'ok', failures: 0, rounds: d.rounds, reached: true });
      if (d.phase === 'suspect') effects.push({ kind: 'cleared', droplet: id, by: 'direct' });
      if (d.phase === 'dead') effects.push({ kind: 'revived', droplet: id });
      return { map: next, effects };
    }
    const failures = d.failures + 1;
    const failingSinceMs = d.failingSinceMs ?? event.sentMs;
    if (d.phase === 'dead') {
      next.set(id, { ...d, failures, failingSinceMs });
      return { map: next, effects };
    }
    if (d.phase === 'ok' && d.reached && failures < config.failuresToSuspect) {
      next.set(id, { ...d, failures, failingSinceMs });
      return { map: next, effects };
    }
    if (d.phase === 'ok') effects.push({ kind: 'suspected', droplet: id });
    if (d.early && !d.round) return verdict(next, id, { ...d, phase: 'suspect', failures, failingSinceMs, early: undefined }, d.early, effects, config);
    // Suspect: one round at a time; a failure after an inconclusive round asks again.
    if (d.round) {
      next.set(id, { ...d, phase: 'suspect', failures, failingSinceMs });
      return { map: next, effects };
    }
    const round = d.rounds + 1;
    next.set(id, { ...d, phase: 'suspect', failures, failingSinceMs, rounds: round, round: { id: round, asked: -1, ended: 0, unreached: 0 } });
    effects.push({ kind: 'ask', droplet: id, round });
    return { map: next, effects };
  }

  // Round bookkeeping: an answer for a round that is over (cleared, or an older one) is dropped.
  if (d.phase === 'dead' || !d.round || d.round.id !== event.round) return { map, effects };
  if (event.kind === 'indirect' && event.answer === 'reached') {
    next.set(id, { phase: 'ok', failures: 0, rounds: d.rounds, reached: true });
    if (d.phase === 'suspect') effects.push({ kind: 'cleared', droplet: id, by: 'indirect' });
    return { map: next, effects };
  }
  const round =
    event.kind === 'asked'
      ? { ...d.round, asked: event.asked }
      : { ...d.round, ended: d.round.ended + 1, unreached: d.round.unreached + (event.answer === 'unreached' ? 1 : 0) };
  if (round.asked < 0 || round.ended < round.asked) {
    next.set(id, { ...d, round });
    return { map: next, effects };
  }
  // The round is over and no prober reached the droplet.
  if (d.phase === 'ok') {
    // speculative (an inherited holder), its direct probe not failed yet: keep the answer
    next.set(id, { ...d, round: undefined, ...(round.unreached > 0 ? { early: { unreached: round.unreached, asked: round.asked } } : {}) });
    return { map: next, effects };
  }
  const base: DropletLiveness = { phase: 'suspect', failures: d.failures, failingSinceMs: d.failingSinceMs, rounds: d.rounds, ...(d.reached ? { reached: true } : {}) };
  return verdict(next, id, base, round, effects, config);
}

/** A suspect whose round is over with no prober reaching it: dead, unless nobody answered or the leader is cut off. */
function verdict(next: Map<number, DropletLiveness>, id: number, base: DropletLiveness, answers: { readonly unreached: number; readonly asked: number }, effects: Effect[], config: DetectorConfig): Step {
  next.set(id, base);
  const unreached = answers.unreached;
  if (unreached < needed(answers.asked)) {
    effects.push({ kind: 'inconclusive', droplet: id, why: 'too-few-answers' });
    return { map: next, effects };
  }
  if (guarded(next, config.quiet)) {
    effects.push({ kind: 'inconclusive', droplet: id, why: 'guarded' });
    return { map: next, effects };
  }
  next.set(id, { ...base, phase: 'dead' });
  effects.push({ kind: 'dead', droplet: id, sinceMs: base.failingSinceMs ?? 0, probers: unreached });
  return { map: next, effects };
}
