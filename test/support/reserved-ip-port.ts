// The one hand-written ReservedIpPort fake (flipop's mock.go shape): DigitalOcean's reserved
// IPs in a map, every call logged, and each method replaceable by a test through `impl`.
// Tests that need DigitalOcean's real behaviour (errors, pagination, actions) use the
// emulator (test/do-emulator) with the real client instead.
import { DoApiError } from '../../shared/digitalocean/port.ts';
import type { ActionOutcome, CallOptions, ReservedIp, ReservedIpPort } from '../../shared/digitalocean/port.ts';

type Impl = {
  [K in keyof ReservedIpPort]: ReservedIpPort[K];
};

export interface MemoryPort extends ReservedIpPort {
  /** reserved IP → the droplet holding it (null: unassigned); an IP not in the map is a 404 */
  readonly holders: Map<string, number | null>;
  /** "assign IP DROPLET", "unassign IP", "get IP", "list", in call order */
  readonly calls: string[];
  /** the time of each call, when the port was given a clock */
  readonly times: number[];
  /** the options' signal of each call */
  readonly signals: (AbortSignal | undefined)[];
  /** what each method does; replace one to script a test (the defaults act on `holders`) */
  readonly impl: Impl;
  /** the default assign: the IP moves at once, the action is completed */
  readonly moveTo: ReservedIpPort['assign'];
}

export function createMemoryPort(opts: { holders?: Iterable<readonly [string, number | null]>; now?: () => number } = {}): MemoryPort {
  const holders = new Map<string, number | null>(opts.holders ?? []);
  const calls: string[] = [];
  const times: number[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const ipOf = (ip: string): ReservedIp => {
    if (!holders.has(ip)) throw new DoApiError('NotFound', `reserved IP ${ip} not found`, { status: 404 });
    return { ip, family: ip.includes(':') ? 6 : 4, region: 'nyc3', dropletId: holders.get(ip) ?? null, locked: false };
  };
  const completed = (dropletId: number | null): ActionOutcome => ({ actionId: calls.length, status: 'completed', dropletId });
  const moveTo: ReservedIpPort['assign'] = async (ip, droplet) => {
    ipOf(ip);
    holders.set(ip, droplet);
    return completed(droplet);
  };
  const impl: Impl = {
    getAccount: async () => ({ uuid: 'account-uuid', email: 'ops@example.com', status: 'active' }),
    listReservedIps: async () => [...holders.keys()].map(ipOf),
    getReservedIp: async (ip) => ipOf(ip),
    assign: moveTo,
    unassign: async (ip) => {
      ipOf(ip);
      holders.set(ip, null);
      return completed(null);
    },
  };
  const log = (what: string, o?: CallOptions) => {
    calls.push(what);
    times.push(opts.now?.() ?? 0);
    signals.push(o?.signal);
  };
  return {
    holders,
    calls,
    times,
    signals,
    impl,
    moveTo,
    getAccount: (o) => (log('account', o), impl.getAccount(o)),
    listReservedIps: (o) => (log('list', o), impl.listReservedIps(o)),
    getReservedIp: (ip, o) => (log(`get ${ip}`, o), impl.getReservedIp(ip, o)),
    assign: (ip, droplet, o) => (log(`assign ${ip} ${droplet}`, o), impl.assign(ip, droplet, o)),
    unassign: (ip, o) => (log(`unassign ${ip}`, o), impl.unassign(ip, o)),
  };
}
