// The pure input and output of `plan()`: plain data, no client-node objects, no clock.
// `snapshot.ts` builds it from the informer caches and DigitalOcean's holders.

export type Family = 4 | 6;

export interface ClaimedAddress {
  readonly text: string;
  readonly family: Family;
}

export interface Toleration {
  readonly key?: string | undefined;
  readonly operator?: string | undefined;
  readonly value?: string | undefined;
  readonly effect?: string | undefined;
  /** NoExecute only: the pod is evicted after this many seconds */
  readonly tolerationSeconds?: number | null | undefined;
}

export interface Taint {
  readonly key: string;
  readonly value?: string | undefined;
  readonly effect: string;
}

export interface PodFacts {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly nodeName: string | undefined;
  readonly createdMs: number;
  /** the workload the pod belongs to, e.g. "Deployment-ish/web" (see snapshot.ts ownerKey) */
  readonly owner: string;
  /** canonical annotation value (the workload is `owner`, whatever the value: a rollout that edits it stays one workload) */
  readonly claim: string;
  readonly addresses: readonly ClaimedAddress[];
  readonly tolerations: readonly Toleration[];
  /** addresses of the annotation that the namespace IP policy drops (absent when none) */
  readonly notAllowed?: readonly string[];
}

export interface NodeFacts {
  readonly name: string;
  readonly uid: string;
  readonly ready: boolean;
  readonly unschedulable: boolean;
  readonly terminating: boolean;
  /** from spec.providerID `digitalocean://<id>`; null when absent or not a DigitalOcean node */
  readonly dropletId: number | null;
  readonly taints: readonly Taint[];
}

/** DigitalOcean's view of one reserved IP */
export interface HolderFacts {
  readonly family: Family;
  readonly dropletId: number | null;
  readonly locked: boolean;
}

export interface PlanConfig {
  readonly coolOffMs: number;
  readonly unassignWhenUnplaced: boolean;
  /**
   * Claim policy: IPs (or CIDRs) that may be taken from a droplet outside this cluster.
   * Everything else held by such a droplet is left alone and reported.
   */
  readonly adoptable: (ip: string) => boolean;
  /** new evidence cuts a retry backoff short, but not to less than this after the last attempt */
  readonly retryFloorMs: number;
  /** how often to look at an IP whose DigitalOcean action is still running */
  readonly pendingPollMs: number;
  /**
   * Heartbeat-based failover: a holder whose node Lease is older than the grace (half the
   * Lease's own duration, or `graceMs`) loses the IP to a pod on a node with a fresh Lease.
   */
  readonly heartbeat?: { readonly enabled: boolean; readonly graceMs?: number | undefined } | undefined;
}

/** A kubelet's heartbeat: its node Lease (kube-node-lease/<node>) */
export interface Heartbeat {
  /** renewTime, on this process's clock */
  readonly renewMs: number;
  /** leaseDurationSeconds × 1000 */
  readonly durationMs: number;
}

export interface Snapshot {
  /** the IPs to decide about now (usually one; the rest of the world is context) */
  readonly targets: readonly string[];
  readonly pods: readonly PodFacts[];
  readonly nodes: readonly NodeFacts[];
  /** droplet id → name of a node deleted while this process watched (says why a holder left) */
  readonly deletedNodes?: ReadonlyMap<number, string>;
  /** tags of droplets that hold an IP but are no node (looked up; absent = unknown) */
  readonly dropletTags?: ReadonlyMap<number, readonly string[]>;
  /** this cluster's worker tag `k8s:<cluster-uuid>`, when known */
  readonly clusterTag?: string | undefined;
  /** node name → its heartbeat (absent: unknown, never judged stale) */
  readonly heartbeats?: ReadonlyMap<string, Heartbeat> | undefined;
  /**
   * droplet → when its liveness probes started failing, for droplets confirmed dead by the
   * leader's probes and the agents' indirect probes (reconciler/liveness); absent: probes off
   */
  readonly unreachable?: ReadonlyMap<number, number> | undefined;
  readonly config: PlanConfig;
}

export interface PodRef {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

/**
 * Reason codes (few, stable: they label the moves metric):
 * - unassigned: the IP had no holder
 * - holder-node-deleted: the holder's node was deleted (the droplet is gone or leaving)
 * - holder-outside-cluster: the holder droplet is not a node of this cluster (drift, moved by hand)
 * - holder-not-eligible: the holder droplet has no eligible pod (NotReady, cordoned, tainted, pod gone…)
 * - conflict-winner: the IP sits with the losing workload of a conflict and goes to the winner
 * - conflict: another workload — the one holding the IP, or else the oldest — claims the same IP (report on the loser)
 * - unplaced: no eligible pod (or none on a droplet free for this IP family)
 * - held-outside-cluster: a droplet outside this cluster holds the IP; the claim policy leaves it
 * - holder-heartbeat-lost: the holder's node stopped renewing its Lease (before NotReady)
 * - holder-unreachable: liveness probes found the holder droplet dead (the leader's and other nodes')
 */
export type Reason =
  | 'unassigned'
  | 'holder-node-deleted'
  | 'holder-outside-cluster'
  | 'holder-not-eligible'
  | 'conflict-winner'
  | 'conflict'
  | 'unplaced'
  | 'held-outside-cluster'
  | 'holder-heartbeat-lost'
  | 'holder-unreachable';

export interface Action {
  readonly type: 'assign' | 'unassign' | 'report';
  readonly ip: string;
  readonly reason: Reason;
  /** one human sentence for Events and logs */
  readonly detail: string;
  readonly dropletId?: number;
  readonly pod?: PodRef;
  readonly node?: string;
  /** reports only: what makes this report the same one again (it is made once while true) */
  readonly reportKey?: string;
}

/**
 * `starting`: unassigned, and every claimant pod is still starting (see STARTUP_GRACE_MS);
 * `foreign`: held by a droplet outside the cluster that the claim policy does not take from.
 */
export type IpState = 'placed' | 'moving' | 'waiting' | 'starting' | 'unplaced' | 'unclaimed' | 'foreign';

export interface IpStatus {
  readonly ip: string;
  readonly state: IpState;
  /** DigitalOcean's holder when planned */
  readonly holder: number | null;
  /** the droplet that should hold it, null when none */
  readonly desired: number | null;
  /** the holder was serving and no longer is: a failover is under way */
  readonly holderLost: boolean;
  /** every report that is true now (made once each; see ip-state.ts `reported`) */
  readonly reportKeys: readonly string[];
  /** the holder's node has missed its heartbeat, or (why: unreachable) failed its liveness probes, since `lostSinceMs` */
  readonly suspect?: { readonly node: string; readonly lostSinceMs: number; readonly why?: 'unreachable' } | undefined;
  /** the workload (claims.ts workloadKey) that wins the IP; absent when nobody claims it */
  readonly winner?: string;
}

/** DigitalOcean's holder of a reserved IP as the IP controller knows it (the Service controller reads it). */
export interface HolderEntry {
  readonly ip: string;
  readonly family: Family;
  readonly dropletId: number | null;
  /** target of an assign in flight or pending, if any */
  readonly movingTo?: number | null;
}

export interface PlanResult {
  readonly actions: readonly Action[];
  readonly statuses: readonly IpStatus[];
  /** plan again after this long even without new evidence (pending action, cool-off, backoff) */
  readonly requeueAfterMs?: number;
  /** what the node Leases said (heartbeats on): nodes judged, stale ones, and whether the guard held */
  readonly heartbeat?: { readonly known: number; readonly stale: number; readonly guarded: boolean };
}
