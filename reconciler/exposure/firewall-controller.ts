// Keeps the cluster's floatip firewall on DigitalOcean equal to what the Services of
// floatip's class need (firewall-plan.ts decides). Service changes mark it dirty (a burst
// within batchMs becomes one run), and the runtime's resync re-reads it, so one deleted by
// hand comes back. Each run: the cluster UUID (the IP controller's cloud view learns it), one
// list of firewalls, then at most one write. A cluster without floatip Services costs one
// list per leadership term. The writes go through the runtime's fence. Only Services exposing
// a reserved IP their pods won open ports (firewall-plan.ts); a refused one gets a Warning.
import type { V1Service } from '@kubernetes/client-node';
import { DoApiError } from '../../shared/digitalocean/port.ts';
import type { CloudPort } from '../../shared/digitalocean/port.ts';
import type { Logger } from '../../shared/logger.ts';
import type { EventSink } from '../events.ts';
import type { ClaimsView } from '../ip/controller.ts';
import { RESYNC } from '../runtime/runtime.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { dropletIdOf } from '../snapshot.ts';
import { isFloatipService, serviceFacts } from './facts.ts';
import { desiredFirewall, exposingServices, firewallName, planFirewall } from './firewall-plan.ts';
import type { FirewallAction, FirewallRefusal } from './firewall-plan.ts';
import { awaitingJudgement, judgedClaims } from './judged-claims.ts';
import type { ExposureMetrics } from './metrics.ts';
import type { ExposureWorld, ServiceFacts } from './model.ts';
import type { PortPolicy } from './port-policy.ts';

export type FirewallWorld = ExposureWorld;

export interface FirewallControllerConfig {
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
  /** the cluster's UUID (ip/cloud-view.ts learns it from the node droplets' tags); undefined: unknown yet */
  readonly clusterUuid: () => Promise<string | undefined>;
  /** the IP controller's claims: which IPs each pod's workload won */
  readonly claims: Pick<ClaimsView, 'podClaim' | 'winner'>;
  readonly logger: Logger;
  /** Warning Events on Services whose ports are refused */
  readonly events: EventSink;
  readonly metrics: ExposureMetrics;
  readonly config: FirewallControllerConfig;
  /** the process's runtime: it starts and stops this controller with the others */
  readonly runtime: Runtime;
}

export interface FirewallController {
  /** a Service of (or formerly of) floatip's class changed */
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  /** holders, pods or winners changed: runs when the set of Services exposing a won IP changed */
  claimsChanged(): void;
  /** run now; resolves after the run (tests, the demo) */
  syncNow(): Promise<void>;
}

const KEY = 'firewall';
/** how soon a pass that found claims not judged yet (a new term) is tried again */
const JUDGEMENT_POLL_MS = 250;

export class ClusterUnknown extends Error {
  override readonly name = 'ClusterUnknown';
}

interface TermState {
  /** the last list showed no firewall of ours: with nothing wanted, there is nothing to look at */
  knownAbsent: boolean;
  /** the exposing Services of the last run, to tell whether a claims change matters */
  exposing: string;
  /** refusal messages already recorded, per Service: one Warning per message while it lasts */
  readonly warned: Map<string, Set<string>>;
}

const rulesText = (a: FirewallAction) => (a.type === 'delete' ? undefined : a.spec.inbound.map((r) => `${r.protocol}/${r.ports}`).join(', '));

export function createFirewallController(deps: FirewallControllerDeps): FirewallController {
  const { world, config, metrics } = deps;
  const log = deps.logger.child({ controller: 'firewall' });
  const { runtime } = deps;
  const cloud = runtime.fence(deps.cloud, { createFirewall: 1, updateFirewall: 2, deleteFirewall: 1 });
  let term: TermState | undefined;

  const isOurs = (svc: V1Service | undefined) => isFloatipService(svc, config.loadBalancerClass);

  async function clusterUuid(): Promise<string | undefined> {
    const uuid = await deps.clusterUuid();
    if (uuid !== undefined) return uuid;
    const droplets = world
      .listNodes()
      .map((n) => dropletIdOf(n.spec?.providerID))
      .filter((d): d is number => d !== null);
    if (droplets.length === 0) return undefined; // no node on a droplet yet: nothing to target
    throw new ClusterUnknown(`cannot learn the cluster UUID: none of droplets ${droplets.slice(0, 3).join(', ')} carries a k8s:<cluster-uuid> tag (are these DOKS nodes?)`);
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

  /**
   * Service keys exposing a reserved IP their pods won, as the IP controller judged the claims;
   * undefined while some selected pod's claim is not judged yet in this term (a new leader):
   * the firewall is then left as it is rather than closing ports that are only unknown.
   */
  function exposingKeys(services: readonly ServiceFacts[]): Set<string> | undefined {
    if (services.length === 0) return new Set();
    const namespaces = new Set(services.map((svc) => svc.namespace));
    const pods = world
      .listPods()
      .filter((p) => namespaces.has(p.metadata?.namespace ?? ''))
      .map((p) => judgedClaims(p, deps.claims));
    if (awaitingJudgement(services, pods)) return undefined;
    return exposingServices(services, pods, new Map(world.holders().map((h) => [h.ip, h])));
  }

  function report(s: TermState, services: readonly V1Service[], refusals: readonly FirewallRefusal[]): void {
    const now = new Map<string, Set<string>>();
    for (const r of refusals) {
      const messages = now.get(r.service) ?? new Set<string>();
      now.set(r.service, messages.add(r.message));
      if (s.warned.get(r.service)?.has(r.message)) continue;
      log.warn({ service: r.service, reason: r.reason, ports: r.ports, ...(r.owners ? { owners: r.owners } : {}) }, r.message);
      const svc = services.find((x) => `${x.metadata?.namespace}/${x.metadata?.name}` === r.service);
      if (svc) void deps.events.record({ pod: svc, kind: 'Service', type: 'Warning', reason: r.reason, message: r.message });
    }
    s.warned.clear();
    for (const [k, v] of now) s.warned.set(k, v);
  }

  /** One pass; false: some claims are not judged yet in this term, look again soon. */
  async function run(s: TermState, signal: AbortSignal): Promise<boolean> {
    const ours = world.listServices().filter(isOurs);
    const services = ours.map((svc) => serviceFacts(svc, config.loadBalancerClass));
    const uuid = await clusterUuid();
    if (uuid === undefined) return true;
    const exposing = exposingKeys(services);
    if (exposing === undefined) return false;
    s.exposing = [...exposing].sort().join('\n');
    const { spec: desired, refusals } = desiredFirewall(services, uuid, { exposing: (svc) => exposing.has(svc.key), ...(config.ports ? { ports: config.ports } : {}) });
    report(s, ours, refusals);
    if (desired === null && s.knownAbsent) return true;
    const name = firewallName(uuid);
    const existing = await cloud.listFirewalls({ signal });
    const actions = planFirewall(desired, name, existing);
    for (const a of actions) {
      if (signal.aborted) return true;
      await execute(a, name, signal);
    }
    s.knownAbsent = desired === null;
    return true;
  }

  const queue = runtime.register({
    name: 'firewall',
    resyncMs: config.resyncIntervalMs,
    backoff: { baseMs: 500, capMs: 60_000 },
    begin() {
      // nothing of a former term's judgement carries over: a new leader warns afresh
      term = { knownAbsent: false, exposing: '', warned: new Map() };
    },
    end() {
      term = undefined;
    },
    async reconcile(key, ctx) {
      const s = term;
      if (!s) return;
      if (key === RESYNC) {
        // a firewall deleted by hand while no Service changed comes back; one key, so runs stay serial
        s.knownAbsent = s.knownAbsent && !world.listServices().some(isOurs);
        queue.addAfter(KEY, config.batchMs ?? 250);
        return;
      }
      if (!(await run(s, ctx.signal))) return { requeueAfterMs: JUDGEMENT_POLL_MS };
    },
    onError(_key, err, retryInMs) {
      metrics.errors.inc({ controller: 'firewall' });
      const denied = err instanceof DoApiError && (err.status === 401 || err.status === 403);
      const hint = denied ? 'the DigitalOcean token may not manage firewalls: give it the firewall:* and droplet:read scopes, or run with --no-firewall' : 'firewall update failed; retrying';
      log.warn({ err, retryInMs }, hint);
    },
  });

  return {
    serviceChanged(svc, old) {
      if (!term || !(isOurs(svc) || isOurs(old))) return;
      term.knownAbsent = false;
      queue.addAfter(KEY, config.batchMs ?? 250);
    },
    claimsChanged() {
      const s = term;
      if (!s) return;
      const services = world.listServices().filter(isOurs).map((svc) => serviceFacts(svc, config.loadBalancerClass));
      const exposing = exposingKeys(services);
      if (exposing !== undefined && [...exposing].sort().join('\n') === s.exposing) return;
      s.knownAbsent = false;
      queue.addAfter(KEY, config.batchMs ?? 250);
    },
    async syncNow() {
      await queue.flush(KEY);
    },
  };
}
