// The whole floatip chain for reconciler e2e tests: a real control plane (scheduler,
// controller-manager, kwok nodes shaped like DOKS workers on droplets of the emulator's
// default world), the real mutating/validating webhook registered with the API server, the
// DigitalOcean emulator, and reconcilers started in-process as the floatip-reconciler
// service account with the RBAC from deploy/. Pods get their label from the webhook only,
// so a reconciler that sees a pod proves the chain up to the informer.
import { Writable } from 'node:stream';
import { ApiException, AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Event, KubeConfig, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { registerWebhooks, startControlPlane, waitFor } from './cluster/harness.ts';
import type { ControlPlane, ControlPlaneOptions } from './cluster/harness.ts';
import { startEmulator } from './do-emulator/server.ts';
import type { RunningEmulator } from './do-emulator/server.ts';
import type { LoggedRequest } from './do-emulator/admin-routes.ts';
import type { FaultSpec } from './do-emulator/faults.ts';
import { createLogger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import { startWebhookServer } from '../webhook/server.ts';
import type { RunningWebhookServer } from '../webhook/server.ts';
import { generateLoopbackTls } from '../webhook/tls/certs.ts';
import type { ReconcilerConfig } from '../reconciler/config.ts';
import { parseAdoptableIps } from '../reconciler/adoptable.ts';
import { startReconciler } from '../reconciler/main.ts';
import type { ReconcilerDeps, RunningReconciler } from '../reconciler/main.ts';

export const NS = 'floatip-system';
export const APP_NS = 'default';
export const TOKEN = 'reconciler-e2e-token';
export const keys = floatingIpKeys();

/** kwok node name for a droplet of the default world: 1001 → pool-a-1 */
export const nodeOf = (dropletId: number): string => `pool-a-${dropletId - 1000}`;
export const dropletOf = (nodeName: string | undefined): number => 1000 + Number(/^pool-a-(\d+)$/.exec(nodeName ?? '')?.[1] ?? Number.NaN);

export interface EmulatorAdmin {
  holders(): Promise<Record<string, number | null>>;
  holder(ip: string): Promise<number | null | undefined>;
  requests(): Promise<LoggedRequest[]>;
  clearRequests(): Promise<void>;
  fault(spec: FaultSpec): Promise<void>;
  /** moves an IP "by hand, outside the cluster" */
  setHolder(ip: string, dropletId: number | null): Promise<void>;
  addDroplet(id: number, name: string): Promise<void>;
}

export function emulatorAdmin(url: string): EmulatorAdmin {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}/_emulator${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!res.ok) throw new Error(`emulator admin ${method} ${path} → ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  };
  const holders = () => call('GET', '/holders') as Promise<Record<string, number | null>>;
  return {
    holders,
    holder: async (ip) => (await holders())[ip],
    requests: () => call('GET', '/requests') as Promise<LoggedRequest[]>,
    clearRequests: async () => void (await call('DELETE', '/requests')),
    fault: async (spec) => void (await call('POST', '/faults', spec)),
    setHolder: async (ip, dropletId) => void (await call('PUT', `/holders/${encodeURIComponent(ip)}`, { droplet_id: dropletId })),
    addDroplet: async (id, name) => void (await call('POST', '/droplets', { id, name })),
  };
}

/** pino lines a reconciler wrote, parsed; `find` returns those whose fields match. */
export interface LogCapture {
  readonly lines: Record<string, unknown>[];
  find(match: Record<string, unknown>): Record<string, unknown>[];
}

export function captureLogs(): { capture: LogCapture; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const find = (match: Record<string, unknown>) => lines.filter((l) => Object.entries(match).every(([k, v]) => l[k] === v));
  return { capture: { lines, find }, stream };
}

export interface ReconcilerWorld {
  readonly cp: ControlPlane;
  readonly emulator: RunningEmulator;
  readonly webhook: RunningWebhookServer;
  readonly admin: EmulatorAdmin;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  /** the floatip-reconciler service account, bound by deploy/manifests/reconciler-rbac.yaml */
  readonly reconcilerKubeConfig: KubeConfig;
  /** a reconciler (stopped by world.stop() unless stopped before) with its log lines */
  startReplica(name: string, overrides?: Partial<ReconcilerConfig>, deps?: ReconcilerDeps): Promise<{ running: RunningReconciler; logs: LogCapture }>;
  stop(): Promise<void>;
}

/** Starts everything; `droplets` become Ready kwok nodes (default 1001..1003). */
export async function startReconcilerWorld(
  opts: { droplets?: readonly number[]; actionDelayMs?: number; controlPlane?: ControlPlaneOptions } = {},
): Promise<ReconcilerWorld> {
  const tls = generateLoopbackTls();
  const [cp, emulator, webhook] = await Promise.all([
    startControlPlane(opts.controlPlane),
    startEmulator({ token: TOKEN, actionDelayMs: opts.actionDelayMs ?? 100 }),
    startWebhookServer({ tls: { cert: tls.certPem, key: tls.keyPem } }),
  ]);
  const replicas: RunningReconciler[] = [];
  const stop = async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await webhook.close({ graceMs: 0 });
    await emulator.close();
    await cp.stop();
  };
  try {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    await cp.applyManifests('deploy/manifests/namespace.yaml');
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    await registerWebhooks(cp, { url: webhook.url, caBundlePem: tls.caPem });
    await Promise.all((opts.droplets ?? [1001, 1002, 1003]).map((id) => cp.addNode(nodeOf(id), { dropletId: id })));
    // The API server picks up webhook configurations asynchronously: a dry run shows when.
    await waitFor('the mutating webhook to label annotated pods', async () => {
      const probe: V1Pod = {
        metadata: { name: 'webhook-probe', annotations: { [keys.annotation]: '104.248.100.100' } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/probe:1' }] },
      };
      const created = await core.createNamespacedPod({ namespace: APP_NS, body: probe, dryRun: 'All' });
      return created.metadata?.labels?.[keys.label] === 'true';
    });
    const reconcilerKubeConfig = await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
    return {
      cp,
      emulator,
      webhook,
      admin: emulatorAdmin(emulator.url),
      core,
      apps,
      reconcilerKubeConfig,
      async startReplica(name, overrides = {}, deps = {}) {
        const { capture, stream } = captureLogs();
        const running = await startReconciler(reconcilerConfig(emulator.url, name, overrides), {
          kubeConfig: reconcilerKubeConfig,
          logger: createLogger({ level: 'debug', name: 'floatip-reconciler' }, stream),
          identitySuffix: 'e2e',
          ...deps,
        });
        replicas.push(running);
        return { running, logs: capture };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The config a replica would parse from flags, with test-sized timings. */
export function reconcilerConfig(apiUrl: string, podName: string, overrides: Partial<ReconcilerConfig> = {}): ReconcilerConfig {
  return {
    token: TOKEN,
    apiUrl,
    kubeconfig: undefined,
    dryRun: false,
    namespaces: [],
    keys,
    coolOffMs: 1000,
    resyncIntervalMs: 60_000,
    actionExpiryMs: 60_000,
    unassignWhenUnplaced: false,
    adoptable: parseAdoptableIps(undefined),
    heartbeat: { enabled: true, graceMs: undefined },
    lease: { name: 'floatip-reconciler', namespace: NS, durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 250 },
    podName,
    bindAddress: '127.0.0.1',
    healthPort: 0,
    metricsPort: 0,
    shutdownTimeoutMs: 5000,
    logLevel: 'debug',
    ...overrides,
  };
}

/**
 * A Deployment whose pods claim `annotation`, one pod per node (required anti-affinity on
 * the hostname), so a lost node takes exactly one replica with it.
 */
export function floatingDeployment(name: string, annotation: string, replicas: number): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace: APP_NS },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { [keys.annotation]: annotation } },
        spec: {
          containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
        },
      },
    },
  };
}

export const isServing = (pod: V1Pod): boolean =>
  !pod.metadata?.deletionTimestamp &&
  pod.status?.phase === 'Running' &&
  pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Waits until exactly `count` pods of the app run Ready and none is terminating. */
export function servingPods(core: CoreV1Api, app: string, count: number): Promise<V1Pod[]> {
  return waitFor(
    `${count} serving pods of ${app}`,
    async () => {
      const pods = (await core.listNamespacedPod({ namespace: APP_NS, labelSelector: `app=${app}` })).items;
      return pods.length === count && pods.every(isServing) ? pods : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** Events recorded on that pod (by UID), oldest first. */
export async function podEvents(core: CoreV1Api, pod: V1Pod): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace: pod.metadata?.namespace ?? APP_NS, fieldSelector: `involvedObject.uid=${pod.metadata?.uid}` });
  return list.items.filter((e) => e.source?.component === 'floatip-reconciler');
}

/** A JSON merge patch: no resourceVersion, so kwok's status updates cannot conflict with it. */
export async function patchNode(core: CoreV1Api, name: string, patch: object): Promise<void> {
  await core.patchNode({ name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export const setUnschedulable = (core: CoreV1Api, name: string, unschedulable: boolean): Promise<void> =>
  patchNode(core, name, { spec: { unschedulable } });

export async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 404)) throw err;
  }
}
