// DigitalOcean's edge as one nft table, computed from the emulator's view (pure):
//   - a reserved IPv4 held by a droplet is DNATed to that droplet's anchor (conntrack maps the
//     reply back, so it leaves as the reserved IP); one not held is dropped;
//   - what the holder sends from its anchor leaves as the reserved IP even without an edge
//     conntrack entry (DigitalOcean's 1:1 NAT works both ways): when the holder changes, the
//     edge drops the moved IP's entries, and a reply already on its way must not reach the
//     client from the anchor: an anchor no reserved IP maps to is dropped on its way out;
//   - inbound traffic to a droplet (its anchor, its public addresses, a reserved IPv6 routed to
//     it) passes only where a cloud firewall targeting the droplet (by tag or id) allows the
//     protocol, port and source; a droplet no firewall targets takes everything, as on
//     DigitalOcean; replies to connections a droplet opened pass (firewalls are stateful);
//   - sources given as tags or droplet ids name droplets, never the lab's client, so such
//     rules do not open anything to "the internet";
//   - a droplet sends only from its own addresses (anchor, public, reserved IPv6s): others drop.
import { isIP } from 'node:net';
import type { DataplaneView } from '../do-emulator/dataplane-view.ts';

export const EDGE_TABLE = 'floatip_edge';
export const CLIENT_LINK = 'inet0';
export const DROPLET_BRIDGE = 'pub0';

export interface EdgeDroplet {
  readonly id: number;
  readonly anchor: string | null;
  readonly public4: string;
  readonly public6: string;
}

export type Rule = DataplaneView['firewalls'][number]['inboundRules'][number];

export function firewallsTargeting(view: Pick<DataplaneView, 'firewalls' | 'droplets'>, dropletId: number): DataplaneView['firewalls'] {
  const tags = new Set(view.droplets.find((d) => d.id === dropletId)?.tags ?? []);
  return view.firewalls.filter((f) => f.dropletIds.includes(dropletId) || f.tags.some((t) => tags.has(t)));
}

/** One inbound rule as nft statements (one per address family that has sources), each ending in accept. */
export function ruleStatements(rule: Rule): string[] {
  const addresses = rule.sources?.addresses ?? [];
  const v4 = addresses.filter((a) => isIP(a.split('/')[0] ?? '') === 4);
  const v6 = addresses.filter((a) => isIP(a.split('/')[0] ?? '') === 6);
  const match =
    rule.protocol === 'icmp'
      ? { 4: 'meta l4proto icmp', 6: 'meta l4proto ipv6-icmp' }
      : rule.ports === '0'
        ? { 4: `meta l4proto ${rule.protocol}`, 6: `meta l4proto ${rule.protocol}` }
        : { 4: `${rule.protocol} dport ${rule.ports}`, 6: `${rule.protocol} dport ${rule.ports}` };
  const out: string[] = [];
  if (v4.length > 0) out.push(`ip saddr { ${v4.join(', ')} } ${match[4]} accept`);
  if (v6.length > 0) out.push(`ip6 saddr { ${v6.join(', ')} } ${match[6]} accept`);
  return out;
}

/** The whole table, replaced atomically by one `nft -f`. */
export function edgeRuleset(view: Pick<DataplaneView, 'holders' | 'firewalls' | 'droplets'>, droplets: readonly EdgeDroplet[]): string {
  const byId = new Map(droplets.map((d) => [d.id, d]));
  const reserved4 = Object.keys(view.holders).filter((ip) => isIP(ip) === 4);
  const held = reserved4.flatMap((ip) => {
    const anchor = byId.get(view.holders[ip] ?? -1)?.anchor;
    return anchor ? [{ ip, anchor }] : [];
  });
  const dnat = held.map((h) => `${h.ip} : ${h.anchor}`);
  const snat = held.map((h) => `${h.anchor} : ${h.ip}`);
  const lines = [
    `table inet ${EDGE_TABLE} {}`,
    `delete table inet ${EDGE_TABLE}`,
    `table inet ${EDGE_TABLE} {`,
    `  map holders4 { type ipv4_addr : ipv4_addr; ${dnat.length > 0 ? `elements = { ${dnat.join(', ')} }` : ''} }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    iifname "${CLIENT_LINK}" dnat ip to ip daddr map @holders4`,
    `  }`,
    `  map anchors4 { type ipv4_addr : ipv4_addr; ${snat.length > 0 ? `elements = { ${snat.join(', ')} }` : ''} }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    oifname "${CLIENT_LINK}" snat ip to ip saddr map @anchors4`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    `    ct state established,related accept`,
  ];
  // An anchor that no reserved IP maps to reaches nobody: once the IP moved (and the edge
  // dropped its conntrack entries), a reply still leaving the old holder from its anchor is not
  // translated, and DigitalOcean's edge does not route a private anchor address; it is lost.
  const anchors = droplets.flatMap((d) => (d.anchor === null ? [] : [d.anchor]));
  const mapped = held.map((h) => h.anchor);
  if (anchors.length > 0) {
    const unmapped = mapped.length > 0 ? `ip saddr != { ${mapped.join(', ')} } ` : '';
    lines.push(`    iifname "${DROPLET_BRIDGE}" oifname "${CLIENT_LINK}" ip saddr { ${anchors.join(', ')} } ${unmapped}counter drop comment "an anchor no reserved IP maps to"`);
  }
  // out of a droplet only from its own addresses: DigitalOcean drops spoofed sources (a pod's
  // IP leaking out when a node's NAT state is gone, for instance)
  const own4 = droplets.flatMap((d) => [d.anchor, d.public4].filter((a): a is string => a !== null));
  const own6 = [...droplets.map((d) => d.public6), ...Object.keys(view.holders).filter((ip) => isIP(ip) === 6)];
  if (own4.length > 0) lines.push(`    iifname "${DROPLET_BRIDGE}" ip saddr { ${own4.join(', ')} } accept`);
  if (own6.length > 0) lines.push(`    iifname "${DROPLET_BRIDGE}" ip6 saddr { ${own6.join(', ')} } accept`);
  lines.push(`    iifname "${DROPLET_BRIDGE}" counter drop comment "not the droplet's own address"`);
  const chains: string[] = [];
  for (const d of droplets) {
    const v4 = [d.anchor, d.public4].filter((a): a is string => a !== null);
    const v6 = [d.public6, ...Object.keys(view.holders).filter((ip) => isIP(ip) === 6 && view.holders[ip] === d.id)];
    lines.push(`    ip daddr { ${v4.join(', ')} } jump droplet_${d.id}`);
    lines.push(`    ip6 daddr { ${v6.join(', ')} } jump droplet_${d.id}`);
    const targeting = firewallsTargeting(view, d.id);
    chains.push(`  chain droplet_${d.id} {`);
    if (targeting.length === 0) chains.push('    accept');
    else {
      for (const f of targeting) for (const r of f.inboundRules) for (const s of ruleStatements(r)) chains.push(`    ${s} comment "${f.name}"`);
      chains.push('    counter drop comment "no cloud firewall allows it"');
    }
    chains.push('  }');
  }
  // a reserved IPv4 nobody holds (or held by a droplet outside the lab) goes nowhere
  if (reserved4.length > 0) lines.push(`    ip daddr { ${reserved4.join(', ')} } counter drop comment "reserved IP not assigned"`);
  lines.push('  }', ...chains, '}');
  return lines.join('\n') + '\n';
}

/** Where each reserved IPv6 is routed: to its holder's public IPv6, or nowhere. */
export function ipv6Routes(view: Pick<DataplaneView, 'holders'>, droplets: readonly EdgeDroplet[]): { ip: string; via: string | null }[] {
  const byId = new Map(droplets.map((d) => [d.id, d]));
  return Object.keys(view.holders)
    .filter((ip) => isIP(ip) === 6)
    .map((ip) => ({ ip, via: byId.get(view.holders[ip] ?? -1)?.public6 ?? null }));
}

/** The reserved IPv4s whose DNAT target changed (their edge conntrack entries must go). */
export function movedIpv4s(before: Record<string, number | null>, after: Record<string, number | null>): string[] {
  return Object.keys({ ...before, ...after }).filter((ip) => isIP(ip) === 4 && before[ip] !== after[ip]);
}
