// The DigitalOcean client: ReservedIpPort and CloudPort over dots-wrapper's endpoint modules
// and our own axios instance. Policy (deadlines, retries, 429s, 422s, lost answers, action
// waits, cancellation) is in call.ts and moves.ts; this file wires options to them.
import axios from 'axios';
import type { IContext } from 'dots-wrapper/dist/types/index.js';
import { parseAddress } from '../addresses.ts';
import type { ReservedAddress } from '../addresses.ts';
import type { Logger } from '../logger.ts';
import { createRateBudget } from './budget.ts';
import type { RateBudget } from './budget.ts';
import { realSleep } from './abort.ts';
import type { Sleep } from './abort.ts';
import { resolvePolicy } from './bounds.ts';
import type { CallDeps, ResponseRecord } from './call.ts';
import { createCloudOperations } from './cloud-operations.ts';
import { move } from './moves.ts';
import type { MoveDeps } from './moves.ts';
import { createOperations } from './operations.ts';
import { DoApiError } from './port.ts';
import type { CloudPort, ReservedIpPort } from './port.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { readFileSync } = process.getBuiltinModule('node:fs');

export type { RateBudget, ResponseRecord };
export { createRateBudget };
export { resolvePolicy, worstCaseMs } from './bounds.ts';

export const DEFAULT_API_URL = 'https://api.digitalocean.com';

export interface DoClientOptions {
  token: string;
  /** default https://api.digitalocean.com — the client appends /v2 */
  baseUrl?: string;
  /** wall-clock deadline of one HTTP request, body included; default 10 s */
  timeoutMs?: number;
  /** default floatip/<version>; see userAgent() */
  userAgent?: string;
  logger?: Logger;
  /**
   * maxAttempts (default 4) bounds Transient and 429 retries within one call (a POST's
   * Transient failures are retried only after a read showed it was not applied); backoff is
   * full jitter in [0, min(capMs, baseMs·2^n)); a 429 (or local budget) wait longer than
   * maxRateLimitWaitMs (default 60 s) fails fast as RateLimited for the caller to schedule.
   * A 429 without retry-after waits equal jitter under min(burstCapMs 8 s, burstBaseMs 2 s·2^n).
   */
  retry?: { maxAttempts?: number; baseMs?: number; capMs?: number; maxRateLimitWaitMs?: number; burstBaseMs?: number; burstCapMs?: number };
  /** action polling: initialMs (500) doubling up to maxMs (4 s), for at most totalMs (30 s) */
  actionWait?: { initialMs?: number; maxMs?: number; totalMs?: number };
  /** shared token bucket, default 250/min; share one between clients using the same token */
  budget?: RateBudget;
  /** injected in tests; receives the call's signal so a real timer can be cleared on abort */
  sleep?: Sleep;
  now?: () => number;
  random?: () => number;
  /** metrics hook, called once per HTTP request (retries included) */
  onResponse?: (r: ResponseRecord) => void;
  /** per_page of list calls; default 200, DigitalOcean's maximum */
  pageSize?: number;
}

/**
 * Every method takes `{ signal }` last (CallOptions in port.ts): an aborted signal aborts the
 * request on the socket, ends every wait, and rejects with the signal's reason. How long a
 * call can take without one is worstCaseMs() (bounds.ts), with the defaults documented there.
 */
export function createDoClient(opts: DoClientOptions): ReservedIpPort & CloudPort {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  // Tolerate the API root written with /v2 (as DigitalOcean's docs show it): we append it.
  const baseUrl = (opts.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '').replace(/\/v2$/, '');
  const http = axios.create({
    baseURL: `${baseUrl}/v2`,
    // No axios timeout: it stops counting at the headers. call.ts puts one deadline on the
    // whole request, body included, through the request's AbortSignal.
    timeout: 0,
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
  const { policy, wait } = resolvePolicy(opts);
  const random = opts.random ?? Math.random;
  const callDeps: CallDeps = {
    budget: opts.budget ?? createRateBudget({ now }),
    policy,
    sleep,
    now,
    random,
    logger: opts.logger,
    onResponse: opts.onResponse,
  };
  const ops = createOperations(ctx, callDeps, opts.pageSize ?? 200);
  const moveDeps: MoveDeps = { ops, wait, retry: policy, sleep, now, random, logger: opts.logger };

  return {
    getAccount: (o) => ops.getAccount(o?.signal),
    async listReservedIps(o) {
      return [...(await ops.listFamily(4, o?.signal)), ...(await ops.listFamily(6, o?.signal))];
    },
    getReservedIp: async (ip, o) => ops.get(address(ip), o?.signal),
    async assign(ip, dropletId, o) {
      if (!Number.isSafeInteger(dropletId) || dropletId <= 0) {
        throw new DoApiError('Terminal', `droplet id must be a positive integer, got ${dropletId}`);
      }
      return move(moveDeps, address(ip), dropletId, o?.signal);
    },
    unassign: async (ip, o) => move(moveDeps, address(ip), null, o?.signal),
    ...createCloudOperations(ctx, callDeps, opts.pageSize ?? 200),
  };
}

/** Validated and canonical, so it is safe in a URL path and matches what the API returns. */
function address(ip: string): ReservedAddress {
  const addr = parseAddress(ip);
  if (addr === null) throw new DoApiError('Terminal', `"${ip}" is not an IPv4 or IPv6 address`);
  return addr;
}

let cachedUserAgent: string | undefined;

/** `floatip/<version>` from the package.json above this file (works from the source tree and from dist/). */
export function defaultUserAgent(): string {
  if (cachedUserAgent !== undefined) return cachedUserAgent;
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
  cachedUserAgent = `floatip/${version}`;
  return cachedUserAgent;
}

/**
 * `floatip/<version> <component>/<identity>` (identity omitted when absent), e.g.
 * `floatip/0.1.0 reconciler/floatip-reconciler-7d9f-abc123`: DigitalOcean's logs (and the
 * emulator's request log) then tell which replica sent a request. Characters HTTP does not
 * allow in a product token become `_`.
 */
export function userAgent(component: string, identity?: string): string {
  const token = (text: string) => text.replace(/[^!#$%&'*+.^_`|~0-9A-Za-z-]/g, '_').slice(0, 128) || '_';
  return `${defaultUserAgent()} ${token(component)}${identity === undefined ? '' : `/${token(identity)}`}`;
}
