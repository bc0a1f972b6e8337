// A small Kubernetes API client: JSON over one keep-alive HTTPS agent, a bearer token or a
// client certificate, nothing else. For the agent (read and patch its node) and the webhook
// (its TLS Secret and caBundles): a few calls each, where @kubernetes/client-node would cost
// more memory than the rest of the process. The reconciler keeps client-node (informers).
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

export interface KubeClient {
  request<T>(req: KubeRequest): Promise<T>;
  /** closes idle keep-alive sockets */
  close(): void;
}

export interface KubeClientOptions {
  /** per request, from sending to the last byte of the answer (default 30 s) */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** answers larger than this are an error (default 8 MiB) */
  readonly maxBodyBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

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
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 4,
    ...(conn.caPem !== undefined ? { ca: conn.caPem } : {}),
    ...(conn.clientCert ? { cert: conn.clientCert.certPem, key: conn.clientCert.keyPem } : {}),
    rejectUnauthorized: !conn.insecureSkipTlsVerify,
  });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const base = url.pathname.replace(/\/+$/, '');

  function send<T>(req: KubeRequest): Promise<T> {
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const token = conn.token();
    const headers: Record<string, string | number> = { accept: CONTENT_TYPE.json };
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (opts.userAgent) headers['user-agent'] = opts.userAgent;
    if (payload) {
      headers['content-type'] = req.contentType ?? CONTENT_TYPE.json;
      headers['content-length'] = payload.length;
    }
    return new Promise<T>((resolve, reject) => {
      const r = request(
        { agent, protocol: 'https:', hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, method: req.method, path: `${base}${req.path}`, headers, timeout: timeoutMs },
        (res: IncomingMessage) => {
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
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code > 299) {
              const s = statusOf(text);
              reject(new KubeApiError(req.method, req.path, code, s.reason, s.message));
              return;
            }
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as T);
            } catch {
              reject(new Error(`${req.method} ${req.path}: the answer is not JSON`));
            }
          });
        },
      );
      // `timeout` is for an idle socket; a slow drip is bounded by the overall deadline too.
      const deadline = setTimeout(() => r.destroy(new Error(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
      r.on('close', () => clearTimeout(deadline));
      r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end(payload);
    });
  }

  return { request: send, close: () => agent.destroy() };
}
