// The one work queue of the reconciler's controllers (runtime.ts gives each its own). Informer
// callbacks only `add()` keys; workers drain them.
// - dedupe: a key waiting in the queue is queued once;
// - priorities: a key of a lower `priority(key)` (asked when it is queued) runs before the
//   keys of higher ones that wait, first in first out within one — so a failover is not
//   stuck behind hundreds of first placements waiting for DigitalOcean's rate budget;
// - serial per key: a key added while it runs is marked dirty and runs once more afterwards;
// - retries: a failed run is retried after the error's `retryAfterMs` or an exponential
//   per-key backoff (reset by the next success); new evidence (`add()`) cuts a backoff short,
//   but not to less than `floorMs` after the failure, so a failing key cannot hot-loop on a
//   stream of events;
// - a successful run may ask to be looked at again later (`requeueAfterMs`: pending actions,
//   cool-off), which new evidence does not wait for;
// - `flush(key)`: run the key now — above every priority, past the concurrency limit and any
//   backoff — and resolve with the result of that run (or reject with its error). A caller
//   that must know a write happened (a Service before an IP moves) does not wait behind the
//   other dirty keys; a key already running finishes first (serial per key), then runs again;
// - every run gets the queue's AbortSignal; `shutdown()` aborts it (runs in flight cancel
//   their calls instead of finishing them) and resolves when they have settled.
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';

export interface RunResult {
  /** look at this key again after this long, even without new events */
  readonly requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  readonly worker: (key: string, signal: AbortSignal) => Promise<RunResult | void>;
  readonly concurrency?: number;
  /** 0 runs first (the default for every key), then 1, …; small integers */
  readonly priority?: (key: string) => number;
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number; readonly floorMs?: number };
  readonly setTimer?: SetTimer;
  readonly now?: () => number;
  /** called whenever the number of keys waiting to run changes */
  readonly onDepth?: (depth: number) => void;
  /** called for every failed run, with the delay chosen for the retry */
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
  /** run `key` now at the highest priority; resolves with that run's result, rejects with its error */
  flush(key: string, signal?: AbortSignal): Promise<RunResult | void>;
  /** keys waiting to run (not counting running ones) */
  depth(): number;
  /** consecutive failures of a key (0 after a success) */
  failures(key: string): number;
  shutdown(): Promise<void>;
}

/** A flush that could not run: the queue shut down (the term ended). */
export class QueueStopped extends Error {
  override readonly name = 'QueueStopped';
  constructor() {
    super('work queue shut down');
  }
}

interface Waiter {
  resolve(result: RunResult | void): void;
  reject(err: unknown): void;
}

function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('retryAfterMs' in err)) return undefined;
  const ms = (err as { retryAfterMs: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

export function createWorkQueue(opts: WorkQueueOptions): WorkQueue {
  const concurrency = opts.concurrency ?? 4;
  const baseMs = opts.backoff?.baseMs ?? 100;
  const capMs = opts.backoff?.capMs ?? 60_000;
  const floorMs = opts.backoff?.floorMs ?? 1_000;
  const abort = new AbortController();
  const setTimer = opts.setTimer ?? realTimer;
  /** waiting keys by priority level */
  const levels = new Map<number, string[]>();
  let waiting = 0;
  const queued = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  const backingOff = new Map<string, { failedAt: number; due: number; cancel: () => void }>();
  const later = new Map<string, { due: number; cancel: () => void }>();
  const failureCount = new Map<string, number>();
  const now = opts.now ?? Date.now;
  /** flushes waiting for the next run of their key (it is running now) */
  const flushes = new Map<string, Waiter[]>();
  let stopped = false;

  const depthChanged = () => opts.onDepth?.(waiting);

  function push(key: string): void {
    const level = opts.priority?.(key) ?? 0;
    const list = levels.get(level);
    if (list) list.push(key);
    else levels.set(level, [key]);
    waiting += 1;
  }

  function take(): string | undefined {
    let best: number | undefined;
    for (const [level, list] of levels) if (list.length > 0 && (best === undefined || level < best)) best = level;
    const key = best === undefined ? undefined : levels.get(best)?.shift();
    if (key !== undefined) waiting -= 1;
    return key;
  }

  function add(key: string): void {
    if (stopped) return;
    const backoff = backingOff.get(key);
    if (backoff) {
      // New evidence: retry sooner than the backoff, but never sooner than the floor.
      const floor = backoff.failedAt + floorMs;
      if (now() < floor) {
        if (backoff.due > floor) schedule(key, backoff.failedAt, floor - now());
        return;
      }
      backoff.cancel();
      backingOff.delete(key);
    }
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    push(key);
    depthChanged();
    pump();
  }

  function addAfter(key: string, ms: number): void {
    if (stopped) return;
    const due = now() + ms;
    const existing = later.get(key);
    if (existing && existing.due <= due) return;
    existing?.cancel();
    const cancel = setTimer(() => {
      later.delete(key);
      add(key);
    }, ms);
    later.set(key, { due, cancel });
  }

  function retry(key: string, err: unknown): void {
    const n = (failureCount.get(key) ?? 0) + 1;
    failureCount.set(key, n);
    const delay = retryAfterOf(err) ?? Math.min(capMs, baseMs * 2 ** (n - 1));
    opts.onError?.(key, err, delay);
    if (stopped) return;
    schedule(key, now(), delay);
  }

  function schedule(key: string, failedAt: number, delay: number): void {
    backingOff.get(key)?.cancel();
    const cancel = setTimer(() => {
      backingOff.delete(key);
      add(key);
    }, delay);
    backingOff.set(key, { failedAt, due: now() + delay, cancel });
  }

  async function run(key: string, waiters: readonly Waiter[]): Promise<void> {
    try {
      const result = await opts.worker(key, abort.signal);
      failureCount.delete(key);
      if (result?.requeueAfterMs !== undefined) addAfter(key, result.requeueAfterMs);
      for (const w of waiters) w.resolve(result);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      // Evidence that arrived meanwhile may cut the retry short (down to the floor).
      const evidence = dirty.delete(key);
      retry(key, err);
      if (flushes.has(key)) {
        // a flush came during the run: it runs next, backoff or not
        cancelBackoff(key);
        dirty.add(key);
      } else if (evidence) add(key);
    }
  }

  function start(key: string): void {
    const waiters = flushes.get(key) ?? [];
    flushes.delete(key);
    const p = run(key, waiters).finally(() => {
      running.delete(key);
      if (dirty.delete(key)) {
        if (flushes.has(key) && !stopped) start(key);
        else add(key);
      }
      pump();
    });
    running.set(key, p);
  }

  function pump(): void {
    while (!stopped && running.size < concurrency && waiting > 0) {
      const key = take() as string;
      queued.delete(key);
      depthChanged();
      start(key);
    }
  }

  function cancelBackoff(key: string): void {
    backingOff.get(key)?.cancel();
    backingOff.delete(key);
  }

  function unqueue(key: string): void {
    if (!queued.delete(key)) return;
    for (const list of levels.values()) {
      const at = list.indexOf(key);
      if (at !== -1) {
        list.splice(at, 1);
        waiting -= 1;
        break;
      }
    }
    depthChanged();
  }

  function flush(key: string, signal?: AbortSignal): Promise<RunResult | void> {
    if (stopped) return Promise.reject(new QueueStopped());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RunResult | void>((resolve, reject) => {
      const onAbort = () => {
        const list = flushes.get(key);
        const at = list?.indexOf(waiter) ?? -1;
        if (list && at !== -1) list.splice(at, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve(result) {
          signal?.removeEventListener('abort', onAbort);
          resolve(result);
        },
        reject(err) {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const list = flushes.get(key);
      if (list) list.push(waiter);
      else flushes.set(key, [waiter]);
      cancelBackoff(key);
      later.get(key)?.cancel();
      later.delete(key);
      if (running.has(key)) {
        dirty.add(key);
        return;
      }
      unqueue(key);
      start(key);
    });
  }

  return {
    add,
    addAfter,
    flush,
    depth: () => waiting,
    failures: (key) => failureCount.get(key) ?? 0,
    async shutdown() {
      stopped = true;
      abort.abort(new Error('work queue shut down'));
      for (const b of backingOff.values()) b.cancel();
      for (const t of later.values()) t.cancel();
      backingOff.clear();
      later.clear();
      levels.clear();
      waiting = 0;
      queued.clear();
      depthChanged();
      for (const list of flushes.values()) for (const w of list) w.reject(new QueueStopped());
      flushes.clear();
      while (running.size > 0) await Promise.allSettled([...running.values()]);
    },
  };
}
