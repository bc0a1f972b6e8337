// The webhook's HTTPS server: express app on node:https, certificate swappable at run time
// (setSecureContext affects new connections only; open ones finish on the old cert), and a
// close() that drains in-flight reviews before dropping connections. Connections are
// bounded in number and time: nothing a client does keeps a socket open much past the
// API server's 5 s budget, short of completing requests; in number, per client address too,
// so idle sockets of one client cannot lock another out (connection-guard.ts).
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createLogger } from '../shared/logger.ts';
import type { Logger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { DEFAULT_ADMISSION_BUDGET_BYTES, DEFAULT_ADMISSION_WAIT_MS, createApp } from './app.ts';
import { createAdmissionGate } from './admission-gate.ts';
import { createConnectionGuard } from './connection-guard.ts';
import { createWebhookMetrics } from './metrics.ts';
import type { WebhookMetrics } from './metrics.ts';
import type { TlsMaterial } from './tls/files.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { X509Certificate } = process.getBuiltinModule('node:crypto');

/**
 * TLS 1.2 only with ECDHE key exchange (forward secrecy) and AEAD ciphers (no CBC, no SHA-1
 * MACs): what Go's API server client offers first anyway. TLS 1.3 suites are all AEAD with
 * ephemeral keys; they are listed so the whole policy is in one place.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Every secure context (the first and each reloaded certificate) gets the same policy. */
const TLS_POLICY = { minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true } as const;

export interface ServerLimits {
  /** the whole request, headers and body, must arrive within this (the API server's timeoutSeconds) */
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** a TCP connection must finish its TLS handshake within this */
  readonly handshakeTimeoutMs: number;
  /** an idle kept-alive connection is closed after this */
  readonly keepAliveTimeoutMs: number;
  /** how often Node enforces the request and header timeouts (its default is 30 s) */
  readonly timeoutCheckIntervalMs: number;
  /** all clients together; at the cap a newcomer evicts an idle connection (connection-guard.ts) */
  readonly maxConnections: number;
  /** one client address; beyond it its own oldest idle connection makes room */
  readonly maxConnectionsPerClient: number;
}

/** The API server gives a review 5 s (timeoutSeconds in webhook-configurations.yaml). */
export const ADMISSION_BUDGET_MS = 5000;

export const DEFAULT_LIMITS: ServerLimits = {
  // Node checks request and header timeouts every interval, so a slow connection is closed
  // within timeout + interval: 4.5 s + 0.5 s, by the time the API server has given up anyway.
  requestTimeoutMs: ADMISSION_BUDGET_MS - 500,
  headersTimeoutMs: ADMISSION_BUDGET_MS - 500,
  timeoutCheckIntervalMs: 500,
  // its own timer, exact
  handshakeTimeoutMs: ADMISSION_BUDGET_MS,
  // Longer than the budget on purpose: the API server reuses a warm connection for the next
  // review instead of a new handshake; an idle one still goes after 30 s.
  keepAliveTimeoutMs: 30_000,
  // The API servers keep a few idle connections each (client-go: up to 25 per host), probes
  // and scrapes open their own: 128 is ample, and 128 idle TLS sockets are a few MiB.
  maxConnections: 128,
  // Half: one address (a pod, say) can never hold more than half of the room, and its idle
  // sockets are the first evicted when another address needs a connection.
  maxConnectionsPerClient: 64,
};

export interface AdmissionLimits {
  /** bytes of request bodies read or reviewed at once */
  readonly budgetBytes: number;
  /** a review waits this long for room, then gets 429 with Retry-After */
  readonly maxWaitMs: number;
}

export interface WebhookServerOptions {
  readonly tls: TlsMaterial;
  /** default 127.0.0.1; in a pod, 0.0.0.0 (or :: for dual stack) */
  readonly host?: string;
  /** default 0: any free port */
  readonly port?: number;
  readonly keys?: FloatingIpKeys;
  /** namespace IP policy; default: any namespace may claim any IP */
  readonly ipPolicy?: IpPolicy;
  readonly logger?: Logger;
  readonly metrics?: WebhookMetrics;
  readonly maxBodyBytes?: number;
  readonly limits?: Partial<ServerLimits>;
  readonly admission?: Partial<AdmissionLimits>;
}

export interface RunningWebhookServer {
  /** e.g. https://127.0.0.1:41234 (the webhook paths are /mutate and /validate) */
  readonly url: string;
  readonly port: number;
  readonly metrics: WebhookMetrics;
  /** serve another certificate from the next TLS handshake on */
  setTls(material: TlsMaterial, source?: string): void;
  /** /readyz answers 503 while false (set false first on shutdown) */
  setReady(ready: boolean): void;
  /** stop accepting, let in-flight requests finish for up to graceMs (default 10 s), then drop connections */
  close(opts?: { graceMs?: number }): Promise<void>;
}

function recordCert(metrics: WebhookMetrics, material: TlsMaterial, source: string): void {
  metrics.certReloads.inc({ source });
  try {
    metrics.certExpiry.set(Date.parse(new X509Certificate(material.cert).validTo) / 1000);
  } catch {
    // createSecureContext already accepted it; a gauge is not worth failing over
  }
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhookServer> {
  const logger = opts.logger ?? createLogger({ name: 'floatip-webhook', level: 'silent' });
  const metrics = opts.metrics ?? createWebhookMetrics();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  let ready = false;
  let closing: Promise<void> | undefined;
  const app = createApp({
    keys: opts.keys ?? floatingIpKeys(),
    ...(opts.ipPolicy !== undefined ? { ipPolicy: opts.ipPolicy } : {}),
    logger,
    metrics,
    isReady: () => ready && !closing,
    gate: createAdmissionGate({
      budgetBytes: opts.admission?.budgetBytes ?? DEFAULT_ADMISSION_BUDGET_BYTES,
      maxWaitMs: opts.admission?.maxWaitMs ?? DEFAULT_ADMISSION_WAIT_MS,
    }),
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  const server = createServer(
    {
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...TLS_POLICY,
      handshakeTimeout: limits.handshakeTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    },
    app,
  );
  // The guard decides (evict an idle connection, or drop); Node's own cap is only a backstop
  // for sockets still closing after an eviction.
  server.maxConnections = limits.maxConnections * 2;
  server.on('drop', () => metrics.droppedConnections.inc());
  const guard = createConnectionGuard(
    { maxConnections: limits.maxConnections, maxPerClient: Math.min(limits.maxConnectionsPerClient, limits.maxConnections) },
    { onDrop: () => metrics.droppedConnections.inc(), onEvict: () => metrics.evictedConnections.inc() },
  );
  server.on('connection', (socket: Socket) => guard.admit(socket));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { remoteAddress, remotePort } = req.socket;
    guard.requestStarted(remoteAddress, remotePort);
    res.once('close', () => guard.requestFinished(remoteAddress, remotePort));
  });
  // No 'clientError' listener on purpose: Node's own handling answers 408 to a request that
  // timed out (400 to a malformed one, 431 to huge headers), then destroys the socket, and
  // never lets the error reach the process. A listener would replace all of that.
  // A TLS handshake that fails (weak cipher only, timeout) is a client problem, not ours.
  server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  recordCert(metrics, opts.tls, 'initial');

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  ready = true;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  logger.info({ host, port }, 'webhook listening');

  return {
    url: `https://${urlHost}:${port}`,
    port,
    metrics,
    setTls(material, source = 'file') {
      server.setSecureContext({ cert: material.cert, key: material.key, ...TLS_POLICY });
      recordCert(metrics, material, source);
      logger.info({ source }, 'serving certificate loaded');
    },
    setReady(value) {
      ready = value;
    },
    close({ graceMs = 10_000 } = {}) {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
