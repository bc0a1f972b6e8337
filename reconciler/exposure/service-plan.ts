// What one Service of floatip's class should say, decided purely (service-plan.test.ts):
// - spec.externalIPs: the anchor IPv4 of every droplet that holds, or is being given, a
//   reserved IPv4 claimed by the Service's selected pods (DigitalOcean rewrites the
//   destination to the anchor, so that is the address kube-proxy/Cilium must accept), plus
//   every claimed reserved IPv6 itself (routed, not translated). A moving IP is listed on
//   both droplets until it has left the old one, so the list never empties during a move.
// - status.loadBalancer.ingress: the claimed reserved IPs that sit on a node of the cluster.
// - Warnings for what a person should fix.
import type { ReservedAddress } from '../../shared/addresses.ts';
import { selects } from './facts.ts';
import type { HolderEntry } from '../model.ts';
import type { Exposed, NodeAnchor, PodClaims, ServiceFacts, ServicePlan, Warning } from './model.ts';

export interface ServicePlanInput {
  readonly service: ServiceFacts;
  /** the labeled pods (the planner picks the Service's own) */
  readonly pods: readonly PodClaims[];
  readonly holders: ReadonlyMap<string, HolderEntry>;
  /** ip → the droplet an assign is about to target (announced before it is sent) */
  readonly intents: ReadonlyMap<string, number>;
  /** droplet → the node on it and its recorded anchor */
  readonly nodes: ReadonlyMap<number, NodeAnchor>;
  /** anchors of droplets whose node is gone, kept while they may still hold an IP */
  readonly remembered: ReadonlyMap<number, string>;
  /** the selector matches pods, none of them annotated (asked of the API server) */
  readonly selectsUnannotatedPods: boolean;
  readonly keys: { readonly annotation: string; readonly anchor: string };
}

const v4Number = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);

/** IPv4 first in numeric order, then IPv6 in text order (canonical forms). */
export function compareAddresses(a: string, b: string): number {
  const a6 = a.includes(':');
  const b6 = b.includes(':');
  if (a6 !== b6) return a6 ? 1 : -1;
  if (!a6) return v4Number(a) - v4Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const list = (items: readonly string[]) => items.join(', ');

export function planService(input: ServicePlanInput): ServicePlan {
  const { service, keys } = input;
  if (!service.floatip) return service.ownedByFloatip ? { kind: 'release' } : { kind: 'ignore' };
  const warnings: Warning[] = [];

  const unsupported = service.ports.filter((p) => p.protocol !== 'TCP' && p.protocol !== 'UDP');
  if (unsupported.length > 0) {
    warnings.push({
      reason: 'FloatingIPUnsupportedProtocol',
      message: `port${unsupported.length > 1 ? 's' : ''} ${list(unsupported.map((p) => `${p.protocol}/${p.port}`))} ignored by floatip's DigitalOcean firewall, which opens only TCP and UDP`,
    });
  }

  const hasSelector = Object.keys(service.selector ?? {}).length > 0;
  if (!hasSelector) {
    warnings.push({
      reason: 'FloatingIPNoSelector',
      message: `Service has no selector: floatip exposes the reserved IPs that the Service's selected pods claim with annotation ${keys.annotation}`,
    });
  }
  const claimed = new Map<string, ReservedAddress>();
  const lost = new Set<string>();
  const notAllowed = new Set<string>();
  if (hasSelector) {
    for (const pod of input.pods) {
      if (pod.namespace !== service.namespace || !selects(service.selector, pod.labels)) continue;
      for (const a of pod.addresses) claimed.set(a.text, a);
      for (const ip of pod.lost ?? []) lost.add(ip);
      if (pod.notAllowed !== undefined) notAllowed.add(pod.notAllowed);
    }
  }
  // Another workload's IP is never listed here: its anchor would capture that IP's traffic.
  const notWon = [...lost].filter((ip) => !claimed.has(ip)).sort(compareAddresses);
  if (notWon.length > 0) {
    warnings.push({
      reason: 'FloatingIPNotWon',
      message: `the selected pods claim ${list(notWon)}, which another, older workload holds (a conflict): this Service does not expose ${notWon.length > 1 ? 'them' : 'it'}`,
    });
  }
  for (const message of [...notAllowed].sort()) warnings.push({ reason: 'FloatingIPNotAllowed', message: `${message}; this Service does not expose it` });
  if (hasSelector && claimed.size === 0 && notWon.length === 0 && notAllowed.size === 0 && input.selectsUnannotatedPods) {
    warnings.push({
      reason: 'FloatingIPNoAnnotation',
      message: `the pods this Service selects carry no ${keys.annotation} annotation: add it to their pod template (e.g. "104.248.100.100")`,
    });
  }

  const ips = [...claimed.values()].sort((a, b) => compareAddresses(a.text, b.text));
  const exposed: Exposed[] = [];
  const noAnchor = new Map<number, string>();
  for (const a of ips) {
    if (a.family === 6) {
      exposed.push({ externalIP: a.text, ip: a.text, dropletId: null });
      continue;
    }
    const h = input.holders.get(a.text);
    const droplets = new Set([h?.dropletId, h?.movingTo, input.intents.get(a.text)].filter((d): d is number => d !== null && d !== undefined));
    for (const d of droplets) {
      const node = input.nodes.get(d);
      const anchor = node?.anchor ?? input.remembered.get(d);
      if (anchor !== undefined) exposed.push({ externalIP: anchor, ip: a.text, dropletId: d });
      else if (node) {
        const why = node.invalid === undefined ? `has no ${keys.anchor} annotation` : `has an unusable ${keys.anchor} (${node.why ?? JSON.stringify(node.invalid)})`;
        noAnchor.set(d, `node ${node.nodeName} (droplet ${d}) ${why}: is the floatip agent running there? Traffic to ${a.text} is not accepted on it until it is`);
      }
    }
  }
  for (const message of noAnchor.values()) warnings.push({ reason: 'FloatingIPNoAnchor', message });
  // kube-proxy and Cilium ignore an external IP of a family the Service does not have: the
  // reserved IPv6 is still listed (it becomes useful once the family is added), but nobody
  // would otherwise learn why its traffic is dropped. DOKS nodes have no IPv6 today.
  const v6 = exposed.filter((e) => e.dropletId === null).map((e) => e.ip);
  const families = service.ipFamilies;
  if (v6.length > 0 && families !== undefined && families.length > 0 && !families.includes('IPv6')) {
    warnings.push({
      reason: 'FloatingIPNoIPv6Family',
      message: `reserved IPv6 ${list(v6)} is listed in spec.externalIPs, but this Service has only the ${list(families)} family: kube-proxy and Cilium ignore it. On a dual-stack cluster set ipFamilyPolicy: PreferDualStack; DOKS nodes have no IPv6, so there use a reserved IPv4`,
    });
  }

  const externalIPs = [...new Set(exposed.map((e) => e.externalIP))].sort(compareAddresses);
  const ingress = ips.map((a) => a.text).filter((ip) => {
    const holder = input.holders.get(ip)?.dropletId;
    return holder !== null && holder !== undefined && input.nodes.has(holder);
  });
  const writeSpec = !sameList(service.externalIPs, externalIPs);
  const overwritten = service.externalIPs.filter((ip) => !externalIPs.includes(ip));
  if (writeSpec && service.externalIPsOwners.length > 0 && overwritten.length > 0) {
    warnings.push({
      reason: 'FloatingIPExternalIPsOverwritten',
      message: `spec.externalIPs ${list(overwritten)} (set by ${list(service.externalIPsOwners)}) replaced: floatip owns the externalIPs of Services of its class; remove them from your manifest`,
    });
  }
  return { kind: 'expose', externalIPs, ingress, writeSpec, writeStatus: !sameList(service.ingress, ingress), exposed, warnings };
}

/** The Normal Event after a write: what each external IP is for. */
export function exposedMessage(plan: { readonly externalIPs: readonly string[]; readonly ingress: readonly string[]; readonly exposed: readonly Exposed[] }): string {
  if (plan.externalIPs.length === 0) return 'externalIPs cleared: no reserved IP of the selected pods is on a droplet with a known anchor';
  const parts = plan.externalIPs.map((ext) => {
    const uses = plan.exposed.filter((e) => e.externalIP === ext);
    const v4 = uses.filter((e) => e.dropletId !== null);
    return v4.length === 0 ? `${ext} (reserved IPv6)` : `${ext} (anchor of droplet ${v4[0]?.dropletId} for ${list([...new Set(v4.map((e) => e.ip))])})`;
  });
  return `externalIPs ${list(parts)}; ingress ${plan.ingress.length === 0 ? 'none yet' : list(plan.ingress)}`;
}
