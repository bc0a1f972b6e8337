// Cloud firewalls: enough state for create/read/update/delete and the droplet, tag and rule
// sub-resources. Rules are stored as sent; the emulator filters no traffic.
import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from './api-error.ts';
import type { EmulatorClock } from './clock.ts';
import type { SeedFirewall } from './world.ts';

export interface Firewall {
  readonly id: string;
  readonly createdAt: number;
  name: string;
  tags: string[];
  dropletIds: number[];
  inboundRules: unknown[];
  outboundRules: unknown[];
}

interface FirewallBody {
  name?: unknown;
  tags?: unknown;
  droplet_ids?: unknown;
  inbound_rules?: unknown;
  outbound_rules?: unknown;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]+$/;

function stringArray(value: unknown, field: string): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw badRequest(`${field} must be an array of strings`);
  return [...value] as string[];
}

function idArray(value: unknown, field: string): number[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((v) => Number.isSafeInteger(v))) throw badRequest(`${field} must be an array of integers`);
  return [...value] as number[];
}

function rules(value: unknown, field: string): unknown[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw badRequest(`${field} must be an array`);
  return structuredClone(value);
}

export class FirewallStore {
  readonly byId = new Map<string, Firewall>();
  private readonly clock: EmulatorClock;
  private readonly dropletExists: (id: number) => boolean;

  constructor(clock: EmulatorClock, dropletExists: (id: number) => boolean) {
    this.clock = clock;
    this.dropletExists = dropletExists;
  }

  load(seeds: readonly SeedFirewall[]): void {
    this.byId.clear();
    for (const s of seeds) {
      const fw = this.create({ name: s.name, tags: s.tags, droplet_ids: s.dropletIds, inbound_rules: s.inboundRules, outbound_rules: s.outboundRules }, s.id);
      this.byId.set(fw.id, fw);
    }
  }

  get(id: string): Firewall {
    const fw = this.byId.get(id);
    if (fw === undefined) throw notFound();
    return fw;
  }

  /** POST /v2/firewalls and PUT (a full replacement: absent fields reset, as the spec says). */
  create(body: FirewallBody, id: string = randomUUID()): Firewall {
    const fw: Firewall = { id, createdAt: this.byId.get(id)?.createdAt ?? this.clock.now(), ...this.parse(body) };
    this.byId.set(id, fw);
    return fw;
  }

  update(id: string, body: FirewallBody): Firewall {
    this.get(id);
    return this.create(body, id);
  }

  delete(id: string): void {
    if (!this.byId.delete(id)) throw notFound();
  }

  addDroplets(id: string, body: unknown): void {
    const fw = this.get(id);
    const ids = this.knownDroplets(idArray((body as FirewallBody | null)?.droplet_ids, 'droplet_ids'));
    fw.dropletIds = [...new Set([...fw.dropletIds, ...ids])];
  }

  removeDroplets(id: string, body: unknown): void {
    const fw = this.get(id);
    const ids = new Set(idArray((body as FirewallBody | null)?.droplet_ids, 'droplet_ids'));
    fw.dropletIds = fw.dropletIds.filter((d) => !ids.has(d));
  }

  addTags(id: string, body: unknown): void {
    const fw = this.get(id);
    fw.tags = [...new Set([...fw.tags, ...stringArray((body as FirewallBody | null)?.tags, 'tags')])];
  }

  removeTags(id: string, body: unknown): void {
    const fw = this.get(id);
    const tags = new Set(stringArray((body as FirewallBody | null)?.tags, 'tags'));
    fw.tags = fw.tags.filter((t) => !tags.has(t));
  }

  addRules(id: string, body: unknown): void {
    const fw = this.get(id);
    const b = (body ?? {}) as FirewallBody;
    fw.inboundRules.push(...rules(b.inbound_rules, 'inbound_rules'));
    fw.outboundRules.push(...rules(b.outbound_rules, 'outbound_rules'));
  }

  removeRules(id: string, body: unknown): void {
    const fw = this.get(id);
    const b = (body ?? {}) as FirewallBody;
    const drop = (list: unknown[], gone: unknown[]) => {
      const keys = new Set(gone.map((r) => JSON.stringify(r)));
      return list.filter((r) => !keys.has(JSON.stringify(r)));
    };
    fw.inboundRules = drop(fw.inboundRules, rules(b.inbound_rules, 'inbound_rules'));
    fw.outboundRules = drop(fw.outboundRules, rules(b.outbound_rules, 'outbound_rules'));
  }

  forgetDroplet(dropletId: number): void {
    for (const fw of this.byId.values()) fw.dropletIds = fw.dropletIds.filter((d) => d !== dropletId);
  }

  private parse(body: FirewallBody): Omit<Firewall, 'id' | 'createdAt'> {
    if (typeof body.name !== 'string' || !NAME.test(body.name)) {
      throw badRequest('name must begin with an alphanumeric character, followed by alphanumerics, periods or dashes');
    }
    const inboundRules = rules(body.inbound_rules, 'inbound_rules');
    const outboundRules = rules(body.outbound_rules, 'outbound_rules');
    if (inboundRules.length === 0 && outboundRules.length === 0) throw badRequest('a firewall needs at least one inbound or outbound rule');
    return {
      name: body.name,
      tags: stringArray(body.tags, 'tags'),
      dropletIds: this.knownDroplets(idArray(body.droplet_ids, 'droplet_ids')),
      inboundRules,
      outboundRules,
    };
  }

  private knownDroplets(ids: number[]): number[] {
    const unknown = ids.find((id) => !this.dropletExists(id));
    if (unknown !== undefined) throw notFound(`Droplet ${unknown} could not be found.`);
    return ids;
  }
}
