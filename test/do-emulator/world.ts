// The seed format the emulator loads (CLI `--state seed.json`, `POST /_emulator/reset`, or
// `startEmulator({ state })`) and the documented default world: a small DOKS cluster in nyc3.

export interface SeedDroplet {
  readonly id: number;
  readonly name: string;
  /** region slug; defaults to the seed's `region` */
  readonly region?: string;
  readonly tags?: readonly string[];
  readonly status?: 'new' | 'active' | 'off' | 'archive';
  /** the droplet's own public IPv4; derived from the id when absent */
  readonly publicIpv4?: string;
  /**
   * its anchor IPv4 (metadata service only; reserved IPv4 traffic arrives on it); derived
   * from the id (10.20.x.y) when absent; null: no anchor, as for a custom image
   */
  readonly anchorIpv4?: string | null;
  /** a pending event (resize, power cycle...) makes IP actions touching it answer 422 */
  readonly pendingEvent?: boolean;
}

export interface SeedReservedIp {
  /** IPv4 → a reserved IP; IPv6 → a reserved IPv6 */
  readonly ip: string;
  readonly region?: string;
  readonly dropletId?: number | null;
}

export interface SeedFirewall {
  readonly id?: string;
  readonly name: string;
  readonly tags?: readonly string[];
  readonly dropletIds?: readonly number[];
  readonly inboundRules?: readonly unknown[];
  readonly outboundRules?: readonly unknown[];
}

export interface EmulatorSeed {
  /** default region of droplets and IPs that do not name one */
  readonly region?: string;
  readonly droplets?: readonly SeedDroplet[];
  readonly reservedIps?: readonly SeedReservedIp[];
  readonly firewalls?: readonly SeedFirewall[];
  /** tags that exist although no droplet carries them (firewalls may only name existing tags) */
  readonly tags?: readonly string[];
  readonly rateLimit?: { readonly perMinute?: number; readonly perHour?: number };
}

export const DEFAULT_REGION = 'nyc3';
export const DEFAULT_CLUSTER_ID = 'c0ffee00-0000-4000-8000-000000000001';
/** every reserved IP belongs to the account's default project */
export const DEFAULT_PROJECT_ID = 'c0ffee00-0000-4000-8000-0000000000aa';
export const DEFAULT_FIREWALL_ID = 'c0ffee00-0000-4000-8000-0000000000f1';

/** The tags DOKS puts on worker droplets of a cluster. */
export function doksWorkerTags(clusterId: string): string[] {
  return ['k8s', `k8s:${clusterId}`, 'k8s-worker'];
}

const everywhere = { addresses: ['0.0.0.0/0', '::/0'] };

export function defaultWorld(): EmulatorSeed {
  const tags = doksWorkerTags(DEFAULT_CLUSTER_ID);
  return {
    region: DEFAULT_REGION,
    droplets: [1001, 1002, 1003].map((id, i) => ({ id, name: `pool-a-${i + 1}`, tags, anchorIpv4: `10.20.0.${11 + i}` })),
    reservedIps: [
      { ip: '104.248.100.100' },
      { ip: '104.248.100.101' },
      { ip: '104.248.100.102' },
      { ip: '2604:a880:800:14::1000' },
      { ip: '2604:a880:800:14::1001' },
    ],
    firewalls: [
      {
        // what DOKS creates for the worker pool: NodePorts open, everything out
        id: DEFAULT_FIREWALL_ID,
        name: `k8s-${DEFAULT_CLUSTER_ID}-worker`,
        tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
        // "all" as a request says it; the API (and the emulator) show it as "0"
        inboundRules: [
          { protocol: 'tcp', ports: '30000-32767', sources: everywhere },
          { protocol: 'udp', ports: '30000-32767', sources: everywhere },
          { protocol: 'tcp', ports: 'all', sources: { tags: [`k8s:${DEFAULT_CLUSTER_ID}`] } },
        ],
        outboundRules: [
          { protocol: 'tcp', ports: 'all', destinations: everywhere },
          { protocol: 'udp', ports: 'all', destinations: everywhere },
          { protocol: 'icmp', destinations: everywhere },
        ],
      },
    ],
  };
}
