// Two reconciler replicas in-process (startReconciler), as the floatip-reconciler service
// account, against the real control plane and the DigitalOcean emulator: one leads and
// assigns; a rolling update stops it, the standby takes over through the released Lease and
// keeps the IP on a live droplet when the holder's node goes away.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiException, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from '../test/cluster/harness.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { RunningEmulator } from '../test/do-emulator/server.ts';
import { createLogger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import type { ReconcilerConfig } from './config.ts';
import { startReconciler } from './main.ts';
import type { RunningReconciler } from './main.ts';

const NS = 'floatip-system';
const IP = '104.248.100.100';
const TOKEN = 'process-e2e-token';
const keys = floatingIpKeys();
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Pods of one workload: the same controller owner. A ConfigMap stands in for the ReplicaSet
 *  (the garbage collector deletes pods whose owner does not exist; no scheduler runs here). */
function webPod(name: string, node: string, ownerUid: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'default',
      labels: { [keys.label]: 'true', app: 'web' },
      annotations: { [keys.annotation]: IP },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'web', uid: ownerUid, controller: true }],
    },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.invalid/web:1' }], automountServiceAccountToken: false },
  };
}

describe('two reconciler replicas', () => {
  let cp: ControlPlane;
  let emulator: RunningEmulator;
  const replicas: RunningReconciler[] = [];

  before(async () => {
    [cp, emulator] = await Promise.all([startControlPlane({ scheduler: false }), startEmulator({ token: TOKEN, actionDelayMs: 100 })]);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    try {
      await core.createNamespace({ body: { metadata: { name: NS } } });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    }
    await cp.applyManifests('deploy/manifests/reconciler-rbac.yaml');
    await Promise.all([cp.addNode('pool-a-1', { dropletId: 1001 }), cp.addNode('pool-a-2', { dropletId: 1002 })]);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await emulator?.close();
    await cp?.stop();
  });

  const holder = async (): Promise<number | null | undefined> => {
    const holders = (await (await fetch(`${emulator.url}/_emulator/holders`)).json()) as Record<string, number | null>;
    return holders[IP];
  };

  test('leader assigns, hands over on stop, the new leader fails over on node loss', async () => {
    const config = (podName: string): ReconcilerConfig => ({
      token: TOKEN,
      apiUrl: emulator.url,
      kubeconfig: undefined,
      dryRun: false,
      namespaces: [],
      keys,
      coolOffMs: 1000,
      resyncIntervalMs: 60_000,
      actionExpiryMs: 60_000,
      unassignWhenUnplaced: false,
      // a 20 s lease: a hand-over within a few seconds can only come from the release
      lease: { name: 'floatip-reconciler', namespace: NS, durationMs: 20_000, renewDeadlineMs: 15_000, retryPeriodMs: 250 },
      podName,
      bindAddress: '127.0.0.1',
      healthPort: 0,
      metricsPort: 0,
      shutdownTimeoutMs: 5000,
      logLevel: 'warn',
    });
    const kubeConfig = await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
    const logger = createLogger({ level: 'warn' }, process.stderr);
    for (const name of ['reconciler-0', 'reconciler-1']) {
      replicas.push(await startReconciler(config(name), { kubeConfig, logger: logger.child({ replica: name }), identitySuffix: 'e2e' }));
    }

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'web' } } });
    const ownerUid = owner.metadata?.uid ?? '';
    await core.createNamespacedPod({ namespace: 'default', body: webPod('web-1', 'pool-a-1', ownerUid) });
    await core.createNamespacedPod({ namespace: 'default', body: webPod('web-2', 'pool-a-2', ownerUid) });

    // both replicas are ready (warm caches), exactly one leads
    await waitFor('both replicas ready', async () => {
      const codes = await Promise.all(replicas.map(async (r) => (await fetch(`${r.healthUrl}/readyz`)).status));
      return codes.every((c) => c === 200);
    });
    const leader = await waitFor('a leader', async () => replicas.find((r) => r.isLeader()));
    const standby = replicas.find((r) => r !== leader) as RunningReconciler;
    assert.equal(standby.isLeader(), false);
    const first = await waitFor(`${IP} assigned`, async () => (await holder()) ?? undefined);
    assert.ok(first === 1001 || first === 1002, `holder ${first}`);
    const scrape = await (await fetch(`${leader.metricsUrl}/metrics`)).text();
    assert.ok(scrape.includes('floatip_leader 1\n'), 'leader gauge');
    assert.match(scrape, /floatip_digitalocean_requests_total\{method="GET",route="\/v2\/account",code="200"\} 1\n/);

    // rolling update: the leader stops gracefully and releases the Lease
    const stopping = Date.now();
    await leader.stop();
    await waitFor('the standby to lead', async () => standby.isLeader(), { timeoutMs: 5000, intervalMs: 20 });
    console.error(`# hand-over after SIGTERM-equivalent stop: ${Date.now() - stopping} ms`);

    // the new leader moves the IP when its holder's node is deleted
    const lostNode = first === 1001 ? 'pool-a-1' : 'pool-a-2';
    const target = first === 1001 ? 1002 : 1001;
    await cp.deleteNode(lostNode);
    await waitFor(`${IP} moved to ${target}`, async () => (await holder()) === target);
    const after = await (await fetch(`${standby.metricsUrl}/metrics`)).text();
    assert.ok(after.includes('floatip_leader 1\n'));
    await standby.stop();
  });

  test('the CLI: leads, and on SIGTERM releases the Lease and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floatip-reconciler-'));
    try {
      const kubeconfigPath = join(dir, 'kubeconfig');
      await writeFile(kubeconfigPath, (await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler')).exportConfig());
      const child = spawn(process.execPath, [MAIN, '--health-port', '0', '--metrics-port', '0', '--lease-retry-period', '250ms'], {
        env: { PATH: process.env['PATH'] ?? '', DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: emulator.url, KUBECONFIG: kubeconfigPath, POD_NAME: 'cli-replica', POD_NAMESPACE: NS },
      });
      const lines: Array<Record<string, unknown>> = [];
      createInterface(child.stdout).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitFor('the CLI to lead', async () => lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 20_000 });
      const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
      const lease = await leases.readNamespacedLease({ name: 'floatip-reconciler', namespace: NS });
      assert.match(lease.spec?.holderIdentity ?? '', /^cli-replica-[0-9a-f]{6}$/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const released = await leases.readNamespacedLease({ name: 'floatip-reconciler', namespace: NS });
      assert.equal(released.spec?.holderIdentity, '');
      const messages = lines.map((l) => l['msg']);
      assert.deepEqual(messages.slice(messages.indexOf('shutting down')), ['shutting down', 'stopped leading', 'lease released', 'stopped']);
      assert.equal(JSON.stringify(lines).includes(TOKEN), false, 'the token is never logged');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
