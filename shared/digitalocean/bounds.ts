// How long one port method can take when no signal cuts it short: pure arithmetic over the
// configured policy, so a caller can check that its calls fit in a leadership term.
//
// With the defaults (10 s per request, 4 tries, backoff ceilings 0.5 + 1 + 2 s, rate waits up
// to 60 s, action polling 30 s), where C is one call with its retries:
//
// | method                                       | DigitalOcean quiet (no 429) | worst (every wait at its cap) |
// |----------------------------------------------|-----------------------------|-------------------------------|
// | one call C: getAccount, getReservedIp,       | 4 × 10 + 3.5 = 43.5 s       | 4 × (60 + 10) + 3.5 = 283.5 s |
// |   getDroplet, updateFirewall, deleteFirewall |                             |                               |
// | listReservedIps, listFirewalls               | C per page                  | C per page                    |
// | createFirewall (POST, list after a lost one) | 4 × 2C + 3.5 = 351.5 s      | 2271.5 s                      |
// | assign / unassign                            | 11C + 33.5 = 512 s          | 3152 s                        |
//
// assign/unassign: up to 4 POSTs each followed by a read (2C each), the action list (C), the
// polling (30 s plus a poll that starts at its end, C) and the final read (C). Typical calls
// are far below (two requests and one action wait); the bounds are why every write of the
// reconciler carries its term's AbortSignal, and why it can shrink timeoutMs, maxAttempts,
// maxRateLimitWaitMs and actionWait.totalMs to fit a term.
import type { CallPolicy } from './call.ts';
import type { DoClientOptions } from './client.ts';
import type { ActionWait } from './moves.ts';

export type PolicyOptions = Pick<DoClientOptions, 'timeoutMs' | 'retry' | 'actionWait'>;

/** The policy numbers of `opts` with the defaults filled in (what createDoClient and worstCaseMs use). */
export function resolvePolicy(opts: PolicyOptions): { policy: CallPolicy; wait: ActionWait } {
  return {
    policy: {
      maxAttempts: Math.max(1, opts.retry?.maxAttempts ?? 4),
      baseMs: opts.retry?.baseMs ?? 500,
      capMs: opts.retry?.capMs ?? 8_000,
      maxRateLimitWaitMs: opts.retry?.maxRateLimitWaitMs ?? 60_000,
      burstBaseMs: opts.retry?.burstBaseMs ?? 2_000,
      burstCapMs: opts.retry?.burstCapMs ?? 8_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
    },
    wait: {
      initialMs: opts.actionWait?.initialMs ?? 500,
      maxMs: opts.actionWait?.maxMs ?? 4_000,
      totalMs: opts.actionWait?.totalMs ?? 30_000,
    },
  };
}

export interface WorstCase {
  /** one HTTP request: the deadline */
  readonly requestMs: number;
  /** one call with its retries and rate waits (a GET, PUT or DELETE; one page of a list) */
  readonly callMs: number;
  /** the same when DigitalOcean never answers 429 and the local budget never waits */
  readonly quietCallMs: number;
  readonly createFirewallMs: number;
  readonly moveMs: number;
  readonly quietMoveMs: number;
}

/** Sum of the backoff ceilings between `maxAttempts` tries (the waits are jittered below them). */
function backoffTotal(p: CallPolicy): number {
  let total = 0;
  for (let n = 0; n < p.maxAttempts - 1; n++) total += Math.min(p.capMs, p.baseMs * 2 ** n);
  return total;
}

/** The bounds of a client created with `opts` (createDoClient's options; defaults filled in). */
export function worstCaseMs(opts: PolicyOptions = {}): WorstCase {
  const { policy: p, wait } = resolvePolicy(opts);
  const backoff = backoffTotal(p);
  const call = (rateWaitMs: number) => p.maxAttempts * (rateWaitMs + p.timeoutMs) + backoff;
  const move = (c: number) => p.maxAttempts * 2 * c + backoff + c + wait.totalMs + 2 * c;
  const callMs = call(p.maxRateLimitWaitMs);
  const quietCallMs = call(0);
  return {
    requestMs: p.timeoutMs,
    callMs,
    quietCallMs,
    createFirewallMs: p.maxAttempts * 2 * callMs + backoff,
    moveMs: move(callMs),
    quietMoveMs: move(quietCallMs),
  };
}
