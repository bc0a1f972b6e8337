// Keeps a reconcile run's cost independent of the number of pods. Informer caches hand out
// the same object until it changes (then a new one), so each pod's and node's facts are
// parsed once per object, and an index ip → claimant pods lets a run plan from the few pods
// that matter for its IP instead of sorting and grouping the whole cluster.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseAddressList } from '../shared/addresses.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { NodeFacts, PodFacts } from './model.ts';
import { workloadKey } from './plan.ts';
import { nodeFacts, podFacts } from './snapshot.ts';

/** What one pod object says, parsed once. */
export interface PodEntry {
  /** the IPs its annotation lists; empty when absent or invalid */
  readonly ips: readonly string[];
  /** why the annotation cannot be used, when it is present and invalid */
  readonly invalid?: string;
  /** undefined when the pod is ignored (no usable annotation, no uid or name) */
  readonly facts?: PodFacts;
}

export interface ClaimIndex {
  /** uid → object of every usable pod, so the actuator can attach Events to it */
  readonly byUid: ReadonlyMap<string, V1Pod>;
  /** ip → facts of the usable pods whose annotation lists it, in list order */
  readonly claimants: ReadonlyMap<string, readonly PodFacts[]>;
  /** node name → the pods on it (any annotation) */
  readonly byNode: ReadonlyMap<string, readonly V1Pod[]>;
  /** position of each usable pod in the list, to keep plan inputs in list order */
  readonly position: ReadonlyMap<PodFacts, number>;
  /** workload (namespace + owner) → its usable pods */
  readonly byWorkload: ReadonlyMap<string, readonly PodFacts[]>;
}

export interface WorldCache {
  entry(pod: V1Pod): PodEntry;
  /** the index of this pod list; the previous one when the list holds the same objects */
  pods(list: readonly V1Pod[]): ClaimIndex;
  /** the facts of this node list; the previous array when the list holds the same objects */
  nodes(list: readonly V1Node[]): readonly NodeFacts[];
}

const sameObjects = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function createWorldCache(keys: FloatingIpKeys): WorldCache {
  const entries = new WeakMap<V1Pod, PodEntry>();
  const nodeEntries = new WeakMap<V1Node, NodeFacts>();
  let lastPods: readonly V1Pod[] | undefined;
  let lastIndex: ClaimIndex | undefined;
  let lastNodes: readonly V1Node[] | undefined;
  let lastNodeFacts: readonly NodeFacts[] = [];

  function entry(pod: V1Pod): PodEntry {
    const cached = entries.get(pod);
    if (cached) return cached;
    const f = podFacts(pod, keys);
    let e: PodEntry;
    if (!('ignored' in f)) e = { ips: f.addresses.map((a) => a.text), facts: f };
    else {
      // Ignored pods are rare (no uid or name, or a bad annotation): parsing twice is fine.
      const value = pod.metadata?.annotations?.[keys.annotation];
      const parsed = value === undefined ? undefined : parseAddressList(value);
      if (!parsed) e = { ips: [] };
      else e = parsed.ok ? { ips: parsed.addresses.map((a) => a.text) } : { ips: [], invalid: parsed.reason };
    }
    entries.set(pod, e);
    return e;
  }

  function index(list: readonly V1Pod[]): ClaimIndex {
    const byUid = new Map<string, V1Pod>();
    const claimants = new Map<string, PodFacts[]>();
    const byNode = new Map<string, V1Pod[]>();
    const position = new Map<PodFacts, number>();
    const byWorkload = new Map<string, PodFacts[]>();
    list.forEach((pod, i) => {
      const nodeName = pod.spec?.nodeName;
      if (nodeName) {
        const on = byNode.get(nodeName);
        if (on) on.push(pod);
        else byNode.set(nodeName, [pod]);
      }
      const f = entry(pod).facts;
      if (!f) return;
      byUid.set(f.uid, pod);
      position.set(f, i);
      const members = byWorkload.get(workloadKey(f));
      if (members) members.push(f);
      else byWorkload.set(workloadKey(f), [f]);
      for (const a of f.addresses) {
        const claim = claimants.get(a.text);
        if (claim) claim.push(f);
        else claimants.set(a.text, [f]);
      }
    });
    return { byUid, claimants, byNode, position, byWorkload };
  }

  return {
    entry,
    pods(list) {
      if (!lastIndex || !lastPods || !sameObjects(list, lastPods)) {
        lastIndex = index(list);
        lastPods = [...list]; // a copy: the source may change its array in place
      }
      return lastIndex;
    },
    nodes(list) {
      if (!lastNodes || !sameObjects(list, lastNodes)) {
        lastNodeFacts = list.map((n) => {
          const cached = nodeEntries.get(n) ?? nodeFacts(n);
          nodeEntries.set(n, cached);
          return cached;
        });
        lastNodes = [...list];
      }
      return lastNodeFacts;
    },
  };
}

/**
 * The pods `plan()` needs to decide `ip`, in list order: every workload claiming it (all its
 * pods, whatever their annotation: a rollout may be half-way through editing it), and every
 * workload claiming another IP of those workloads — placing a pool asks which IPs its
 * workload wins, and those may be claimed by older workloads too. Other IPs' holders come
 * from the per-IP memory, not from pods.
 */
export function podsFor(index: ClaimIndex, ip: string): PodFacts[] {
  const direct = index.claimants.get(ip) ?? [];
  const workloads = new Set(direct.map(workloadKey));
  const ips = new Set([ip]);
  for (const w of workloads) for (const pod of index.byWorkload.get(w) ?? []) for (const a of pod.addresses) ips.add(a.text);
  for (const other of ips) for (const pod of index.claimants.get(other) ?? []) workloads.add(workloadKey(pod));
  if (workloads.size === 1 && ips.size === 1) return [...(index.byWorkload.get([...workloads][0] as string) ?? [])];
  const pods = [...workloads].flatMap((w) => index.byWorkload.get(w) ?? []);
  return pods.sort((a, b) => (index.position.get(a) ?? 0) - (index.position.get(b) ?? 0));
}
