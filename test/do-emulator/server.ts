// The emulator's HTTP server: DigitalOcean's API under /v2 (bearer token, rate budget,
// injected faults, request log) and the admin API under /_emulator.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoutes } from './admin-routes.ts';
import type { EmulatorCore, LoggedRequest } from './admin-routes.ts';
import { ApiFailure, badRequest, errorIdForStatus, notFound } from './api-error.ts';
import { apiRoutes } from './api-routes.ts';
import { systemClock } from './clock.ts';
import type { EmulatorClock } from './clock.ts';
import { FaultTable } from './faults.ts';
import type { Fault } from './faults.ts';
import { RateLimiter } from './rate-limit.ts';
import { findRoute } from './router.ts';
import type { Route } from './router.ts';
import { EmulatorState } from './state.ts';
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

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
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

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const requestId = randomUUID();
    const body = await readBody(req);
    const log = (status: number) => {
      const entry: LoggedRequest = {
        seq: ++core.lastSeq, time: new Date(clock.now()).toISOString(), method, path: url.pathname,
        query: url.search.slice(1), status, body: body.ok ? body.value : null,
      };
      core.requests.push(entry);
    };
    const reply = (status: number, payload: unknown, headers: Record<string, string>) => {
      send(res, status, payload, { ...headers, 'x-request-id': requestId });
      log(status);
    };

    const fault = core.faults.take(method, url.pathname);
    if (fault !== undefined && (await applyFault(fault, req, requestId, reply))) {
      if (fault.reset === true || fault.hang === true) log(0);
      return;
    }
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (auth === null || (opts.token !== undefined && auth[1] !== opts.token)) {
      reply(401, errorBody(401, 'Unable to authenticate you', requestId), limiter.peek());
      return;
    }
    const budget = limiter.take();
    if (!budget.allowed) {
      reply(429, errorBody(429, 'API Rate limit exceeded.', requestId), budget.headers);
      return;
    }
    try {
      if (!body.ok) throw badRequest('error parsing request body');
      const result = dispatch(apiRoutes, core, req, url, body.value);
      reply(result.status, result.body, budget.headers);
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(500, 'server_error', 'Unexpected server-side error');
      reply(failure.status, errorBody(failure.status, failure.message, requestId, failure.id), budget.headers);
    }
  }

  /** true when the fault answered (or swallowed) the request; false to go on normally */
  async function applyFault(
    fault: Fault, req: IncomingMessage, requestId: string,
    reply: (status: number, payload: unknown, headers: Record<string, string>) => void,
  ): Promise<boolean> {
    // Latency is real time, not the emulator clock: it exists to exercise client timeouts.
    if (fault.latencyMs !== undefined) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.reset === true) {
      req.socket.destroy();
      return true;
    }
    if (fault.hang === true) return true;
    if (fault.status === undefined) return false;
    const headers: Record<string, string> = { ...limiter.peek(), ...(fault.status === 429 ? { 'retry-after': '1' } : {}), ...fault.headers };
    const payload = fault.body ?? errorBody(fault.status, `injected fault ${fault.id}`, requestId);
    reply(fault.status, payload, headers);
    return true;
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req);
    try {
      if (!body.ok) throw badRequest('body is not valid JSON');
      const result = dispatch(admin, core, req, url, body.value);
      send(res, result.status, result.body, {});
    } catch (err) {
      const failure = err instanceof ApiFailure ? err : new ApiFailure(500, 'server_error', String(err));
      send(res, failure.status, { id: failure.id, message: failure.message }, {});
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const handler = url.pathname.startsWith('/_emulator/') ? handleAdmin : handleApi;
    handler(req, res, url).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { id: 'server_error', message: String(err) }, {});
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
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging faults and keep-alive sockets would hold close() open forever.
        server.closeAllConnections();
      }),
  };
}
