// Supervised informers on labeled pods and on nodes. client-node's ListWatch stops for good
// on any error but a 410 ("does not auto-restart after an error" is its tested contract), so
// each informer here is restarted with jittered exponential backoff and counted. The caches
// are the reconciler's view of the cluster (WorldSource); callbacks only forward.
//
// Pods, nodes and node Leases are slimmed before client-node caches them (slim.ts): a real
// object is mostly managedFields, container specs and statuses, node images — fields the
// reconciler never reads, and at 10,000 pods most of the process's memory.
// client-node's informer cache, without its package entry point (see kube/api.ts)
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import type { KubernetesListObject, KubernetesObject, V1Lease, V1Node, V1Pod, V1Service, Watch } from '@kubernetes/client-node';
import type { KubeClient } from '../shared/kube/client.ts';
import { kubeApis } from './kube/api.ts';
import { kubeWatch } from './kube/watch.ts';
import type { Watcher } from './kube/watch.ts';
import { slimLease, slimNode, slimPod } from './slim.ts';
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

/** One page of a list call: at most `limit` objects, from `_continue` on (the API server's chunking). */
export type ListPage<T extends KubernetesObject> = (page: { limit: number; _continue?: string | undefined }) => Promise<KubernetesListObject<T>>;

/** The list calls behind the informers (the generated API's, or a benchmark's). */
export interface ListFunctions {
  pods(namespace: string | undefined): ListPage<V1Pod>;
  nodes(): ListPage<V1Node>;
  services(namespace: string | undefined): ListPage<V1Service>;
  nodeLeases(): ListPage<V1Lease>;
}

/** client-go's pager size: 10,000 whole pods are ~100 MB of JSON, one page of them is 5. */
export const LIST_PAGE_SIZE = 500;

/**
 * The whole list, page by page, each page slimmed before the next is asked for, so the
 * process never holds all objects whole at once. The API server serves every page from the
 * first page's snapshot; a continue token that expired fails the list (410), and the
 * informer's restart lists again from the start.
 */
export function pagedList<T extends KubernetesObject>(page: ListPage<T>, slim: (obj: T) => T = (o) => o, limit = LIST_PAGE_SIZE): () => Promise<KubernetesListObject<T>> {
  return async () => {
    const first = await page({ limit });
    const items = first.items.map(slim);
    for (let next = first.metadata?._continue; next; ) {
      const more = await page({ limit, _continue: next });
      for (const obj of more.items) items.push(slim(obj));
      next = more.metadata?._continue;
    }
    return { ...first, metadata: { ...first.metadata, _continue: undefined }, items };
  };
}

/**
 * A Watch whose events carry `slim(object)`: ListWatch caches what it is given and has no
 * transform hook, so the objects are slimmed on their way in, from the list and the watch.
 */
function slimmingWatch<T>(inner: Watcher, slim: (obj: T) => T): Watcher {
  // ERROR carries a Status and BOOKMARK only a resourceVersion: those pass unchanged.
  const object = (phase: string, obj: unknown) => (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? slim(obj as T) : obj);
  return { watch: (path, queryParams, callback, done) => inner.watch(path, queryParams, (phase, obj, raw) => callback(phase, object(phase, obj), raw), done) };
}

/** client-node ListWatches over `lists` and `watch`: label-selected pods (per namespace or all), all nodes, … */
export function listWatchFactory(watch: Watcher, lists: ListFunctions, labelSelector: string, delayFn?: (ms: number) => Promise<void>, pageSize = LIST_PAGE_SIZE): InformerFactory {
  const opts = delayFn ? { delayFn } : undefined;
  const make = <T extends KubernetesObject>(path: string, page: ListPage<T>, selector?: string, slim?: (obj: T) => T) =>
    // ListWatch calls only watch() of the Watch it is given
    new ListWatch<T>(path, (slim ? slimmingWatch(watch, slim) : watch) as Watch, pagedList(page, slim, pageSize), false, selector, undefined, opts);
  const podsPath = (ns: string | undefined) => (ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${ns}/pods`);
  const servicesPath = (ns: string | undefined) => (ns === undefined ? '/api/v1/services' : `/api/v1/namespaces/${ns}/services`);
  return {
    pods: (namespace) => make<V1Pod>(podsPath(namespace), lists.pods(namespace), labelSelector, slimPod),
    nodes: () => make<V1Node>('/api/v1/nodes', lists.nodes(), undefined, slimNode),
    // Services stay whole: the Service controller reads their managedFields.
    services: (namespace) => make<V1Service>(servicesPath(namespace), lists.services(namespace)),
    nodeLeases: () => make<V1Lease>(`/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`, lists.nodeLeases(), undefined, slimLease),
  };
}

/** client-node informers on the API server `kube` talks to. */
export function kubeInformerFactory(kube: KubeClient, labelSelector: string, delayFn?: (ms: number) => Promise<void>, pageSize = LIST_PAGE_SIZE): InformerFactory {
  const { core, leases: coordination } = kubeApis(kube);
  const lists: ListFunctions = {
    pods: (namespace) => (page) => (namespace === undefined ? core.listPodForAllNamespaces({ labelSelector, ...page }) : core.listNamespacedPod({ namespace, labelSelector, ...page })),
    nodes: () => (page) => core.listNode(page),
    services: (namespace) => (page) => (namespace === undefined ? core.listServiceForAllNamespaces(page) : core.listNamespacedService({ namespace, ...page })),
    nodeLeases: () => (page) => coordination.listNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, ...page }),
  };
  return listWatchFactory(kubeWatch(kube), lists, labelSelector, delayFn, pageSize);
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
