// A small Kubernetes API client: JSON over one keep-alive HTTPS agent, a bearer token or a
// client certificate, nothing else. For the agent (read and patch its node) and the webhook
// (its TLS Secret and caBundles): a few calls each, where @kubernetes/client-node would cost
// more memory than the rest of the process. The reconciler keeps client-node's generated API
// and informers, and sends their requests through `exchange` and `stream` (reconciler/kube/).
import type { IncomingMessage } from 'node:http';
import type { KubeConnection } from './connection.ts';

/** An answer from the API server that is not 2xx; `code` is the HTTP status (as client-node's ApiException). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: number;
  /** the Status object's reason (NotFound, Conflict, Forbidden, …), when it has one */
  readonly reason: string | undefined;
  /** the Status object's message, or the start of a body that is not a Status */
  readonly apiMessage: string;
  constructor(method: string, path: string, code: number, reason: string | undefined, apiMessage: string) {
    super(`${method} ${path}: ${code}${apiMessage ? ` ${apiMessage}` : ''}`);
    this.code = code;
    this.reason = reason;
    this.apiMessage = apiMessage;
  }
}

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
} as const;

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** path and query, e.g. /api/v1/nodes/pool-a-1 */
  readonly path: string;
  readonly body?: unknown;
  /** default application/json */
  readonly contentType?: string;
}

/** A request as client-node's generated API builds it: any method, its own headers and body. */
export interface RawRequest {
  readonly method: string;
  /** path and query below the server's URL */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | undefined;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly text: string;
}

export interface KubeClient {
  request<T>(req: KubeRequest): Promise<T>;
  /** one exchange whatever its status, for callers that read the status themselves */
  exchange(req: RawRequest): Promise<RawResponse>;
  /**
   * A GET whose body is read as it arrives (a watch): resolves with the response once its
   * headers are in, whatever its status; no deadline but `signal`.
   */
  stream(path: string, signal: AbortSignal): Promise<IncomingMessage>;
  /** closes idle keep-alive sockets */
  close(): void;
}

export interface KubeClientOptions {
  /** per request, from sending to the last byte of the answer (default 30 s) */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** answers larger than this are an error (default 8 MiB) */
  readonly maxBodyBytes?: number;
  /** concurrent calls on the keep-alive pool (default 4); streams have their own connections */
  readonly maxSockets?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
const DEFAULT_MAX_SOCKETS = 4;

/** path segments are names the API server validated; encode anyway so a bad one cannot change the path */
export const seg = (s: string): string => encodeURIComponent(s);

function statusOf(text: string): { reason: string | undefined; message: string } {
  try {
    const body = JSON.parse(text) as { reason?: unknown; message?: unknown };
    return { reason: typeof body.reason === 'string' ? body.reason : undefined, message: typeof body.message === 'string' ? body.message : text.slice(0, 200) };
  } catch {
    return { reason: undefined, message: text.slice(0, 200) };
  }
}

export function createKubeClient(conn: KubeConnection, opts: KubeClientOptions = {}): KubeClient {
  // getBuiltinModule, not an ESM import: the agent counts every MiB (see agent/metadata.ts)
  const { Agent, request } = process.getBuiltinModule('node:https');
  const url = new URL(conn.server);
  if (url.protocol !== 'https:') throw new Error(`the API server must be https (got ${conn.server})`);
  const tls = {
    ...(conn.caPem !== undefined ? { ca: conn.caPem } : {}),
    ...(conn.clientCert ? { cert: conn.clientCert.certPem, key: conn.clientCert.keyPem } : {}),
    rejectUnauthorized: !conn.insecureSkipTlsVerify,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? DEFAULT_MAX_SOCKETS, ...tls });
  // A watch holds its connection for as long as it runs: streams get their own, never a
  // socket of the pool, where they would starve the calls (four watches, four sockets).
  let streamAgent: InstanceType<typeof Agent> | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const base = url.pathname.replace(/\/+$/, '');

  const baseHeaders = (): Record<string, string> => {
    const token = conn.token();
    return { accept: CONTENT_TYPE.json, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.userAgent ? { 'user-agent': opts.userAgent } : {}) };
  };
  const target = (method: string, path: string, headers: Record<string, string | number>) =>
    ({ agent, protocol: 'https:', hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, method, path: `${base}${path}`, headers });

  function exchange(req: RawRequest): Promise<RawResponse> {
    const payload = req.body === undefined ? undefined : Buffer.from(req.body);
    const headers: Record<string, string | number> = { ...baseHeaders(), ...req.headers };
    if (payload) headers['content-length'] = payload.length;
    return new Promise<RawResponse>((resolve, reject) => {
      const r = request({ ...target(req.method, req.path, headers), timeout: timeoutMs }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBody) {
            res.destroy(new Error(`${req.method} ${req.path}: the answer is larger than ${maxBody} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      // `timeout` is for an idle socket; a slow drip is bounded by the overall deadline too.
      const deadline = setTimeout(() => r.destroy(new Error(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
      r.on('close', () => clearTimeout(deadline));
      r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end(payload);
    });
  }

  async function send<T>(req: KubeRequest): Promise<T> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const res = await exchange({ method: req.method, path: req.path, body, ...(body === undefined ? {} : { headers: { 'content-type': req.contentType ?? CONTENT_TYPE.json } }) });
    if (res.status < 200 || res.status > 299) {
      const s = statusOf(res.text);
      throw new KubeApiError(req.method, req.path, res.status, s.reason, s.message);
    }
    try {
      return (res.text === '' ? undefined : JSON.parse(res.text)) as T;
    } catch {
      throw new Error(`${req.method} ${req.path}: the answer is not JSON`);
    }
  }

  function stream(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      streamAgent ??= new Agent({ keepAlive: false, ...tls });
      const r = request({ ...target('GET', path, baseHeaders()), agent: streamAgent, signal }, resolve);
      r.on('error', reject);
      r.end();
    });
  }

  return {
    request: send,
    exchange,
    stream,
    close: () => {
      agent.destroy();
      streamAgent?.destroy();
    },
  };
}
