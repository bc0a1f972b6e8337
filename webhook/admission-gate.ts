// The admission gate: a review's body is read and reviewed only while its declared size
// fits a byte budget, so 16 concurrent maximum-size reviews hold about the budget in
// buffers, not 16 bodies (parsing is synchronous, so only one review is being parsed at any
// instant anyway). A waiting request is not read at all: its socket stays paused, its bytes
// stay in the kernel. Waits are first come, first served, so a large review at the head is
// not overtaken forever, and bounded: after maxWaitMs the caller is told to retry.
import { realTimer } from '../shared/timers.ts';
import type { SetTimer } from '../shared/timers.ts';

export type Release = () => void;

export interface AdmissionGateOptions {
  /** bytes of request bodies being read or reviewed at once */
  readonly budgetBytes: number;
  /** how long a request may wait for room before it is refused */
  readonly maxWaitMs: number;
  readonly setTimer?: SetTimer;
}

export interface AdmissionGate {
  /**
   * Room for a body of `bytes` (clamped to the budget): a release function (idempotent) once
   * there is room, or null after maxWaitMs or when `signal` aborts first.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<Release | null>;
  readonly inFlightBytes: number;
  readonly waiting: number;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: (release: Release | null) => void;
}

export function createAdmissionGate(opts: AdmissionGateOptions): AdmissionGate {
  const setTimer = opts.setTimer ?? realTimer;
  let inFlight = 0;
  const queue: Waiter[] = [];

  const releaser = (bytes: number): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inFlight -= bytes;
      pump();
    };
  };

  function pump(): void {
    for (let head = queue[0]; head && inFlight + head.bytes <= opts.budgetBytes; head = queue[0]) {
      queue.shift();
      inFlight += head.bytes;
      head.grant(releaser(head.bytes));
    }
  }

  return {
    acquire(requested, signal) {
      const bytes = Math.min(Math.max(0, requested), opts.budgetBytes);
      if (queue.length === 0 && inFlight + bytes <= opts.budgetBytes) {
        inFlight += bytes;
        return Promise.resolve(releaser(bytes));
      }
      if (signal?.aborted) return Promise.resolve(null);
      return new Promise((resolve) => {
        const leave = () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          cancel();
          signal?.removeEventListener('abort', leave);
          resolve(null);
          // The head may have been what blocked smaller ones behind it.
          pump();
        };
        const waiter: Waiter = {
          bytes,
          grant: (release) => {
            cancel();
            signal?.removeEventListener('abort', leave);
            resolve(release);
          },
        };
        const cancel = setTimer(leave, opts.maxWaitMs);
        signal?.addEventListener('abort', leave, { once: true });
        queue.push(waiter);
      });
    },
    get inFlightBytes() {
      return inFlight;
    },
    get waiting() {
      return queue.length;
    },
  };
}
