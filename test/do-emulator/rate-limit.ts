// DigitalOcean's per-token budget: 5000 requests per hour and 250 per minute, as sliding
// windows. `ratelimit-limit`/`-remaining` report the hourly budget, `ratelimit-reset` is
// when the oldest counted request leaves the hour window (epoch seconds), as DO documents.
import type { EmulatorClock } from './clock.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface RateLimits {
  perMinute: number;
  perHour: number;
}

export interface RateDecision {
  readonly allowed: boolean;
  readonly headers: Record<string, string>;
}

export class RateLimiter {
  limits: RateLimits;
  private readonly clock: EmulatorClock;
  /** start times of counted requests within the last hour, oldest first */
  private times: number[] = [];

  constructor(clock: EmulatorClock, limits: RateLimits) {
    this.clock = clock;
    this.limits = { ...limits };
  }

  reset(limits?: Partial<RateLimits>): void {
    this.times = [];
    if (limits !== undefined) this.limits = { ...this.limits, ...limits };
  }

  /** The headers of a response that does not spend budget (401, admin-injected faults). */
  peek(): Record<string, string> {
    this.expire(this.clock.now());
    return this.headers(this.clock.now());
  }

  /** Count one request if the budget allows it; 429 headers include `retry-after` otherwise. */
  take(): RateDecision {
    const now = this.clock.now();
    this.expire(now);
    const inMinute = this.times.filter((t) => t > now - MINUTE);
    const minuteFull = inMinute.length >= this.limits.perMinute;
    const hourFull = this.times.length >= this.limits.perHour;
    if (!minuteFull && !hourFull) {
      this.times.push(now);
      return { allowed: true, headers: this.headers(now) };
    }
    // Wait until enough old requests leave the full window(s).
    let freeAt = now;
    if (minuteFull) freeAt = Math.max(freeAt, (inMinute[inMinute.length - this.limits.perMinute] ?? now) + MINUTE);
    if (hourFull) freeAt = Math.max(freeAt, (this.times[this.times.length - this.limits.perHour] ?? now) + HOUR);
    const retryAfter = Math.max(1, Math.ceil((freeAt - now) / 1000));
    return { allowed: false, headers: { ...this.headers(now), 'retry-after': String(retryAfter) } };
  }

  private expire(now: number): void {
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? now) <= now - HOUR) drop++;
    if (drop > 0) this.times = this.times.slice(drop);
  }

  private headers(now: number): Record<string, string> {
    const oldest = this.times[0] ?? now;
    return {
      'ratelimit-limit': String(this.limits.perHour),
      'ratelimit-remaining': String(Math.max(0, this.limits.perHour - this.times.length)),
      'ratelimit-reset': String(Math.ceil((oldest + HOUR) / 1000)),
    };
  }
}
