// One DigitalOcean request with the whole policy around it: the shared rate budget, a
// wall-clock deadline per request (body included), bounded retries of 429s and of Transient
// failures of idempotent methods, the caller's AbortSignal, the metrics hook, and a
// DoApiError whose message names the route and (for 401/403) the token scope needed.
// Nothing from axios's error or config object leaves this file: those carry the
// Authorization header.
import type { Logger } from '../logger.ts';
import { realTimer } from '../timers.ts';
import { pause, throwIfAborted } from './abort.ts';
import type { Sleep } from './abort.ts';
import type { RateBudget } from './budget.ts';
import type { Route } from './endpoints.ts';
import { DoApiError } from './port.ts';
import { backoffMs, burstWaitMs, classify, isRetriedInCall, rateLimitRemaining } from './retry.ts';
import type { Classified, HeaderBag } from './retry.ts';

export interface ResponseRecord {
  readonly method: string;
  readonly route: string;
  /** HTTP status, or "error" when no response came back */
  readonly code: string;
  readonly durationMs: number;
  readonly rateLimitRemaining?: number;
}

export interface CallPolicy {
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly capMs: number;
  /** a 429 (or the local budget) asking for a longer wait fails fast as RateLimited instead */
  readonly maxRateLimitWaitMs: number;
  /** the wait after a 429 without retry-after: equal jitter under min(burstCapMs, burstBaseMs·2ⁿ) */
  readonly burstBaseMs: number;
  readonly burstCapMs: number;
  /** wall-clock deadline of one HTTP request, body included (real time, not the injected clock) */
  readonly timeoutMs: number;
}

export interface CallDeps {
  readonly budget: RateBudget;
  readonly policy: CallPolicy;
  readonly sleep: Sleep;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Logger | undefined;
  readonly onResponse: ((r: ResponseRecord) => void) | undefined;
}

export interface Operation {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly route: Route;
  /** what the call is about, for messages: "reserved IP 203.0.113.7" */
  readonly subject: string;
  /** DigitalOcean token scopes the call needs, e.g. "reserved_ip:update and droplet:read" */
  readonly scopes: string;
  /** what a 404 means when it is not just `subject`: an assign also names the droplet */
  readonly notFound?: string;
}

/** What the endpoint factories resolve to (dots-wrapper's IResponse, loosely typed). */
export interface RawResponse<T> {
  readonly data: T;
  readonly status: number;
  readonly headers: object;
}

export interface Answer<T> {
  readonly data: T;
  readonly status: number;
}

/** Sends one request; `signal` aborts it on the socket (caller's signal or the deadline). */
export type Send<T> = (signal: AbortSignal) => Promise<RawResponse<T>>;

type Sent = { status: number; body: unknown; headers: HeaderBag } | { status: undefined; code: string; noResponse: string };

/**
 * Send `op` until it succeeds or fails for good. Resolves with 2xx data; a 422 is thrown as an
 * InProgress DoApiError with `status` 422 for the caller to re-read (never retried here). A
 * POST that failed Transient is not retried either (isRetriedInCall): DigitalOcean may have
 * applied it, so its caller reads before it writes again. When `signal` aborts, the request
 * in flight is aborted and the call rejects with the signal's reason.
 */
export async function callDo<T>(deps: CallDeps, op: Operation, send: Send<T>, signal?: AbortSignal): Promise<Answer<T>> {
  const { policy } = deps;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    const wait = deps.budget.reserve();
    if (wait > policy.maxRateLimitWaitMs) {
      // Failing fast must not hold a place in the queue, or a long block would grow it.
      deps.budget.refund();
      throw new DoApiError('RateLimited', `${describe(op)}: rate budget spent; next request allowed in ${wait} ms`, { retryAfterMs: wait });
    }
    if (wait > 0) {
      try {
        await pause(deps.sleep, wait, signal);
      } catch (err) {
        deps.budget.refund();
        throw err;
      }
    }

    const started = deps.now();
    const sent = await sendOnce(send, policy.timeoutMs, signal);
    const headers = sent.status === undefined ? {} : sent.headers;
    const remaining = rateLimitRemaining(headers);
    deps.budget.observe(remaining);
    deps.onResponse?.({
      method: op.method,
      route: op.route,
      code: sent.status === undefined ? 'error' : String(sent.status),
      durationMs: deps.now() - started,
      ...(remaining === undefined ? {} : { rateLimitRemaining: remaining }),
    });
    if (sent.status !== undefined && sent.status >= 200 && sent.status < 300) return { data: sent.body as T, status: sent.status };

    const body = sent.status === undefined ? undefined : sent.body;
    const noRetryAfterMs = sent.status === 429 ? burstWaitMs(attempt - 1, policy, deps.random) : undefined;
    const c = classify(sent.status, body, headers, deps.now(), noRetryAfterMs);
    if (c.errorClass === 'RateLimited') deps.budget.blockUntil(deps.now() + (c.retryAfterMs ?? 0));
    const tooLong = (c.retryAfterMs ?? 0) > policy.maxRateLimitWaitMs;
    if (isRetriedInCall(c.errorClass, op.method) && attempt < policy.maxAttempts && !tooLong) {
      // 429: the budget is now blocked until the API's reset, so the next reserve() waits.
      const delay = c.errorClass === 'RateLimited' ? 0 : backoffMs(attempt - 1, policy, deps.random);
      deps.logger?.warn(
        { method: op.method, route: op.route, status: sent.status, code: sent.status === undefined ? sent.code : undefined, attempt, delayMs: delay || c.retryAfterMs },
        'DigitalOcean call failed, retrying',
      );
      if (delay > 0) await pause(deps.sleep, delay, signal);
      continue;
    }
    throw toError(op, c, sent, attempt);
  }
}

/**
 * One request under one wall-clock deadline that covers the body too (axios's own timeout
 * stops at the headers, so a body that trickles in would hold the call open). The deadline
 * and the caller's signal both abort the request on the socket.
 */
async function sendOnce<T>(send: Send<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<Sent> {
  const deadline = new AbortController();
  const cancelTimer = realTimer(() => deadline.abort(), timeoutMs);
  const combined = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
  try {
    const res = await send(combined);
    throwIfAborted(signal);
    return { status: res.status, body: res.data, headers: plainHeaders(res.headers) };
  } catch (err) {
    throwIfAborted(signal);
    if (deadline.signal.aborted) return { status: undefined, code: 'DEADLINE', noResponse: `no complete response within ${timeoutMs} ms` };
    // Only axios's own errors mean "no response"; anything else is a bug and surfaces as is.
    if (!isAxiosError(err)) throw err;
    const code = err.code ?? 'network error';
    return { status: undefined, code, noResponse: `no response (${code})` };
  } finally {
    cancelTimer();
  }
}

function toError(op: Operation, c: Classified, sent: Sent, attempts: number): DoApiError {
  const { status } = sent;
  const details = { status, doId: c.doId, requestId: c.requestId, retryAfterMs: c.retryAfterMs };
  const said = c.doMessage === undefined ? '' : `: ${c.doMessage}`;
  const tries = attempts === 1 ? '' : ` (after ${attempts} attempts)`;
  switch (status === 401 || status === 403 ? status : c.errorClass) {
    case 401:
      return new DoApiError('Terminal', `${describe(op)}: DigitalOcean rejected the API token (401): it is invalid, expired or revoked. Create a token with ${scopeHint(op)}`, details);
    case 403:
      return new DoApiError('Terminal', `${describe(op)}: the API token is not allowed to do this (403). It needs ${scopeHint(op)}`, details);
    case 'NotFound':
      return new DoApiError('NotFound', `${op.notFound ?? op.subject} is not in this DigitalOcean account (404 on ${op.method} ${op.route})${said}`, details);
    case 'RateLimited':
      return new DoApiError('RateLimited', `${describe(op)}: rate limited by DigitalOcean (429)${tries}; retry in ${c.retryAfterMs} ms`, details);
    case 'Transient':
      return new DoApiError('Transient', `${describe(op)} failed${tries}: ${sent.status === undefined ? sent.noResponse : `HTTP ${sent.status}`}${said}`, details);
    case 'InProgress':
      return new DoApiError('InProgress', `${describe(op)} refused (HTTP ${status})${said}`, details);
    default:
      return new DoApiError('Terminal', `${describe(op)} refused (HTTP ${status}${c.doId === undefined ? '' : ` ${c.doId}`})${said}`, details);
  }
}

function describe(op: Operation): string {
  return `${op.method} ${op.route} (${op.subject})`;
}

function scopeHint(op: Operation): string {
  return `the ${op.scopes} scope${op.scopes.includes(' and ') ? 's' : ''} (custom-scoped token) or "read and write" access (classic token)`;
}

/** axios gives an AxiosHeaders instance; only its plain string values matter here. */
function plainHeaders(headers: object): HeaderBag {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * We keep only the error's code (ECONNRESET, ECONNABORTED, ETIMEDOUT…): the error object
 * itself holds the request config and with it the Authorization header.
 */
function isAxiosError(err: unknown): err is { code?: string } {
  return typeof err === 'object' && err !== null && (err as { isAxiosError?: unknown }).isAxiosError === true;
}
