// Turns informer objects (V1Pod, V1Node) into the plain facts `plan()` decides on (the
// controller adds DigitalOcean's holders). All Kubernetes field reading lives here.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseAddressList } from '../shared/addresses.ts';
import type { ReservedAddress } from '../shared/addresses.ts';
import { ALLOW_ALL, notAllowedSummary } from '../shared/ip-policy.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { NodeFacts, PodFacts } from './model.ts';

export interface IgnoredPod {
  readonly pod: V1Pod;
  readonly reason: string;
}

export interface PodIndex {
  readonly facts: readonly PodFacts[];
  /** uid → object, so the actuator can attach Events to the pod */
  readonly byUid: ReadonlyMap<string, V1Pod>;
  /** labelled pods whose annotation cannot be used, with the reason */
  readonly ignored: readonly IgnoredPod[];
}

const PROVIDER_PREFIX = 'digitalocean://';

/** `digitalocean://123` → 123; anything else → null (not a DigitalOcean droplet). */
export function dropletIdOf(providerId: string | undefined): number | null {
  if (!providerId?.startsWith(PROVIDER_PREFIX)) return null;
  const rest = providerId.slice(PROVIDER_PREFIX.length);
  if (!/^[1-9][0-9]{0,15}$/.test(rest)) return null;
  return Number(rest);
}

/**
 * The workload a pod belongs to. A Deployment's pods are owned by one ReplicaSet per
 * revision; stripping the pod-template-hash keeps a rolling update one workload instead
 * of a conflict between old and new ReplicaSets. Bare pods share the empty owner, so bare
 * pods with the same annotation value act as one workload.
 */
export function ownerKey(pod: V1Pod): string {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return '';
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return `ReplicaSet/${owner.name.slice(0, -hash.length - 1)}`;
  }
  return `${owner.kind}/${owner.uid}`;
}

const isTrue = (conditions: { type: string; status: string }[] | undefined, type: string): boolean =>
  conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

const timeMs = (t: Date | string | undefined): number => (t === undefined ? 0 : new Date(t).getTime());

/** A pod floatip does not act on; `notAllowed`: every address it lists is refused by the IP policy. */
export interface IgnoredFacts {
  readonly ignored: string;
  readonly notAllowed?: readonly string[];
}

/**
 * The namespace IP policy is applied here, where pod facts are made, so that every part of
 * the reconciler (claims, triggers, plan) sees a refused address as never claimed.
 */
export function podFacts(pod: V1Pod, keys: FloatingIpKeys, policy: IpPolicy = ALLOW_ALL): PodFacts | IgnoredFacts {
  const meta = pod.metadata;
  if (!meta?.uid || !meta.name) return { ignored: 'pod has no uid or name' };
  const value = meta.annotations?.[keys.annotation];
  if (value === undefined) return { ignored: `pod has no ${keys.annotation} annotation` };
  const parsed = parseAddressList(value);
  if (!parsed.ok) return { ignored: parsed.reason };
  const namespace = meta.namespace ?? 'default';
  const addresses: ReservedAddress[] = [];
  const notAllowed: string[] = [];
  for (const a of parsed.addresses) {
    if (policy.allows(namespace, a.text)) addresses.push(a);
    else notAllowed.push(a.text);
  }
  if (addresses.length === 0) return { ignored: notAllowedSummary(policy, namespace, notAllowed), notAllowed };
  return {
    uid: meta.uid,
    namespace,
    name: meta.name,
    phase: pod.status?.phase ?? 'Unknown',
    ready: isTrue(pod.status?.conditions, 'Ready'),
    terminating: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    nodeName: pod.spec?.nodeName,
    createdMs: timeMs(meta.creationTimestamp),
    owner: ownerKey(pod),
    claim: addresses.map((a) => a.text).join(','),
    addresses: addresses.map((a) => ({ text: a.text, family: a.family })),
    tolerations: pod.spec?.tolerations ?? [],
    ...(notAllowed.length > 0 ? { notAllowed } : {}),
  };
}

export function indexPods(pods: readonly V1Pod[], keys: FloatingIpKeys, policy: IpPolicy = ALLOW_ALL): PodIndex {
  const facts: PodFacts[] = [];
  const byUid = new Map<string, V1Pod>();
  const ignored: IgnoredPod[] = [];
  for (const pod of pods) {
    const f = podFacts(pod, keys, policy);
    if ('ignored' in f) {
      ignored.push({ pod, reason: f.ignored });
      continue;
    }
    facts.push(f);
    byUid.set(f.uid, pod);
  }
  return { facts, byUid, ignored };
}

export function nodeFacts(node: V1Node): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    uid: node.metadata?.uid ?? '',
    ready: isTrue(node.status?.conditions, 'Ready'),
    unschedulable: node.spec?.unschedulable === true,
    terminating: node.metadata?.deletionTimestamp !== undefined && node.metadata?.deletionTimestamp !== null,
    dropletId: dropletIdOf(node.spec?.providerID),
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
  };
}
