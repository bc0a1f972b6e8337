// Can this pod serve a reserved IP right now? Pure; the answer carries the reason when not.
import type { NodeFacts, PodFacts, Taint, Toleration } from './model.ts';

/**
 * Taints that mean "this node is going away or cannot serve", whatever the pod tolerates.
 * DaemonSet pods tolerate unschedulable/not-ready by default, yet an IP on a draining or
 * dying node must still be handed over.
 */
const LIFECYCLE_TAINTS = new Set([
  'node.kubernetes.io/unschedulable',
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/out-of-service',
  'node.kubernetes.io/network-unavailable',
  'ToBeDeletedByClusterAutoscaler',
]);

const BLOCKING_EFFECTS = new Set(['NoSchedule', 'NoExecute']);

export type Eligibility = { readonly ok: true; readonly dropletId: number; readonly node: NodeFacts } | { readonly ok: false; readonly why: string };

function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    // A NoExecute toleration with tolerationSeconds only delays the eviction: the pod is
    // leaving, so the IP is handed over now rather than when the pod is killed.
    if (taint.effect === 'NoExecute' && t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** The first reason the node cannot serve this pod's IP, or undefined when it can. */
export function nodeProblem(node: NodeFacts, tolerations: readonly Toleration[]): string | undefined {
  if (node.terminating) return `node ${node.name} is being deleted`;
  if (!node.ready) return `node ${node.name} is NotReady`;
  if (node.unschedulable) return `node ${node.name} is cordoned`;
  if (node.dropletId === null) return `node ${node.name} has no DigitalOcean providerID`;
  const taint = node.taints.find(
    (t) => BLOCKING_EFFECTS.has(t.effect) && (LIFECYCLE_TAINTS.has(t.key) || !tolerates(tolerations, t)),
  );
  if (taint) return `node ${node.name} has taint ${taint.key}:${taint.effect}`;
  return undefined;
}

export function podEligibility(pod: PodFacts, nodesByName: ReadonlyMap<string, NodeFacts>): Eligibility {
  const id = `pod ${pod.namespace}/${pod.name}`;
  if (pod.terminating) return { ok: false, why: `${id} is terminating` };
  if (pod.phase !== 'Running') return { ok: false, why: `${id} is ${pod.phase}` };
  if (!pod.ready) return { ok: false, why: `${id} is not Ready` };
  const node = pod.nodeName === undefined ? undefined : nodesByName.get(pod.nodeName);
  if (!node) return { ok: false, why: `${id} has no known node` };
  const problem = nodeProblem(node, pod.tolerations);
  if (problem !== undefined || node.dropletId === null) return { ok: false, why: problem ?? 'no droplet' };
  return { ok: true, dropletId: node.dropletId, node };
}

/** Oldest first, then by UID: the deterministic order used for every choice. */
export function byAge(a: PodFacts, b: PodFacts): number {
  return a.createdMs - b.createdMs || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);
}
