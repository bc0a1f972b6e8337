// Keeps every Service of floatip's load-balancer class in step with where its reserved IPs
// are (service-plan.ts decides): events mark a Service dirty, one loop drains (work-loop.ts),
// each run compares the plan with the Service and applies only what differs. Before the
// reconciler moves an IP it calls beforeAssign(), which waits until the target droplet's
// anchor is in the externalIPs of the Services concerned (traffic arriving at the new droplet
// is accepted from the first packet); the old anchor leaves once the holders show the move.
// Runs only while this replica leads: start(signal) ... stop().
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { AnchorRange } from '../../shared/anchors.ts';
import type { FloatingIpKeys } from '../../shared/keys.ts';
import type { Logger } from '../../shared/logger.ts';
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';
import type { EventSink } from '../events.ts';
import { nodeAnchor, podClaims, selects, serviceFacts } from './facts.ts';
import type { ExposureMetrics } from './metrics.ts';
import type { HolderEntry, NodeAnchor, PodClaims } from './model.ts';
import { exposedMessage, planService } from './service-plan.ts';
import type { ServiceWriter } from './service-writer.ts';
import { createWorkLoop } from './work-loop.ts';
import type { WorkLoop } from './work-loop.ts';

export interface ServiceWorld {
  listServices(): readonly V1Service[];
  listPods(): readonly V1Pod[];
  listNodes(): readonly V1Node[];
  /** DigitalOcean's holders as the IP controller knows them */
  holders(): readonly HolderEntry[];
}

export interface ServiceControllerConfig {
  readonly keys: FloatingIpKeys;
  readonly anchorAnnotation: string;
  /** what counts as a droplet anchor (--anchor-range); default 10.20.0.0/16 */
  readonly anchorRange?: AnchorRange;
  readonly loadBalancerClass: string;
  /** re-check every Service this often (drift, a write lost with a leader) */
  readonly resyncIntervalMs: number;
  /** decide and log "would ...", write nothing */
  readonly dryRun?: boolean;
}

export interface ServiceControllerDeps {
  readonly world: ServiceWorld;
  readonly writer: ServiceWriter;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly metrics: ExposureMetrics;
  readonly config: ServiceControllerConfig;
  readonly setTimer?: SetTimer;
  readonly now?: () => number;
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number };
}

export interface ServiceController {
  start(signal: AbortSignal): void;
  stop(): Promise<void>;
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(): void;
  holdersChanged(): void;
  /** resolves once the Services whose pods claim `ip` list `dropletId`'s anchor */
  beforeAssign(ip: string, dropletId: number, signal: AbortSignal): Promise<void>;
}

/** An announced move is forgotten after this long if the holders never show it. */
const INTENT_TTL_MS = 10 * 60_000;

interface Written {
  /** resourceVersion of the cached object the write was based on */
  readonly basedOn: string | undefined;
  readonly externalIPs?: readonly string[];
  readonly ingress?: readonly string[];
}

interface TermState {
  readonly loop: WorkLoop;
  readonly intents: Map<string, { dropletId: number; atMs: number }>;
  /** droplet → anchor seen on its node, kept after the node goes while an IP may be there */
  readonly remembered: Map<number, string>;
  /** service uid → warning messages already recorded as Events */
  readonly warned: Map<string, Set<string>>;
  /** what this term last applied, until the cache shows a newer object */
  readonly written: Map<string, Written>;
  cancelResync: (() => void) | undefined;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } } | undefined) => `${o?.metadata?.namespace ?? ''}/${o?.metadata?.name ?? ''}`;

export function createServiceController(deps: ServiceControllerDeps): ServiceController {
  const { world, writer, config, metrics } = deps;
  const log = deps.logger.child({ controller: 'services' });
  const setTimer = deps.setTimer ?? realTimer;
  const now = deps.now ?? Date.now;
  let term: TermState | undefined;
  // Informer caches hand out the same object until it changes: parse each pod's claims once.
  const claimsCache = new WeakMap<V1Pod, PodClaims>();
  const claimsOf = (pod: V1Pod): PodClaims => {
    let c = claimsCache.get(pod);
    if (!c) claimsCache.set(pod, (c = podClaims(pod, config.keys)));
    return c;
  };

  const isOurs = (svc: V1Service | undefined) => svc?.spec?.type === 'LoadBalancer' && svc.spec.loadBalancerClass === config.loadBalancerClass;
  const ourServices = () => world.listServices().filter(isOurs);

  function markAll(): void {
    if (!term) return;
    const services = ourServices();
    metrics.services.set(services.length);
    for (const svc of services) term.loop.mark(keyOf(svc));
  }

  /** node uid → the ignored anchor value already reported (one Warning per value) */
  const anchorWarned = new Map<string, string>();

  function nodeAnchors(): Map<number, NodeAnchor> {
    const nodes = new Map<number, NodeAnchor>();
    for (const n of world.listNodes()) {
      const entry = nodeAnchor(n, config.anchorAnnotation, config.anchorRange);
      if (!entry) continue;
      nodes.set(entry[0], entry[1]);
      const uid = n.metadata?.uid ?? entry[1].nodeName;
      if (entry[1].invalid === undefined) anchorWarned.delete(uid);
      else if (anchorWarned.get(uid) !== entry[1].invalid) {
        anchorWarned.set(uid, entry[1].invalid);
        const message = `annotation ${config.anchorAnnotation} ignored: ${entry[1].why ?? 'not an anchor'}; floatip never puts it in a Service's externalIPs (is something other than the floatip agent writing it?)`;
        log.warn({ node: entry[1].nodeName, value: entry[1].invalid }, message);
        void deps.events.record({ pod: n, kind: 'Node', type: 'Warning', reason: 'FloatingIPInvalidAnchor', message });
      }
    }
    return nodes;
  }

  function holderMap(): Map<string, HolderEntry> {
    return new Map(world.holders().map((h) => [h.ip, h]));
  }

  /** Keep each droplet's last anchor; forget it once nothing holds, moves to or announces it. */
  function updateRemembered(s: TermState, nodes: ReadonlyMap<number, NodeAnchor>, holders: ReadonlyMap<string, HolderEntry>): void {
    for (const [d, n] of nodes) if (n.anchor !== undefined) s.remembered.set(d, n.anchor);
    const inUse = new Set<number>();
    for (const h of holders.values()) for (const d of [h.dropletId, h.movingTo]) if (d !== null && d !== undefined) inUse.add(d);
    for (const i of s.intents.values()) inUse.add(i.dropletId);
    for (const d of s.remembered.keys()) if (!nodes.has(d) && !inUse.has(d)) s.remembered.delete(d);
  }

  async function run(s: TermState, key: string, signal: AbortSignal): Promise<void> {
    const svc = world.listServices().find((x) => keyOf(x) === key);
    if (!svc) {
      s.written.delete(key);
      return;
    }
    const facts = serviceFacts(svc, config.loadBalancerClass);
    const uid = svc.metadata?.uid ?? key;
    const nodes = nodeAnchors();
    const holders = holderMap();
    updateRemembered(s, nodes, holders);
    // The cache may not show our last write yet: compare with what we wrote instead.
    const w = s.written.get(key);
    const fresh = w !== undefined && w.basedOn === svc.metadata?.resourceVersion;
    const current = { ...facts, externalIPs: (fresh && w.externalIPs) || facts.externalIPs, ingress: (fresh && w.ingress) || facts.ingress };
    const pods: PodClaims[] = world.listPods().map(claimsOf);
    const hasSelector = Object.keys(facts.selector ?? {}).length > 0;
    const claimsAny = pods.some((p) => p.namespace === facts.namespace && p.addresses.length > 0 && selects(facts.selector, p.labels));
    const selectsUnannotatedPods =
      facts.floatip && hasSelector && !claimsAny ? await writer.selectsOnlyUnannotatedPods(facts.namespace, facts.selector ?? {}, config.keys.annotation) : false;
    const plan = planService({
      service: current,
      pods,
      holders,
      intents: new Map([...s.intents].map(([ip, i]) => [ip, i.dropletId])),
      nodes,
      remembered: s.remembered,
      selectsUnannotatedPods,
      keys: { annotation: config.keys.annotation, anchor: config.anchorAnnotation },
    });
    if (plan.kind === 'ignore') return;
    const slog = log.child({ service: key });
    if (signal.aborted) return;
    if (config.dryRun) {
      if (plan.kind === 'release') slog.info('would give back the externalIPs and ingress of a Service no longer of floatip class');
      else if (plan.writeSpec || plan.writeStatus) slog.info({ externalIPs: plan.externalIPs, ingress: plan.ingress }, 'would update the Service');
      return;
    }
    if (plan.kind === 'release') {
      await writer.applyExternalIPs(facts.namespace, facts.name, []);
      await writer.applyIngress(facts.namespace, facts.name, []);
      metrics.serviceWrites.inc({ field: 'release' });
      s.written.delete(key);
      s.warned.delete(uid);
      slog.info('Service is no longer of floatip class; gave back its externalIPs and load balancer ingress');
      return;
    }

    const seen = s.warned.get(uid) ?? new Set<string>();
    const now_ = new Set(plan.warnings.map((x) => x.message));
    for (const warning of plan.warnings) {
      if (seen.has(warning.message)) continue;
      slog.warn({ reason: warning.reason }, warning.message);
      void deps.events.record({ pod: svc, kind: 'Service', type: 'Warning', reason: warning.reason, message: warning.message });
    }
    s.warned.set(uid, now_);

    let written: Written = { basedOn: svc.metadata?.resourceVersion, ...(fresh ? w : {}) };
    if (plan.writeSpec) {
      await writer.applyExternalIPs(facts.namespace, facts.name, plan.externalIPs);
      metrics.serviceWrites.inc({ field: 'externalIPs' });
      written = { ...written, externalIPs: plan.externalIPs };
      const message = exposedMessage(plan);
      slog.info({ externalIPs: plan.externalIPs, previous: current.externalIPs }, 'Service externalIPs updated');
      void deps.events.record({ pod: svc, kind: 'Service', type: 'Normal', reason: 'FloatingIPExposed', message });
    }
    if (plan.writeStatus && !signal.aborted) {
      await writer.applyIngress(facts.namespace, facts.name, plan.ingress);
      metrics.serviceWrites.inc({ field: 'ingress' });
      written = { ...written, ingress: plan.ingress };
      slog.info({ ingress: plan.ingress }, 'Service load balancer ingress updated');
    }
    if (plan.writeSpec || plan.writeStatus) s.written.set(key, written);
  }

  function scheduleResync(s: TermState): void {
    s.cancelResync = setTimer(() => {
      if (term !== s) return;
      markAll();
      scheduleResync(s);
    }, config.resyncIntervalMs);
  }

  /** floatip Services whose selected pods claim `ip` */
  function servicesClaiming(ip: string): string[] {
    // On the failover path: with no floatip Service (or none in a claimant's namespace) there
    // is nothing to wait for, and no reason to look at every pod.
    const services = ourServices();
    if (services.length === 0) return [];
    const namespaces = new Set(services.map((svc) => svc.metadata?.namespace));
    const claimants = world.listPods().filter((p) => namespaces.has(p.metadata?.namespace) && claimsOf(p).addresses.some((a) => a.text === ip));
    return services
      .filter((svc) => claimants.some((p) => p.metadata?.namespace === svc.metadata?.namespace && selects(svc.spec?.selector, p.metadata?.labels ?? {})))
      .map(keyOf);
  }

  const controller: ServiceController = {
    start(signal) {
      if (term) return;
      const s: TermState = {
        intents: new Map(),
        remembered: new Map(),
        warned: new Map(),
        written: new Map(),
        cancelResync: undefined,
        loop: createWorkLoop({
          run: (key, loopSignal) => run(s, key, AbortSignal.any([loopSignal, signal])),
          setTimer,
          backoff: deps.backoff,
          onError(key, err, retryInMs) {
            metrics.errors.inc({ controller: 'services' });
            log.warn({ service: key, err, retryInMs }, 'Service update failed; retrying');
          },
        }),
      };
      term = s;
      signal.addEventListener('abort', () => void controller.stop(), { once: true });
      markAll();
      scheduleResync(s);
    },
    async stop() {
      const s = term;
      term = undefined;
      if (!s) return;
      s.cancelResync?.();
      await s.loop.stop();
    },
    serviceChanged(svc, old) {
      if (!term) return;
      if (isOurs(svc) || isOurs(old)) term.loop.mark(keyOf(svc ?? old));
      if (!svc && old?.metadata?.uid) term.warned.delete(old.metadata.uid);
      metrics.services.set(ourServices().length);
    },
    podChanged(pod, old) {
      if (!term) return;
      const namespaces = new Set([pod?.metadata?.namespace, old?.metadata?.namespace]);
      for (const svc of ourServices()) if (namespaces.has(svc.metadata?.namespace)) term.loop.mark(keyOf(svc));
    },
    nodeChanged: markAll,
    holdersChanged() {
      const s = term;
      if (!s) return;
      const holders = holderMap();
      const t = now();
      for (const [ip, intent] of s.intents) {
        // arrived, or superseded long ago: the holders alone say where the IP is now
        if (holders.get(ip)?.dropletId === intent.dropletId || t - intent.atMs > INTENT_TTL_MS) s.intents.delete(ip);
      }
      markAll();
    },
    async beforeAssign(ip, dropletId, signal) {
      const s = term;
      if (!s) return;
      const started = now();
      s.intents.set(ip, { dropletId, atMs: started });
      const keys = servicesClaiming(ip);
      if (keys.length === 0) return;
      await s.loop.flush(keys, signal);
      metrics.beforeAssignSeconds.observe((now() - started) / 1000);
    },
  };
  return controller;
}
