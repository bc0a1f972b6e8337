// A real, throwaway Kubernetes control plane for e2e tests: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (fake kubelets) on loopback ports, with
// state in a temp dir that stop() deletes. One control plane per test file: start it in
// `before`, stop it in `after`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { locateBinaries } from './binaries.ts';
import { generateControlPlaneCerts } from './certs.ts';
import { kubeConfigFor, kubeConfigYaml } from './kubeconfig.ts';
import { applyManifests, applyObjects, readManifests, rewriteWebhookConfigurations, WEBHOOK_CONFIGURATIONS } from './manifests.ts';
import type { ManifestTransform } from './manifests.ts';
import { nodeOps } from './nodes.ts';
import type { NodeOptions } from './nodes.ts';
import { forgetDir, freePort, removeOnExit, startComponent, waitUntilUp } from './processes.ts';
import type { Component } from './processes.ts';
import { componentArgs, NODE_LEASE_SECONDS, NODE_MONITOR_GRACE_MS } from './component-args.ts';
import { KWOK_USER } from './certs.ts';
import { partitionOps } from './partition.ts';
import { podOps } from './pods.ts';
import type { NodeLeaseSnapshot } from './partition.ts';
import { waitFor } from './wait.ts';

export { waitFor } from './wait.ts';
export { KWOK_ANNOTATION, readyStatus } from './nodes.ts';
export { NODE_LEASE_NAMESPACE } from './partition.ts';
export type { NodeLeaseSnapshot } from './partition.ts';
export { UPSTREAM_NODE_LEASE_SECONDS, UPSTREAM_NODE_MONITOR_GRACE_MS } from './component-args.ts';

export interface ControlPlane {
  readonly kubeconfigPath: string;
  /** admin (system:masters) */
  readonly kubeConfig: KubeConfig;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** PEM of the CA that signed the API server's serving cert */
  readonly caPem: string;
  /** how long start-up took (a benchmark figure for test output, never an assertion) */
  readonly startup: { readonly apiServerReadyMs: number; readonly totalMs: number };
  /** the controller-manager's --node-monitor-grace-period, and kwok's node Lease duration */
  readonly timing: { readonly nodeMonitorGracePeriodMs: number; readonly nodeLeaseDurationSeconds: number };
  /** a kwok-managed node with a DOKS-like shape; waits until Ready unless ready is false */
  addNode(name: string, opts: NodeOptions): Promise<void>;
  deleteNode(name: string): Promise<void>;
  /** Ready=False as reported by a live kubelet: taints follow, pods keep their status */
  setNodeReady(name: string, ready: boolean): Promise<void>;
  /** its kubelet falls silent (a dead droplet): the node Lease keeps its holder and duration but
   * is no longer renewed, and nothing updates the node's or its pods' status. Resolves once the
   * node controller marks the node Ready=Unknown (after the grace period; it then marks its pods
   * NotReady and adds the unreachable taints), or with `awaitUnknown: false` as soon as the
   * silence holds. Returns the Lease as it was left. */
  partitionNode(name: string, opts?: { awaitUnknown?: boolean }): Promise<NodeLeaseSnapshot>;
  /** heartbeats resume; resolves once the Lease was renewed and the node and its running pods are Ready */
  healNode(name: string): Promise<void>;
  /** the pod's Ready (and ContainersReady) condition, as a readiness probe would set it */
  setPodReady(namespace: string, name: string, ready: boolean): Promise<void>;
  /** a kubeconfig authenticating as that service account, with a token from TokenRequest */
  kubeConfigForServiceAccount(namespace: string, name: string): Promise<KubeConfig>;
  /** server-side applies a multi-document YAML file (path relative to the repo root) */
  applyManifests(path: string, transform?: ManifestTransform): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  scheduler?: boolean;
  controllerManager?: boolean;
  kwok?: boolean;
  /** the controller-manager's --node-monitor-grace-period: default 10 s, upstream's is 50 s
   * (UPSTREAM_NODE_MONITOR_GRACE_MS) */
  nodeMonitorGracePeriodMs?: number;
  /** kwok's node Lease duration: default 8 s, upstream's kubelet 40 s (UPSTREAM_NODE_LEASE_SECONDS) */
  nodeLeaseDurationSeconds?: number;
}

const START_TIMEOUT_MS = 60_000;

/** GET `path` on a TLS endpoint; true on HTTP 200. `ca` undefined: any certificate. */
function httpsOk(url: string, ca?: string, client?: { cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, rejectUnauthorized: ca !== undefined, ...client, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // A port found free can be taken by another test's cluster before our component binds it;
  // that one race is worth a second try on fresh ports.
  try {
    return await startOnce(opts);
  } catch (err) {
    if (!(err instanceof Error && /address already in use/.test(err.message))) throw err;
    return startOnce(opts);
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const t0 = Date.now();
  const want = { scheduler: true, controllerManager: true, kwok: true, ...opts };
  const [binaries, dir, ports, certs] = await Promise.all([
    locateBinaries(),
    mkdtemp(join(tmpdir(), 'floatip-cluster-')),
    Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]),
    generateControlPlaneCerts(),
  ]);
  const [etcdPort, etcdPeerPort, apiPort, cmPort, schedulerPort] = ports;
  removeOnExit(dir);
  const components: Component[] = [];
  const stopAll = async () => {
    // All at once, SIGKILL soon after SIGTERM: the state is thrown away, no orderly shutdown is owed
    // (the API server would spend seconds draining).
    await Promise.all(components.map((c) => c.stop(500)));
    await rm(dir, { recursive: true, force: true });
    forgetDir(dir);
  };

  try {
    const server = `https://127.0.0.1:${apiPort}`;
    const file = (name: string) => join(dir, name);
    await Promise.all([
      writeFile(file('ca.crt'), certs.ca.cert),
      writeFile(file('ca.key'), certs.ca.key),
      writeFile(file('apiserver.crt'), certs.apiServer.cert),
      writeFile(file('apiserver.key'), certs.apiServer.key),
      writeFile(file('sa.pub'), certs.serviceAccount.publicKey),
      writeFile(file('sa.key'), certs.serviceAccount.privateKey),
      writeFile(file('admin.kubeconfig'), kubeConfigYaml(server, certs.ca.cert, { clientCert: certs.clients.admin })),
      writeFile(file('controller-manager.kubeconfig'), kubeConfigYaml(server, certs.ca.cert, { clientCert: certs.clients.controllerManager })),
      writeFile(file('scheduler.kubeconfig'), kubeConfigYaml(server, certs.ca.cert, { clientCert: certs.clients.scheduler })),
      writeFile(file('kwok.kubeconfig'), kubeConfigYaml(server, certs.ca.cert, { clientCert: certs.clients.kwok })),
    ]);
    const nodeMonitorGracePeriodMs = opts.nodeMonitorGracePeriodMs ?? NODE_MONITOR_GRACE_MS;
    const nodeLeaseDurationSeconds = opts.nodeLeaseDurationSeconds ?? NODE_LEASE_SECONDS;
    const args = componentArgs({ dir, etcdPort, etcdPeerPort, apiPort, cmPort, schedulerPort }, { nodeMonitorGracePeriodMs, nodeLeaseDurationSeconds });
    const start = (name: keyof typeof args, env?: NodeJS.ProcessEnv) => {
      const c = startComponent({ name, binary: binaries[name], args: args[name], logPath: file(`${name}.log`), env });
      components.push(c);
      return c;
    };

    // etcd and the API server start together: the API server retries etcd while it boots.
    const etcd = start('etcd');
    const apiServer = start('kube-apiserver');
    await waitUntilUp(etcd, () => fetch(`http://127.0.0.1:${etcdPort}/health`).then((r) => r.ok), START_TIMEOUT_MS);
    await waitUntilUp(apiServer, () => httpsOk(`${server}/readyz`, certs.ca.cert, certs.clients.admin), START_TIMEOUT_MS);

    const apiServerReadyMs = Date.now() - t0;
    const kubeConfig = kubeConfigFor(server, certs.ca.cert, { clientCert: certs.clients.admin });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    // Pods are rejected by the ServiceAccount admission plugin until `default` exists; the
    // controller-manager would create it once its informers sync, we save those seconds.
    const waits: Promise<unknown>[] = [createDefaultServiceAccount(core)];
    if (want.controllerManager) {
      const cm = start('kube-controller-manager');
      waits.push(waitUntilUp(cm, () => httpsOk(`https://127.0.0.1:${cmPort}/healthz`), START_TIMEOUT_MS));
    }
    if (want.scheduler) {
      const scheduler = start('kube-scheduler');
      waits.push(waitUntilUp(scheduler, () => httpsOk(`https://127.0.0.1:${schedulerPort}/healthz`), START_TIMEOUT_MS));
    }
    if (want.kwok) {
      // HOME points into the temp dir so kwok cannot pick up a developer's ~/.kwok/kwok.yaml.
      start('kwok', { ...process.env, HOME: dir });
    }
    await Promise.all(waits);

    const nodes = nodeOps(kubeConfig, { kwok: want.kwok });
    const kwokKubeConfig = kubeConfigFor(server, certs.ca.cert, { clientCert: certs.clients.kwok });
    const partitions = partitionOps(kubeConfig, kwokKubeConfig, { graceMs: nodeMonitorGracePeriodMs, kwokUser: KWOK_USER });
    return {
      kubeconfigPath: file('admin.kubeconfig'),
      kubeConfig,
      server,
      caPem: certs.ca.cert,
      startup: { apiServerReadyMs, totalMs: Date.now() - t0 },
      timing: { nodeMonitorGracePeriodMs, nodeLeaseDurationSeconds },
      addNode: nodes.addNode,
      deleteNode: nodes.deleteNode,
      setNodeReady: nodes.setNodeReady,
      partitionNode: partitions.partitionNode,
      healNode: partitions.healNode,
      setPodReady: podOps(kubeConfig).setPodReady,
      async kubeConfigForServiceAccount(namespace, name) {
        const response = await core.createNamespacedServiceAccountToken({
          namespace,
          name,
          body: { spec: { audiences: [], expirationSeconds: 3600 } },
        });
        const token = response.status?.token;
        if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
        return kubeConfigFor(server, certs.ca.cert, { token });
      },
      applyManifests: (path, transform) => applyManifests(kubeConfig, path, transform),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function createDefaultServiceAccount(core: CoreV1Api): Promise<void> {
  try {
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'default' } } });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}

/**
 * Registers the webhook configurations from deploy/ against a webhook served at `url`
 * (https://127.0.0.1:PORT) whose serving cert chains to `caBundlePem`.
 */
export async function registerWebhooks(
  cp: ControlPlane,
  opts: { url: string; caBundlePem: string; failurePolicy?: 'Fail' | 'Ignore' },
): Promise<void> {
  const manifests = await waitFor(
    `${WEBHOOK_CONFIGURATIONS} to exist`,
    () => readManifests(WEBHOOK_CONFIGURATIONS).catch(() => undefined),
    { timeoutMs: 1_000 },
  );
  const objects = rewriteWebhookConfigurations(manifests, opts);
  if (objects.length === 0) throw new Error(`${WEBHOOK_CONFIGURATIONS} holds no webhook configurations`);
  await applyObjects(cp.kubeConfig, objects);
}
