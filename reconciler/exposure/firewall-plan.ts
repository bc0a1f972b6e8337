// The one DigitalOcean cloud firewall floatip keeps per cluster, decided purely
// (firewall-plan.test.ts). DOKS' own firewalls drop traffic to the anchor IPs and revert
// edits, but firewalls are additive: a separate firewall on the workers' tag opens the ports.
// - name floatip-<cluster-uuid>, targeting tag k8s:<cluster-uuid>, no droplet ids;
// - one inbound rule per (protocol, port) of the Services of floatip's class (TCP and UDP),
//   from 0.0.0.0/0 and ::/0, or from the union of the Services' loadBalancerSourceRanges when
//   every Service on that port sets them;
// - no outbound rules of its own (DOKS' firewall already allows all egress);
// - no Service left (or only SCTP ports): no firewall.
// Only a firewall with exactly that name is ever written or deleted.
import type { Firewall, FirewallRule, FirewallSpec } from '../../shared/digitalocean/port.ts';
import { clusterTag } from '../cluster-identity.ts';
import type { ServiceFacts } from './model.ts';

export const EVERYWHERE: readonly string[] = ['0.0.0.0/0', '::/0'];

export const firewallName = (clusterUuid: string): string => `floatip-${clusterUuid}`;

const ruleKey = (r: { protocol: string; ports: string }) => `${r.protocol}/${r.ports}`;

/** The firewall the floatip Services need, or null when they need none. */
export function desiredFirewall(services: readonly ServiceFacts[], clusterUuid: string): FirewallSpec | null {
  const rules = new Map<string, { protocol: 'tcp' | 'udp'; port: number; everywhere: boolean; ranges: Set<string> }>();
  for (const svc of services) {
    if (!svc.floatip) continue;
    for (const p of svc.ports) {
      if (p.protocol !== 'TCP' && p.protocol !== 'UDP') continue;
      const protocol = p.protocol === 'TCP' ? 'tcp' : 'udp';
      const key = `${protocol}/${p.port}`;
      const rule = rules.get(key) ?? { protocol, port: p.port, everywhere: false, ranges: new Set<string>() };
      if (svc.sourceRanges.length === 0) rule.everywhere = true;
      for (const r of svc.sourceRanges) rule.ranges.add(r.trim());
      rules.set(key, rule);
    }
  }
  if (rules.size === 0) return null;
  const inbound: FirewallRule[] = [...rules.values()]
    .sort((a, b) => (a.protocol === b.protocol ? a.port - b.port : a.protocol < b.protocol ? -1 : 1))
    .map((r) => ({ protocol: r.protocol, ports: String(r.port), addresses: r.everywhere ? [...EVERYWHERE] : [...r.ranges].sort() }));
  return { name: firewallName(clusterUuid), inbound, outbound: [], tags: [clusterTag(clusterUuid)], dropletIds: [] };
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
