// What the Service and firewall planners read, already parsed from Kubernetes objects and
// DigitalOcean answers (service-facts.ts), and what they decide. No I/O here.
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { ReservedAddress } from '../../shared/addresses.ts';
import type { HolderEntry } from '../model.ts';

/** The informer caches and the IP controller's holders, as the Service and firewall controllers read them. */
export interface ExposureWorld {
  listServices(): readonly V1Service[];
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
  /** DigitalOcean's holders as the IP controller knows them */
  holders(): readonly HolderEntry[];
}

export interface ServicePort {
  /** TCP, UDP or SCTP, as Kubernetes spells it */
  readonly protocol: string;
  readonly port: number;
}

export interface ServiceFacts {
  /** namespace/name */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** type LoadBalancer with floatip's loadBalancerClass */
  readonly floatip: boolean;
  /** metadata.creationTimestamp: the oldest Service that opens a port sets its sources */
  readonly createdMs?: number;
  /** undefined or empty: the Service selects nothing by itself */
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly ports: readonly ServicePort[];
  /** spec.loadBalancerSourceRanges; empty = everywhere */
  readonly sourceRanges: readonly string[];
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip */
  readonly ingress: readonly string[];
  /** field managers other than floatip owning spec.externalIPs (the user's kubectl, Helm...) */
  readonly externalIPsOwners: readonly string[];
  /** floatip owns spec.externalIPs or status.loadBalancer.ingress: it has something to give back */
  readonly ownedByFloatip: boolean;
  /** spec.ipFamilies as the API server filled it in; absent = not known (no family warning) */
  readonly ipFamilies?: readonly string[];
}

/**
 * A labeled pod as the Service planner reads it: where it is, and its claims as the IP
 * controller judged them (ip/controller.ts ClaimsView) — the namespace IP policy applied,
 * each IP's conflict resolved. Only `addresses` are exposed.
 */
export interface PodClaims {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** the reserved IPs its workload won */
  readonly addresses: readonly ReservedAddress[];
  /** IPs it claims that another workload won (a conflict) */
  readonly lost?: readonly string[];
  /** why its namespace may not claim some of its IPs (the namespace IP policy) */
  readonly notAllowed?: string;
  /** IPs it may claim that the IP controller has not planned yet in this term (a new leader) */
  readonly pending?: readonly string[];
}

/** A node of the cluster with a droplet: the anchor its agent recorded, if any. */
export interface NodeAnchor {
  readonly nodeName: string;
  /** undefined: the annotation is absent or not an anchor address */
  readonly anchor: string | undefined;
  /** the annotation's value when it is not an anchor address (ignored) */
  readonly invalid?: string;
  /** why it is not: "\"8.8.8.8\" is not in the droplet anchor range 10.20.0.0/16" */
  readonly why?: string;
}

export interface Warning {
  readonly reason:
    | 'FloatingIPNoSelector'
    | 'FloatingIPNoAnnotation'
    | 'FloatingIPUnsupportedProtocol'
    | 'FloatingIPExternalIPsOverwritten'
    | 'FloatingIPNoAnchor'
    | 'FloatingIPNotWon'
    | 'FloatingIPNotAllowed'
    | 'FloatingIPExposeFailed'
    | 'FloatingIPNoIPv6Family';
  readonly message: string;
}

/** One entry of the externalIPs: an anchor (IPv4 path) or the reserved IPv6 itself. */
export interface Exposed {
  readonly externalIP: string;
  readonly ip: string;
  /** the droplet whose anchor this is; null for an IPv6 */
  readonly dropletId: number | null;
}

export type ServicePlan =
  /** not floatip's (any more) and nothing of ours on it */
  | { readonly kind: 'ignore' }
  /** not floatip's any more: give back spec.externalIPs and the ingress */
  | { readonly kind: 'release' }
  | {
      readonly kind: 'expose';
      readonly externalIPs: readonly string[];
      readonly ingress: readonly string[];
      readonly writeSpec: boolean;
      readonly writeStatus: boolean;
      readonly exposed: readonly Exposed[];
      readonly warnings: readonly Warning[];
    };

export interface FirewallRuleSpec {
  readonly protocol: 'tcp' | 'udp';
  /** one port, as DigitalOcean writes it ("8080") */
  readonly ports: string;
  readonly addresses: readonly string[];
}

export interface DesiredFirewall {
  readonly name: string;
  /** the cluster's worker tag k8s:<uuid> */
  readonly tag: string;
  readonly inbound: readonly FirewallRuleSpec[];
}
