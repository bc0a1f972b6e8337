// What the reconciler keeps of a pod, node or node Lease: the fields it reads (plan, triggers,
// Events, the exposure controllers), nothing else. A pod as a DOKS API server sends it is
// ~6.5 KiB of JSON (managedFields, containers, volumes, container statuses), a node ~9 KiB
// (its image list alone is several); slimmed, each is ~1.3 KiB. Reads of a missing field see
// undefined, as for an object that never had it, so every reader works on whole objects too.
import type { V1Lease, V1Node, V1ObjectMeta, V1OwnerReference, V1Pod } from '@kubernetes/client-node';

/** Annotations written by kubectl that can be as large as the object itself. */
const BULKY_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

/** `obj` without its undefined values, so a slim object has no keys it did not have. */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

function annotations(a: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!a || !Object.keys(a).some((k) => BULKY_ANNOTATIONS.has(k))) return a;
  return Object.fromEntries(Object.entries(a).filter(([k]) => !BULKY_ANNOTATIONS.has(k)));
}

const owner = (o: V1OwnerReference): V1OwnerReference => defined({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller });

/** Readers only ask whether a condition is True: its times, reason and message can go. */
const conditions = <T extends { type: string; status: string }>(list: readonly T[] | undefined): T[] | undefined => list?.map((c) => ({ type: c.type, status: c.status }) as T);

/** identity, ownership, labels and annotations; no managedFields, finalizers or generation */
function meta(m: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (!m) return undefined;
  return defined({
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    // ListWatch compares it to skip an update that changes nothing
    resourceVersion: m.resourceVersion,
    creationTimestamp: m.creationTimestamp,
    deletionTimestamp: m.deletionTimestamp,
    labels: m.labels,
    annotations: annotations(m.annotations),
    ownerReferences: m.ownerReferences?.map(owner),
  });
}

export function slimPod(pod: V1Pod): V1Pod {
  return defined({
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: meta(pod.metadata),
    // `containers` is required by the type; nothing in the reconciler reads it
    spec: pod.spec && defined({ nodeName: pod.spec.nodeName, tolerations: pod.spec.tolerations, containers: [] }),
    status: pod.status && defined({ phase: pod.status.phase, conditions: conditions(pod.status.conditions) }),
  });
}

export function slimNode(node: V1Node): V1Node {
  return defined({
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: meta(node.metadata),
    spec: node.spec && defined({ providerID: node.spec.providerID, unschedulable: node.spec.unschedulable, taints: node.spec.taints }),
    // InternalIP: where liveness probes reach the node's kubelet and agent (reconciler/liveness)
    status: node.status && defined({ conditions: conditions(node.status.conditions), addresses: node.status.addresses?.filter((a) => a.type === 'InternalIP') }),
  });
}

export function slimLease(lease: V1Lease): V1Lease {
  return defined({ apiVersion: lease.apiVersion, kind: lease.kind, metadata: meta(lease.metadata), spec: lease.spec });
}
