// The emulated account: droplets, reserved IPv4/IPv6 addresses and their actions, with the
// rules the real API enforces. No HTTP here: refusals are thrown as ApiFailure.
import { isIP } from 'node:net';
import { ApiFailure, notFound, unprocessable } from './api-error.ts';
import type { EmulatorClock } from './clock.ts';
import { FirewallStore } from './firewalls.ts';
import { DEFAULT_REGION } from './world.ts';
import type { EmulatorSeed, SeedDroplet } from './world.ts';

export type Family = 4 | 6;
/** which API family an action was started through; it only changes how the action renders */
export type ResourceType = 'reserved_ip' | 'reserved_ipv6' | 'floating_ip';

export interface Droplet {
  readonly id: number;
  readonly name: string;
  readonly region: string;
  readonly tags: string[];
  readonly status: 'new' | 'active' | 'off' | 'archive';
  readonly publicIpv4: string;
  /** the anchor IP reserved IPv4 traffic arrives on (metadata service only); null: none (custom image) */
  readonly anchorIpv4: string | null;
  readonly createdAt: number;
  pendingEvent: boolean;
}

export interface ReservedAddress {
  readonly ip: string;
  readonly family: Family;
  readonly region: string;
  readonly reservedAt: number;
  dropletId: number | null;
  /** the in-progress action locking this address */
  actionId: number | null;
}

export interface Action {
  readonly id: number;
  readonly type: 'assign_ip' | 'unassign_ip';
  readonly ip: string;
  readonly region: string;
  readonly resourceType: ResourceType;
  readonly resourceId: number;
  readonly startedAt: number;
  readonly fromDropletId: number | null;
  readonly toDropletId: number | null;
  status: 'in-progress' | 'completed' | 'errored';
  completedAt: number | null;
}

/** Canonical text of an IP of the wanted family, or null (RFC 5952 form for IPv6). */
export function canonicalIp(text: string, family: Family): string | null {
  if (isIP(text) !== family) return null;
  return family === 4 ? text : new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** DigitalOcean's numeric resource id of an IPv4 is the address as a 32-bit integer. */
function resourceIdOf(ip: string, family: Family): number {
  if (family === 4) return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const groups = ip.split(':');
  const last = (i: number) => parseInt(groups[groups.length - i] || '0', 16);
  return last(2) * 65536 + last(1);
}

function derivedPublicIpv4(id: number): string {
  return `159.203.${Math.floor(id / 256) % 256}.${id % 256}`;
}

function derivedAnchorIpv4(id: number): string {
  return `10.20.${Math.floor(id / 256) % 256}.${id % 256}`;
}

export class EmulatorState {
  readonly droplets = new Map<number, Droplet>();
  readonly addresses = new Map<string, ReservedAddress>();
  readonly actions = new Map<number, Action>();
  readonly firewalls: FirewallStore;
  region = DEFAULT_REGION;
  /** tags that exist without a droplet carrying them (DigitalOcean's tags API is not modelled) */
  readonly extraTags = new Set<string>();
  actionDelayMs: number;
  /** called after an action completed or errored (the dataplane feed wakes its waiters) */
  onActionEnded: (() => void) | undefined;
  private readonly clock: EmulatorClock;
  private nextActionId = 70_000_001;
  /** cancel functions of the completion timers of in-progress actions */
  private readonly timers = new Map<number, () => void>();

  constructor(clock: EmulatorClock, actionDelayMs: number) {
    this.clock = clock;
    this.actionDelayMs = actionDelayMs;
    this.firewalls = new FirewallStore(clock, {
      dropletExists: (id) => this.droplets.has(id),
      tagExists: (tag) => this.extraTags.has(tag) || [...this.droplets.values()].some((d) => d.tags.includes(tag)),
    });
  }

  load(seed: EmulatorSeed): void {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.droplets.clear();
    this.addresses.clear();
    this.actions.clear();
    this.region = seed.region ?? DEFAULT_REGION;
    this.extraTags.clear();
    for (const t of seed.tags ?? []) this.extraTags.add(t);
    for (const d of seed.droplets ?? []) this.addDroplet(d);
    for (const r of seed.reservedIps ?? []) {
      const family: Family = isIP(r.ip) === 6 ? 6 : 4;
      const addr = this.addAddress(family, r.region ?? this.region, r.ip);
      if (r.dropletId != null) this.setHolder(addr.ip, r.dropletId);
    }
    this.firewalls.load(seed.firewalls ?? []);
  }

  addDroplet(seed: SeedDroplet): Droplet {
    if (!Number.isSafeInteger(seed.id) || seed.id < 1) throw new ApiFailure(400, 'bad_request', 'droplet id must be a positive integer');
    if (this.droplets.has(seed.id)) throw new ApiFailure(409, 'conflict', `droplet ${seed.id} already exists`);
    if (seed.anchorIpv4 != null && isIP(seed.anchorIpv4) !== 4) throw new ApiFailure(400, 'bad_request', `anchorIpv4 must be an IPv4 address, got ${seed.anchorIpv4}`);
    const droplet: Droplet = {
      id: seed.id,
      name: seed.name,
      region: seed.region ?? this.region,
      tags: [...(seed.tags ?? [])],
      status: seed.status ?? 'active',
      publicIpv4: seed.publicIpv4 ?? derivedPublicIpv4(seed.id),
      anchorIpv4: seed.anchorIpv4 === undefined ? derivedAnchorIpv4(seed.id) : seed.anchorIpv4,
      createdAt: this.clock.now(),
      pendingEvent: seed.pendingEvent ?? false,
    };
    this.droplets.set(droplet.id, droplet);
    return droplet;
  }

  /** Destroying a droplet releases its reserved IPs, as on DigitalOcean. */
  removeDroplet(id: number): void {
    if (!this.droplets.delete(id)) throw notFound(`droplet ${id} does not exist`);
    for (const addr of this.addresses.values()) if (addr.dropletId === id) addr.dropletId = null;
    this.firewalls.forgetDroplet(id);
  }

  droplet(id: number): Droplet {
    const droplet = this.droplets.get(id);
    if (droplet === undefined) throw notFound('The resource you were accessing could not be found.');
    return droplet;
  }

  address(text: string, family: Family): ReservedAddress {
    const ip = canonicalIp(text, family);
    const addr = ip === null ? undefined : this.addresses.get(ip);
    if (addr === undefined || addr.family !== family) throw notFound('The resource you were accessing could not be found.');
    return addr;
  }

  list(family: Family): ReservedAddress[] {
    return [...this.addresses.values()].filter((a) => a.family === family);
  }

  addAddress(family: Family, region: string, ipText?: string): ReservedAddress {
    const ip = ipText === undefined ? this.allocate(family) : canonicalIp(ipText, family);
    if (ip === null) throw new ApiFailure(400, 'bad_request', `not an IPv${family} address: ${ipText}`);
    if (this.addresses.has(ip)) throw new ApiFailure(409, 'conflict', `${ip} already exists`);
    const addr: ReservedAddress = { ip, family, region, reservedAt: this.clock.now(), dropletId: null, actionId: null };
    this.addresses.set(ip, addr);
    return addr;
  }

  deleteAddress(addr: ReservedAddress): void {
    if (addr.actionId !== null) throw unprocessable('The reserved IP has a pending event; try again when the action completes.');
    this.addresses.delete(addr.ip);
  }

  /** Move an address instantly, without an action ("by hand" in the control panel). */
  setHolder(ip: string, dropletId: number | null): void {
    const addr = this.addresses.get(ip);
    if (addr === undefined) throw notFound(`reserved IP ${ip} does not exist`);
    if (dropletId !== null) this.droplet(dropletId);
    addr.dropletId = dropletId;
  }

  /** A droplet is busy while it has a pending event or an IP action touches it. */
  dropletBusy(id: number): boolean {
    if (this.droplets.get(id)?.pendingEvent === true) return true;
    for (const a of this.actions.values()) {
      if (a.status === 'in-progress' && (a.fromDropletId === id || a.toDropletId === id)) return true;
    }
    return false;
  }

  /** POST .../actions: the rules of the real API, then an in-progress action that locks the IP. */
  startAction(addr: ReservedAddress, resourceType: ResourceType, body: unknown): Action {
    const { type, droplet_id: dropletId } = (body ?? {}) as { type?: unknown; droplet_id?: unknown };
    if (type !== 'assign' && type !== 'unassign') throw unprocessable('type must be one of: assign, unassign');
    if (addr.actionId !== null) throw unprocessable('The reserved IP already has a pending event.');
    const what = addr.family === 4 ? 'reserved IP' : 'reserved IPv6';
    if (type === 'unassign') {
      if (addr.dropletId === null) throw unprocessable(`The ${what} is not assigned to a Droplet.`);
      if (this.dropletBusy(addr.dropletId)) throw unprocessable('Droplet already has a pending event.');
      return this.begin(addr, resourceType, 'unassign_ip', null);
    }
    // The spec's anyOf accepts an assign without droplet_id; the real API does not.
    if (typeof dropletId !== 'number' || !Number.isSafeInteger(dropletId)) {
      throw unprocessable('droplet_id is required to assign a reserved IP.');
    }
    const droplet = this.droplets.get(dropletId);
    if (droplet === undefined) throw notFound(`Droplet ${dropletId} could not be found.`);
    if (droplet.region !== addr.region) {
      throw unprocessable(`The ${what} and the Droplet must be in the same region (${addr.region} vs ${droplet.region}).`);
    }
    if (addr.dropletId === dropletId) throw unprocessable(`The ${what} is already assigned to that Droplet.`);
    if (this.dropletBusy(dropletId)) throw unprocessable('Droplet already has a pending event.');
    if (addr.dropletId !== null && this.dropletBusy(addr.dropletId)) throw unprocessable('Droplet already has a pending event.');
    const held = this.list(addr.family).find((a) => a.dropletId === dropletId);
    if (held !== undefined) throw unprocessable(`Droplet already has a ${what} assigned (${held.ip}).`);
    return this.begin(addr, resourceType, 'assign_ip', dropletId);
  }

  private begin(addr: ReservedAddress, resourceType: ResourceType, type: Action['type'], to: number | null): Action {
    const action: Action = {
      id: this.nextActionId++,
      type,
      ip: addr.ip,
      region: addr.region,
      resourceType,
      resourceId: resourceIdOf(addr.ip, addr.family),
      startedAt: this.clock.now(),
      fromDropletId: addr.dropletId,
      toDropletId: to,
      status: 'in-progress',
      completedAt: null,
    };
    this.actions.set(action.id, action);
    addr.actionId = action.id;
    this.timers.set(action.id, this.clock.setTimer(() => this.complete(action), this.actionDelayMs));
    return action;
  }

  /** The holder changes only when the action completes; until then GET shows the old holder, locked. */
  private complete(action: Action): void {
    this.timers.delete(action.id);
    const addr = this.addresses.get(action.ip);
    action.completedAt = this.clock.now();
    if (addr === undefined || (action.toDropletId !== null && !this.droplets.has(action.toDropletId))) {
      action.status = 'errored';
    } else {
      action.status = 'completed';
      addr.dropletId = action.toDropletId;
    }
    if (addr !== undefined && addr.actionId === action.id) addr.actionId = null;
    this.onActionEnded?.();
  }

  action(id: number): Action {
    const action = this.actions.get(id);
    if (action === undefined) throw notFound();
    return action;
  }

  actionsFor(ip: string): Action[] {
    return [...this.actions.values()].filter((a) => a.ip === ip);
  }

  private allocate(family: Family): string {
    for (let n = 1; ; n++) {
      const ip = family === 4 ? `104.248.${200 + Math.floor(n / 250)}.${n % 250}` : `2604:a880:800:14::${(0x2000 + n).toString(16)}`;
      if (!this.addresses.has(ip)) return ip;
    }
  }
}
