// A loopback TCP proxy in front of the API server, so one process can be cut off from it
// while everything else keeps talking: `cut()` drops every open connection and from then on
// accepts new ones without forwarding a byte (a black hole, as a partition looks to a client:
// calls hang until their own timeouts); `heal()` forwards again.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface TcpProxy {
  /** https://127.0.0.1:PORT: put it in the process's kubeconfig instead of the API server's */
  readonly url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let partitioned = false;
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    if (partitioned) return; // held open, never answered
    const upstream = connect({ host: hostname, port: Number(port) });
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: local } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${local}`,
    cut() {
      partitioned = true;
      for (const s of open) s.destroy();
    },
    heal() {
      partitioned = false;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
