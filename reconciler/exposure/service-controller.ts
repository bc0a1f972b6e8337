// Keeps every Service of floatip's load-balancer class in step with where its reserved IPs
// are (service-plan.ts decides): events mark a Service dirty, the runtime's queue runs it,
// each run compares the plan with the Service and applies only what differs. A Service
// exposes only the IPs its selected pods *won* — the claims come from the IP controller's
// view (namespace IP policy applied, conflicts resolved), never parsed here again.
//
// Before the reconciler moves an IP it calls beforeAssign(), which flushes the Services
// concerned (above every other dirty Service) so that the target droplet's anchor is in their
// externalIPs from the first packet — for at most `waitMs`: exposure never blocks a move.
// A refused write is its own outcome (expose-failed), with its own Event and metric.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { AnchorRange } from '../../shared/anchors.ts';
import type { Logger } from '../../shared/logger.ts';
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';
import type { ExposeResult } from '../actuator.ts';
import type { EventSink } from '../events.ts';
import type { ClaimsView } from '../ip/controller.ts';
import type { HolderEntry } from '../model.ts';
import { RESYNC } from '../runtime/runtime.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { isFloatipService, nodeAnchor, selects, serviceFacts } from './facts.ts';
import { awaitingJudgement, judgedClaims } from './judged-claims.ts';
import type { ExposureMetrics } from './metrics.ts';
import type { ExposureWorld, NodeAnchor } from './model.ts';
import { ExposeRefused } from './expose-refused.ts';
import { servicesClaiming } from './service-claims.ts';
import { exposedMessage, planService } from './service-plan.ts';
import type { ServiceWriter } from './service-writer.ts';

export type ServiceWorld = ExposureWorld;

export interface ServiceControllerConfig {
  readonly anchorAnnotation: string;
  readonly annotation: string;
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
  /** the IP controller's claims: what each pod may claim, who won each IP */
  readonly claims: Pick<ClaimsView, 'podClaim' | 'winner'>;
  readonly writer: ServiceWriter;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly metrics: ExposureMetrics;
  readonly config: ServiceControllerConfig;
  /** the process's runtime: it starts and stops this controller with the others */
  readonly runtime: Runtime;
  /** the exposure wait's timer and clock (default: real ones) */
  readonly setTimer?: SetTimer;
  readonly now?: () => number;
}

export interface ServiceController {
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  podChanged(pod: V1Pod | undefined, old?: V1Pod): void;
  nodeChanged(): void;
  holdersChanged(): void;
  /** flush the Services whose pods won `ip` so they list `dropletId`'s anchor, waiting at most `waitMs` */
  beforeAssign(ip: string, dropletId: number, waitMs: number, signal: AbortSignal): Promise<ExposeResult>;
}

/** how soon a Service whose pods' claims are not judged yet (a new term) is looked at again */
const JUDGEMENT_POLL_MS = 250;

/** An announced move is forgotten after this long if the holders never show it. */
const INTENT_TTL_MS = 10 * 60_000;

interface Written {
  /** resourceVersion of the cached object the write was based on */
  readonly basedOn: string | undefined;
  readonly externalIPs?: readonly string[];
  readonly ingress?: readonly string[];
}

interface TermState {
  readonly intents: Map<string, { dropletId: number; atMs: number }>;
  /** droplet → anchor seen on its node, kept after the node goes while an IP may be there */
  readonly remembered: Map<number, string>;
  /** service uid → warning messages already recorded as Events */
  readonly warned: Map<string, Set<string>>;
  /** what this term last applied, until the cache shows a newer object */
  readonly written: Map<string, Written>;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } } | undefined) => `${o?.metadata?.namespace ?? ''}/${o?.metadata?.name ?? ''}`;

export function createServiceController(deps: ServiceControllerDeps): ServiceController {
  const { world, config, metrics, claims } = deps;
  const log = deps.logger.child({ controller: 'services' });
  const setTimer = deps.setTimer ?? realTimer;
  const now = deps.now ?? Date.now;
  const { runtime } = deps;
  const writer = runtime.fence(deps.writer, { applyExternalIPs: 3, applyIngress: 3 });
  let term: TermState | undefined;

  const isOurs = (svc: V1Service | undefined) => isFloatipService(svc, config.loadBalancerClass);
  const ourServices = () => world.listServices().filter(isOurs);

  function markAll(): void {
    const services = ourServices();
    metrics.services.set(services.length);
    for (const svc of services) queue.add(keyOf(svc));
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

  const holderMap = () => new Map(world.holders().map((h) => [h.ip, h]));

  /** Keep each droplet's last anchor; forget it once nothing holds, moves to or announces it. */
  function updateRemembered(s: TermState, nodes: ReadonlyMap<number, NodeAnchor>, holders: ReadonlyMap<string, HolderEntry>): void {
    for (const [d, n] of nodes) if (n.anchor !== undefined) s.remembered.set(d, n.anchor);
    const inUse = new Set<number>();
    for (const h of holders.values()) for (const d of [h.dropletId, h.movingTo]) if (d !== null && d !== undefined) inUse.add(d);
    for (const i of s.intents.values()) inUse.add(i.dropletId);
    for (const d of s.remembered.keys()) if (!nodes.has(d) && !inUse.has(d)) s.remembered.delete(d);
  }

  /** Every Warning once per Service while it stays true. */
  function warn(s: TermState, svc: V1Service, uid: string, warnings: readonly { reason: string; message: string }[], slog: Logger): void {
    const seen = s.warned.get(uid) ?? new Set<string>();
    for (const warning of warnings) {
      if (seen.has(warning.message)) continue;
      slog.warn({ reason: warning.reason }, warning.message);
      void deps.events.record({ pod: svc, kind: 'Service', type: 'Warning', reason: warning.reason, message: warning.message });
    }
    s.warned.set(uid, new Set(warnings.map((x) => x.message)));
  }

  /** A write of ours, refused or failed: its Event, metric and log line, then the queue's retry. */
  async function write(s: TermState, svc: V1Service, uid: string, slog: Logger, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if ((err as { name?: unknown }).name === 'AbortError') throw err;
      const refused = new ExposeRefused(keyOf(svc), err);
      metrics.exposeRefused.inc();
      const message = `floatip could not write this Service (${refused.message}): the reserved IPs still move, but traffic to them may be dropped until the Service lists the holder's anchor. See the README: clusters that forbid spec.externalIPs`;
      const seen = s.warned.get(uid) ?? new Set<string>();
      if (!seen.has(message)) {
        slog.warn({ err: { message: refused.message } }, 'Service write refused');
        void deps.events.record({ pod: svc, kind: 'Service', type: 'Warning', reason: 'FloatingIPExposeFailed', message });
        s.warned.set(uid, new Set([...seen, message]));
      }
      throw refused;
    }
  }

  /** Runs one Service; false: its pods' claims are not judged yet in this term, look again soon. */
  async function run(s: TermState, key: string, signal: AbortSignal): Promise<boolean> {
    const svc = world.listServices().find((x) => keyOf(x) === key);
    if (!svc) {
      s.written.delete(key);
      return true;
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
    const pods = world.listPods().filter((p) => p.metadata?.namespace === facts.namespace).map((p) => judgedClaims(p, claims));
    if (facts.floatip && awaitingJudgement([facts], pods)) return false;
    const hasSelector = Object.keys(facts.selector ?? {}).length > 0;
    const claimsAny = pods.some((p) => (p.addresses.length > 0 || p.lost || p.notAllowed) && selects(facts.selector, p.labels));
    const selectsUnannotatedPods = facts.floatip && hasSelector && !claimsAny ? await deps.writer.selectsOnlyUnannotatedPods(facts.namespace, facts.selector ?? {}, config.annotation) : false;
    const plan = planService({
      service: current,
      pods,
      holders,
      intents: new Map([...s.intents].map(([ip, i]) => [ip, i.dropletId])),
      nodes,
      remembered: s.remembered,
      selectsUnannotatedPods,
      keys: { annotation: config.annotation, anchor: config.anchorAnnotation },
    });
    if (plan.kind === 'ignore' || signal.aborted) return true;
    const slog = log.child({ service: key });
    if (config.dryRun) {
      if (plan.kind === 'release') slog.info('would give back the externalIPs and ingress of a Service no longer of floatip class');
      else if (plan.writeSpec || plan.writeStatus) slog.info({ externalIPs: plan.externalIPs, ingress: plan.ingress }, 'would update the Service');
      return true;
    }
    if (plan.kind === 'release') {
      await write(s, svc, uid, slog, () => writer.applyExternalIPs(facts.namespace, facts.name, [], { signal }));
      await write(s, svc, uid, slog, () => writer.applyIngress(facts.namespace, facts.name, [], { signal }));
      metrics.serviceWrites.inc({ field: 'release' });
      s.written.delete(key);
      s.warned.delete(uid);
      slog.info('Service is no longer of floatip class; gave back its externalIPs and load balancer ingress');
      return true;
    }
    warn(s, svc, uid, plan.warnings, slog);

    let written: Written = { basedOn: svc.metadata?.resourceVersion, ...(fresh ? w : {}) };
    if (plan.writeSpec) {
      await write(s, svc, uid, slog, () => writer.applyExternalIPs(facts.namespace, facts.name, plan.externalIPs, { signal }));
      metrics.serviceWrites.inc({ field: 'externalIPs' });
      written = { ...written, externalIPs: plan.externalIPs };
      slog.info({ externalIPs: plan.externalIPs, previous: current.externalIPs }, 'Service externalIPs updated');
      void deps.events.record({ pod: svc, kind: 'Service', type: 'Normal', reason: 'FloatingIPExposed', message: exposedMessage(plan) });
    }
    if (plan.writeStatus && !signal.aborted) {
      await write(s, svc, uid, slog, () => writer.applyIngress(facts.namespace, facts.name, plan.ingress, { signal }));
      metrics.serviceWrites.inc({ field: 'ingress' });
      written = { ...written, ingress: plan.ingress };
      slog.info({ ingress: plan.ingress }, 'Service load balancer ingress updated');
    }
    if (plan.writeSpec || plan.writeStatus) s.written.set(key, written);
    return true;
  }

  const queue = runtime.register({
    name: 'services',
    resyncMs: config.resyncIntervalMs,
    backoff: { baseMs: 500, capMs: 60_000 },
    begin() {
      term = { intents: new Map(), remembered: new Map(), warned: new Map(), written: new Map() };
    },
    end() {
      term = undefined;
    },
    async reconcile(key, ctx) {
      const s = term;
      if (!s) return;
      if (key === RESYNC) markAll();
      else if (!(await run(s, key, ctx.signal))) return { requeueAfterMs: JUDGEMENT_POLL_MS };
    },
    onError(key, err, retryInMs) {
      metrics.errors.inc({ controller: 'services' });
      log.warn({ service: key, err, retryInMs }, 'Service update failed; retrying');
    },
  });

  return {
    serviceChanged(svc, old) {
      if (!term) return;
      if (isOurs(svc) || isOurs(old)) queue.add(keyOf(svc ?? old));
      if (!svc && old?.metadata?.uid) term.warned.delete(old.metadata.uid);
      metrics.services.set(ourServices().length);
    },
    podChanged(pod, old) {
      if (!term) return;
      const namespaces = new Set([pod?.metadata?.namespace, old?.metadata?.namespace]);
      for (const svc of ourServices()) if (namespaces.has(svc.metadata?.namespace)) queue.add(keyOf(svc));
    },
    nodeChanged: () => void (term && markAll()),
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
    async beforeAssign(ip, dropletId, waitMs, signal) {
      const s = term;
      if (!s) return { kind: 'exposed' };
      const started = now();
      s.intents.set(ip, { dropletId, atMs: started });
      const keys = servicesClaiming(claims, ourServices(), () => world.listPods(), ip);
      if (keys.length === 0) return { kind: 'exposed' };
      const bound = new AbortController();
      const cancel = setTimer(() => bound.abort(new Error('exposure wait over')), waitMs);
      const either = AbortSignal.any([signal, bound.signal]);
      try {
        await Promise.all(keys.map((key) => queue.flush(key, either)));
        metrics.beforeAssignSeconds.observe((now() - started) / 1000);
        return { kind: 'exposed' };
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (bound.signal.aborted) return { kind: 'not-confirmed', waitedMs: now() - started };
        if (err instanceof ExposeRefused) return { kind: 'expose-failed', service: err.service, message: err.message };
        return { kind: 'expose-failed', service: keys.join(', '), message: err instanceof Error ? err.message : String(err) };
      } finally {
        cancel();
      }
    },
  };
}
