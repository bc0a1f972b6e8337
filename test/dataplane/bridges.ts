// How processes inside a lab namespace reach services on the host's loopback without any
// route out of the namespace: the host side listens on a unix socket (a file, which every
// namespace sees) and forwards to the service; inside the namespace socat listens on TCP and
// connects to that socket. The metadata bridge is an HTTP server on a unix socket that turns
// GET /metadata/v1/... into the emulator's per-droplet /_metadata/<id>/metadata/v1/...
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rm } from 'node:fs/promises';

export interface HostListener {
  readonly path: string;
  close(): Promise<void>;
}

async function listenOn(server: Server, path: string, sockets: Set<Socket>): Promise<HostListener> {
  await rm(path, { force: true });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}

/** Unix socket `path` → TCP `target` (e.g. https://127.0.0.1:6443: only host and port are used). */
export function forwardUnixToTcp(path: string, target: string): Promise<HostListener> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  return listenOn(server, path, sockets);
}

/** The droplet's metadata service: a unix socket answering /metadata/v1/... from the emulator. */
export function metadataBridge(path: string, emulatorUrl: string, dropletId: number): Promise<HostListener> {
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    const upstream = `${emulatorUrl}/_metadata/${dropletId}${req.url ?? '/'}`;
    fetch(upstream, { method: req.method === 'HEAD' ? 'HEAD' : 'GET' }).then(
      async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await r.arrayBuffer()));
      },
      () => {
        res.writeHead(502);
        res.end('metadata bridge: the emulator is unreachable');
      },
    );
  });
  return listenOn(server as unknown as Server, path, sockets);
}

/** socat arguments for the namespace side: TCP `bind:port` → unix socket `path`. */
export function socatArgs(bind: string, port: number, path: string): string[] {
  return [`TCP-LISTEN:${port},bind=${bind},fork,reuseaddr`, `UNIX-CONNECT:${path}`];
}
