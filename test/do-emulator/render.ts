// The JSON bodies of the API, shaped as the OpenAPI spec's schemas (droplet, region,
// reserved_ip, reserved_ipv6, action, firewall) plus `links`/`meta` pagination.
import { badRequest } from './api-error.ts';
import type { Firewall } from './firewalls.ts';
import type { Action, Droplet, EmulatorState, ReservedAddress } from './state.ts';
import { DEFAULT_PROJECT_ID } from './world.ts';

const REGION_NAMES: Record<string, string> = {
  nyc1: 'New York 1', nyc2: 'New York 2', nyc3: 'New York 3', sfo1: 'San Francisco 1',
  sfo2: 'San Francisco 2', sfo3: 'San Francisco 3', ams2: 'Amsterdam 2', ams3: 'Amsterdam 3',
  sgp1: 'Singapore 1', lon1: 'London 1', fra1: 'Frankfurt 1', tor1: 'Toronto 1',
  blr1: 'Bangalore 1', syd1: 'Sydney 1', atl1: 'Atlanta 1',
};
const SIZE_SLUG = 's-2vcpu-4gb';

export function isKnownRegion(slug: string): boolean {
  return slug in REGION_NAMES;
}

/** DigitalOcean prints times without milliseconds. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function renderRegion(slug: string) {
  return {
    name: REGION_NAMES[slug] ?? slug,
    slug,
    features: ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'],
    available: true,
    sizes: ['s-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-2gb', SIZE_SLUG, 's-4vcpu-8gb'],
  };
}

export function renderDroplet(d: Droplet) {
  return {
    id: d.id,
    name: d.name,
    memory: 4096,
    vcpus: 2,
    disk: 80,
    disk_info: [{ type: 'local', size: { amount: 80, unit: 'gib' } }],
    locked: false,
    status: d.status,
    kernel: null,
    created_at: isoSeconds(d.createdAt),
    features: ['monitoring', 'droplet_agent', 'private_networking'],
    backup_ids: [],
    next_backup_window: null,
    snapshot_ids: [],
    image: {
      id: 170_000_001, name: 'DOKS worker', type: 'base', distribution: 'Debian', slug: null,
      public: false, regions: [d.region], created_at: '2026-01-01T00:00:00Z', min_disk_size: 20,
      size_gigabytes: 2.5, description: 'Kubernetes worker node image', tags: [], status: 'available',
    },
    volume_ids: [],
    size: {
      slug: SIZE_SLUG, memory: 4096, vcpus: 2, disk: 80, transfer: 4, price_monthly: 24, price_hourly: 0.03571,
      regions: [d.region], available: true, description: 'Basic',
    },
    size_slug: SIZE_SLUG,
    networks: {
      v4: [
        { ip_address: d.publicIpv4, netmask: '255.255.240.0', gateway: d.publicIpv4.replace(/\.\d+$/, '.1'), type: 'public' },
        { ip_address: `10.108.${Math.floor(d.id / 256) % 256}.${d.id % 256}`, netmask: '255.255.0.0', gateway: '', type: 'private' },
      ],
      v6: [],
    },
    region: renderRegion(d.region),
    tags: [...d.tags],
    vpc_uuid: 'c0ffee00-0000-4000-8000-0000000000cc',
  };
}

function holder(state: EmulatorState, addr: ReservedAddress) {
  const d = addr.dropletId === null ? undefined : state.droplets.get(addr.dropletId);
  return d === undefined ? null : renderDroplet(d);
}

/** `reserved_ip` and the legacy `floating_ip` have the same shape. */
export function renderReservedIpv4(state: EmulatorState, addr: ReservedAddress) {
  return {
    ip: addr.ip,
    region: renderRegion(addr.region),
    droplet: holder(state, addr),
    locked: addr.actionId !== null,
    project_id: DEFAULT_PROJECT_ID,
  };
}

export function renderReservedIpv6(state: EmulatorState, addr: ReservedAddress) {
  return {
    ip: addr.ip,
    region_slug: addr.region,
    reserved_at: isoSeconds(addr.reservedAt),
    droplet: holder(state, addr),
  };
}

export function renderAction(a: Action) {
  return {
    id: a.id,
    status: a.status,
    type: a.type,
    started_at: isoSeconds(a.startedAt),
    completed_at: a.completedAt === null ? null : isoSeconds(a.completedAt),
    resource_id: a.resourceId,
    resource_type: a.resourceType,
    region: renderRegion(a.region),
    region_slug: a.region,
    ...(a.resourceType === 'reserved_ipv6' ? {} : { project_id: DEFAULT_PROJECT_ID }),
  };
}

export function renderFirewall(fw: Firewall) {
  return {
    id: fw.id,
    name: fw.name,
    status: 'succeeded',
    created_at: isoSeconds(fw.createdAt),
    pending_changes: [],
    droplet_ids: [...fw.dropletIds],
    tags: [...fw.tags],
    inbound_rules: structuredClone(fw.inboundRules),
    outbound_rules: structuredClone(fw.outboundRules),
  };
}

function positiveInt(value: string | null, fallback: number, name: string): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw badRequest(`${name} must be a positive integer`);
  return n;
}

/**
 * One page of `items` under `key`, with `links.pages` (first/prev/next/last, absolute URLs
 * on the emulator's own origin so clients can follow them) and `meta.total`.
 */
export function paginate<T>(key: string, items: readonly T[], url: URL) {
  const perPage = Math.min(200, positiveInt(url.searchParams.get('per_page'), 20, 'per_page'));
  const page = positiveInt(url.searchParams.get('page'), 1, 'page');
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (p: number) => {
    const u = new URL(url);
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(perPage));
    return u.toString();
  };
  const pages: Record<string, string> = {};
  if (page > 1) Object.assign(pages, { first: link(1), prev: link(Math.min(page - 1, last)) });
  if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
  return {
    [key]: items.slice((page - 1) * perPage, page * perPage),
    links: Object.keys(pages).length === 0 ? {} : { pages },
    meta: { total: items.length },
  };
}
