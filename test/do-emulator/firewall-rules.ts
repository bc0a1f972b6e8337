// What DigitalOcean accepts in a firewall, as pure checks that return the stored (rendered)
// form. Sources, beside the spec's schemas (name pattern, protocol enum, required sources /
// destinations, at least one rule):
// - ports: a port, a range "8000-9000", or "all" for TCP/UDP; the API shows "all" as "0"
//   and refuses "0" (and "") in a request with 422 "You must specify a positive value for
//   ports." (digitalocean/api-v2#166 and #171, terraform-provider-digitalocean#39 and its
//   flatten code). ICMP has no ports: the API always shows "0".
// - limits (DigitalOcean docs, "Firewalls Limits"): 10 droplets and 5 tags per firewall, 50
//   rules in and out together, 1000 entries in one rule's sources or destinations.
// - tags must exist (the spec's existing_tags_array).
// Schema violations answer 400 (the spec's create/update error); the value rules 422, as the
// real API answers its own refusals.
import { isIP } from 'node:net';
import { ApiFailure, badRequest, unprocessable } from './api-error.ts';

export const LIMITS = { droplets: 10, tags: 5, rules: 50, targetEntries: 1000 } as const;

export type Protocol = 'tcp' | 'udp' | 'icmp';
export type Side = 'sources' | 'destinations';

export interface Target {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  kubernetes_ids?: string[];
  tags?: string[];
}

/** A rule as stored and rendered: protocol, ports, then the sources or destinations. */
export type StoredRule = { protocol: Protocol; ports: string } & Partial<Record<Side, Target>>;

export interface RuleContext {
  tagExists(tag: string): boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]+$/;
const MAX_PORT = 65535;

export function firewallName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw badRequest('name must begin with an alphanumeric character, followed by alphanumerics, periods or dashes');
  }
  return value;
}

export function stringArray(value: unknown, field: string): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw badRequest(`${field} must be an array of strings`);
  return [...value] as string[];
}

export function idArray(value: unknown, field: string): number[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((v) => Number.isSafeInteger(v))) throw badRequest(`${field} must be an array of integers`);
  return [...value] as number[];
}

/** The stored form of `ports`: "0" for all ports (and for ICMP), else the port or range. */
export function normalizePorts(protocol: Protocol, ports: unknown, field: string): string {
  if (protocol === 'icmp') return '0';
  if (ports !== undefined && typeof ports !== 'string') throw badRequest(`${field}.ports must be a string`);
  const text = (ports ?? '').trim();
  if (text === 'all') return '0';
  if (text === '' || /^0+$/.test(text)) {
    throw unprocessable(`You must specify a positive value for ports. (${field}.ports "${text}"; use "all" for every port)`);
  }
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (m === null) throw unprocessable(`${field}.ports must be a port (1-65535), a range like "8000-9000", or "all"; got "${text.slice(0, 40)}"`);
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > MAX_PORT || low > high) {
    throw unprocessable(`${field}.ports "${text}" is not within 1-65535 with the lower port first`);
  }
  return m[2] === undefined ? String(low) : `${low}-${high}`;
}

/** An IPv4/IPv6 address or CIDR, as the spec's firewall_rule_target.addresses describes. */
export function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const ip = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) return false;
  if (slash === -1) return true;
  const prefix = text.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function target(value: unknown, field: string, ctx: RuleContext): Target {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${field} must be an object`);
  const v = value as Record<string, unknown>;
  const out: Target = {};
  if (v.addresses != null) {
    out.addresses = stringArray(v.addresses, `${field}.addresses`);
    const bad = out.addresses.find((a) => !isAddressOrCidr(a));
    if (bad !== undefined) throw unprocessable(`${field}.addresses: "${bad.slice(0, 60)}" is not an IPv4 or IPv6 address or CIDR`);
  }
  if (v.droplet_ids != null) out.droplet_ids = idArray(v.droplet_ids, `${field}.droplet_ids`);
  if (v.load_balancer_uids != null) out.load_balancer_uids = stringArray(v.load_balancer_uids, `${field}.load_balancer_uids`);
  if (v.kubernetes_ids != null) out.kubernetes_ids = stringArray(v.kubernetes_ids, `${field}.kubernetes_ids`);
  if (v.tags != null) out.tags = existingTags(v.tags, `${field}.tags`, ctx);
  const entries = Object.values(out).reduce((n: number, list: unknown[]) => n + list.length, 0);
  if (entries > LIMITS.targetEntries) {
    throw unprocessable(`${field} has ${entries} entries; a rule allows at most ${LIMITS.targetEntries} (use tags or CIDR ranges)`);
  }
  return out;
}

export function existingTags(value: unknown, field: string, ctx: RuleContext): string[] {
  const tags = stringArray(value, field);
  const missing = tags.find((t) => !ctx.tagExists(t));
  if (missing !== undefined) throw unprocessable(`${field}: tag "${missing.slice(0, 60)}" does not exist; tag a droplet with it first`);
  return tags;
}

export function rule(value: unknown, side: Side, field: string, ctx: RuleContext): StoredRule {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${field} must be an object`);
  const r = value as Record<string, unknown>;
  if (r.protocol !== 'tcp' && r.protocol !== 'udp' && r.protocol !== 'icmp') {
    throw badRequest(`${field}.protocol must be one of tcp, udp, icmp`);
  }
  if (r[side] === undefined) throw badRequest(`${field}.${side} is required`);
  return { protocol: r.protocol, ports: normalizePorts(r.protocol, r.ports, field), [side]: target(r[side], `${field}.${side}`, ctx) };
}

export function rules(value: unknown, side: Side, field: string, ctx: RuleContext): StoredRule[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw badRequest(`${field} must be an array`);
  return value.map((r, i) => rule(r, side, `${field}[${i}]`, ctx));
}

/** The per-firewall limits, checked on the whole firewall after any change. */
export function checkLimits(fw: { dropletIds: readonly number[]; tags: readonly string[]; inboundRules: readonly unknown[]; outboundRules: readonly unknown[] }): void {
  const total = fw.inboundRules.length + fw.outboundRules.length;
  const refuse = (what: string) => new ApiFailure(422, 'unprocessable_entity', what);
  if (fw.dropletIds.length > LIMITS.droplets) {
    throw refuse(`a firewall applies to at most ${LIMITS.droplets} droplets (got ${fw.dropletIds.length}); tag the droplets and add the tag instead`);
  }
  if (fw.tags.length > LIMITS.tags) throw refuse(`a firewall has at most ${LIMITS.tags} tags (got ${fw.tags.length})`);
  if (total > LIMITS.rules) throw refuse(`a firewall has at most ${LIMITS.rules} inbound and outbound rules together (got ${total})`);
}
