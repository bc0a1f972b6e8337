// Keeps the cluster's floatip firewall on DigitalOcean equal to what the Services of
// floatip's class need (firewall-plan.ts decides). Service changes mark it dirty (a burst
// within batchMs becomes one run), and the runtime's resync re-reads it, so one deleted by
// hand comes back. Each run: the cluster UUID (the IP controller's cloud view learns it), one
// list of firewalls, then at most one write. A cluster without floatip Services costs one
// list per leadership term. The writes go through the runtime's fence.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { DoApiError } from '../../shared/digitalocean/port.ts';
import type { CloudPort } from '../../shared/digitalocean/port.ts';
import type { Logger } from '../../shared/logger.ts';
import { RESYNC } from '../runtime/runtime.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { dropletIdOf } from '../snapshot.ts';
import { isFloatipService, serviceFacts } from './facts.ts';
import { desiredFirewall, firewallName, planFirewall } from './firewall-plan.ts';
import type { FirewallAction } from './firewall-plan.ts';
import type { ExposureMetrics } from './metrics.ts';

export interface FirewallWorld {
  listServices(): readonly V1Service[];
  listNodes(): readonly V1Node[];
}

export interface FirewallControllerConfig {
  readonly loadBalancerClass: string;
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
  readonly logger: Logger;
  readonly metrics: ExposureMetrics;
  readonly config: FirewallControllerConfig;
  /** the process's runtime: it starts and stops this controller with the others */
  readonly runtime: Runtime;
}

export interface FirewallController {
  /** a Service of (or formerly of) floatip's class changed */
  serviceChanged(svc: V1Service | undefined, old?: V1Service): void;
  /** run now; resolves after the run (tests, the demo) */
  syncNow(): Promise<void>;
}

const KEY = 'firewall';

export class ClusterUnknown extends Error {
  override readonly name = 'ClusterUnknown';
}

interface TermState {
  /** the last list showed no firewall of ours: with nothing wanted, there is nothing to look at */
  knownAbsent: boolean;
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

  async function run(s: TermState, signal: AbortSignal): Promise<void> {
    const services = world.listServices().filter(isOurs).map((svc) => serviceFacts(svc, config.loadBalancerClass));
    const uuid = await clusterUuid();
    if (uuid === undefined) return;
    const desired = desiredFirewall(services, uuid);
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

  const queue = runtime.register({
    name: 'firewall',
    resyncMs: config.resyncIntervalMs,
    backoff: { baseMs: 500, capMs: 60_000 },
    begin() {
      term = { knownAbsent: false };
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
      await run(s, ctx.signal);
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
    async syncNow() {
      await queue.flush(KEY);
    },
  };
}
