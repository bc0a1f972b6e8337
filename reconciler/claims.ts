// Who claims each reserved IP, kept up to date pod by pod and node by node, so a decision
// reads what it needs for its IP — the winning workload, its oldest eligible claimant on a
// free droplet, the claimant on the holder's droplet — without scanning or sorting the
// claimants. Per workload, the pods claiming each IP and the eligible ones among them are
// kept in age order (oldest first, then UID: eligibility.ts `byAge`) as they change; a node
// change re-judges only the pods on that node. world-index.ts feeds it from the informers;
// plan() builds one from a pod list when it is given one (the table tests).
import { byAge, podEligibility } from './eligibility.ts';
import type { Eligibility } from './eligibility.ts';
import type { NodeFacts, PodFacts } from './model.ts';

export interface Candidate {
  readonly pod: PodFacts;
  readonly dropletId: number;
  readonly node: NodeFacts;
}

/** One workload (the pods of a namespace and owner) as plan() reads it. */
export interface WorkloadView {
  readonly key: string;
  /** its oldest pod: the workload with the oldest pod wins a conflict */
  oldest(): PodFacts;
  /** every IP its pods claim, in annotation order (the oldest pod's first) */
  addresses(): readonly string[];
  /** its pods whose annotation lists `ip`, oldest first */
  claimants(ip: string): readonly PodFacts[];
  /** those of them that are eligible now, oldest first */
  eligible(ip: string): readonly Candidate[];
  /** the oldest eligible claimant of `ip` on this droplet */
  eligibleOn(dropletId: number, ip: string): Candidate | undefined;
  /** the oldest claimant of `ip` on this node, eligible or not */
  claimantOn(nodeName: string, ip: string): PodFacts | undefined;
}

export interface ClaimView {
  /** the workloads claiming `ip`, the winner (oldest) first */
  workloads(ip: string): readonly WorkloadView[];
  /** the node of this droplet (the last one set, should two name the same droplet) */
  nodeOfDroplet(dropletId: number): NodeFacts | undefined;
  nodes(): Iterable<NodeFacts>;
  eligibility(pod: PodFacts): Eligibility;
}

export interface ClaimIndex extends ClaimView {
  /** set (or, with undefined, remove) the pod known under `key` */
  setPod(key: string, facts: PodFacts | undefined): void;
  setNode(name: string, facts: NodeFacts | undefined): void;
  /** every IP some pod claims, in the order they were first claimed */
  claimedIps(): Iterable<string>;
}

export const workloadKey = (pod: PodFacts): string => `${pod.namespace}\n${pod.owner}`;
const claimsIp = (pod: PodFacts, ip: string): boolean => pod.addresses.some((a) => a.text === ip);
const candidateAge = (a: Candidate, b: Candidate): number => byAge(a.pod, b.pod);

/** Insert after the elements that compare equal: equal elements keep the order they came in. */
function insertSorted<T>(list: T[], item: T, cmp: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(list[mid] as T, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

function removeSorted<T>(list: T[], item: T, cmp: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(list[mid] as T, item) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < list.length && cmp(list[i] as T, item) === 0; i++) {
    if (list[i] === item) {
      list.splice(i, 1);
      return;
    }
  }
}

function addTo<K, T>(map: Map<K, T[]>, key: K, item: T, cmp: (a: T, b: T) => number): boolean {
  const list = map.get(key);
  if (list) insertSorted(list, item, cmp);
  else map.set(key, [item]);
  return list === undefined;
}

/** true when the key's list became empty (and was dropped) */
function removeFrom<K, T>(map: Map<K, T[]>, key: K, item: T, cmp: (a: T, b: T) => number): boolean {
  const list = map.get(key);
  if (!list) return false;
  removeSorted(list, item, cmp);
  if (list.length > 0) return false;
  map.delete(key);
  return true;
}

class Workload implements WorkloadView {
  readonly key: string;
  /** every pod, oldest first */
  readonly pods: PodFacts[] = [];
  readonly byIp = new Map<string, PodFacts[]>();
  readonly eligibleByIp = new Map<string, Candidate[]>();
  readonly eligibleByDroplet = new Map<number, Candidate[]>();
  readonly byNode = new Map<string, PodFacts[]>();
  /** pods by annotation value: a rollout that edits it has two, otherwise there is one */
  readonly byClaim = new Map<string, PodFacts[]>();
  #addresses: string[] | undefined;

  constructor(key: string) {
    this.key = key;
  }

  oldest(): PodFacts {
    return this.pods[0] as PodFacts;
  }

  addresses(): readonly string[] {
    // Pods with one annotation value claim the same IPs, so the union over the pods in age
    // order is the union over the values ordered by their oldest pod.
    this.#addresses ??= [
      ...new Set(
        [...this.byClaim.values()]
          .sort((a, b) => byAge(a[0] as PodFacts, b[0] as PodFacts))
          .flatMap((pods) => (pods[0] as PodFacts).addresses.map((a) => a.text)),
      ),
    ];
    return this.#addresses;
  }

  claimants(ip: string): readonly PodFacts[] {
    return this.byIp.get(ip) ?? [];
  }

  eligible(ip: string): readonly Candidate[] {
    return this.eligibleByIp.get(ip) ?? [];
  }

  eligibleOn(dropletId: number, ip: string): Candidate | undefined {
    return this.eligibleByDroplet.get(dropletId)?.find((c) => claimsIp(c.pod, ip));
  }

  claimantOn(nodeName: string, ip: string): PodFacts | undefined {
    return this.byNode.get(nodeName)?.find((p) => claimsIp(p, ip));
  }

  /** the IPs whose claimants list became empty or new are returned for the ip → workloads index */
  add(pod: PodFacts): string[] {
    insertSorted(this.pods, pod, byAge);
    addTo(this.byClaim, pod.claim, pod, byAge);
    if (pod.nodeName !== undefined) addTo(this.byNode, pod.nodeName, pod, byAge);
    this.#addresses = undefined;
    return pod.addresses.filter((a) => addTo(this.byIp, a.text, pod, byAge)).map((a) => a.text);
  }

  remove(pod: PodFacts): string[] {
    removeSorted(this.pods, pod, byAge);
    removeFrom(this.byClaim, pod.claim, pod, byAge);
    if (pod.nodeName !== undefined) removeFrom(this.byNode, pod.nodeName, pod, byAge);
    this.#addresses = undefined;
    return pod.addresses.filter((a) => removeFrom(this.byIp, a.text, pod, byAge)).map((a) => a.text);
  }

  addCandidate(c: Candidate): void {
    for (const a of c.pod.addresses) addTo(this.eligibleByIp, a.text, c, candidateAge);
    addTo(this.eligibleByDroplet, c.dropletId, c, candidateAge);
  }

  removeCandidate(c: Candidate): void {
    for (const a of c.pod.addresses) removeFrom(this.eligibleByIp, a.text, c, candidateAge);
    removeFrom(this.eligibleByDroplet, c.dropletId, c, candidateAge);
  }
}

interface PodRecord {
  readonly facts: PodFacts;
  readonly workload: Workload;
  candidate: Candidate | undefined;
}

const byOldestPod = (a: Workload, b: Workload): number => byAge(a.oldest(), b.oldest());

export function createClaimIndex(): ClaimIndex {
  const pods = new Map<string, PodRecord>();
  const workloads = new Map<string, Workload>();
  /** ip → the workloads claiming it, winner first */
  const claims = new Map<string, Workload[]>();
  /** node name → the pods on it, to judge them again when the node changes */
  const onNode = new Map<string, Set<PodRecord>>();
  const nodes = new Map<string, NodeFacts>();
  /** droplet → names of the nodes on it, the last set last */
  const dropletNodes = new Map<number, string[]>();

  function judge(record: PodRecord): void {
    const e = podEligibility(record.facts, nodes);
    if (record.candidate) record.workload.removeCandidate(record.candidate);
    record.candidate = e.ok ? { pod: record.facts, dropletId: e.dropletId, node: e.node } : undefined;
    if (record.candidate) record.workload.addCandidate(record.candidate);
  }

  /** A workload's age may have changed: its IPs' winner order with it. */
  function reorder(w: Workload): void {
    for (const ip of w.byIp.keys()) claims.get(ip)?.sort(byOldestPod);
  }

  function removePod(key: string, record: PodRecord): void {
    pods.delete(key);
    const w = record.workload;
    if (record.candidate) w.removeCandidate(record.candidate);
    for (const ip of w.remove(record.facts)) {
      const list = claims.get(ip) ?? [];
      const at = list.indexOf(w);
      if (at !== -1) list.splice(at, 1);
      if (list.length === 0) claims.delete(ip);
    }
    const node = record.facts.nodeName;
    if (node !== undefined) {
      const set = onNode.get(node);
      set?.delete(record);
      if (set?.size === 0) onNode.delete(node);
    }
    if (w.pods.length === 0) workloads.delete(w.key);
    else reorder(w);
  }

  function addPod(key: string, facts: PodFacts): void {
    const wKey = workloadKey(facts);
    let w = workloads.get(wKey);
    if (!w) {
      w = new Workload(wKey);
      workloads.set(wKey, w);
    }
    const record: PodRecord = { facts, workload: w, candidate: undefined };
    pods.set(key, record);
    for (const ip of w.add(facts)) {
      const list = claims.get(ip);
      if (list) list.push(w);
      else claims.set(ip, [w]);
    }
    reorder(w);
    if (facts.nodeName !== undefined) {
      const set = onNode.get(facts.nodeName);
      if (set) set.add(record);
      else onNode.set(facts.nodeName, new Set([record]));
    }
    judge(record);
  }

  return {
    setPod(key, facts) {
      const before = pods.get(key);
      if (before?.facts === facts) return;
      if (before) removePod(key, before);
      if (facts) addPod(key, facts);
    },
    setNode(name, facts) {
      const before = nodes.get(name);
      if (before === facts) return;
      if (before?.dropletId != null) {
        const names = (dropletNodes.get(before.dropletId) ?? []).filter((n) => n !== name);
        if (names.length === 0) dropletNodes.delete(before.dropletId);
        else dropletNodes.set(before.dropletId, names);
      }
      if (facts) {
        nodes.set(name, facts);
        if (facts.dropletId !== null) dropletNodes.set(facts.dropletId, [...(dropletNodes.get(facts.dropletId) ?? []), name]);
      } else nodes.delete(name);
      for (const record of onNode.get(name) ?? []) judge(record);
    },
    claimedIps: () => claims.keys(),
    workloads: (ip) => claims.get(ip) ?? [],
    nodeOfDroplet(dropletId) {
      const name = dropletNodes.get(dropletId)?.at(-1);
      return name === undefined ? undefined : nodes.get(name);
    },
    nodes: () => nodes.values(),
    eligibility: (pod) => podEligibility(pod, nodes),
  };
}

/** An index of these pods and nodes, for a plan from a list (the key is the list position). */
export function claimIndexOf(pods: readonly PodFacts[], nodes: readonly NodeFacts[]): ClaimIndex {
  const index = createClaimIndex();
  for (const n of nodes) index.setNode(n.name, n);
  pods.forEach((p, i) => index.setPod(String(i), p));
  return index;
}
