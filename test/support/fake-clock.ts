// A manual clock for tests: timers fire only when the test advances time.
import type { SetTimer } from '../../shared/timers.ts';

export interface FakeClock {
  now(): number;
  setTimer: SetTimer;
  /** move time forward, firing due timers in order and letting promise chains settle */
  advance(ms: number): Promise<void>;
  /** pending timers (for asserting that nothing is scheduled) */
  pending(): number;
}

/** Let queued promise callbacks and I/O callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createFakeClock(start = 0): FakeClock {
  let time = start;
  let seq = 0;
  const timers = new Map<number, { due: number; fn: () => void }>();
  return {
    now: () => time,
    setTimer(fn, ms) {
      const id = ++seq;
      timers.set(id, { due: time + ms, fn });
      return () => timers.delete(id);
    },
    async advance(ms) {
      const end = time + ms;
      await settle();
      for (;;) {
        const next = [...timers.entries()].filter(([, t]) => t.due <= end).sort((a, b) => a[1].due - b[1].due || a[0] - b[0])[0];
        if (!next) break;
        timers.delete(next[0]);
        time = next[1].due;
        next[1].fn();
        await settle();
      }
      time = end;
      await settle();
    },
    pending: () => timers.size,
  };
}
