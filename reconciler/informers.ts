// Supervised informers on labeled pods and on nodes. client-node's ListWatch stops for good
// on any error but a 410 ("does not auto-restart after an error" is its tested contract), so
// each informer here is restarted with jittered exponential backoff and counted. The caches
// are the reconciler's view of the cluster (WorldSource); callbacks only forward.
import { CoordinationV1Api, CoreV1Api, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject, V1Lease, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.ts';
import type { ReconcilerMetrics } from './metrics.ts';

/** The part of a client-node informer the supervisor uses (ListWatch implements it). */
export interface InformerLike<T> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): readonly T[];
}

export interface InformerFactory {
  pods(namespace: string | undefined): InformerLike<V1Pod>;
  nodes(): InformerLike<V1Node>;
  /** Services (all of them: the class is a spec field, not selectable); absent = no Service informer */
  services?(namespace: string | undefined): InformerLike<V1Service>;
  /** the kubelets' heartbeats (kube-node-lease); absent = no heartbeat-based detection */
  nodeLeases?(): InformerLike<V1Lease>;
}

/** Where kubelets renew their node Lease (one per node, named like the node). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** An object change; `obj` undefined means deleted, `old` is the last version seen (if any). */
export type ChangeHandler<T> = (obj: T | undefined, old?: T) => void;

export interface Informers {
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
  listServices(): readonly V1Service[];
  listNodeLeases(): readonly V1Lease[];
  /** true once every informer has listed, false while any of them is down */
  synced(): boolean;
  /** resolves the first time synced() turns true (or when stopped) */
  whenSynced(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export interface InformerDeps {
  factory: InformerFactory;
  /** empty = one pod informer over all namespaces */
  namespaces: readonly string[];
  onPod: ChangeHandler<V1Pod>;
  onNode: ChangeHandler<V1Node>;
  /** with a factory that makes Service informers (the exposure controllers need them) */
  onService?: ChangeHandler<V1Service>;
  /** with a factory that makes a node Lease informer (heartbeat-based failover) */
  onNodeLease?: ChangeHandler<V1Lease>;
  metrics: ReconcilerMetrics;
  logger: Logger;
  delay?: (ms: number) => Promise<void>;
  random?: () => number;
  backoff?: { baseMs?: number; capMs?: number };
}

/** client-node informers: label-selected pods (per namespace or all) and all nodes. */
export function kubeInformerFactory(kc: KubeConfig, labelSelector: string, delayFn?: (ms: number) => Promise<void>): InformerFactory {
  const core = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  const make = <T extends KubernetesObject>(path: string, list: () => Promise<KubernetesListObject<T>>, selector?: string) =>
    new ListWatch<T>(path, watch, list, false, selector, undefined, delayFn ? { delayFn } : undefined);
  return {
    pods: (namespace) =>
      namespace === undefined
        ? make<V1Pod>('/api/v1/pods', () => core.listPodForAllNamespaces({ labelSelector }), labelSelector)
        : make<V1Pod>(`/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector }), labelSelector),
    nodes: () => make<V1Node>('/api/v1/nodes', () => core.listNode()),
    services: (namespace) =>
      namespace === undefined
        ? make<V1Service>('/api/v1/services', () => core.listServiceForAllNamespaces())
        : make<V1Service>(`/api/v1/namespaces/${namespace}/services`, () => core.listNamespacedService({ namespace })),
    nodeLeases: () => {
      const coordination = kc.makeApiClient(CoordinationV1Api);
      return make<V1Lease>(`/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`, () => coordination.listNamespacedLease({ namespace: NODE_LEASE_NAMESPACE }));
    },
  };
}

const keyOf = (obj: KubernetesObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

/** "Equal jitter": half fixed, half random, so replicas spread out but never retry at 0 ms. */
export function restartDelayMs(attempt: number, random: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

interface Supervised {
  readonly name: string;
  readonly resource: 'pods' | 'nodes' | 'services' | 'leases';
  readonly informer: InformerLike<KubernetesObject>;
  up: boolean;
  attempt: number;
}

export function createInformers(deps: InformerDeps): Informers {
  const delay = deps.delay ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref()));
  const random = deps.random ?? Math.random;
  const baseMs = deps.backoff?.baseMs ?? 500;
  const capMs = deps.backoff?.capMs ?? 30_000;
  let stopped = false;
  let started = false;
  let resolveSynced: () => void = () => {};
  const syncedOnce = new Promise<void>((resolve) => (resolveSynced = resolve));

  const podInformers = (deps.namespaces.length === 0 ? [undefined] : deps.namespaces).map((ns) => ({
    name: ns === undefined ? 'pods' : `pods/${ns}`,
    informer: deps.factory.pods(ns),
  }));
  const nodeInformer = deps.factory.nodes();
  const makeServices = deps.factory.services?.bind(deps.factory);
  const serviceInformers = makeServices
    ? (deps.namespaces.length === 0 ? [undefined] : deps.namespaces).map((ns) => ({ name: ns === undefined ? 'services' : `services/${ns}`, informer: makeServices(ns) }))
    : [];
  const leaseInformer = deps.onNodeLease ? deps.factory.nodeLeases?.() : undefined;
  const all: Supervised[] = [
    ...podInformers.map((p) => ({ name: p.name, resource: 'pods' as const, informer: p.informer as InformerLike<KubernetesObject>, up: false, attempt: 0 })),
    { name: 'nodes', resource: 'nodes', informer: nodeInformer as InformerLike<KubernetesObject>, up: false, attempt: 0 },
    ...serviceInformers.map((p) => ({ name: p.name, resource: 'services' as const, informer: p.informer as InformerLike<KubernetesObject>, up: false, attempt: 0 })),
    ...(leaseInformer ? [{ name: 'node-leases', resource: 'leases' as const, informer: leaseInformer as InformerLike<KubernetesObject>, up: false, attempt: 0 }] : []),
  ];

  const synced = () => all.every((s) => s.up);

  function forward<T extends KubernetesObject>(informer: InformerLike<T>, handler: ChangeHandler<T>): void {
    // ListWatch reports updates without the previous object; remember the last version seen so
    // the controller can also re-check IPs an edited annotation no longer names.
    const last = new Map<string, T>();
    informer.on('add', (obj) => {
      last.set(keyOf(obj), obj);
      handler(obj);
    });
    informer.on('update', (obj) => {
      const old = last.get(keyOf(obj));
      last.set(keyOf(obj), obj);
      handler(obj, old);
    });
    informer.on('delete', (obj) => {
      last.delete(keyOf(obj));
      handler(undefined, obj);
    });
  }

  /** One informer's life: start, and after every error a delayed restart, until stop(). */
  function supervise(s: Supervised): void {
    // set by an error reported while start() runs: that start did not sync
    let failedDuringStart = false;

    const onError = (err: unknown) => {
      if (stopped) return; // stop() aborts the watch, which reports an AbortError
      failedDuringStart = true;
      s.up = false;
      const wait = restartDelayMs(s.attempt, random(), baseMs, capMs);
      deps.logger.warn({ err, informer: s.name, attempt: s.attempt + 1, retryInMs: wait }, 'informer stopped on an error; restarting');
      s.attempt += 1;
      void delay(wait).then(() => {
        if (stopped) return;
        deps.metrics.informerRestarts.inc({ resource: s.resource });
        void start();
      });
    };

    const start = async (): Promise<void> => {
      failedDuringStart = false;
      try {
        // ListWatch.start() resolves once it has listed and opened the watch, or after it
        // has reported an error through the 'error' callback.
        await s.informer.start();
      } catch (err) {
        onError(err); // not what ListWatch does, but a thrown start must not end supervision
      }
      if (failedDuringStart || stopped) return;
      if (s.attempt > 0) deps.logger.info({ informer: s.name, attempts: s.attempt }, 'informer recovered');
      s.up = true;
      s.attempt = 0;
      if (synced()) resolveSynced();
    };

    s.informer.on('error', onError);
    void start();
  }

  forward(nodeInformer, deps.onNode);
  for (const p of podInformers) forward(p.informer, deps.onPod);
  for (const p of serviceInformers) forward(p.informer, deps.onService ?? (() => undefined));
  if (leaseInformer && deps.onNodeLease) forward(leaseInformer, deps.onNodeLease);

  return {
    listPods: () => podInformers.flatMap((p) => p.informer.list()),
    listNodes: () => nodeInformer.list(),
    listServices: () => serviceInformers.flatMap((p) => p.informer.list()),
    listNodeLeases: () => leaseInformer?.list() ?? [],
    synced: () => !stopped && synced(),
    whenSynced: () => syncedOnce,
    start() {
      if (started) return;
      started = true;
      for (const s of all) supervise(s);
    },
    async stop() {
      stopped = true;
      for (const s of all) s.up = false;
      resolveSynced();
      await Promise.all(all.map((s) => s.informer.stop()));
    },
  };
}
