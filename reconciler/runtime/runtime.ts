// The one runtime of the reconciler's controllers (the IP, Service and firewall controllers).
// It owns what they share, so each controller only declares what it reconciles:
// - the leadership term: `start(term)` begins every controller together (fresh per-term
//   memory, a fresh queue each), the term's end — its signal, or `stop()` — aborts the runs
//   in flight and ends every controller together; nothing of a term outlives it;
// - the queue (queue.ts): priorities, dedupe, serial per key, backoff that new evidence cuts
//   short, requeueAfter, flush;
// - resync: an ordinary key (RESYNC) in each controller's queue, run at the start of a term
//   and again every `resyncMs` after it succeeds (a failure backs off like any key), so it
//   obeys the same ordering and error handling as the rest (MetalLB's reload key);
// - fencing: `fence(port)` wraps a write port so that a write starts only while the term is
//   valid, and carries the term's signal. Every DigitalOcean and Kubernetes write goes
//   through a fenced port, whichever controller makes it.
import { isAbort } from '../../shared/digitalocean/port.ts';
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';
import { createWorkQueue, QueueStopped } from './queue.ts';
import type { RunResult, WorkQueue } from './queue.ts';

export type { RunResult };

/** A leadership term (leader.ts): work may start only while `valid()`; `signal` aborts at its end. */
export interface Term {
  readonly signal: AbortSignal;
  valid(): boolean;
}

/** The resync key of every controller's queue. */
export const RESYNC = '\u0000resync';

export interface RunContext {
  /** aborts when the term ends (or the queue shuts down) */
  readonly signal: AbortSignal;
}

/** What a controller declares; the runtime does the rest. */
export interface ControllerSpec {
  readonly name: string;
  /** one key (or RESYNC); `requeueAfterMs` asks for another look later */
  reconcile(key: string, ctx: RunContext): Promise<RunResult | void>;
  /** 0 runs first; default 0 for every key */
  priority?(key: string): number;
  /** run RESYNC this often (after a success); absent: RESYNC runs once per term */
  readonly resyncMs?: number;
  readonly concurrency?: number;
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number; readonly floorMs?: number };
  /** a term begins: set up fresh per-term memory (called for every controller before any run) */
  begin?(term: Term): void;
  /** the term ended (its runs are being aborted): drop its memory, reset its gauges */
  end?(): void;
  /** a run failed (not counting the term's end); `retryInMs` is the backoff chosen */
  onError?(key: string, err: unknown, retryInMs: number): void;
  onDepth?(depth: number): void;
  /** after every run, whatever its result */
  onRun?(key: string): void;
}

/** A controller's way into the runtime: no-ops between terms. */
export interface ControllerHandle {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
  /** run now at the highest priority and await that run; rejects between terms (QueueStopped) */
  flush(key: string, signal?: AbortSignal): Promise<RunResult | void>;
  /** is a term running? */
  active(): boolean;
}

/** Which argument of a write method is its call options ({ signal }); null: none. */
export type WriteMethods<T> = Partial<Record<keyof T & string, number | null>>;

export interface Runtime {
  register(spec: ControllerSpec): ControllerHandle;
  /** begin a term (default: a term until stop()); no-op while one runs */
  start(term?: Term): void;
  /** end the term: end every controller, abort the term's runs and wait for them to settle */
  stop(): Promise<void>;
  /** the term now, if one runs */
  term(): Term | undefined;
  /** `port` with every method in `writes` fenced by the current term */
  fence<T extends object>(port: T, writes: WriteMethods<T>): T;
}

/** A write refused because no valid term runs. An abort (isAbort): its outcome is dropped. */
export class TermEnded extends Error {
  constructor(what: string) {
    super(`${what} refused: this replica's leadership term is not valid`);
    this.name = 'AbortError';
  }
}

export interface RuntimeOptions {
  readonly setTimer?: SetTimer;
  readonly now?: () => number;
}

interface Running {
  readonly term: Term;
  readonly queues: Map<ControllerSpec, WorkQueue>;
  ended: Promise<void> | undefined;
}

export function createRuntime(opts: RuntimeOptions = {}): Runtime {
  const setTimer = opts.setTimer ?? realTimer;
  const now = opts.now ?? Date.now;
  const specs: ControllerSpec[] = [];
  let current: Running | undefined;
  /** the last term started, to let stop() wait for its runs even when its signal ended it */
  let last: Running | undefined;
  let own: AbortController | undefined;

  function queueOf(r: Running, spec: ControllerSpec): WorkQueue {
    return createWorkQueue({
      concurrency: spec.concurrency ?? 1,
      ...(spec.priority ? { priority: (key: string) => (spec.priority as (k: string) => number)(key) } : {}),
      ...(spec.backoff ? { backoff: spec.backoff } : {}),
      setTimer,
      now,
      ...(spec.onDepth ? { onDepth: spec.onDepth } : {}),
      onError(key, err, retryInMs) {
        if (r.term.signal.aborted || isAbort(err)) return;
        spec.onError?.(key, err, retryInMs);
      },
      async worker(key, queueSignal) {
        const signal = AbortSignal.any([queueSignal, r.term.signal]);
        try {
          const result = await spec.reconcile(key, { signal }).catch((err: unknown) => {
            // A write the fence refused: the term is over, so is this run (nothing to retry).
            if (err instanceof TermEnded) return undefined;
            throw err;
          });
          if (key !== RESYNC || spec.resyncMs === undefined) return result;
          const again = result?.requeueAfterMs;
          return { requeueAfterMs: again === undefined ? spec.resyncMs : Math.min(again, spec.resyncMs) };
        } finally {
          spec.onRun?.(key);
        }
      },
    });
  }

  /**
   * End a term: every controller forgets it at once (a new term may begin right after; runs
   * still in flight hold their own term's state and see its signal aborted), then the queues
   * shut down, waiting for those runs to settle.
   */
  function end(r: Running): Promise<void> {
    if (r.ended) return r.ended;
    if (current === r) current = undefined;
    for (const spec of specs) spec.end?.();
    r.ended = Promise.all([...r.queues.values()].map((q) => q.shutdown())).then(() => undefined);
    return r.ended;
  }

  function handle(spec: ControllerSpec): ControllerHandle {
    const q = () => current?.queues.get(spec);
    return {
      add: (key) => q()?.add(key),
      addAfter: (key, ms) => q()?.addAfter(key, ms),
      flush: (key, signal) => q()?.flush(key, signal) ?? Promise.reject(new QueueStopped()),
      active: () => current !== undefined,
    };
  }

  return {
    register(spec) {
      specs.push(spec);
      return handle(spec);
    },
    start(term) {
      if (current) return;
      let t = term;
      if (!t) {
        const abort = new AbortController();
        own = abort;
        t = { signal: abort.signal, valid: () => !abort.signal.aborted };
      }
      const r: Running = { term: t, queues: new Map(), ended: undefined };
      current = r;
      last = r;
      for (const spec of specs) spec.begin?.(t);
      for (const spec of specs) r.queues.set(spec, queueOf(r, spec));
      t.signal.addEventListener('abort', () => void end(r), { once: true });
      for (const queue of r.queues.values()) queue.add(RESYNC);
    },
    stop() {
      const r = last;
      own?.abort(new Error('runtime stopped'));
      own = undefined;
      return r ? end(r) : Promise.resolve();
    },
    term: () => current?.term,
    fence(port, writes) {
      return new Proxy(port, {
        get(target, prop, receiver) {
          const value: unknown = Reflect.get(target, prop, receiver);
          if (typeof prop !== 'string' || typeof value !== 'function' || !Object.hasOwn(writes, prop)) return value;
          const at = writes[prop as keyof typeof writes];
          return (...args: unknown[]) => {
            const t = current?.term;
            const given = typeof at === 'number' ? (args[at] as { signal?: AbortSignal } | undefined) : undefined;
            // the caller's signal is its run's: a run of an ended term writes nothing, even after a new term began
            if (!t || t.signal.aborted || !t.valid() || given?.signal?.aborted) return Promise.reject(new TermEnded(prop));
            if (typeof at === 'number') args[at] = { ...given, signal: given?.signal ? AbortSignal.any([given.signal, t.signal]) : t.signal };
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
  };
}
