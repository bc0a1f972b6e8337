// Waits that end the moment the caller's signal aborts. Every wait of the client (retry
// backoff, rate-budget wait, 429 wait, action polling) goes through `pause`, so an ended
// leadership term stops a call at once instead of after its longest sleep.
import { abortRejection } from './port.ts';

/** The client's sleep: injected in tests (fake clock); the signal lets a real timer be cleared. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * A real timer, cleared (and resolved) when `signal` aborts. Not unref'd: a process whose only
 * work is a retry wait (a start-up check) must not exit in the middle of it.
 */
export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortRejection(signal);
}

/** Sleep `ms`, or reject with the signal's reason as soon as it aborts. */
export async function pause(sleep: Sleep, ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  if (signal === undefined) return sleep(ms);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortRejection(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms, signal), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  throwIfAborted(signal);
}
