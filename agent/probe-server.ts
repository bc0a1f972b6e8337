// The agent's indirect-probe endpoint (SWIM's ping-req): the leading reconciler, whose own
// probes of a holder failed, asks agents on other nodes to try. POST /v1/probe with a signed
// request (shared/liveness-auth.ts); the agent makes one TCP handshake to the asked address on
// the kubelet's port and answers, signed. Requests that are not signed with the current key,
// too old or too new, replayed, for another port, or too many at once are refused: an agent
// on hostNetwork must not become a port scanner for whoever reaches the node.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from '../shared/logger.ts';
import { MAX_SKEW_MS, PROBE_PATH, SIGNATURE_HEADER, parseProbeRequest, sign, verify } from '../shared/liveness-auth.ts';
import type { ProbeAnswer } from '../shared/liveness-auth.ts';
import { probeTcp } from '../shared/tcp-probe.ts';
import type { TcpProber } from '../shared/tcp-probe.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { createServer } = process.getBuiltinModule('node:http');

const MAX_BODY_BYTES = 1024;
const MAX_IN_FLIGHT = 32;
const MAX_NONCES = 10_000;

export interface ProbeServerOptions {
  readonly host: string;
  readonly port: number;
  /** the only port probes may target (the kubelet's, 10250) */
  readonly probePort: number;
  /** the current key, or undefined while none is there yet (the Secret not mounted) */
  readonly key: () => Buffer | undefined;
  readonly logger: Logger;
  readonly prober?: TcpProber;
  readonly now?: () => number;
}

export interface RunningProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain', ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

export async function startProbeServer(opts: ProbeServerOptions): Promise<RunningProbeServer> {
  const prober = opts.prober ?? probeTcp;
  const now = opts.now ?? Date.now;
  const log = opts.logger;
  /** nonce → when it may be forgotten (after the skew window it is refused by time anyway) */
  const seen = new Map<string, number>();
  let inFlight = 0;

  function fresh(nonce: string, t: number): boolean {
    for (const [n, until] of seen) {
      if (until > t && seen.size < MAX_NONCES) break; // insertion order: the oldest first
      seen.delete(n);
    }
    if (seen.has(nonce)) return false;
    seen.set(nonce, t + 2 * MAX_SKEW_MS);
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url !== PROBE_PATH) return send(res, 404, 'not found\n');
    if (req.method !== 'POST') return send(res, 405, 'POST only\n', { allow: 'POST' });
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'request too large\n');
    const key = opts.key();
    if (!key) return send(res, 503, 'no liveness key yet\n');
    const signature = req.headers[SIGNATURE_HEADER];
    if (!verify(key, body, typeof signature === 'string' ? signature : undefined)) return send(res, 401, 'bad signature\n');
    const r = parseProbeRequest(body);
    if (!r) return send(res, 400, 'malformed probe request\n');
    const t = now();
    if (Math.abs(t - r.sentMs) > MAX_SKEW_MS) return send(res, 401, 'request time outside the window\n');
    if (!fresh(r.nonce, t)) return send(res, 401, 'replayed request\n');
    if (r.port !== opts.probePort || isIP(r.host) === 0) return send(res, 403, `only IP addresses on port ${opts.probePort} are probed\n`);
    if (inFlight >= MAX_IN_FLIGHT) return send(res, 429, 'too many probes in flight\n');
    inFlight += 1;
    try {
      const p = await prober(r.host, r.port, r.timeoutMs);
      const answer: ProbeAnswer = { nonce: r.nonce, reached: p.reached, ...(p.rttMs === undefined ? {} : { rttMs: p.rttMs }), ...(p.error === undefined ? {} : { error: p.error }) };
      const text = JSON.stringify(answer);
      log.debug({ target: r.host, reached: p.reached, rttMs: p.rttMs, error: p.error }, 'indirect probe');
      send(res, 200, text, { [SIGNATURE_HEADER]: sign(key, text) });
    } finally {
      inFlight -= 1;
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err }, 'indirect probe failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
    });
  });
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
