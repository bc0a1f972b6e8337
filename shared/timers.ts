// The one real timer behind every injectable `setTimer` (reconciler queue and resync, the
// emulator's action completion). Tests pass a manual clock with the same shape.

/** run `fn` after `ms`; returns a cancel function */
export type SetTimer = (fn: () => void, ms: number) => () => void;

/** Node fires delays above 2^31-1 ms (24.8 days) at once; clamp, so a huge delay means "much later". */
const MAX_DELAY_MS = 0x7fffffff;

/** setTimeout that never keeps the process alive on its own. */
export const realTimer: SetTimer = (fn, ms) => {
  const timer = setTimeout(fn, Math.min(ms, MAX_DELAY_MS));
  timer.unref();
  return () => clearTimeout(timer);
};
