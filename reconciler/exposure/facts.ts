// Kubernetes objects → the facts the exposure planners read. Pure; each object is parsed
// where it is needed, the planners never see a V1Service.
import type { V1ManagedFieldsEntry, V1Node, V1Service } from '@kubernetes/client-node';
import { checkAnchor, DEFAULT_ANCHORS } from '../../shared/anchors.ts';
import type { AnchorRange } from '../../shared/anchors.ts';
import { dropletIdOf } from '../snapshot.ts';
import type { NodeAnchor, ServiceFacts } from './model.ts';

/** The field manager of everything floatip writes on Services (server-side apply). */
export const FIELD_MANAGER = 'floatip';

type Fields = Record<string, unknown>;
const child = (f: unknown, key: string): unknown => (f !== null && typeof f === 'object' ? (f as Fields)[key] : undefined);

function owns(entry: V1ManagedFieldsEntry, path: readonly string[], subresource: string): boolean {
  if ((entry.subresource ?? '') !== subresource) return false;
  let f: unknown = entry.fieldsV1;
  for (const key of path) f = child(f, key);
  return f !== undefined;
}

const EXTERNAL_IPS = ['f:spec', 'f:externalIPs'];
const INGRESS = ['f:status', 'f:loadBalancer', 'f:ingress'];

/** The one test of "is this Service floatip's": type LoadBalancer with floatip's loadBalancerClass. */
export function isFloatipService(svc: V1Service | undefined, loadBalancerClass: string): boolean {
  return svc?.spec?.type === 'LoadBalancer' && svc.spec.loadBalancerClass === loadBalancerClass;
}

function createdMsOf(t: unknown): { createdMs?: number } {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : Number.NaN;
  return Number.isFinite(ms) ? { createdMs: ms } : {};
}

export function serviceFacts(svc: V1Service, loadBalancerClass: string): ServiceFacts {
  const namespace = svc.metadata?.namespace ?? '';
  const name = svc.metadata?.name ?? '';
  const managed = svc.metadata?.managedFields ?? [];
  const spec = svc.spec;
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    floatip: isFloatipService(svc, loadBalancerClass),
    ...createdMsOf(svc.metadata?.creationTimestamp),
    selector: spec?.selector,
    ports: (spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port })),
    sourceRanges: spec?.loadBalancerSourceRanges ?? [],
    externalIPs: spec?.externalIPs ?? [],
    ingress: (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])),
    externalIPsOwners: [...new Set(managed.filter((m) => m.manager !== FIELD_MANAGER && owns(m, EXTERNAL_IPS, '')).map((m) => m.manager ?? 'unknown'))],
    ...(spec?.ipFamilies ? { ipFamilies: spec.ipFamilies } : {}),
    ownedByFloatip: managed.some((m) => m.manager === FIELD_MANAGER && (owns(m, EXTERNAL_IPS, '') || owns(m, INGRESS, 'status'))),
  };
}

/**
 * A node on a DigitalOcean droplet → [droplet id, its recorded anchor]; null otherwise. Only a
 * droplet anchor address (shared/anchors.ts) counts: anything else the annotation says is
 * ignored (`invalid`, `why`) and never reaches a Service — kube-proxy would capture traffic
 * to it from inside the cluster (8.8.8.8), or the Service write would fail (127.0.0.1).
 */
export function nodeAnchor(node: V1Node, annotation: string, anchors: AnchorRange = DEFAULT_ANCHORS): [number, NodeAnchor] | null {
  const dropletId = dropletIdOf(node.spec?.providerID);
  if (dropletId === null) return null;
  const nodeName = node.metadata?.name ?? '';
  const value = node.metadata?.annotations?.[annotation];
  if (value === undefined) return [dropletId, { nodeName, anchor: undefined }];
  const checked = checkAnchor(value, anchors);
  return checked.ok ? [dropletId, { nodeName, anchor: checked.anchor }] : [dropletId, { nodeName, anchor: undefined, invalid: value.slice(0, 64), why: checked.why }];
}

/** Does the Service's selector match these labels? An empty selector matches nothing here. */
export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
