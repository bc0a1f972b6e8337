// One DigitalOcean request with the whole policy around it: the shared rate budget, bounded
// retries of Transient and 429 answers, the metrics hook, and a DoApiError whose message
// names the route and (for 401/403) the token scope needed. Nothing from axios's error or
// config object leaves this file: those carry the Authorization header.
import type { Logger } from '../logger.ts';
import type { RateBudget } from './budget.ts';
import type { Route } from './endpoints.ts';
import { DoApiError } from './port.ts';
import { backoffMs, classify, isRetriedInCall, rateLimitRemaining } from './retry.ts';
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
}

export interface CallDeps {
  readonly budget: RateBudget;
  readonly policy: CallPolicy;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Logger | undefined;
  readonly onResponse: ((r: ResponseRecord) => void) | undefined;
}

export interface Operation {
  readonly method: 'GET' | 'POST';
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

/**
 * Send `op` until it succeeds or fails for good. Resolves with 2xx data; a 422 is thrown as an
 * InProgress DoApiError with `status` 422 for the caller to re-read (never retried here).
 */
export async function callDo<T>(deps: CallDeps, op: Operation, send: () => Promise<RawResponse<T>>): Promise<Answer<T>> {
  const { policy } = deps;
  for (let attempt = 1; ; attempt++) {
    const wait = deps.budget.reserve();
    if (wait > policy.maxRateLimitWaitMs) {
      // Failing fast must not hold a place in the queue, or a long block would grow it.
      deps.budget.refund();
      throw new DoApiError('RateLimited', `${describe(op)}: rate budget spent; next request allowed in ${wait} ms`, { retryAfterMs: wait });
    }
    if (wait > 0) await deps.sleep(wait);

    const started = deps.now();
    let status: number | undefined;
    let body: unknown;
    let headers: HeaderBag = {};
    let networkCode: string | undefined;
    try {
      const res = await send();
      status = res.status;
      body = res.data;
      headers = plainHeaders(res.headers);
    } catch (err) {
      // Only axios's own errors mean "no response"; anything else is a bug and surfaces as is.
      if (!isAxiosError(err)) throw err;
      networkCode = err.code ?? 'network error';
    }
    const remaining = rateLimitRemaining(headers);
    deps.budget.observe(remaining);
    deps.onResponse?.({
      method: op.method,
      route: op.route,
      code: status === undefined ? 'error' : String(status),
      durationMs: deps.now() - started,
      ...(remaining === undefined ? {} : { rateLimitRemaining: remaining }),
    });
    if (status !== undefined && status >= 200 && status < 300) return { data: body as T, status };

    const c = classify(status, body, headers, deps.now());
    if (c.errorClass === 'RateLimited') deps.budget.blockUntil(deps.now() + (c.retryAfterMs ?? 0));
    const tooLong = (c.retryAfterMs ?? 0) > policy.maxRateLimitWaitMs;
    if (isRetriedInCall(c.errorClass) && attempt < policy.maxAttempts && !tooLong) {
      // 429: the budget is now blocked until the API's reset, so the next reserve() waits.
      const delay = c.errorClass === 'RateLimited' ? 0 : backoffMs(attempt - 1, policy, deps.random);
      deps.logger?.warn(
        { method: op.method, route: op.route, status, code: networkCode, attempt, delayMs: delay || c.retryAfterMs },
        'DigitalOcean call failed, retrying',
      );
      if (delay > 0) await deps.sleep(delay);
      continue;
    }
    throw toError(op, c, status, networkCode, attempt);
  }
}

function toError(op: Operation, c: Classified, status: number | undefined, networkCode: string | undefined, attempts: number): DoApiError {
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
      return new DoApiError('Transient', `${describe(op)} failed${tries}: ${status === undefined ? `no response (${networkCode})` : `HTTP ${status}`}${said}`, details);
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
