// What the IP controller offers and needs (controller.ts makes one): its informer inputs, its
// config, and the one view of claims the Service and firewall controllers read.
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import type { ReservedIpPort } from '../../shared/digitalocean/port.ts';
import type { IpPolicy } from '../../shared/ip-policy.ts';
import type { FloatingIpKeys } from '../../shared/keys.ts';
import type { Logger } from '../../shared/logger.ts';
import type { SetTimer } from '../../shared/timers.ts';
import type { Exposure, ExposeWait } from '../actuator.ts';
import type { EventSink } from '../events.ts';
import type { ReconcilerMetrics } from '../metrics.ts';
import type { HolderEntry } from '../model.ts';
import type { Runtime, Term } from '../runtime/runtime.ts';
import type { DropletReader } from './cloud-view.ts';

/**
 * Read access to the informer caches. Read when a term starts; after that the controller
 * follows them through podChanged, nodeChanged and nodeLeaseChanged.
 */
export interface WorldSource {
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
  /** the node Leases of kube-node-lease (heartbeats); absent: heartbeat detection is off */
  listNodeLeases?(): readonly V1Lease[];
}

export interface ControllerConfig {
  keys: FloatingIpKeys;
  dryRun: boolean;
  coolOffMs: number;
  unassignWhenUnplaced: boolean;
  resyncIntervalMs: number;
  actionExpiryMs: number;
  /** claim policy: may this IP be taken from a droplet outside the cluster? default: none */
  adoptable?: (ip: string) => boolean;
  /** heartbeat-based failover (node Leases); default on, grace = half the Lease duration */
  heartbeat?: { enabled: boolean; graceMs?: number | undefined };
  /** namespace IP policy: addresses a pod's namespace may not claim are dropped; default: all allowed */
  ipPolicy?: IpPolicy;
  /** how long an assign waits for its Services (exposure); default 1 s for a failover, 5 s otherwise */
  exposeWait?: ExposeWait;
}

/** A pod's claims as every controller reads them: the namespace IP policy applied, parsed once. */
export interface PodClaim {
  /** the IPs it may claim */
  readonly ips: readonly string[];
  /** its workload (claims.ts workloadKey), when the pod takes part in placement */
  readonly workload?: string;
  /** addresses its namespace may not claim, and the sentence saying so */
  readonly notAllowed?: { readonly ips: readonly string[]; readonly message: string };
}

/** The IP controller's view of claims, for the Service controller. */
export interface ClaimsView {
  podClaim(pod: V1Pod): PodClaim;
  /** the workload that won `ip` at its last plan in this term; undefined: not planned yet or unclaimed */
  winner(ip: string): string | undefined;
  /** the cluster's UUID from its nodes' droplet tags, for the firewall; undefined: unknown yet */
  clusterUuid(): Promise<string | undefined>;
}

export interface Controller extends ClaimsView {
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(node: V1Node | undefined, old?: V1Node): void;
  /** a node Lease changed: a node heartbeating again may take IPs it could not */
  nodeLeaseChanged(lease: V1Lease | undefined, old?: V1Lease): void;
  /** begin a term of the runtime (every controller on it; default: a term until stop) */
  start(term?: Term): void;
  /** end the runtime's term: cancel the calls in flight, drop their outcomes and the memory */
  stop(): Promise<void>;
  /** list DigitalOcean's reserved IPs (paginated) and mark every known IP dirty */
  resyncNow(): Promise<void>;
  /** DigitalOcean's holders as this term knows them */
  holders(): readonly HolderEntry[];
  /** liveness probes: the droplets confirmed dead changed (droplet → failing since); their IPs are re-planned */
  livenessChanged(dead: ReadonlyMap<number, number>): void;
  /** what liveness must probe: every holder, and the droplet each held IP would move to next */
  livenessTargets(): Set<number>;
  /** droplets whose node Lease missed a renewal (a quarter of its duration + 2 s): Kubernetes' own sign of an earlier death */
  quietDroplets(): Set<number>;
}

export interface ControllerDeps {
  port: ReservedIpPort;
  droplets?: DropletReader | undefined;
  world: WorldSource;
  events: EventSink;
  logger: Logger;
  metrics: ReconcilerMetrics;
  config: ControllerConfig;
  exposure?: Exposure | undefined;
  /** the process's runtime (the Service and firewall controllers run on it too); default: its own */
  runtime?: Runtime;
  now?: () => number;
  setTimer?: SetTimer;
  /** parallel IPs in flight (default 4) */
  concurrency?: number;
  /** how often to re-read an IP whose DigitalOcean action is still in progress (default 2 s) */
  pendingPollMs?: number;
  /** retries of unexpected errors; floorMs also bounds how soon evidence cuts a backoff short */
  backoff?: { baseMs?: number; capMs?: number; floorMs?: number };
  /** called after every run of an IP, whatever its result (benchmarks wait on it) */
  onReconciled?: (ip: string) => void;
  /** called when a resync has listed DigitalOcean's holders (liveness probes the new ones at once) */
  onHoldersListed?: () => void;
}
