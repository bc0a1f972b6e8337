// Pure retry policy of the DigitalOcean client: which class a response belongs to, how long
// to back off, how long a 429 asks us to wait. No I/O, no clock reads: `now` and `random`
// are passed in so every number here is testable.
import type { DoErrorClass } from './port.ts';

export interface Classified {
  readonly errorClass: DoErrorClass;
  /** DigitalOcean's error id and message from the `{id, message, request_id}` body */
  readonly doId: string | undefined;
  readonly doMessage: string | undefined;
  readonly requestId: string | undefined;
  /** only for 429: how long the API asked us to wait */
  readonly retryAfterMs: number | undefined;
}

export type HeaderBag = Readonly<Record<string, unknown>>;

/**
 * Decide the class of a failed response once, where it is read. `status` undefined means
 * no response at all (connection refused/reset, timeout): always Transient.
 * A 422 is classified InProgress here (the API refused *for now*); the client never retries
 * it blindly but re-reads the IP to tell "already done", "locked" and "conflict" apart.
 * `noRetryAfterMs` is the wait of a 429 without `retry-after` (see rateLimitWaitMs).
 */
export function classify(status: number | undefined, body: unknown, headers: HeaderBag, nowMs: number, noRetryAfterMs = 1000): Classified {
  const err = errorBody(body);
  const base = { doId: err.id, doMessage: err.message, requestId: err.requestId ?? headerString(headers, 'x-request-id'), retryAfterMs: undefined };
  if (status === undefined) return { ...base, errorClass: 'Transient' };
  if (status === 429) return { ...base, errorClass: 'RateLimited', retryAfterMs: rateLimitWaitMs(headers, nowMs, noRetryAfterMs) };
  if (status >= 500 || status === 408) return { ...base, errorClass: 'Transient' };
  if (status === 404) return { ...base, errorClass: 'NotFound' };
  if (status === 422) return { ...base, errorClass: 'InProgress' };
  return { ...base, errorClass: 'Terminal' };
}

/**
 * Whether one call retries this failure itself. A 429 is refused before DigitalOcean acts on
 * the request, so it is always retried. A Transient failure (timeout, reset, 5xx) may come
 * after DigitalOcean applied the request: only idempotent methods are retried blindly; a POST
 * goes back to its caller, which reads the state before trying again (moves.ts, firewalls).
 */
export function isRetriedInCall(errorClass: DoErrorClass, method = 'GET'): boolean {
  if (errorClass === 'RateLimited') return true;
  return errorClass === 'Transient' && method !== 'POST';
}

/**
 * Capped exponential backoff with full jitter (AWS "Exponential Backoff and Jitter"):
 * uniformly random in [0, min(cap, base * 2^retry)). `retry` counts from 0 for the first retry.
 * Full jitter spreads the callers that failed together, so they do not retry together.
 */
export function backoffMs(retry: number, opts: { baseMs: number; capMs: number }, random: () => number): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/** Deterministic doubling used for action polling: initial, 2x, 4x … capped at `maxMs`. */
export function pollDelayMs(poll: number, opts: { initialMs: number; maxMs: number }): number {
  return Math.min(opts.maxMs, opts.initialMs * 2 ** Math.max(0, poll));
}

/**
 * The longest `retry-after` obeyed. A larger value (a proxy's mistake, or a hostile answer:
 * `retry-after: 86400`) is read as this: the client's budget blocks every call for at most
 * 60 s, then one request asks again; if DigitalOcean still refuses, its next 429 blocks for
 * another 60 s at most. A long refusal costs one request a minute, never a day of standstill.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long a 429 asks us to wait: `retry-after` (seconds or an HTTP date) when present,
 * capped at MAX_RETRY_AFTER_MS.
 * Without it, `fallbackMs` (a short jittered wait, see burstWaitMs), cut short by an earlier
 * `ratelimit-reset`. That header is the reset of the *hourly* window on DigitalOcean, so
 * waiting for it would stall a call for up to an hour, while the burst limit that most 429s
 * come from frees up within the minute.
 */
export function rateLimitWaitMs(headers: HeaderBag, nowMs: number, fallbackMs = 1000): number {
  const retryAfter = headerString(headers, 'retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (retryAfter.trim() !== '' && Number.isFinite(seconds)) return capRetryAfter(Math.ceil(seconds * 1000));
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return capRetryAfter(date - nowMs);
  }
  const reset = headerNumber(headers, 'ratelimit-reset');
  const untilReset = reset === undefined ? Infinity : Math.max(0, reset * 1000 - nowMs);
  return Math.min(untilReset, Math.max(0, fallbackMs));
}

const capRetryAfter = (ms: number): number => Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));

/**
 * The wait after a 429 without `retry-after`, for the `retry`-th retry (from 0): "equal
 * jitter" in [c/2, c) with c = min(capMs, baseMs·2^retry), so it is never near zero (the API
 * just refused us) and callers refused together spread out.
 */
export function burstWaitMs(retry: number, opts: { burstBaseMs: number; burstCapMs: number }, random: () => number): number {
  const ceiling = Math.min(opts.burstCapMs, opts.burstBaseMs * 2 ** Math.max(0, retry));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/** `ratelimit-remaining` as a number, when the response carried it. */
export function rateLimitRemaining(headers: HeaderBag): number | undefined {
  return headerNumber(headers, 'ratelimit-remaining');
}

export function headerString(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

export function headerNumber(headers: HeaderBag, name: string): number | undefined {
  const text = headerString(headers, name);
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function errorBody(body: unknown): { id?: string; message?: string; requestId?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { id: str(b.id), message: str(b.message), requestId: str(b.request_id) };
}
