// One token bucket shared by every caller of one DigitalOcean token, so the process as a
// whole stays under DigitalOcean's 250 requests/minute even when many IPs move at once.
// Reservation style: `reserve()` takes a token now (the bucket may go negative) and says how
// long to wait, so concurrent callers queue fairly in call order without a timer of our own.

export interface RateBudget {
  /** Take one request from the budget; returns the ms to wait before sending it (0 = now). */
  reserve(): number;
  /** Give back a reservation that was not used (the caller gave up instead of waiting). */
  refund(): void;
  /**
   * Learn from DigitalOcean's headers. `ratelimit-remaining` below what the bucket holds
   * lowers the bucket, so another process sharing the token (or a person's script) counts too.
   */
  observe(remaining: number | undefined): void;
  /** After a 429: nobody sends before `untilMs` (epoch ms of the injected clock). */
  blockUntil(untilMs: number): void;
  /** tokens available now (negative while callers are queued); for tests and metrics */
  available(): number;
}

export interface RateBudgetOptions {
  /** default 250, DigitalOcean's per-minute limit */
  perMinute?: number;
  now?: () => number;
}

export function createRateBudget(opts: RateBudgetOptions = {}): RateBudget {
  const capacity = opts.perMinute ?? 250;
  if (!(capacity > 0)) throw new RangeError(`perMinute must be positive, got ${capacity}`);
  const now = opts.now ?? Date.now;
  const perMs = capacity / 60_000;
  let tokens = capacity;
  let updatedAt = now();
  let blockedUntil = 0;

  const refill = () => {
    const t = now();
    tokens = Math.min(capacity, tokens + (t - updatedAt) * perMs);
    updatedAt = t;
    return t;
  };

  return {
    reserve() {
      const t = refill();
      tokens -= 1;
      const waitForToken = tokens >= 0 ? 0 : Math.ceil(-tokens / perMs);
      return Math.max(waitForToken, blockedUntil - t);
    },
    refund() {
      refill();
      tokens = Math.min(capacity, tokens + 1);
    },
    observe(remaining) {
      if (remaining === undefined || !Number.isFinite(remaining)) return;
      refill();
      // only ever lowers: queued callers (negative tokens) keep their places
      tokens = Math.min(tokens, Math.max(0, remaining));
    },
    blockUntil(untilMs) {
      refill();
      blockedUntil = Math.max(blockedUntil, untilMs);
      // The API says the window is spent: start refilling from empty once the block ends.
      tokens = Math.min(tokens, 0);
    },
    available() {
      refill();
      return tokens;
    },
  };
}
