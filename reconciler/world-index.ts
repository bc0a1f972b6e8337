// The controller's view of the informer caches, kept up to date event by event, so that no
// reconcile run reads, parses or sorts the whole pod list: each pod and node object is parsed
// once (informer caches hand out the same object until it changes), and its facts go into
// the claim index (claims.ts) that plan() reads. Resync and start-up cost what the IPs cost;
// only `sync()` — once per leadership term — walks the lists.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { parseAddressList } from '../shared/addresses.ts';
import { ALLOW_ALL, notAllowedSummary } from '../shared/ip-policy.ts';
import type { IpPolicy } from '../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../shared/keys.ts';
import { createClaimIndex } from './claims.ts';
import type { ClaimView } from './claims.ts';
import type { PodFacts } from './model.ts';
import { nodeFacts, podFacts } from './snapshot.ts';

/** What one pod object says, parsed once. */
export interface PodEntry {
  /** the IPs its annotation lists; empty when absent or invalid */
  readonly ips: readonly string[];
  /** why the annotation cannot be used, when it is present and invalid */
  readonly invalid?: string;
  /** addresses the namespace IP policy refuses (left out of `ips`), and the sentence saying so */
  readonly notAllowed?: { readonly ips: readonly string[]; readonly message: string };
  /** undefined when the pod is ignored (no usable annotation, no uid or name) */
  readonly facts?: PodFacts;
}

export interface WorldIndex {
  /** an informer event; `pod` undefined: `old` was deleted */
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
  /**
   * Hold exactly these objects: at the start of a term, for a world that may have been
   * filled without events. Unchanged objects cost a map lookup each.
   */
  sync(pods: readonly V1Pod[], nodes: readonly V1Node[]): void;
  entry(pod: V1Pod): PodEntry;
  /** the object of a usable pod, so the actuator can attach Events to it */
  pod(uid: string): V1Pod | undefined;
  node(name: string): V1Node | undefined;
  /** the pods on a node, whatever their annotation */
  podsOn(nodeName: string): Iterable<V1Pod>;
  /** labelled pods whose annotation cannot be used, or lists an address the IP policy refuses */
  invalidPods(): Iterable<V1Pod>;
  /** every IP a usable annotation claims */
  claimedIps(): Iterable<string>;
  readonly claims: ClaimView;
}

/** The informer cache key: namespace/name (a pod recreated under its name replaces it). */
const keyOf = (obj: V1Pod | V1Node): string => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export function createWorldIndex(keys: FloatingIpKeys, policy: IpPolicy = ALLOW_ALL): WorldIndex {
  const entries = new WeakMap<V1Pod, PodEntry>();
  const claims = createClaimIndex();
  const pods = new Map<string, V1Pod>();
  const byUid = new Map<string, V1Pod>();
  const byNode = new Map<string, Set<V1Pod>>();
  const invalid = new Map<string, V1Pod>();
  const nodes = new Map<string, V1Node>();

  function entry(pod: V1Pod): PodEntry {
    const cached = entries.get(pod);
    if (cached) return cached;
    const f = podFacts(pod, keys, policy);
    const namespace = pod.metadata?.namespace ?? 'default';
    const refused = (ips: readonly string[]) => ({ ips, message: notAllowedSummary(policy, namespace, ips) });
    let e: PodEntry;
    if (!('ignored' in f)) e = { ips: f.addresses.map((a) => a.text), facts: f, ...(f.notAllowed ? { notAllowed: refused(f.notAllowed) } : {}) };
    else if (f.notAllowed) e = { ips: [], notAllowed: refused(f.notAllowed) };
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

  function removePod(key: string): void {
    const pod = pods.get(key);
    if (!pod) return;
    pods.delete(key);
    invalid.delete(key);
    const uid = entry(pod).facts?.uid;
    if (uid !== undefined && byUid.get(uid) === pod) byUid.delete(uid);
    const nodeName = pod.spec?.nodeName;
    const on = nodeName === undefined ? undefined : byNode.get(nodeName);
    on?.delete(pod);
    if (on?.size === 0) byNode.delete(nodeName as string);
    claims.setPod(key, undefined);
  }

  function setPod(pod: V1Pod): void {
    const key = keyOf(pod);
    if (pods.get(key) === pod) return;
    removePod(key);
    pods.set(key, pod);
    const e = entry(pod);
    if (e.invalid !== undefined || e.notAllowed !== undefined) invalid.set(key, pod);
    if (e.facts) byUid.set(e.facts.uid, pod);
    const nodeName = pod.spec?.nodeName;
    if (nodeName) {
      const on = byNode.get(nodeName);
      if (on) on.add(pod);
      else byNode.set(nodeName, new Set([pod]));
    }
    claims.setPod(key, e.facts);
  }

  function setNode(name: string, node: V1Node | undefined): void {
    if (nodes.get(name) === node) return;
    if (node) nodes.set(name, node);
    else nodes.delete(name);
    claims.setNode(name, node && nodeFacts(node));
  }

  const nameOf = (node: V1Node): string => node.metadata?.name ?? '';

  return {
    podChanged(pod, old) {
      if (pod) setPod(pod);
      else if (old) removePod(keyOf(old));
    },
    nodeChanged(node, old) {
      if (node) setNode(nameOf(node), node);
      else if (old) setNode(nameOf(old), undefined);
    },
    sync(podList, nodeList) {
      const podKeys = new Set<string>();
      for (const pod of podList) {
        setPod(pod);
        podKeys.add(keyOf(pod));
      }
      for (const key of [...pods.keys()]) if (!podKeys.has(key)) removePod(key);
      const names = new Set<string>();
      for (const node of nodeList) {
        setNode(nameOf(node), node);
        names.add(nameOf(node));
      }
      for (const name of [...nodes.keys()]) if (!names.has(name)) setNode(name, undefined);
    },
    entry,
    pod: (uid) => byUid.get(uid),
    node: (name) => nodes.get(name),
    podsOn: (nodeName) => byNode.get(nodeName) ?? [],
    invalidPods: () => invalid.values(),
    claimedIps: () => claims.claimedIps(),
    claims,
  };
}
