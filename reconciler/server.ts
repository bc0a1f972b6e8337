// The reconciler's plain-HTTP endpoints: /healthz (the process answers), /readyz (informer
// caches synced: standbys are ready too, so a rolling update waits for warm caches) and
// /metrics (Prometheus text). One server can serve all three, or two ports split them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { createServer } = process.getBuiltinModule('node:http');

export interface Endpoints {
  /** serve /healthz and /readyz with this readiness check */
  readonly ready?: () => boolean;
  /** serve /metrics from this registry */
  readonly registry?: Registry;
}

export interface RunningServer {
  readonly port: number;
  /** e.g. http://127.0.0.1:8081 */
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export function createHandler(endpoints: Endpoints): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'method not allowed\n');
    }
    if (endpoints.ready && path === '/healthz') return send(res, 200, 'ok\n');
    if (endpoints.ready && path === '/readyz') {
      return endpoints.ready() ? send(res, 200, 'ok\n') : send(res, 503, 'informer caches not synced\n');
    }
    if (endpoints.registry && path === '/metrics') {
      try {
        return send(res, 200, await endpoints.registry.metrics(), endpoints.registry.contentType);
      } catch (err) {
        return send(res, 500, `collecting metrics failed: ${(err as Error).message}\n`);
      }
    }
    return send(res, 404, 'not found\n');
  };
}

export async function startHttpServer(opts: { host: string; port: number; endpoints: Endpoints }): Promise<RunningServer> {
  const server = createServer(createHandler(opts.endpoints));
  // Probes and scrapes are short; do not let an idle keep-alive socket delay shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
