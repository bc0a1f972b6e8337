// The DigitalOcean reserved-IP client: ReservedIpPort over dots-wrapper's endpoint modules
// and our own axios instance. Policy (retries, 429s, 422s, action waits) is in call.ts and
// moves.ts; this file wires options to them.
import { readFileSync } from 'node:fs';
import axios from 'axios';
import type { IContext } from 'dots-wrapper/dist/types/index.js';
import { parseAddress } from '../addresses.ts';
import type { ReservedAddress } from '../addresses.ts';
import type { Logger } from '../logger.ts';
import { createRateBudget } from './budget.ts';
import type { RateBudget } from './budget.ts';
import type { CallDeps, ResponseRecord } from './call.ts';
import { move } from './moves.ts';
import type { MoveDeps } from './moves.ts';
import { createOperations } from './operations.ts';
import { DoApiError } from './port.ts';
import type { ReservedIpPort } from './port.ts';

export type { RateBudget, ResponseRecord };
export { createRateBudget };

export const DEFAULT_API_URL = 'https://api.digitalocean.com';

export interface DoClientOptions {
  token: string;
  /** default https://api.digitalocean.com — the client appends /v2 */
  baseUrl?: string;
  /** per request; default 10 s */
  timeoutMs?: number;
  /** default floatip/<version> */
  userAgent?: string;
  logger?: Logger;
  /**
   * maxAttempts (default 4) bounds Transient and 429 retries within one call; backoff is
   * full jitter in [0, min(capMs, baseMs·2^n)); a 429 (or local budget) wait longer than
   * maxRateLimitWaitMs (default 60 s) fails fast as RateLimited for the caller to schedule.
   */
  retry?: { maxAttempts?: number; baseMs?: number; capMs?: number; maxRateLimitWaitMs?: number };
  /** action polling: initialMs (500) doubling up to maxMs (4 s), for at most totalMs (30 s) */
  actionWait?: { initialMs?: number; maxMs?: number; totalMs?: number };
  /** shared token bucket, default 250/min; share one between clients using the same token */
  budget?: RateBudget;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  /** metrics hook, called once per HTTP request (retries included) */
  onResponse?: (r: ResponseRecord) => void;
  /** per_page of list calls; default 200, DigitalOcean's maximum */
  pageSize?: number;
}

export function createDoClient(opts: DoClientOptions): ReservedIpPort {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Tolerate the API root written with /v2 (as DigitalOcean's docs show it): we append it.
  const baseUrl = (opts.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '').replace(/\/v2$/, '');
  const http = axios.create({
    baseURL: `${baseUrl}/v2`,
    timeout: opts.timeoutMs ?? 10_000,
    headers: {
      Authorization: `Bearer ${opts.token}`,
      'User-Agent': opts.userAgent ?? defaultUserAgent(),
      Accept: 'application/json',
      'Content-Type': 'application/json',
    },
    // Every status comes back as a response: classify() decides, and no AxiosError (which
    // embeds the request config, token included) is created for HTTP errors.
    validateStatus: () => true,
    maxRedirects: 0,
  });
  // dots-wrapper is typed against axios's CJS declarations; the instance is the same object.
  const ctx: IContext = { endpoint: `${baseUrl}/v2`, httpClient: http as unknown as IContext['httpClient'] };
  const callDeps: CallDeps = {
    budget: opts.budget ?? createRateBudget({ now }),
    policy: {
      maxAttempts: Math.max(1, opts.retry?.maxAttempts ?? 4),
      baseMs: opts.retry?.baseMs ?? 500,
      capMs: opts.retry?.capMs ?? 8_000,
      maxRateLimitWaitMs: opts.retry?.maxRateLimitWaitMs ?? 60_000,
    },
    sleep,
    now,
    random: opts.random ?? Math.random,
    logger: opts.logger,
    onResponse: opts.onResponse,
  };
  const ops = createOperations(ctx, callDeps, opts.pageSize ?? 200);
  const moveDeps: MoveDeps = {
    ops,
    wait: {
      initialMs: opts.actionWait?.initialMs ?? 500,
      maxMs: opts.actionWait?.maxMs ?? 4_000,
      totalMs: opts.actionWait?.totalMs ?? 30_000,
    },
    sleep,
    now,
    logger: opts.logger,
  };

  return {
    getAccount: () => ops.getAccount(),
    async listReservedIps() {
      return [...(await ops.listFamily(4)), ...(await ops.listFamily(6))];
    },
    getReservedIp: async (ip) => ops.get(address(ip)),
    async assign(ip, dropletId) {
      if (!Number.isSafeInteger(dropletId) || dropletId <= 0) {
        throw new DoApiError('Terminal', `droplet id must be a positive integer, got ${dropletId}`);
      }
      return move(moveDeps, address(ip), dropletId);
    },
    unassign: async (ip) => move(moveDeps, address(ip), null),
  };
}

/** Validated and canonical, so it is safe in a URL path and matches what the API returns. */
function address(ip: string): ReservedAddress {
  const addr = parseAddress(ip);
  if (addr === null) throw new DoApiError('Terminal', `"${ip}" is not an IPv4 or IPv6 address`);
  return addr;
}

let userAgent: string | undefined;

/** `floatip/<version>` from the package.json above this file (works from the source tree and from dist/). */
export function defaultUserAgent(): string {
  if (userAgent !== undefined) return userAgent;
  let version = 'unknown';
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'floatip' && typeof pkg.version === 'string') {
        version = pkg.version;
        break;
      }
    } catch {
      // no package.json at this level: keep walking up
    }
  }
  userAgent = `floatip/${version}`;
  return userAgent;
}
