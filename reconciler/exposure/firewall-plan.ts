// The one DigitalOcean cloud firewall floatip keeps per cluster, decided purely
// (firewall-plan.test.ts). DOKS' own firewalls drop traffic to the anchor IPs and revert
// edits, but firewalls are additive: a separate firewall on the workers' tag opens the ports.
// - name floatip-<cluster-uuid>, targeting tag k8s:<cluster-uuid>, no droplet ids;
// - no outbound rules of its own (DOKS' firewall already allows all egress);
// - no port to open: no firewall. Only a firewall with exactly that name is written or deleted.
//
// A rule cannot name a destination address: a port opened for one reserved IP is open on the
// public address of every worker. So a Service of floatip's class opens its TCP/UDP ports only
// when (issue 15, least privilege between tenants):
// 1. it exposes at least one reserved IP its pods won (`exposing`; a selector-less Service,
//    or one whose pods hold no IP, opens nothing);
// 2. the port policy allows the port (port-policy.ts: never the kubelet, etcd, SSH or the
//    NodePort range by default);
// 3. the port is not already opened by an older Service with other sources. A (protocol,
//    port) belongs to the oldest Service that opens it (creation time, then namespace/name):
//    its loadBalancerSourceRanges (none: 0.0.0.0/0 and ::/0) are the rule's sources, and
//    another Service on that port joins only with the same sources — otherwise its port is
//    refused. A newcomer can neither widen nor narrow a port someone else opened;
// 4. its rules fit: DigitalOcean allows 50 rules (inbound and outbound together) and 1000
//    sources per rule. Services are added oldest first; one that would overflow is refused
//    whole and the ones after it are still tried, so one large Service never freezes the rest.
// Consecutive ports with the same protocol and sources merge into one range rule ("8000-8010").
// Every refusal names the Service and ports; the controller turns it into a Warning Event.
import type { Firewall, FirewallRule, FirewallSpec } from '../../shared/digitalocean/port.ts';
import { clusterTag } from '../cluster-identity.ts';
import type { HolderEntry } from '../model.ts';
import { selects } from './facts.ts';
import type { PodClaims, ServiceFacts } from './model.ts';
import { DEFAULT_PORT_POLICY } from './port-policy.ts';
import type { FirewallProtocol, PortPolicy } from './port-policy.ts';

export const EVERYWHERE: readonly string[] = ['0.0.0.0/0', '::/0'];
/** DigitalOcean's limits (docs "Firewall Limits"; test/do-emulator/firewall-rules.ts) */
export const MAX_RULES = 50;
export const MAX_SOURCES_PER_RULE = 1000;

export const firewallName = (clusterUuid: string): string => `floatip-${clusterUuid}`;

const ruleKey = (r: { protocol: string; ports: string }) => `${r.protocol}/${r.ports}`;

export interface FirewallRefusal {
  /** namespace/name of the Service the Warning goes on */
  readonly service: string;
  readonly reason: 'FloatingIPPortNotAllowed' | 'FloatingIPSourceRangesConflict' | 'FloatingIPFirewallFull';
  /** "tcp/10250", ... */
  readonly ports: readonly string[];
  /** for the Service's owner: names no other tenant's Service */
  readonly message: string;
  /** for the operator's log only: the Services that own the conflicting ports */
  readonly owners?: readonly string[];
}

export interface FirewallDecision {
  /** null: no port to open, no firewall */
  readonly spec: FirewallSpec | null;
  readonly refusals: readonly FirewallRefusal[];
}

export interface FirewallOptions {
  /** Services that expose at least one reserved IP their pods won; only they open ports */
  readonly exposing: (svc: ServiceFacts) => boolean;
  readonly ports?: PortPolicy;
  readonly maxRules?: number;
}

interface OpenPort {
  readonly protocol: FirewallProtocol;
  readonly port: number;
  readonly sources: readonly string[];
  /** the sources as one comparable string */
  readonly sourcesKey: string;
  readonly owner: string;
}

const list = (items: readonly string[]) => items.join(', ');
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

function sourcesOf(svc: ServiceFacts): string[] {
  const ranges = [...new Set(svc.sourceRanges.map((r) => r.trim()).filter((r) => r !== ''))].sort();
  return ranges.length === 0 ? [...EVERYWHERE] : ranges;
}

/** One rule per (protocol, sources) run of consecutive ports. */
export function mergeRules(open: Iterable<Pick<OpenPort, 'protocol' | 'port' | 'sources' | 'sourcesKey'>>): FirewallRule[] {
  const groups = new Map<string, { protocol: FirewallProtocol; sources: readonly string[]; ports: number[] }>();
  for (const o of open) {
    const key = `${o.protocol}\n${o.sourcesKey}`;
    const g = groups.get(key) ?? { protocol: o.protocol, sources: o.sources, ports: [] };
    g.ports.push(o.port);
    groups.set(key, g);
  }
  const rules: { protocol: FirewallProtocol; low: number; high: number; addresses: string[] }[] = [];
  for (const g of groups.values()) {
    const ports = [...new Set(g.ports)].sort((a, b) => a - b);
    for (const port of ports) {
      const last = rules.at(-1);
      if (last && last.protocol === g.protocol && last.addresses === g.sources && last.high + 1 === port) last.high = port;
      else rules.push({ protocol: g.protocol, low: port, high: port, addresses: g.sources as string[] });
    }
  }
  return rules
    .sort((a, b) => (a.protocol === b.protocol ? a.low - b.low : a.protocol < b.protocol ? -1 : 1))
    .map((r) => ({ protocol: r.protocol, ports: r.low === r.high ? String(r.low) : `${r.low}-${r.high}`, addresses: [...r.addresses] }));
}

const byAge = (a: ServiceFacts, b: ServiceFacts) => (a.createdMs ?? Infinity) - (b.createdMs ?? Infinity) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The firewall the floatip Services need, and the ports refused, with why. */
export function desiredFirewall(services: readonly ServiceFacts[], clusterUuid: string, opts: FirewallOptions): FirewallDecision {
  const policy = opts.ports ?? DEFAULT_PORT_POLICY;
  const maxRules = opts.maxRules ?? MAX_RULES;
  const open = new Map<string, OpenPort>();
  const refusals: FirewallRefusal[] = [];
  for (const svc of services.filter((x) => x.floatip && opts.exposing(x)).sort(byAge)) {
    const sources = sourcesOf(svc);
    const sourcesKey = sources.join(',');
    const denied: string[] = [];
    const conflicting = new Map<string, string>();
    const mine = new Map<string, OpenPort>();
    for (const p of svc.ports) {
      if (p.protocol !== 'TCP' && p.protocol !== 'UDP') continue; // the Service plan warns about SCTP
      const protocol: FirewallProtocol = p.protocol === 'TCP' ? 'tcp' : 'udp';
      const key = `${protocol}/${p.port}`;
      const why = policy.refuses(protocol, p.port);
      if (why !== undefined) {
        if (!denied.includes(why)) denied.push(why);
        continue;
      }
      const owner = open.get(key);
      if (owner && owner.sourcesKey !== sourcesKey) conflicting.set(key, owner.owner);
      else if (!owner) mine.set(key, { protocol, port: p.port, sources, sourcesKey, owner: svc.key });
    }
    if (denied.length > 0) {
      const ports = denied.map((d) => d.split(' ')[0] as string);
      refusals.push({ service: svc.key, reason: 'FloatingIPPortNotAllowed', ports, message: `not opened in floatip's DigitalOcean firewall (it would open them on every worker node): ${list(denied)}` });
    }
    if (conflicting.size > 0) {
      const ports = [...conflicting.keys()];
      refusals.push({
        service: svc.key,
        reason: 'FloatingIPSourceRangesConflict',
        ports,
        owners: [...new Set(conflicting.values())],
        message: `${plural(ports.length, 'port', 'ports')} ${list(ports)} ${plural(ports.length, 'is', 'are')} already open in floatip's DigitalOcean firewall for an older Service with other source ranges; a port's sources are set by the oldest Service that opens it and are never widened or narrowed by another (this Service asks for ${list(sources)}): use the same loadBalancerSourceRanges, or another port`,
      });
    }
    if (mine.size === 0) continue;
    const ports = [...mine.keys()];
    if (sources.length > MAX_SOURCES_PER_RULE) {
      refusals.push({ service: svc.key, reason: 'FloatingIPFirewallFull', ports, message: `${sources.length} loadBalancerSourceRanges: a DigitalOcean firewall rule takes at most ${MAX_SOURCES_PER_RULE}; ${list(ports)} not opened` });
      continue;
    }
    const needed = mergeRules([...open.values(), ...mine.values()]).length;
    if (needed > maxRules) {
      refusals.push({
        service: svc.key,
        reason: 'FloatingIPFirewallFull',
        ports,
        message: `${plural(ports.length, 'port', 'ports')} ${list(ports)} not opened: floatip's DigitalOcean firewall would need ${needed} rules and DigitalOcean allows ${maxRules}; Services that opened their ports earlier keep them (use fewer ports, or consecutive ones, which share a rule)`,
      });
      continue;
    }
    for (const [key, o] of mine) open.set(key, o);
  }
  if (open.size === 0) return { spec: null, refusals };
  return { spec: { name: firewallName(clusterUuid), inbound: mergeRules(open.values()), outbound: [], tags: [clusterTag(clusterUuid)], dropletIds: [] }, refusals };
}

/**
 * The Services that expose at least one reserved IP their pods won (the IP controller's claim
 * view, judged-claims.ts) and that sits on, or is moving to, a droplet: only they open ports.
 */
export function exposingServices(services: readonly ServiceFacts[], pods: readonly PodClaims[], holders: ReadonlyMap<string, HolderEntry>): Set<string> {
  const placed = (ip: string) => {
    const h = holders.get(ip);
    return (h?.dropletId ?? h?.movingTo ?? null) !== null;
  };
  const exposing = new Set<string>();
  for (const svc of services) {
    if (pods.some((p) => p.namespace === svc.namespace && selects(svc.selector, p.labels) && p.addresses.some((a) => placed(a.text)))) exposing.add(svc.key);
  }
  return exposing;
}

function normalRules(rules: readonly FirewallRule[]): string[] {
  return rules
    .map((r) => JSON.stringify([r.protocol, r.ports, [...r.addresses].sort(), [...(r.tags ?? [])].sort()]))
    .sort();
}

const sameSet = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Equal as DigitalOcean compares them: order of rules, addresses and tags does not matter. */
export function sameFirewall(actual: FirewallSpec, desired: FirewallSpec): boolean {
  return (
    actual.name === desired.name &&
    sameSet(actual.tags, desired.tags) &&
    sameSet(actual.dropletIds, desired.dropletIds) &&
    sameSet(normalRules(actual.inbound), normalRules(desired.inbound)) &&
    sameSet(normalRules(actual.outbound), normalRules(desired.outbound))
  );
}

export type FirewallAction =
  | { readonly type: 'create'; readonly spec: FirewallSpec; readonly reason: string }
  | { readonly type: 'update'; readonly id: string; readonly spec: FirewallSpec; readonly reason: string }
  | { readonly type: 'delete'; readonly id: string; readonly reason: string };

/** "tcp/8080 added, udp/7777 sources changed" — what an update changes, for the log line. */
export function describeChange(actual: FirewallSpec, desired: FirewallSpec): string {
  const before = new Map(actual.inbound.map((r) => [ruleKey(r), r]));
  const after = new Map(desired.inbound.map((r) => [ruleKey(r), r]));
  const parts: string[] = [];
  for (const [k, r] of after) {
    const old = before.get(k);
    if (!old) parts.push(`${k} added`);
    else if (!sameSet(normalRules([old]), normalRules([r]))) parts.push(`${k} sources changed`);
  }
  for (const k of before.keys()) if (!after.has(k)) parts.push(`${k} removed`);
  if (!sameSet(actual.tags, desired.tags) || !sameSet(actual.dropletIds, desired.dropletIds)) parts.push('targets changed');
  if (!sameSet(normalRules(actual.outbound), normalRules(desired.outbound))) parts.push('outbound rules removed');
  return parts.length > 0 ? parts.join(', ') : 'no change';
}

/** Compare, then at most one write per firewall of that name (duplicates are deleted). */
export function planFirewall(desired: FirewallSpec | null, name: string, existing: readonly Firewall[]): FirewallAction[] {
  const ours = existing.filter((f) => f.name === name);
  const [keep, ...duplicates] = ours;
  const actions: FirewallAction[] = duplicates.map((f) => ({ type: 'delete', id: f.id, reason: `a second firewall named ${name}` }));
  if (desired === null) {
    if (keep) actions.push({ type: 'delete', id: keep.id, reason: 'no Service of floatip class is left' });
  } else if (!keep) {
    actions.push({ type: 'create', spec: desired, reason: 'no firewall of that name exists (new, or deleted by hand)' });
  } else if (!sameFirewall(keep, desired)) {
    actions.push({ type: 'update', id: keep.id, spec: desired, reason: describeChange(keep, desired) });
  }
  return actions;
}
