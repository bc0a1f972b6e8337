// The webhook's HTTPS server: express app on node:https, certificate swappable at run time
// (setSecureContext affects new connections only; open ones finish on the old cert), and a
// close() that drains in-flight reviews before dropping connections.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createLogger } from '../shared/logger.ts';
import type { Logger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { createApp } from './app.ts';
import { createWebhookMetrics } from './metrics.ts';
import type { WebhookMetrics } from './metrics.ts';
import type { TlsMaterial } from './tls/files.ts';

export interface WebhookServerOptions {
  readonly tls: TlsMaterial;
  /** default 127.0.0.1; in a pod, 0.0.0.0 (or :: for dual stack) */
  readonly host?: string;
  /** default 0: any free port */
  readonly port?: number;
  readonly keys?: FloatingIpKeys;
  readonly logger?: Logger;
  readonly metrics?: WebhookMetrics;
  readonly maxBodyBytes?: number;
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
  let ready = false;
  let closing: Promise<void> | undefined;
  const app = createApp({
    keys: opts.keys ?? floatingIpKeys(),
    logger,
    metrics,
    isReady: () => ready && !closing,
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  const server = createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, app);
  // A broken client socket must never reach the process as an unhandled error.
  server.on('clientError', (err, socket) => {
    logger.debug({ err }, 'client connection error');
    socket.destroy();
  });
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
      server.setSecureContext({ cert: material.cert, key: material.key });
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
