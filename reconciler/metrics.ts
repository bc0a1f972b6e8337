// Prometheus metrics of the reconciler. One registry per process (tests make their own),
// created here so every module records into the same names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ReconcilerMetrics {
  readonly registry: Registry;
  /** 1 for the droplet currently holding each IP (labels: ip, droplet); reset per resync */
  readonly holder: Gauge<'ip' | 'droplet'>;
  /** completed moves (labels: ip, reason) */
  readonly moves: Counter<'ip' | 'reason'>;
  /** seconds from "holder lost" evidence to the completed DigitalOcean action */
  readonly failoverSeconds: Histogram<'family'>;
  /** seconds from "holder lost" evidence to the assign request leaving the process */
  readonly decisionSeconds: Histogram;
  /** DigitalOcean calls (labels: method, route, code — HTTP status or "error") */
  readonly doCalls: Counter<'method' | 'route' | 'code'>;
  /** last `ratelimit-remaining` seen from DigitalOcean */
  readonly rateBudgetRemaining: Gauge;
  /** IPs waiting in the work queue */
  readonly queueDepth: Gauge;
  /** informer restarts after an error (label: resource) */
  readonly informerRestarts: Counter<'resource'>;
  /** 1 while this replica holds the leader Lease */
  readonly isLeader: Gauge;
  /** failed reconcile attempts (labels: class — DoErrorClass or "internal") */
  readonly reconcileErrors: Counter<'class'>;
  /** assigns that went ahead although the API server refused their Service write (never a DigitalOcean error) */
  readonly exposeFailures: Counter;
  /** IPs with no eligible pod (label: ip) */
  readonly unplaced: Gauge<'ip'>;
  /** 1 for a claimed IP that a droplet outside the cluster holds and the claim policy leaves there */
  readonly heldOutsideCluster: Gauge<'ip' | 'droplet'>;
  /** holders suspected because their node missed its heartbeat (moves: floatip_ip_moves_total{reason="holder-heartbeat-lost"}) */
  readonly heartbeatSuspicions: Counter;
  /** nodes whose Lease is older than the grace, as of the last decision */
  readonly nodesHeartbeatStale: Gauge;
  /** 1 while more than half of the nodes look stale: no move on heartbeat grounds */
  readonly heartbeatGuard: Gauge;
}

export function createReconcilerMetrics(opts: { defaultMetrics?: boolean } = {}): ReconcilerMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    holder: new Gauge({ name: 'floatip_ip_holder', help: 'Droplet holding each reserved IP (1 = current holder)', labelNames: ['ip', 'droplet'], registers }),
    moves: new Counter({ name: 'floatip_ip_moves_total', help: 'Reserved IP assignments completed, by reason', labelNames: ['ip', 'reason'], registers }),
    failoverSeconds: new Histogram({
      name: 'floatip_failover_duration_seconds',
      help: 'From holder-lost evidence to the completed DigitalOcean assign action',
      labelNames: ['family'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'floatip_failover_decision_seconds',
      help: 'From holder-lost evidence to the assign request being sent',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    }),
    doCalls: new Counter({ name: 'floatip_digitalocean_requests_total', help: 'DigitalOcean API requests by method, route and response code', labelNames: ['method', 'route', 'code'], registers }),
    rateBudgetRemaining: new Gauge({ name: 'floatip_digitalocean_ratelimit_remaining', help: 'Last ratelimit-remaining header seen from DigitalOcean', registers }),
    queueDepth: new Gauge({ name: 'floatip_workqueue_depth', help: 'Reserved IPs waiting to be reconciled', registers }),
    informerRestarts: new Counter({ name: 'floatip_informer_restarts_total', help: 'Informer restarts after a watch error', labelNames: ['resource'], registers }),
    isLeader: new Gauge({ name: 'floatip_leader', help: '1 while this replica holds the leader Lease', registers }),
    reconcileErrors: new Counter({ name: 'floatip_reconcile_errors_total', help: 'Failed reconcile attempts by error class', labelNames: ['class'], registers }),
    exposeFailures: new Counter({ name: 'floatip_expose_failures_total', help: 'Assigns that went ahead although the API server refused the Service write before them', registers }),
    unplaced: new Gauge({ name: 'floatip_ip_unplaced', help: '1 when a reserved IP has no eligible pod', labelNames: ['ip'], registers }),
    heldOutsideCluster: new Gauge({
      name: 'floatip_ip_held_outside_cluster',
      help: 'Claimed reserved IP held by a droplet outside this cluster, left there by the claim policy (1)',
      labelNames: ['ip', 'droplet'],
      registers,
    }),
    heartbeatSuspicions: new Counter({
      name: 'floatip_heartbeat_suspicions_total',
      help: "Times a holder's node missed its heartbeat (node Lease not renewed within the grace)",
      registers,
    }),
    nodesHeartbeatStale: new Gauge({ name: 'floatip_nodes_heartbeat_stale', help: 'Nodes whose Lease was not renewed within the heartbeat grace, as of the last decision', registers }),
    heartbeatGuard: new Gauge({
      name: 'floatip_heartbeat_guard',
      help: '1 while more than half of the nodes look silent: heartbeat-based moves are suspended (the API server, network or reconciler is the likelier problem)',
      registers,
    }),
  };
}
