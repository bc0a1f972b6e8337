// The reconciler process: config → start-up checks → informers (on every replica, so standbys
// have warm caches) → leader election → the controller runs only while leading. SIGTERM and
// SIGINT stop the controller, release the Lease (a standby takes over in about a second),
// stop the informers and close the HTTP servers, bounded by --shutdown-timeout.
//   node dist/reconciler/main.js --help
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { createKubeClient } from '../shared/kube/client.ts';
import type { KubeClient } from '../shared/kube/client.ts';
import { kubeconfigConnection, loadConnection } from '../shared/kube/connection.ts';
import { kubeApis } from './kube/api.ts';
import { createDoClient, DEFAULT_API_URL, userAgent } from '../shared/digitalocean/client.ts';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { CloudPort, ReservedIpPort } from '../shared/digitalocean/port.ts';
import { createLogger } from '../shared/logger.ts';
import type { Logger } from '../shared/logger.ts';
import { describeConfig, parseConfig } from './config.ts';
import type { ReconcilerConfig } from './config.ts';
import { createController } from './ip/controller.ts';
import type { Controller, DropletReader, WorldSource } from './ip/controller.ts';
import { createRuntime } from './runtime/runtime.ts';
import { createKubernetesEventSink } from './events.ts';
import type { EventSink } from './events.ts';
import { createInformers, kubeInformerFactory } from './informers.ts';
import type { InformerFactory } from './informers.ts';
import { createLeaderElector } from './leader.ts';
import { createReconcilerMetrics } from './metrics.ts';
import { DEFAULT_EXPOSE_WAIT } from './actuator.ts';
import { createExposure } from './exposure/exposure.ts';
import type { ExposureControllers } from './exposure/exposure.ts';
import { createExposureMetrics } from './exposure/metrics.ts';
import { createServiceWriter } from './exposure/service-writer.ts';
import type { ReconcilerMetrics } from './metrics.ts';
import { ensureLivenessKey } from './liveness/key.ts';
import { createLiveness } from './liveness/liveness.ts';
import type { Liveness } from './liveness/liveness.ts';
import { createLivenessMetrics } from './liveness/metrics.ts';
import { startHttpServer } from './server.ts';
import type { RunningServer } from './server.ts';
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { randomBytes } = process.getBuiltinModule('node:crypto');
const { readFileSync } = process.getBuiltinModule('node:fs');

/** A start-up problem a person must fix; main() logs the message and exits 1. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface ReconcilerDeps {
  logger?: Logger;
  metrics?: ReconcilerMetrics;
  /** default: from config.kubeconfig, or the in-cluster service account (tests: the harness's) */
  kubeConfig?: Pick<KubeConfig, 'exportConfig'>;
  /** default: the DigitalOcean HTTP client for config.token / config.apiUrl */
  port?: ReservedIpPort;
  events?: EventSink;
  /** firewall and droplet calls; default: `port` when it has them (the HTTP client does) */
  cloud?: CloudPort;
  informerFactory?: InformerFactory;
  /** suffix of the lease identity; default 6 random hex digits */
  identitySuffix?: string;
}

export interface RunningReconciler {
  /** lease identity: pod name + random suffix */
  readonly identity: string;
  readonly metrics: ReconcilerMetrics;
  readonly controller: Controller;
  /** Services of floatip's class and the firewall (run while leading) */
  readonly exposure: ExposureControllers;
  /** liveness probes of holder droplets; undefined when off */
  readonly liveness: Liveness | undefined;
  /** base URLs of the servers, e.g. http://127.0.0.1:8081 (equal when one server serves all) */
  readonly healthUrl: string;
  readonly metricsUrl: string;
  isLeader(): boolean;
  synced(): boolean;
  /** graceful stop; idempotent */
  stop(): Promise<void>;
}

/** GET /v2/account once, turning the usual failures into one clear sentence. */
export async function checkDigitalOcean(port: ReservedIpPort, apiUrl: string): Promise<{ uuid: string; status: string }> {
  try {
    const account = await port.getAccount();
    return { uuid: account.uuid, status: account.status };
  } catch (err) {
    if (err instanceof DoApiError && err.status === 401) {
      throw new StartupError(`DigitalOcean token invalid: ${apiUrl} answered 401 to GET /v2/account; check DIGITALOCEAN_TOKEN`, { cause: err });
    }
    if (err instanceof DoApiError && err.status === 403) {
      throw new StartupError(`DigitalOcean token not allowed to read the account (403): ${err.message}`, { cause: err });
    }
    if (err instanceof DoApiError && err.errorClass === 'Transient' && err.status === undefined) {
      throw new StartupError(`DigitalOcean API unreachable at ${apiUrl}: ${err.message}`, { cause: err });
    }
    throw new StartupError(`DigitalOcean account check failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The API server connection: the kubeconfig given, the in-cluster service account, or a test's. */
async function connectKube(config: ReconcilerConfig, given: ReconcilerDeps['kubeConfig']): Promise<KubeClient> {
  try {
    const conn = given ? kubeconfigConnection(JSON.parse(given.exportConfig()), '.') : await loadConnection(config.kubeconfig, process.env);
    // list pages of 500 whole objects are a few MiB each; the default 8 MiB is for small calls
    return createKubeClient(conn, { userAgent: 'floatip-reconciler', maxBodyBytes: 64 * 1024 * 1024, maxSockets: 16 });
  } catch (err) {
    const source = config.kubeconfig ? `kubeconfig ${config.kubeconfig}` : 'in-cluster service account';
    throw new StartupError(`cannot load the ${source}: ${(err as Error).message}`, { cause: err });
  }
}

/** Resolves with the promise, or with `undefined` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, undefined, { signal: timer.signal }).then(() => undefined)]);
  } finally {
    timer.abort();
  }
}

export async function startReconciler(config: ReconcilerConfig, deps: ReconcilerDeps = {}): Promise<RunningReconciler> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, name: 'floatip-reconciler' });
  const metrics = deps.metrics ?? createReconcilerMetrics({ defaultMetrics: true });
  logger.info({ config: describeConfig(config) }, 'starting');

  const apiUrl = config.apiUrl ?? DEFAULT_API_URL;
  // The lease identity names this replica to DigitalOcean too (User-Agent), so a request log
  // — the emulator's, or DigitalOcean support's — tells which replica wrote.
  const identity = `${config.podName}-${deps.identitySuffix ?? randomBytes(3).toString('hex')}`;
  const client =
    deps.port ??
    createDoClient({
      token: config.token,
      ...(config.apiUrl === undefined ? {} : { baseUrl: config.apiUrl }),
      userAgent: userAgent('reconciler', identity),
      // A DigitalOcean action is state the controller keeps (pending, polled by re-planning),
      // not a wait that holds a worker; long 429 waits come back as RateLimited for the
      // per-IP state machine to schedule, so a failover is never stuck behind them.
      actionWait: { totalMs: 5_000 },
      retry: { maxRateLimitWaitMs: 5_000 },
      logger,
      onResponse: (r) => {
        metrics.doCalls.inc({ method: r.method, route: r.route, code: r.code });
        if (r.rateLimitRemaining !== undefined) metrics.rateBudgetRemaining.set(r.rateLimitRemaining);
      },
    });
  const port: ReservedIpPort = client;
  const account = await checkDigitalOcean(port, apiUrl);
  logger.info({ account: account.uuid, status: account.status }, 'DigitalOcean token accepted');

  const kube = await connectKube(config, deps.kubeConfig);
  const { core, leases } = kubeApis(kube);
  const events = deps.events ?? createKubernetesEventSink({ api: core, logger, instance: config.podName });

  // The controller reads the informer caches only once it runs (on leading), by then they exist.
  const world: WorldSource = {
    listPods: () => informers.listPods(),
    listNodes: () => informers.listNodes(),
    ...(config.heartbeat.enabled ? { listNodeLeases: () => informers.listNodeLeases() } : {}),
  };
  const cloud = deps.cloud ?? ('listFirewalls' in client ? (client as ReservedIpPort & CloudPort) : undefined);
  const manageFirewall = config.manageFirewall ?? true;
  if (manageFirewall && !cloud) logger.warn('the DigitalOcean port has no firewall calls: the floatip firewall is not managed');
  // One runtime for the three controllers: one term starts and stops them together, and fences
  // every write they make.
  const runtime = createRuntime();
  const failoverWaitMs = config.exposeWaitMs ?? DEFAULT_EXPOSE_WAIT.failoverMs;
  const ctl = createController({
    runtime,
    port,
    droplets: 'getDroplet' in client ? (client as ReservedIpPort & DropletReader) : undefined,
    world,
    events,
    logger,
    metrics,
    // the Service controller below: it reads this controller's claims, so it is made after it
    exposure: {
      beforeAssign: (ip, dropletId, waitMs, signal) => exposure.beforeAssign(ip, dropletId, waitMs, signal),
      holdersChanged: () => exposure.holdersChanged(),
    },
    // a new leader probes the holders it inherits as soon as it knows them
    onHoldersListed: () => liveness?.holdersListed(),
    config: {
      keys: config.keys,
      dryRun: config.dryRun,
      coolOffMs: config.coolOffMs,
      unassignWhenUnplaced: config.unassignWhenUnplaced,
      resyncIntervalMs: config.resyncIntervalMs,
      actionExpiryMs: config.actionExpiryMs,
      adoptable: config.adoptable,
      ipPolicy: config.ipPolicy,
      heartbeat: config.heartbeat,
      exposeWait: { failoverMs: failoverWaitMs, placementMs: Math.max(failoverWaitMs, DEFAULT_EXPOSE_WAIT.placementMs) },
    },
  });
  const exposure = createExposure({
    runtime,
    world: { ...world, listServices: () => informers.listServices(), holders: () => ctl.holders() },
    claims: ctl,
    writer: createServiceWriter(core),
    cloud,
    events,
    logger,
    metrics: createExposureMetrics(metrics.registry),
    config: {
      keys: config.keys,
      loadBalancerClass: config.loadBalancerClass ?? config.keys.annotation,
      manageFirewall: manageFirewall && cloud !== undefined,
      firewallPorts: config.firewallPorts,
      anchorRange: config.anchorRange,
      resyncIntervalMs: config.resyncIntervalMs,
      dryRun: config.dryRun,
    },
  });
  const lv = config.liveness;
  const liveness = lv?.enabled
    ? createLiveness({
        config: { ...lv, failuresToSuspect: 2, selfNode: lv.nodeName },
        loadKey: () => ensureLivenessKey(core, lv.secret.namespace, lv.secret.name),
        targets: () => ctl.livenessTargets(),
        quiet: () => ctl.quietDroplets(),
        onChange: (dead) => ctl.livenessChanged(dead),
        metrics: createLivenessMetrics(metrics.registry),
        logger,
      })
    : undefined;
  const informers = createInformers({
    factory: deps.informerFactory ?? kubeInformerFactory(kube, config.keys.selector),
    namespaces: config.namespaces,
    onPod: (pod, old) => {
      ctl.podChanged(pod, old);
      exposure.podChanged(pod, old);
    },
    onNode: (node, old) => {
      liveness?.nodeChanged(node, old);
      ctl.nodeChanged(node, old);
      exposure.nodeChanged(node, old);
    },
    onService: (svc, old) => exposure.serviceChanged(svc, old),
    ...(config.heartbeat.enabled ? { onNodeLease: (lease: V1Lease | undefined, old?: V1Lease) => ctl.nodeLeaseChanged(lease, old) } : {}),
    metrics,
    logger,
  });

  const elector = createLeaderElector({
    api: leases,
    name: config.lease.name,
    namespace: config.lease.namespace,
    identity,
    leaseDurationMs: config.lease.durationMs,
    renewDeadlineMs: config.lease.renewDeadlineMs,
    retryPeriodMs: config.lease.retryPeriodMs,
    logger,
    onStartedLeading: (term) => {
      metrics.isLeader.set(1);
      runtime.start(term);
      liveness?.start(term.signal);
    },
    onStoppedLeading: async () => {
      metrics.isLeader.set(0);
      // The term's signal has already aborted the calls in flight: this only waits for them
      // to unwind, which is quick; the bound is for a bug, not for DigitalOcean.
      const done = await within(runtime.stop().then(() => true), config.shutdownTimeoutMs / 2);
      if (!done) logger.error('controller did not unwind after its term was cancelled; handing over anyway');
    },
  });

  const servers: RunningServer[] = [];
  const closeServers = () => Promise.all(servers.map((s) => s.close()));
  try {
    const ready = () => informers.synced();
    if (config.healthPort === config.metricsPort) {
      servers.push(await startHttpServer({ host: config.bindAddress, port: config.healthPort, endpoints: { ready, registry: metrics.registry } }));
    } else {
      servers.push(await startHttpServer({ host: config.bindAddress, port: config.healthPort, endpoints: { ready } }));
      servers.push(await startHttpServer({ host: config.bindAddress, port: config.metricsPort, endpoints: { registry: metrics.registry } }));
    }
  } catch (err) {
    await closeServers();
    throw new StartupError(`cannot listen on ${config.bindAddress}: ${(err as Error).message}`, { cause: err });
  }

  let stopping: Promise<void> | undefined;
  informers.start();
  // Only a replica with a complete view may lead: an empty cache would look like "no pods".
  void informers.whenSynced().then(() => {
    if (stopping) return;
    logger.info({ identity, lease: `${config.lease.namespace}/${config.lease.name}` }, 'informer caches synced; joining leader election');
    elector.start();
  });

  const health = servers[0] as RunningServer;
  const scrape = servers[1] ?? health;
  logger.info({ health: health.url, metrics: scrape.url }, 'serving /healthz, /readyz and /metrics');

  return {
    identity,
    metrics,
    controller: ctl,
    exposure,
    liveness,
    healthUrl: health.url,
    metricsUrl: scrape.url,
    isLeader: () => elector.isLeader(),
    synced: () => informers.synced(),
    stop: () =>
      (stopping ??= (async () => {
        await elector.stop(); // stops the controller first if leading, then releases the Lease
        await informers.stop();
        await closeServers();
        kube.close();
        logger.info('stopped');
      })()),
  };
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseConfig({ argv, env, readFile: (path) => readFileSync(path, 'utf8'), hostname: hostname() });
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`floatip-reconciler: ${parsed.message}\nRun with --help for the flags.\n`);
    return 2;
  }
  const config = parsed.config;
  const logger = createLogger({ level: config.logLevel, name: 'floatip-reconciler' });
  let running: RunningReconciler;
  try {
    running = await startReconciler(config, { logger });
  } catch (err) {
    if (err instanceof StartupError) logger.fatal({ err: err.cause ?? err }, err.message);
    else logger.fatal({ err }, 'start-up failed');
    return 1;
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
  const stopped = await within(running.stop().then(() => true), config.shutdownTimeoutMs);
  if (!stopped) {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown timed out');
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), process.env);
  // Open sockets (keep-alive agents, a hung watch) must not keep a stopped process alive.
  process.exit();
}
