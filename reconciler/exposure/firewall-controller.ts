// Keeps the cluster's floatip firewall on DigitalOcean equal to what the Services of
// floatip's class need (firewall-plan.ts decides). Service changes mark it dirty (a burst
// becomes one run), and a periodic resync re-reads it, so one deleted by hand comes back.
// Each run: the cluster UUID (once, from a node's droplet tags), one list of firewalls, then at
// most one write. A cluster without floatip Services costs one list per leadership term.
// Runs only while this replica leads: start(signal) ... stop().
import type { V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { DoApiError, isAbort } from '../../shared/digitalocean/port.ts';
import type { CloudPort } from '../../shared/digitalocean/port.ts';
import type { FloatingIpKeys } from '../../shared/keys.ts';
import type { Logger } from '../../shared/logger.ts';
import { realTimer } from '../../shared/timers.ts';
import type { SetTimer } from '../../shared/timers.ts';
import type { EventSink } from '../events.ts';
import { dropletIdOf } from '../snapshot.ts';
import { podClaims, serviceFacts } from './facts.ts';
import { clusterUuidOf, desiredFirewall, firewallName, planFirewall, servicesExposingWonIps } from './firewall-plan.ts';
import type { FirewallAction, FirewallRefusal } from './firewall-plan.ts';
import type { HolderEntry } from './model.ts';
import type { PortPolicy } from './port-policy.ts';
import type { ExposureMetrics } from './metrics.ts';
import { createWorkLoop } from './work-loop.ts';
import type { WorkLoop } from './work-loop.ts';

export interface FirewallWorld {
  listServices(): readonly V1Service[];
  listNodes(): readonly V1Node[];
  listPods(): readonly V1Pod[];
  /** DigitalOcean's holders as the IP controller knows them */
  holders(): readonly HolderEntry[];
}

export interface FirewallControllerConfig {
  readonly keys: FloatingIpKeys;
  readonly loadBalancerClass: string;
  /** --firewall-allowed-ports / --firewall-denied-ports; default: port-policy.ts */
  readonly ports?: PortPolicy | undefined;
  readonly resyncIntervalMs: number;
  /** Service events within this window become one run (default 250 ms) */
  readonly batchMs?: number;
  /** decide and log "would ...", write nothing */
  readonly dryRun?: boolean;
}

export interface FirewallControllerDeps {
  readonly cloud: CloudPort;
  readonly world: FirewallWorld;
  readonly logger: Logger;
  /** Warning Events on Services whose ports are refused */
  readonly events: EventSink;
  readonly metrics: ExposureMetrics;
  readonly config: FirewallControllerConfig;
  readonly setTimer?: SetTimer;
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number };
}

export interface FirewallController {
  start(signal: AbortSignal): void;
  stop(): Promise<void>;
  /** a Service of (or formerly of) floatip's class changed */
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  /** holders or pods changed: runs when the set of Services exposing a won IP changed */
  claimsChanged(): void;
  /** run now; resolves after the run (tests, the demo) */
  syncNow(): Promise<void>;
}

const KEY = 'firewall';
/** nodes whose droplet tags are tried before giving up on learning the cluster UUID in one run */
const UUID_TRIES = 3;

export class ClusterUnknown extends Error {
  override readonly name = 'ClusterUnknown';
}

interface TermState {
  readonly loop: WorkLoop;
  clusterUuid: string | undefined;
  /** the last list showed no firewall of ours: with nothing wanted, there is nothing to look at */
  knownAbsent: boolean;
  cancelResync: (() => void) | undefined;
}

const rulesText = (a: FirewallAction) => (a.type === 'delete' ? undefined : a.spec.inbound.map((r) => `${r.protocol}/${r.ports}`).join(', '));

export function createFirewallController(deps: FirewallControllerDeps): FirewallController {
  const { cloud, world, config, metrics } = deps;
  const log = deps.logger.child({ controller: 'firewall' });
  const setTimer = deps.setTimer ?? realTimer;
  let term: TermState | undefined;
  /** the exposing Services of the last run, to tell whether a claims change matters */
  let lastExposing = '';

  const isOurs = (svc: V1Service | undefined) => svc?.spec?.type === 'LoadBalancer' && svc.spec.loadBalancerClass === config.loadBalancerClass;

  async function learnClusterUuid(s: TermState, signal: AbortSignal): Promise<string | undefined> {
    if (s.clusterUuid) return s.clusterUuid;
    const droplets = world
      .listNodes()
      .map((n) => dropletIdOf(n.spec?.providerID))
      .filter((d): d is number => d !== null)
      .slice(0, UUID_TRIES);
    if (droplets.length === 0) return undefined;
    for (const id of droplets) {
      try {
        const uuid = clusterUuidOf((await cloud.getDroplet(id, { signal })).tags);
        if (uuid) {
          s.clusterUuid = uuid;
          log.info({ cluster: uuid, droplet: id }, 'cluster UUID learnt from the droplet tags');
          return uuid;
        }
      } catch (err) {
        if (isAbort(err) || !(err instanceof DoApiError && err.errorClass === 'NotFound')) throw err;
      }
    }
    throw new ClusterUnknown(`cannot learn the cluster UUID: none of droplets ${droplets.join(', ')} carries a k8s:<cluster-uuid> tag (are these DOKS nodes?)`);
  }

  async function execute(a: FirewallAction, name: string, signal: AbortSignal): Promise<void> {
    const fields = { firewall: name, reason: a.reason, rules: rulesText(a) };
    if (config.dryRun) {
      log.info({ ...fields, ...(a.type === 'create' ? {} : { id: a.id }) }, `would ${a.type} DigitalOcean firewall`);
      return;
    }
    if (a.type === 'create') {
      const created = await cloud.createFirewall(a.spec, { signal });
      log.info({ ...fields, id: created.id }, 'DigitalOcean firewall created');
    } else if (a.type === 'update') {
      await cloud.updateFirewall(a.id, a.spec, { signal });
      log.info({ ...fields, id: a.id }, 'DigitalOcean firewall updated');
    } else {
      await cloud.deleteFirewall(a.id, { signal });
      log.info({ ...fields, id: a.id }, 'DigitalOcean firewall deleted');
    }
    metrics.firewallWrites.inc({ op: a.type });
  }

  // Informer caches hand out the same object until it changes: parse each pod's claims once
  // (claimsChanged runs on pod events).
  const claimsCache = new WeakMap<V1Pod, ReturnType<typeof podClaims>>();
  const claimsOf = (pod: V1Pod) => {
    let c = claimsCache.get(pod);
    if (!c) claimsCache.set(pod, (c = podClaims(pod, config.keys)));
    return c;
  };

  /** Service keys exposing a reserved IP their pods won (interim: from holders + pods, see firewall-plan.ts) */
  function exposingKeys(services: readonly ReturnType<typeof serviceFacts>[]): Set<string> {
    if (services.length === 0) return new Set();
    const droplets = new Map(world.listNodes().map((n) => [n.metadata?.name, dropletIdOf(n.spec?.providerID)]));
    const pods = world.listPods().map((p) => ({ ...claimsOf(p), dropletId: droplets.get(p.spec?.nodeName) ?? null }));
    return servicesExposingWonIps(services, pods, new Map(world.holders().map((h) => [h.ip, h])));
  }

  /** refusal messages already recorded, per Service: one Warning per message while it lasts */
  const warned = new Map<string, Set<string>>();
  function report(services: readonly V1Service[], refusals: readonly FirewallRefusal[]): void {
    const now = new Map<string, Set<string>>();
    for (const r of refusals) {
      const messages = now.get(r.service) ?? new Set<string>();
      now.set(r.service, messages.add(r.message));
      if (warned.get(r.service)?.has(r.message)) continue;
      log.warn({ service: r.service, reason: r.reason, ports: r.ports, ...(r.owners ? { owners: r.owners } : {}) }, r.message);
      const svc = services.find((x) => `${x.metadata?.namespace}/${x.metadata?.name}` === r.service);
      if (svc) void deps.events.record({ pod: svc, kind: 'Service', type: 'Warning', reason: r.reason, message: r.message });
    }
    warned.clear();
    for (const [k, v] of now) warned.set(k, v);
  }

  async function run(s: TermState, signal: AbortSignal): Promise<void> {
    const ours = world.listServices().filter(isOurs);
    const services = ours.map((svc) => serviceFacts(svc, config.loadBalancerClass));
    const uuid = await learnClusterUuid(s, signal);
    if (uuid === undefined) return; // no node on a droplet yet: nothing to target
    const exposing = exposingKeys(services);
    lastExposing = [...exposing].sort().join('\n');
    const { spec: desired, refusals } = desiredFirewall(services, uuid, { exposing: (svc) => exposing.has(svc.key), ...(config.ports ? { ports: config.ports } : {}) });
    report(ours, refusals);
    if (desired === null && s.knownAbsent) return;
    const name = firewallName(uuid);
    const existing = await cloud.listFirewalls({ signal });
    const actions = planFirewall(desired, name, existing);
    for (const a of actions) {
      if (signal.aborted) return;
      await execute(a, name, signal);
    }
    s.knownAbsent = desired === null;
  }

  function scheduleResync(s: TermState): void {
    s.cancelResync = setTimer(() => {
      if (term !== s) return;
      s.knownAbsent = s.knownAbsent && !world.listServices().some(isOurs);
      s.loop.mark(KEY);
      scheduleResync(s);
    }, config.resyncIntervalMs);
  }

  const controller: FirewallController = {
    start(signal) {
      if (term) return;
      const s: TermState = {
        clusterUuid: undefined,
        knownAbsent: false,
        cancelResync: undefined,
        loop: createWorkLoop({
          run: (_key, loopSignal) => run(s, AbortSignal.any([loopSignal, signal])),
          setTimer,
          batchMs: config.batchMs ?? 250,
          backoff: deps.backoff,
          onError(_key, err, retryInMs) {
            metrics.errors.inc({ controller: 'firewall' });
            const denied = err instanceof DoApiError && (err.status === 401 || err.status === 403);
            const hint = denied ? 'the DigitalOcean token may not manage firewalls: give it the firewall:* and droplet:read scopes, or run with --no-firewall' : 'firewall update failed; retrying';
            log.warn({ err, retryInMs }, hint);
          },
        }),
      };
      term = s;
      // nothing of a former term's judgement carries over: a new leader warns afresh
      warned.clear();
      lastExposing = '';
      signal.addEventListener('abort', () => void controller.stop(), { once: true });
      s.loop.mark(KEY);
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
      if (!term || !(isOurs(svc) || isOurs(old))) return;
      term.knownAbsent = false;
      term.loop.mark(KEY);
    },
    claimsChanged() {
      if (!term) return;
      const services = world.listServices().filter(isOurs).map((svc) => serviceFacts(svc, config.loadBalancerClass));
      if ([...exposingKeys(services)].sort().join('\n') === lastExposing) return;
      term.knownAbsent = false;
      term.loop.mark(KEY);
    },
    async syncNow() {
      await term?.loop.flush([KEY]);
    },
  };
  return controller;
}
