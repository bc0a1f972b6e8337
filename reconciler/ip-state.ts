// The one owner of per-IP memory. Everything the reconciler remembers about a reserved IP
// between runs — DigitalOcean's holder as last seen, a pending action, the cool-off, when the
// holder was lost, the reports already made, the droplets that recently failed as targets,
// the retry backoff — changes only through `apply(memory, outcome, now)`, and is read by
// `plan()` through the queries below. Pure: no clock, no I/O; every rule is a table row.
import type { DoErrorClass } from '../shared/digitalocean/port.ts';
import type { Action, HolderFacts, IpStatus, Reason } from './model.ts';

export interface PendingAction {
  /** where the action moves the IP (null: unassign) */
  readonly dropletId: number | null;
  readonly actionId: number;
  readonly reason: Reason;
  /** the planned action, so its completion is reported as if it had not waited */
  readonly action?: Action;
  readonly startedMs: number;
  /** we stop waiting for DigitalOcean after this */
  readonly expiresMs: number;
}

/** A droplet that failed as this IP's target: skipped until `untilMs`. */
export interface FailedTarget {
  readonly dropletId: number;
  readonly untilMs: number;
  readonly errorClass: DoErrorClass;
  readonly message: string;
}

/** The last failed attempt that was not the target's fault (network, 5xx, 429, token). */
export interface RetryState {
  readonly dropletId: number | null;
  readonly failures: number;
  readonly atMs: number;
  readonly retryAtMs: number;
  readonly errorClass: DoErrorClass | 'internal';
}

export interface IpMemory {
  /** DigitalOcean's view as last read or changed by us; null: not in the account; absent: never read */
  readonly holder?: HolderFacts | null;
  readonly pending?: PendingAction;
  /** when the last move of this IP completed (cool-off starts here) */
  readonly lastMoveMs?: number;
  /** first evidence that the holder stopped serving (failover metrics start here) */
  readonly holderLostMs?: number;
  /** keys of the reports made for problems that are still true (each is made once) */
  readonly reported?: readonly string[];
  readonly failedTargets?: readonly FailedTarget[];
  readonly retry?: RetryState;
  /** the latest pod/node event that concerned this IP */
  readonly evidenceMs?: number;
}

/** How long a droplet that failed as a target is skipped for that IP, by error class. */
export const TARGET_FAILURE_MS: Readonly<Partial<Record<DoErrorClass, number>>> = {
  NotFound: 60_000, // no such droplet (yet): it may be booting or gone for good
  Terminal: 5 * 60_000, // DigitalOcean refused for a reason a person must fix (422)
  InProgress: 10_000, // the droplet has a pending event (resize, power cycle)
  Conflict: 30_000, // the droplet already holds another reserved IP of this family
};

export const RETRY_BASE_MS = 500;
export const RETRY_CAP_MS = 60_000;
/** how long to wait when the token itself is refused (401/403): a person must act */
export const TOKEN_REFUSED_MS = 5 * 60_000;

export type Outcome =
  /** a read of DigitalOcean (list or get) that started at `readStartedMs` */
  | { readonly kind: 'observed'; readonly holder: HolderFacts | null; readonly readStartedMs: number }
  /** a pod or node event concerned this IP */
  | { readonly kind: 'evidence' }
  /** plan() ran: its status, and the keys of every report that is true now */
  | { readonly kind: 'planned'; readonly status: IpStatus; readonly reportKeys: readonly string[]; readonly evidenceMs: number }
  | { readonly kind: 'moved'; readonly dropletId: number | null; readonly family: 4 | 6 }
  | { readonly kind: 'in-progress'; readonly dropletId: number | null; readonly actionId: number; readonly reason: Reason; readonly expiresMs: number; readonly family: 4 | 6; readonly action?: Action }
  /** the target droplet refused (404, 422, pending event, already holds one) */
  | { readonly kind: 'target-failed'; readonly dropletId: number; readonly errorClass: DoErrorClass; readonly message: string }
  /** the attempt failed for a reason that is not the target's */
  | { readonly kind: 'failed'; readonly dropletId: number | null; readonly errorClass: DoErrorClass | 'internal'; readonly retryAfterMs?: number | undefined }
  | { readonly kind: 'reported'; readonly key: string };

const without = <K extends keyof IpMemory>(m: IpMemory, ...keys: K[]): IpMemory => {
  const copy: Record<string, unknown> = { ...m };
  for (const k of keys) delete copy[k];
  return copy as IpMemory;
};

/** The action DigitalOcean is still running for us, if we still wait for it. */
export function pendingOf(m: IpMemory | undefined, now: number): PendingAction | undefined {
  const p = m?.pending;
  return p && now < p.expiresMs ? p : undefined;
}

/** Droplets to skip as this IP's target now. */
export function failedTargetsOf(m: IpMemory | undefined, now: number): readonly FailedTarget[] {
  return (m?.failedTargets ?? []).filter((f) => now < f.untilMs);
}

/**
 * When a move to `dropletId` may be tried again; undefined = now. A backoff holds back only
 * a retry towards the same target; new evidence since the attempt cuts it short to the floor.
 */
export function retryBlockedUntil(m: IpMemory | undefined, dropletId: number | null, now: number, floorMs: number): number | undefined {
  const r = m?.retry;
  if (!r || now >= r.retryAtMs) return undefined;
  if (r.dropletId !== dropletId && r.errorClass !== 'RateLimited') return undefined;
  if (m.evidenceMs !== undefined && m.evidenceMs > r.atMs) {
    const floor = r.atMs + floorMs;
    return now >= floor ? undefined : Math.min(floor, r.retryAtMs);
  }
  return r.retryAtMs;
}

function retryDelayMs(failures: number, errorClass: DoErrorClass | 'internal', retryAfterMs: number | undefined): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  if (errorClass === 'Terminal') return TOKEN_REFUSED_MS;
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (failures - 1));
}

function observe(m: IpMemory, holder: HolderFacts | null, readStartedMs: number, now: number): IpMemory {
  // A move of ours that completed after the read started is newer than what the read saw.
  if (m.lastMoveMs !== undefined && m.lastMoveMs >= readStartedMs) return m;
  const pending = pendingOf(m, now);
  if (!pending || holder?.locked) return { ...without(m, ...(pending ? [] : (['pending'] as const))), holder };
  // DigitalOcean shows no lock: the action is over.
  if (holder !== null && holder.dropletId === pending.dropletId) {
    return { ...without(m, 'pending', 'holderLostMs', 'retry'), holder, lastMoveMs: now };
  }
  // It ended without moving the IP there: that target failed; plan around it.
  const failed =
    pending.dropletId === null
      ? (m.failedTargets ?? [])
      : [...failedTargetsOf(m, now), { dropletId: pending.dropletId, untilMs: now + (TARGET_FAILURE_MS.Terminal ?? 0), errorClass: 'Terminal' as const, message: `DigitalOcean action ${pending.actionId} ended without moving the IP` }];
  return { ...without(m, 'pending'), holder, failedTargets: failed };
}

export function apply(memory: IpMemory | undefined, outcome: Outcome, now: number): IpMemory {
  const m: IpMemory = memory ?? {};
  switch (outcome.kind) {
    case 'observed':
      return observe(m, outcome.holder, outcome.readStartedMs, now);
    case 'evidence':
      return { ...m, evidenceMs: now };
    case 'planned': {
      const { status } = outcome;
      const current = new Set(outcome.reportKeys);
      let next: IpMemory = { ...m, reported: (m.reported ?? []).filter((k) => current.has(k)) };
      if (m.pending && now >= m.pending.expiresMs) next = without(next, 'pending');
      const failed = failedTargetsOf(m, now);
      next = failed.length > 0 ? { ...next, failedTargets: failed } : without(next, 'failedTargets');
      if (status.holderLost && next.holderLostMs === undefined) next = { ...next, holderLostMs: outcome.evidenceMs };
      if (status.state === 'placed' || status.state === 'unclaimed' || status.state === 'foreign') next = without(next, 'holderLostMs');
      return next;
    }
    case 'moved':
      return {
        ...without(m, 'pending', 'holderLostMs', 'retry'),
        holder: { family: outcome.family, dropletId: outcome.dropletId, locked: false },
        lastMoveMs: now,
      };
    case 'in-progress':
      return {
        ...without(m, 'retry'),
        holder: { family: outcome.family, dropletId: m.holder?.dropletId ?? null, locked: true },
        pending: {
          dropletId: outcome.dropletId,
          actionId: outcome.actionId,
          reason: outcome.reason,
          startedMs: now,
          expiresMs: outcome.expiresMs,
          ...(outcome.action ? { action: outcome.action } : {}),
        },
      };
    case 'target-failed': {
      const untilMs = now + (TARGET_FAILURE_MS[outcome.errorClass] ?? TARGET_FAILURE_MS.Terminal ?? 0);
      const others = failedTargetsOf(m, now).filter((f) => f.dropletId !== outcome.dropletId);
      return { ...m, failedTargets: [...others, { dropletId: outcome.dropletId, untilMs, errorClass: outcome.errorClass, message: outcome.message }] };
    }
    case 'failed': {
      const failures = (m.retry?.failures ?? 0) + 1;
      const retryAtMs = now + retryDelayMs(failures, outcome.errorClass, outcome.retryAfterMs);
      return { ...m, retry: { dropletId: outcome.dropletId, failures, atMs: now, retryAtMs, errorClass: outcome.errorClass } };
    }
    case 'reported':
      return (m.reported ?? []).includes(outcome.key) ? m : { ...m, reported: [...(m.reported ?? []), outcome.key] };
  }
}
