// Leader election on a coordination.k8s.io/v1 Lease, the protocol of client-go's
// leaderelection package: every write carries the resourceVersion it read (optimistic
// concurrency, a 409 means someone else wrote first); a lease that has not changed for
// leaseDurationSeconds *as this replica observed it*, or whose holderIdentity is empty, may
// be taken; the
// leader renews every retry period and steps down if it could not renew for renewDeadline.
// On stop the leader empties holderIdentity (client-go's ReleaseOnCancel), so a standby
// polling every retry period takes over within about one period instead of a lease duration.
//
// Expiry is judged like client-go's observedTime: by the local instant this replica last saw
// the lease's record (holder, times, transitions) change, never by comparing the holder's
// renewTime, written with another machine's clock, with our own. A standby whose clock runs
// 30 s ahead therefore still waits a full lease duration of its own time after the last
// renewal it saw; only clock *rates* matter, not offsets (leader.test.ts, skewed clocks).
// The price, as in client-go: a replica that starts while a crashed leader's lease is still
// recorded waits one lease duration from its first read.
//
// Fencing: leading is a *term* ({ signal, valid() }). A term is valid until renewDeadline
// after the instant the last successful renewal was *sent* (others count the lease from the
// renewTime it carries, which is that instant), and its signal aborts when the leader steps
// down for any reason — at the latest at that deadline, because a leader's calls and sleeps
// are bounded by it. Since renewDeadline < leaseDuration, the old leader has stopped writing
// before anyone else may take the lease; the difference is the margin for a request that was
// already on the wire. A replica that loses its term unexpectedly resets completely (its
// controller is per term) and stays a standby, rather than exiting as controller-runtime
// does: every piece of term state is created inside the term, so nothing survives it, and
// the warm informer caches let it take over again at once instead of after a restart.
import { setTimeout as sleepFor } from 'node:timers/promises';
import { V1MicroTime } from './kube/api.ts';
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import { timeMs } from './heartbeats.ts';

/** The three Lease calls used; CoordinationV1Api satisfies it. Errors carry `code` (ApiException). */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(p: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(p: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

export interface LeaderElectorOptions {
  api: LeaseApi;
  name: string;
  namespace: string;
  /** unique per process: pod name + random suffix */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** a new term: work may start only while `term.valid()`; `term.signal` aborts at its end */
  onStartedLeading: (term: LeadershipTerm) => void;
  /** awaited before the lease is released, so the old leader is quiet before a new one acts */
  onStoppedLeading: () => Promise<void> | void;
  logger: Logger;
  now?: () => number;
  /** resolves after `ms` or as soon as `signal` aborts */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /** bound for one API call; default renewDeadline / 2 like kube-controller-manager */
  callTimeoutMs?: number;
}

export interface LeadershipTerm {
  readonly signal: AbortSignal;
  /** still leading at this instant (the renew deadline has not passed) */
  valid(): boolean;
}

export interface LeaderElector {
  /** runs the acquire/renew loop in the background */
  start(): void;
  isLeader(): boolean;
  /** the holder last observed on the Lease, if any */
  observedLeader(): string | undefined;
  /** stops the loop; a leader calls onStoppedLeading, then releases the lease */
  stop(): Promise<void>;
}

const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};


/**
 * A lease may be taken when nobody holds it or its holder let it run out: its record has not
 * changed for leaseDurationSeconds since `observedAtMs`, the local instant this replica saw
 * the current record first (both instants from the local clock).
 */
export function leaseAvailable(lease: V1Lease, nowMs: number, identity: string, observedAtMs: number): boolean {
  const spec = lease.spec ?? {};
  if (!spec.holderIdentity || spec.holderIdentity === identity) return true;
  if (timeMs(spec.renewTime) === undefined && timeMs(spec.acquireTime) === undefined) return true;
  return observedAtMs + (spec.leaseDurationSeconds ?? 0) * 1000 < nowMs;
}

/** What client-go compares to notice a change: the leader election record, not metadata. */
function recordOf(lease: V1Lease): string {
  const s = lease.spec ?? {};
  const time = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v ?? ''));
  return JSON.stringify([s.holderIdentity ?? '', s.leaseDurationSeconds ?? 0, time(s.acquireTime), time(s.renewTime), s.leaseTransitions ?? 0]);
}

class CallTimeout extends Error {}

export function createLeaderElector(opts: LeaderElectorOptions): LeaderElector {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }).catch(() => undefined));
  const callTimeoutMs = opts.callTimeoutMs ?? opts.renewDeadlineMs / 2;
  const durationSeconds = Math.max(1, Math.ceil(opts.leaseDurationMs / 1000));
  const { name, namespace, identity, api } = opts;
  const log = opts.logger.child({ lease: `${namespace}/${name}`, identity });
  const abort = new AbortController();
  let leading = false;
  /** when the last successful renewal was sent (the renewTime it wrote) */
  let lastRenewMs = 0;
  let term: AbortController | undefined;
  /** the lease as last written or read by us: the renew fast path skips the GET */
  let cached: V1Lease | undefined;
  let observed: string | undefined;
  /** the lease record last seen, and when (local clock) it was first seen: client-go's observedTime */
  let observedRecord: string | undefined;
  let observedAtMs = 0;
  /** when the lease last read runs out for us: another holder's, observedAtMs + its duration */
  let observedExpiryMs: number | undefined;
  let loop: Promise<void> | undefined;

  /** Resolves with the call, or rejects after `ms` or on stop; the call itself is not cancelled. */
  function bounded<T>(call: Promise<T>, ms: number, cancel: AbortSignal = abort.signal): Promise<T> {
    const timer = new AbortController();
    const stop = AbortSignal.any([timer.signal, cancel]);
    const expiry = sleep(Math.max(0, ms), stop).then(() => {
      throw new CallTimeout(cancel.aborted ? 'stopped' : `lease call took longer than ${Math.round(ms)} ms`);
    });
    return Promise.race([call, expiry]).finally(() => timer.abort());
  }

  function observe(lease: V1Lease): void {
    const record = recordOf(lease);
    if (record !== observedRecord) {
      observedRecord = record;
      observedAtMs = now();
    }
    const holder = lease.spec?.holderIdentity || undefined;
    observedExpiryMs = holder && holder !== identity ? observedAtMs + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 : undefined;
    if (holder !== observed) {
      observed = holder;
      log.info({ leader: holder ?? null }, holder ? 'new leader observed' : 'lease released, no leader');
    }
  }

  function claim(lease: V1Lease | undefined, t: number): V1Lease {
    const prev = lease?.spec ?? {};
    const renewing = prev.holderIdentity === identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: lease?.metadata ?? { name, namespace },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: renewing && prev.acquireTime ? prev.acquireTime : new V1MicroTime(t),
        renewTime: new V1MicroTime(t),
        leaseTransitions: (prev.leaseTransitions ?? 0) + (lease && !renewing ? 1 : 0),
      },
    };
  }

  async function write(lease: V1Lease | undefined, t: number, timeoutMs: number): Promise<'held' | 'conflict' | 'failed'> {
    const body = claim(lease, t);
    try {
      cached = lease
        ? await bounded(api.replaceNamespacedLease({ name, namespace, body }), timeoutMs)
        : await bounded(api.createNamespacedLease({ namespace, body }), timeoutMs);
      observe(cached);
      lastRenewMs = t;
      return 'held';
    } catch (err) {
      cached = undefined;
      // 409: another replica wrote since we read (or created it first).
      if (statusOf(err) === 409) return 'conflict';
      if (!abort.signal.aborted) log.warn({ err }, lease ? 'lease update failed' : 'lease create failed');
      return 'failed';
    }
  }

  /** One round: true when this process holds the lease afterwards. */
  async function tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    if (leading && cached) {
      // Renew from our own copy; only a conflict needs the GET to see who wrote.
      const outcome = await write(cached, now(), timeoutMs);
      if (outcome !== 'conflict') return outcome === 'held';
    }
    return tryFromRead(now(), timeoutMs);
  }

  async function tryFromRead(t: number, timeoutMs: number): Promise<boolean> {
    let lease: V1Lease;
    try {
      lease = await bounded(api.readNamespacedLease({ name, namespace }), timeoutMs);
    } catch (err) {
      if (statusOf(err) === 404) return (await write(undefined, t, timeoutMs)) === 'held';
      if (!abort.signal.aborted) log.warn({ err }, 'lease read failed');
      return false;
    }
    observe(lease);
    if (!leaseAvailable(lease, t, identity, observedAtMs)) return false;
    return (await write(lease, t, timeoutMs)) === 'held';
  }

  async function stepDown(why: string): Promise<void> {
    leading = false;
    // Cancel the term's work first: nothing of it may run while we report and release.
    term?.abort(new Error(`leadership lost: ${why}`));
    term = undefined;
    if (abort.signal.aborted) log.info({ reason: why }, 'stopped leading');
    else log.warn({ reason: why }, 'stopped leading');
    await opts.onStoppedLeading();
  }

  async function run(): Promise<void> {
    while (!abort.signal.aborted) {
      const sinceRenew = now() - lastRenewMs;
      // A leader must not block past its renew deadline on a hanging call.
      const timeoutMs = leading ? Math.min(callTimeoutMs, opts.renewDeadlineMs - sinceRenew) : callTimeoutMs;
      const held = await tryAcquireOrRenew(timeoutMs);
      if (abort.signal.aborted) break;
      if (held) {
        if (!leading) {
          leading = true;
          log.info('started leading');
          const t = new AbortController();
          term = t;
          opts.onStartedLeading({ signal: t.signal, valid: () => leading && term === t && !t.signal.aborted && now() < lastRenewMs + opts.renewDeadlineMs });
        }
      } else if (leading && (observed !== undefined && observed !== identity)) {
        await stepDown(`lease taken by ${observed}`);
      } else if (leading && now() - lastRenewMs >= opts.renewDeadlineMs) {
        await stepDown(`could not renew for ${opts.renewDeadlineMs} ms`);
      }
      // Standbys jitter (up to +20%) so several of them do not poll in lock-step. A leader
      // wakes no later than its renew deadline, so it steps down right at it.
      // Standbys wake right when the lease they read runs out (a leader dead with its droplet is
      // replaced at its lease's expiry, not up to a retry period later).
      const untilExpiry = observedExpiryMs === undefined ? Infinity : Math.max(0, observedExpiryMs + 1 - now());
      const wait = leading ? Math.max(0, Math.min(opts.retryPeriodMs, lastRenewMs + opts.renewDeadlineMs - now())) : Math.min(opts.retryPeriodMs * (1 + 0.2 * random()), untilExpiry);
      await sleep(wait, abort.signal);
    }
  }

  async function release(): Promise<void> {
    const body = (lease: V1Lease): V1Lease => ({
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(now()), acquireTime: new V1MicroTime(now()) },
    });
    const never = new AbortController().signal; // the loop's signal is already aborted
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const lease = cached ?? (await bounded(api.readNamespacedLease({ name, namespace }), callTimeoutMs, never));
        if (lease.spec?.holderIdentity !== identity) return; // someone else holds it already
        await bounded(api.replaceNamespacedLease({ name, namespace, body: body(lease) }), callTimeoutMs, never);
        log.info('lease released');
        return;
      } catch (err) {
        cached = undefined; // a 409 means our copy is stale (e.g. a renew landed late): re-read once
        if (statusOf(err) !== 409 || attempt === 1) log.warn({ err }, 'lease release failed; standbys take over after it expires');
      }
    }
  }

  return {
    start() {
      loop ??= run().catch((err: unknown) => log.error({ err }, 'leader election loop failed'));
    },
    isLeader: () => leading,
    observedLeader: () => observed,
    async stop() {
      abort.abort();
      await loop;
      if (!leading) return;
      await stepDown('shutting down');
      await release();
    },
  };
}
