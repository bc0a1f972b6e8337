// Which ports floatip's DigitalOcean firewall may open at all. A firewall rule cannot name a
// destination address, so a port opened for one reserved IP is open on the public address
// of every worker droplet too: a Service must never be a way to publish the kubelet or etcd.
// Closed by default, whatever a Service asks (the operator lifts any of them with
// --firewall-allowed-ports, and closes more with --firewall-denied-ports):
//   22 SSH, 2379-2380 etcd, 10250 kubelet API, 10255 kubelet read-only, 10256 kube-proxy
//   health, 30000-32767 the NodePort range — TCP and UDP alike.
// A list is "PORT", "LOW-HIGH", optionally "tcp/" or "udp/" in front (no prefix: both),
// separated by commas: "tcp/22,30000-30010". An explicitly denied port stays closed even if
// also allowed.
import { ConfigError } from '../../shared/config-values.ts';

export type FirewallProtocol = 'tcp' | 'udp';

export interface PortRange {
  /** undefined: TCP and UDP */
  readonly protocol: FirewallProtocol | undefined;
  readonly low: number;
  readonly high: number;
}

export interface PortPolicy {
  /** why this port is never opened, or undefined when it may be */
  refuses(protocol: FirewallProtocol, port: number): string | undefined;
}

const DEFAULT_CLOSED: readonly (PortRange & { readonly what: string })[] = [
  { protocol: undefined, low: 22, high: 22, what: 'SSH' },
  { protocol: undefined, low: 2379, high: 2380, what: 'etcd' },
  { protocol: undefined, low: 10250, high: 10250, what: 'the kubelet API' },
  { protocol: undefined, low: 10255, high: 10255, what: "the kubelet's read-only port" },
  { protocol: undefined, low: 10256, high: 10256, what: "kube-proxy's health check" },
  { protocol: undefined, low: 30000, high: 32767, what: 'the NodePort range' },
];

const within = (r: PortRange, protocol: FirewallProtocol, port: number) => (r.protocol === undefined || r.protocol === protocol) && port >= r.low && port <= r.high;

export function parsePortList(text: string | undefined, flag: string): PortRange[] {
  if (text === undefined) return [];
  const out: PortRange[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^(?:(tcp|udp)\/)?([0-9]{1,5})(?:-([0-9]{1,5}))?$/i.exec(entry);
    const low = Number(m?.[2]);
    const high = m?.[3] === undefined ? low : Number(m[3]);
    if (!m || low < 1 || high > 65535 || low > high) {
      throw new ConfigError(`${flag}: "${entry.slice(0, 40)}" is not a port or range (1-65535, e.g. "tcp/22", "8000-8100" or "udp/30000-30010")`);
    }
    out.push({ protocol: m[1]?.toLowerCase() as FirewallProtocol | undefined, low, high });
  }
  return out;
}

export function createPortPolicy(opts: { readonly allowed?: readonly PortRange[]; readonly denied?: readonly PortRange[] } = {}): PortPolicy {
  const allowed = opts.allowed ?? [];
  const denied = opts.denied ?? [];
  return {
    refuses(protocol, port) {
      if (denied.some((r) => within(r, protocol, port))) return `${protocol}/${port} is closed by --firewall-denied-ports`;
      const closed = DEFAULT_CLOSED.find((r) => within(r, protocol, port));
      if (closed && !allowed.some((r) => within(r, protocol, port))) {
        return `${protocol}/${port} is ${closed.what}, never opened unless the operator lifts it (--firewall-allowed-ports)`;
      }
      return undefined;
    },
  };
}

export const DEFAULT_PORT_POLICY: PortPolicy = createPortPolicy();
