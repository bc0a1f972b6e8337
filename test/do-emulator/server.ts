// The emulator's HTTP server: DigitalOcean's API under /v2 (bearer token, rate budget,
// injected faults, request log), the droplet metadata service under /_metadata/<dropletId>
// (faults and log too, no token) and the admin API under /_emulator.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoutes } from './admin-routes.ts';
import { DataplaneFeed } from './dataplane-view.ts';
import type { EmulatorCore, InFlightRequest } from './admin-routes.ts';
import { ApiFailure, badRequest, errorIdForStatus, notFound } from './api-error.ts';
import { apiRoutes } from './api-routes.ts';
import { systemClock } from './clock.ts';
import type { EmulatorClock } from './clock.ts';
import { FaultTable } from './faults.ts';
import type { Fault } from './faults.ts';
import { METADATA_PREFIX, metadataAnswer } from './metadata.ts';
import { RateLimiter } from './rate-limit.ts';
import { findRoute } from './router.ts';
import type { Route } from './router.ts';
import { EmulatorState } from './state.ts';
import { send, trickle, watchClient } from './wire.ts';
import type { Answer, Payload } from './wire.ts';
import { defaultWorld } from './world.ts';
import type { EmulatorSeed } from './world.ts';

export { defaultWorld };
export type { EmulatorSeed };

export interface EmulatorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 (default) = a free port */
  port?: number;
  /** if set, only this bearer token is accepted; otherwise any non-empty one */
  token?: string;
  /** how long an action stays in-progress; default 300 */
  actionDelayMs?: number;
  /** default world if absent */
  state?: EmulatorSeed;
  /** drives action completion and the rate-limit windows; default the system clock */
  clock?: EmulatorClock;
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:PORT — API under /v2, admin under /_emulator */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const DEFAULT_LIMITS = { perMinute: 250, perHour: 5000 };

type Body = { ok: true; value: unknown } | { ok: false };

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function errorBody(status: number, message: string, requestId: string, id = errorIdForStatus(status)) {
  return { id, message, request_id: requestId };
}

function dispatch(routes: readonly Route[], core: EmulatorCore, req: IncomingMessage, url: URL, body: unknown) {
  const method = req.method ?? 'GET';
  const found = findRoute(routes, method, url.pathname);
  if (found === undefined) throw notFound(`no route for ${method} ${url.pathname}`);
  return found.route.handle({ method, url, params: found.params, body, state: core.state });
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const clock = opts.clock ?? systemClock;
  const state = new EmulatorState(clock, opts.actionDelayMs ?? 300);
  const limiter = new RateLimiter(clock, DEFAULT_LIMITS);
  const core: EmulatorCore = {
    state,
    faults: new FaultTable(),
    limiter,
    clock,
    requests: [],
    inFlight: new Set(),
    lastSeq: 0,
    reset(seed = defaultWorld()) {
      this.lastSeq = 0;
      state.load(seed);
      state.actionDelayMs = opts.actionDelayMs ?? 300;
      this.faults.clear();
      this.requests.length = 0;
      limiter.reset({ ...DEFAULT_LIMITS, ...seed.rateLimit });
    },
  };
  core.reset(opts.state);
  const admin = adminRoutes(core);
  const feed = new DataplaneFeed(state);
  state.onActionEnded = () => feed.changed();

  /** API and metadata requests: faults, the request log and the in-flight list apply to both. */
  async function handleRequest(req: IncomingMessage, res: ServerResponse, url: URL, kind: 'api' | 'metadata'): Promise<void> {
    const method = req.method ?? 'GET';
    const requestId = randomUUID();
    const userAgent = req.headers['user-agent'] ?? null;
    const client = watchClient(res);
    const flight: InFlightRequest = { method, path: url.pathname, userAgent, since: new Date(clock.now()).toISOString() };
    core.inFlight.add(flight);
    res.once('close', () => core.inFlight.delete(flight));
    const body = await readBody(req);
    const log = (status: number) => {
      core.requests.push({
        seq: ++core.lastSeq, time: new Date(clock.now()).toISOString(), method, path: url.pathname,
        query: url.search.slice(1), status, body: body.ok ? body.value : null, userAgent, ...(client.gone ? { aborted: true } : {}),
      });
    };
    const deliver = async (answer: Answer, trickleMs: number | undefined) => {
      if (trickleMs === undefined || trickleMs === 0) {
        send(res, answer);
        log(answer.status);
        return;
      }
      await trickle(res, answer, trickleMs, client);
      log(answer.status);
    };

    const fault = core.faults.take(method, url.pathname);
    if (fault?.latencyMs !== undefined) await client.wait(fault.latencyMs);
    // The client gave up during the latency: the request never reached "DigitalOcean".
    if (client.gone) return log(0);
    if (fault !== undefined && fault.applyThenFail !== true) {
      if (loseAnswer(fault, req)) return log(0);
      if (fault.status !== undefined) return deliver(faultAnswer(fault, requestId, kind), fault.trickleMs);
    }
    const answer = kind === 'metadata' ? metadataReply(method, url.pathname) : apiAnswer(req, url, body, requestId);
    if (fault?.applyThenFail === true) {
      // Applied above; the answer is lost on the way back.
      if (loseAnswer(fault, req)) return log(0);
      return deliver(faultAnswer(fault, requestId, kind), fault.trickleMs);
    }
    return deliver(answer, fault?.trickleMs);
  }

  function metadataReply(method: string, path: string): Answer {
    const m = metadataAnswer(state, method, path);
    return { status: m.status, payload: { text: m.text }, headers: {} };
  }

  function apiAnswer(req: IncomingMessage, url: URL, body: Body, requestId: string): Answer {
    const withId = (headers: Record<string, string>) => ({ ...headers, 'x-request-id': requestId });
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (auth === null || (opts.token !== undefined && auth[1] !== opts.token)) {
      return { status: 401, payload: { json: errorBody(401, 'Unable to authenticate you', requestId) }, headers: withId(limiter.peek()) };
    }
    const budget = limiter.take();
    if (!budget.allowed) return { status: 429, payload: { json: errorBody(429, 'API Rate limit exceeded.', requestId) }, headers: withId(budget.headers) };
    try {
      if (!body.ok) throw badRequest('error parsing request body');
      const result = dispatch(apiRoutes, core, req, url, body.value);
      return { status: result.status, ...(result.body === undefined ? {} : { payload: { json: result.body } }), headers: withId(budget.headers) };
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(500, 'server_error', 'Unexpected server-side error');
      return { status: failure.status, payload: { json: errorBody(failure.status, failure.message, requestId, failure.id) }, headers: withId(budget.headers) };
    }
  }

  /** A reset or hang fault: the answer never arrives. */
  function loseAnswer(fault: Fault, req: IncomingMessage): boolean {
    if (fault.reset === true) {
      req.socket.destroy();
      return true;
    }
    return fault.hang === true;
  }

  function faultAnswer(fault: Fault, requestId: string, kind: 'api' | 'metadata'): Answer {
    const status = fault.status ?? 500;
    const defaults: Record<string, string> = kind === 'metadata' ? {} : { ...limiter.peek(), 'x-request-id': requestId, ...(status === 429 ? { 'retry-after': '1' } : {}) };
    const headers: Record<string, string> = { ...defaults };
    for (const [name, value] of Object.entries(fault.headers ?? {})) {
      if (value === null) delete headers[name];
      else headers[name] = value;
    }
    const message = `injected fault ${fault.id}`;
    const payload: Payload = fault.body !== undefined ? { json: fault.body } : kind === 'metadata' ? { text: message } : { json: errorBody(status, message, requestId) };
    return { status, payload, headers };
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req);
    if (req.method === 'GET' && url.pathname === '/_emulator/dataplane') {
      // A long poll (dataplane-view.ts): ?after=<version>&wait=<ms, at most 30 s>.
      const after = Number(url.searchParams.get('after') ?? 0);
      const waitMs = Math.min(30_000, Math.max(0, Number(url.searchParams.get('wait') ?? 25_000) || 0));
      send(res, { status: 200, payload: { json: await feed.next(after, waitMs) }, headers: {} });
      return;
    }
    try {
      if (!body.ok) throw badRequest('body is not valid JSON');
      const result = dispatch(admin, core, req, url, body.value);
      send(res, { status: result.status, ...(result.body === undefined ? {} : { payload: { json: result.body } }), headers: {} });
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(500, 'server_error', String(err));
      send(res, { status: failure.status, payload: { json: { id: failure.id, message: failure.message } }, headers: {} });
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const handled = url.pathname.startsWith('/_emulator/')
      ? handleAdmin(req, res, url)
      : handleRequest(req, res, url, url.pathname.startsWith(METADATA_PREFIX) ? 'metadata' : 'api');
    // Any request may have changed holders, droplets or firewalls: the feed compares and wakes.
    handled.finally(() => feed.changed()).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, payload: { json: { id: 'server_error', message: String(err) } }, headers: {} });
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: baseUrl,
    close: () =>
      new Promise<void>((resolve, reject) => {
        state.load({});
        feed.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging faults and keep-alive sockets would hold close() open forever.
        server.closeAllConnections();
      }),
  };
}
