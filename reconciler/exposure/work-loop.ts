// One loop that drains dirty keys serially (a Service, or the one firewall). Events only
// `mark()`; a failed key backs off (doubling) and events do not cut that short, so a failing
// key cannot hot-loop on a stream of updates. `flush()` is for a caller that must know the
// write happened (an IP about to move): it bypasses the backoff and resolves once every key
// ran successfully *after* the call, or rejects with the failure.
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';

export interface WorkLoopOptions {
  readonly run: (key: string, signal: AbortSignal) => Promise<void>;
  readonly setTimer?: SetTimer;
  /** wait this long after the first mark before draining, so a burst becomes one run (default 0) */
  readonly batchMs?: number;
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number };
  /** called for every failed run with the retry delay */
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export interface WorkLoop {
  mark(key: string): void;
  flush(keys: readonly string[], signal?: AbortSignal): Promise<void>;
  /** keys waiting or backing off */
  pending(): number;
  /** consecutive failures of a key */
  failures(key: string): number;
  /** stops draining, aborts the run in flight, rejects waiting flushes; resolves when idle */
  stop(): Promise<void>;
}

interface Waiter {
  readonly targets: Map<string, number>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class LoopStopped extends Error {
  override readonly name = 'LoopStopped';
  constructor() {
    super('the exposure controllers stopped (leadership ended)');
  }
}

export function createWorkLoop(opts: WorkLoopOptions): WorkLoop {
  const setTimer = opts.setTimer ?? realTimer;
  const baseMs = opts.backoff?.baseMs ?? 500;
  const capMs = opts.backoff?.capMs ?? 60_000;
  const batchMs = opts.batchMs ?? 0;
  const term = new AbortController();
  const dirty = new Set<string>();
  const version = new Map<string, number>();
  const doneVersion = new Map<string, number>();
  const failureCount = new Map<string, number>();
  const backingOff = new Map<string, () => void>();
  const waiters = new Set<Waiter>();
  let draining: Promise<void> | undefined;
  let batchTimer: (() => void) | undefined;

  const bump = (key: string) => version.set(key, (version.get(key) ?? 0) + 1);

  function kick(): void {
    if (term.signal.aborted || draining || batchTimer || dirty.size === 0) return;
    if (batchMs > 0) {
      batchTimer = setTimer(() => {
        batchTimer = undefined;
        startDrain();
      }, batchMs);
    } else startDrain();
  }

  function startDrain(): void {
    if (draining || term.signal.aborted) return;
    draining = drain().finally(() => {
      draining = undefined;
      kick();
    });
  }

  function settleWaiters(key: string, ran: number, err?: unknown): void {
    for (const w of waiters) {
      const target = w.targets.get(key);
      if (target === undefined || ran < target) continue;
      if (err !== undefined) {
        waiters.delete(w);
        w.reject(err);
        continue;
      }
      w.targets.delete(key);
      if (w.targets.size === 0) {
        waiters.delete(w);
        w.resolve();
      }
    }
  }

  async function drain(): Promise<void> {
    while (!term.signal.aborted) {
      const key = dirty.values().next().value;
      if (key === undefined) return;
      dirty.delete(key);
      const ran = version.get(key) ?? 0;
      try {
        await opts.run(key, term.signal);
        failureCount.delete(key);
        doneVersion.set(key, Math.max(doneVersion.get(key) ?? 0, ran));
        settleWaiters(key, ran);
      } catch (err) {
        if (term.signal.aborted) return;
        const n = (failureCount.get(key) ?? 0) + 1;
        failureCount.set(key, n);
        const delay = Math.min(capMs, baseMs * 2 ** (n - 1));
        opts.onError?.(key, err, delay);
        settleWaiters(key, ran, err);
        backingOff.get(key)?.();
        backingOff.set(
          key,
          setTimer(() => {
            backingOff.delete(key);
            dirty.add(key);
            kick();
          }, delay),
        );
      }
    }
  }

  return {
    mark(key) {
      if (term.signal.aborted) return;
      bump(key);
      if (backingOff.has(key)) return; // the retry will see this change too
      dirty.add(key);
      kick();
    },
    flush(keys, signal) {
      if (term.signal.aborted) return Promise.reject(new LoopStopped());
      if (keys.length === 0) return Promise.resolve();
      const targets = new Map<string, number>();
      for (const key of keys) {
        bump(key);
        targets.set(key, version.get(key) ?? 0);
        backingOff.get(key)?.();
        backingOff.delete(key);
        dirty.add(key);
      }
      return new Promise<void>((resolve, reject) => {
        const w: Waiter = { targets, resolve, reject };
        waiters.add(w);
        signal?.addEventListener(
          'abort',
          () => {
            if (waiters.delete(w)) reject(signal.reason);
          },
          { once: true },
        );
        // a flush is urgent: it does not wait out a batch delay
        batchTimer?.();
        batchTimer = undefined;
        startDrain();
      });
    },
    pending: () => new Set([...dirty, ...backingOff.keys()]).size,
    failures: (key) => failureCount.get(key) ?? 0,
    async stop() {
      term.abort(new LoopStopped());
      batchTimer?.();
      for (const cancel of backingOff.values()) cancel();
      backingOff.clear();
      dirty.clear();
      for (const w of waiters) w.reject(new LoopStopped());
      waiters.clear();
      await draining;
    },
  };
}
