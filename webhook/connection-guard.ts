// Who may hold the webhook's connections. A plain cap (Node's server.maxConnections) is a
// lock any pod can take: 130 idle sockets, re-opened as they close, left the API server no
// room, and with failurePolicy Fail every annotated pod — failover replacements included —
// was refused. Instead, per client address (the remote IP, port ignored):
// - at most `maxPerClient` connections; one more from that address first evicts that
//   address's own oldest idle connection (so a client never locks itself out either), and
//   is dropped only when all of them are busy with a request;
// - when all `maxConnections` are open, a newcomer evicts an idle connection of the address
//   holding the most — one that never completed a request first, then the oldest — and is
//   dropped only when every connection is busy.
// So idle or churning sockets from one address (or a few) can never keep another address
// out: a fresh connection always finds room while any connection is merely idle. A request
// in flight is never cut. Eviction only closes a socket, as keepAliveTimeout would.
import type { Socket } from 'node:net';

export interface ConnectionGuardLimits {
  readonly maxConnections: number;
  readonly maxPerClient: number;
}

export interface ConnectionGuard {
  /** a new TCP connection (server 'connection' event): admit, evict to make room, or drop */
  admit(socket: Socket): void;
  /** a request started / finished on the connection of this remote address and port */
  requestStarted(address: string | undefined, port: number | undefined): void;
  requestFinished(address: string | undefined, port: number | undefined): void;
  /** open connections per address (tests, metrics) */
  openByAddress(): Map<string, number>;
}

interface Conn {
  readonly socket: Socket;
  /** address|port, as requests name it (a closed socket no longer knows its port) */
  readonly key: string;
  readonly address: string;
  readonly seq: number;
  inFlight: number;
  served: boolean;
}

const keyOf = (address: string | undefined, port: number | undefined) => `${address ?? ''}|${port ?? 0}`;

/** The idle connection to close first: never served before served, then the oldest. */
function victimAmong(conns: Iterable<Conn>): Conn | undefined {
  let best: Conn | undefined;
  for (const c of conns) {
    if (c.inFlight > 0) continue;
    if (!best || (best.served && !c.served) || (best.served === c.served && c.seq < best.seq)) best = c;
  }
  return best;
}

export function createConnectionGuard(limits: ConnectionGuardLimits, hooks: { onDrop(): void; onEvict(): void }): ConnectionGuard {
  const byKey = new Map<string, Conn>();
  const byAddress = new Map<string, Set<Conn>>();
  let seq = 0;

  function remove(c: Conn): void {
    if (byKey.get(c.key) === c) byKey.delete(c.key);
    const set = byAddress.get(c.address);
    set?.delete(c);
    if (set?.size === 0) byAddress.delete(c.address);
  }

  function evict(c: Conn): void {
    remove(c);
    c.socket.destroy();
    hooks.onEvict();
  }

  function busiestAddressVictim(): Conn | undefined {
    const addresses = [...byAddress.values()].sort((a, b) => b.size - a.size);
    for (const set of addresses) {
      const v = victimAmong(set);
      if (v) return v;
    }
    return undefined;
  }

  return {
    admit(socket) {
      const address = socket.remoteAddress ?? '';
      const own = byAddress.get(address) ?? new Set<Conn>();
      if (own.size >= limits.maxPerClient) {
        const v = victimAmong(own);
        if (!v) {
          socket.destroy();
          hooks.onDrop();
          return;
        }
        evict(v);
      }
      if (byKey.size >= limits.maxConnections) {
        const v = busiestAddressVictim();
        if (!v) {
          socket.destroy();
          hooks.onDrop();
          return;
        }
        evict(v);
      }
      const c: Conn = { socket, key: keyOf(address, socket.remotePort), address, seq: seq++, inFlight: 0, served: false };
      byKey.set(c.key, c);
      byAddress.set(address, own.add(c));
      socket.once('close', () => remove(c));
    },
    requestStarted(address, port) {
      const c = byKey.get(keyOf(address, port));
      if (c) c.inFlight += 1;
    },
    requestFinished(address, port) {
      const c = byKey.get(keyOf(address, port));
      if (!c) return;
      c.inFlight = Math.max(0, c.inFlight - 1);
      c.served = true;
    },
    openByAddress: () => new Map([...byAddress].map(([a, set]) => [a, set.size])),
  };
}
