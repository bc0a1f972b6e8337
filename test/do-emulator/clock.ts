// Time as the emulator sees it. Action completion and the rate-limit windows read this
// clock, so tests can drive state transitions deterministically with the tests' fake clock
// (test/support/fake-clock.ts).

import { realTimer } from '../../shared/timers.ts';

export interface EmulatorClock {
  now(): number;
  /** run `fn` after `ms`; returns a cancel function */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: EmulatorClock = { now: () => Date.now(), setTimer: realTimer };
