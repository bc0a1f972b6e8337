// Time as the emulator sees it. Action completion and the rate-limit windows read this
// clock, so tests can drive state transitions deterministically with a manual clock.

import { realTimer } from '../../shared/timers.ts';

export interface EmulatorClock {
  now(): number;
  /** run `fn` after `ms`; returns a cancel function */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: EmulatorClock = { now: () => Date.now(), setTimer: realTimer };

export interface ManualClock extends EmulatorClock {
  /** move time forward, firing due timers in order */
  advance(ms: number): void;
}

export function createManualClock(start = Date.parse('2026-01-01T00:00:00Z')): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimer(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return () => timers.delete(id);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers) {
          if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
        }
        if (next === undefined) break;
        timers.delete(next[0]);
        now = Math.max(now, next[1].at);
        next[1].fn();
      }
      now = end;
    },
  };
}
