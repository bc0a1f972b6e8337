// The droplet metadata service (http://169.254.169.254/metadata/v1/... on a real droplet),
// served per droplet under /_metadata/<dropletId>/metadata/v1/..., since the emulator cannot
// tell which droplet is asking. Plain text, no token, not rate limited, like the real one.
// Paths follow DigitalOcean's metadata API reference ("Network Interfaces", "Floating IPs").
// The reference documents no reserved_ip or reserved-IPv6 paths: only floating_ip/ipv4.
import type { EmulatorState } from './state.ts';

export interface MetadataAnswer {
  readonly status: number;
  readonly text: string;
}

export const METADATA_PREFIX = '/_metadata/';

/** The anchor network DigitalOcean aliases on eth0 for reserved IPv4 traffic. */
const ANCHOR_NETMASK = '255.255.0.0';

export function metadataAnswer(state: EmulatorState, method: string, path: string): MetadataAnswer {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, text: 'method not allowed' };
  const m = /^\/_metadata\/(\d{1,15})(\/metadata\/v1(?:\/.*)?)$/.exec(path);
  const droplet = m === null ? undefined : state.droplets.get(Number(m[1]));
  if (m === null || droplet === undefined) return notFound;
  const field = withoutTrailingSlashes(m[2] ?? '');
  const anchor = droplet.anchorIpv4;
  const held = state.list(4).find((a) => a.dropletId === droplet.id);
  const fields: Record<string, string | null> = {
    '/metadata/v1/id': String(droplet.id),
    '/metadata/v1/hostname': droplet.name,
    '/metadata/v1/region': droplet.region,
    '/metadata/v1/interfaces/public/0/ipv4/address': droplet.publicIpv4,
    '/metadata/v1/interfaces/public/0/ipv4/netmask': '255.255.240.0',
    '/metadata/v1/interfaces/public/0/ipv4/gateway': droplet.publicIpv4.replace(/\.\d+$/, '.1'),
    '/metadata/v1/interfaces/public/0/anchor_ipv4': anchor === null ? null : 'address\nnetmask\ngateway',
    '/metadata/v1/interfaces/public/0/anchor_ipv4/address': anchor,
    '/metadata/v1/interfaces/public/0/anchor_ipv4/netmask': anchor === null ? null : ANCHOR_NETMASK,
    '/metadata/v1/interfaces/public/0/anchor_ipv4/gateway': anchor === null ? null : anchor.replace(/\.\d+\.\d+$/, '.0.1'),
    '/metadata/v1/floating_ip': 'ipv4/',
    '/metadata/v1/floating_ip/ipv4': 'active\nip_address',
    '/metadata/v1/floating_ip/ipv4/active': String(held !== undefined),
    // The reference shows only the assigned case; without one there is nothing to answer.
    '/metadata/v1/floating_ip/ipv4/ip_address': held?.ip ?? null,
  };
  const text = fields[field];
  return text === undefined || text === null ? notFound : { status: 200, text };
}

const notFound: MetadataAnswer = { status: 404, text: 'not found' };

/** A loop, not /\/+$/: that regex backtracks quadratically on a long run of slashes. */
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}
