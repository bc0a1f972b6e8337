// Cloud firewalls: create/read/update/delete and the droplet, tag and rule sub-resources,
// with DigitalOcean's validation (firewall-rules.ts). Rules are stored in the form the API
// renders ("all" becomes "0"); the emulator filters no traffic. A firewall's `droplet_ids`
// lists the droplets assigned to it by id only: droplets reached through its `tags` are not
// added, as on the real API (tools such as Terraform read droplet_ids back without a diff).
import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from './api-error.ts';
import type { EmulatorClock } from './clock.ts';
import { checkLimits, existingTags, firewallName, idArray, rules, stringArray } from './firewall-rules.ts';
import type { RuleContext, StoredRule } from './firewall-rules.ts';
import type { SeedFirewall } from './world.ts';

export interface Firewall {
  readonly id: string;
  readonly createdAt: number;
  name: string;
  tags: string[];
  dropletIds: number[];
  inboundRules: StoredRule[];
  outboundRules: StoredRule[];
}

interface FirewallBody {
  name?: unknown;
  tags?: unknown;
  droplet_ids?: unknown;
  inbound_rules?: unknown;
  outbound_rules?: unknown;
}

export interface FirewallWorld extends RuleContext {
  dropletExists(id: number): boolean;
}

function bodyOf(body: unknown): FirewallBody {
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object');
  return body as FirewallBody;
}

const ruleKey = (r: StoredRule) => JSON.stringify(r);

export class FirewallStore {
  readonly byId = new Map<string, Firewall>();
  private readonly clock: EmulatorClock;
  private readonly world: FirewallWorld;

  constructor(clock: EmulatorClock, world: FirewallWorld) {
    this.clock = clock;
    this.world = world;
  }

  load(seeds: readonly SeedFirewall[]): void {
    this.byId.clear();
    for (const s of seeds) {
      this.create({ name: s.name, tags: s.tags, droplet_ids: s.dropletIds, inbound_rules: s.inboundRules, outbound_rules: s.outboundRules }, s.id);
    }
  }

  get(id: string): Firewall {
    const fw = this.byId.get(id);
    if (fw === undefined) throw notFound();
    return fw;
  }

  /** POST /v2/firewalls and PUT (a full replacement: absent fields reset, as the spec says). */
  create(body: unknown, id: string = randomUUID()): Firewall {
    const fw: Firewall = { id, createdAt: this.byId.get(id)?.createdAt ?? this.clock.now(), ...this.parse(bodyOf(body)) };
    checkLimits(fw);
    this.byId.set(id, fw);
    return fw;
  }

  update(id: string, body: unknown): Firewall {
    this.get(id);
    return this.create(body, id);
  }

  delete(id: string): void {
    if (!this.byId.delete(id)) throw notFound();
  }

  addDroplets(id: string, body: unknown): void {
    const fw = this.get(id);
    const ids = this.knownDroplets(idArray(bodyOf(body).droplet_ids, 'droplet_ids'));
    this.change(fw, { dropletIds: [...new Set([...fw.dropletIds, ...ids])] });
  }

  removeDroplets(id: string, body: unknown): void {
    const fw = this.get(id);
    const ids = new Set(idArray(bodyOf(body).droplet_ids, 'droplet_ids'));
    fw.dropletIds = fw.dropletIds.filter((d) => !ids.has(d));
  }

  addTags(id: string, body: unknown): void {
    const fw = this.get(id);
    this.change(fw, { tags: [...new Set([...fw.tags, ...existingTags(bodyOf(body).tags, 'tags', this.world)])] });
  }

  removeTags(id: string, body: unknown): void {
    const fw = this.get(id);
    const tags = new Set(stringArray(bodyOf(body).tags, 'tags'));
    fw.tags = fw.tags.filter((t) => !tags.has(t));
  }

  addRules(id: string, body: unknown): void {
    const fw = this.get(id);
    const b = bodyOf(body);
    this.change(fw, {
      inboundRules: [...fw.inboundRules, ...rules(b.inbound_rules, 'sources', 'inbound_rules', this.world)],
      outboundRules: [...fw.outboundRules, ...rules(b.outbound_rules, 'destinations', 'outbound_rules', this.world)],
    });
  }

  /** Rules are matched in their stored form, so removing "all" removes the rule shown as "0". */
  removeRules(id: string, body: unknown): void {
    const fw = this.get(id);
    const b = bodyOf(body);
    const anyTag: RuleContext = { tagExists: () => true };
    const drop = (list: StoredRule[], gone: StoredRule[]) => {
      const keys = new Set(gone.map(ruleKey));
      return list.filter((r) => !keys.has(ruleKey(r)));
    };
    fw.inboundRules = drop(fw.inboundRules, rules(b.inbound_rules, 'sources', 'inbound_rules', anyTag));
    fw.outboundRules = drop(fw.outboundRules, rules(b.outbound_rules, 'destinations', 'outbound_rules', anyTag));
  }

  forgetDroplet(dropletId: number): void {
    for (const fw of this.byId.values()) fw.dropletIds = fw.dropletIds.filter((d) => d !== dropletId);
  }

  /** Apply a change only when the whole firewall stays within the limits. */
  private change(fw: Firewall, patch: Partial<Pick<Firewall, 'dropletIds' | 'tags' | 'inboundRules' | 'outboundRules'>>): void {
    checkLimits({ ...fw, ...patch });
    Object.assign(fw, patch);
  }

  private parse(body: FirewallBody): Omit<Firewall, 'id' | 'createdAt'> {
    const name = firewallName(body.name);
    const inboundRules = rules(body.inbound_rules, 'sources', 'inbound_rules', this.world);
    const outboundRules = rules(body.outbound_rules, 'destinations', 'outbound_rules', this.world);
    if (inboundRules.length === 0 && outboundRules.length === 0) throw badRequest('a firewall needs at least one inbound or outbound rule');
    return {
      name,
      tags: existingTags(body.tags, 'tags', this.world),
      dropletIds: this.knownDroplets(idArray(body.droplet_ids, 'droplet_ids')),
      inboundRules,
      outboundRules,
    };
  }

  private knownDroplets(ids: number[]): number[] {
    const unknown = ids.find((id) => !this.world.dropletExists(id));
    if (unknown !== undefined) throw notFound(`Droplet ${unknown} could not be found.`);
    return ids;
  }
}
