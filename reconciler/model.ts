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
  /** canonical annotation value: pods of one workload with the same value form one group */
  readonly claim: string;
  readonly addresses: readonly ClaimedAddress[];
  readonly tolerations: readonly Toleration[];
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

/** What the controller remembers per IP between runs */
export interface IpMemory {
  /** when the last assign/unassign of this IP completed (cool-off starts here) */
  readonly lastMoveMs?: number;
  /** an action DigitalOcean reported in progress; we wait for it until `expiresMs` */
  readonly pending?: { readonly dropletId: number | null; readonly expiresMs: number; readonly reason?: string };
  /** first evidence that the holder stopped being eligible (failover metric start) */
  readonly holderLostMs?: number;
}

export interface PlanConfig {
  readonly coolOffMs: number;
  readonly unassignWhenUnplaced: boolean;
}

export interface Snapshot {
  /** the IPs to decide about now (usually one; the rest of the world is context) */
  readonly targets: readonly string[];
  readonly pods: readonly PodFacts[];
  readonly nodes: readonly NodeFacts[];
  /** every reserved IP of the account, keyed by canonical text */
  readonly holders: ReadonlyMap<string, HolderFacts>;
  readonly memory: ReadonlyMap<string, IpMemory>;
  /** droplet id → name of a node deleted while this process watched (says why a holder left) */
  readonly deletedNodes?: ReadonlyMap<number, string>;
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
 * - conflict: another, older workload claims the same IP (report on the loser)
 * - unplaced: no eligible pod (or none on a droplet free for this IP family)
 */
export type Reason =
  | 'unassigned'
  | 'holder-node-deleted'
  | 'holder-outside-cluster'
  | 'holder-not-eligible'
  | 'conflict-winner'
  | 'conflict'
  | 'unplaced';

export interface Action {
  readonly type: 'assign' | 'unassign' | 'report';
  readonly ip: string;
  readonly reason: Reason;
  /** one human sentence for Events and logs */
  readonly detail: string;
  readonly dropletId?: number;
  readonly pod?: PodRef;
  readonly node?: string;
}

/** `starting`: unassigned, and every claimant pod is still starting (see STARTUP_GRACE_MS) */
export type IpState = 'placed' | 'moving' | 'waiting' | 'starting' | 'unplaced' | 'unclaimed';

export interface IpStatus {
  readonly ip: string;
  readonly state: IpState;
  /** DigitalOcean's holder when planned */
  readonly holder: number | null;
  /** the droplet that should hold it, null when none */
  readonly desired: number | null;
  /** the holder was serving and no longer is: a failover is under way */
  readonly holderLost: boolean;
}

export interface PlanResult {
  readonly actions: readonly Action[];
  readonly statuses: readonly IpStatus[];
}
