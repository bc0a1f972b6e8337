// The one manual clock of the tests (reconciler, client, emulator, webhook): timers fire only
// when the test moves time. `advance` also lets promise chains settle between timers (code
// under test that awaits); `tick` is synchronous (an injected sleep that moves the clock).
import type { SetTimer } from '../../shared/timers.ts';

export interface FakeClock {
  now(): number;
  setTimer: SetTimer;
  /** move time forward, firing due timers in order and letting promise chains settle */
  advance(ms: number): Promise<void>;
  /** move time forward at once, firing due timers in order (nothing settles in between) */
  tick(ms: number): void;
  /** pending timers (for asserting that nothing is scheduled) */
  pending(): number;
}

/** Let queued promise callbacks and I/O callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createFakeClock(start = 0): FakeClock {
  let time = start;
  let seq = 0;
  const timers = new Map<number, { due: number; fn: () => void }>();
  /** the next timer due by `end`: earliest first, then in the order they were set */
  const due = (end: number) => [...timers.entries()].filter(([, t]) => t.due <= end).sort((a, b) => a[1].due - b[1].due || a[0] - b[0])[0];
  const fire = ([id, t]: [number, { due: number; fn: () => void }]) => {
    timers.delete(id);
    time = Math.max(time, t.due);
    t.fn();
  };
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
      for (let next = due(end); next; next = due(end)) {
        fire(next);
        await settle();
      }
      time = end;
      await settle();
    },
    tick(ms) {
      const end = time + ms;
      for (let next = due(end); next; next = due(end)) fire(next);
      time = end;
    },
    pending: () => timers.size,
  };
}
