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
import { ApiException, CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startControlPlane, waitFor } from '../test/cluster/harness.ts';
import { startTcpProxy } from '../test/cluster/tcp-proxy.ts';
import type { LoggedRequest } from '../test/do-emulator/admin-routes.ts';
import type { ControlPlane } from '../test/cluster/harness.ts';
import { startEmulator } from '../test/do-emulator/server.ts';
import type { RunningEmulator } from '../test/do-emulator/server.ts';
import { createLogger } from '../shared/logger.ts';
import { floatingIpKeys } from '../shared/keys.ts';
import type { ReconcilerConfig } from './config.ts';
import { reconcilerConfig } from '../test/reconciler-fixture.ts';
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
  const children: ReturnType<typeof spawn>[] = [];

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
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL'); // a failed test must not leave processes behind
    await Promise.all(replicas.map((r) => r.stop()));
    await emulator?.close();
    await cp?.stop();
  });

  const holder = async (): Promise<number | null | undefined> => {
    const holders = (await (await fetch(`${emulator.url}/_emulator/holders`)).json()) as Record<string, number | null>;
    return holders[IP];
  };

  // a 20 s lease: a hand-over within a few seconds can only come from the release
  const RELEASE_TIMING = { durationMs: 20_000, renewDeadlineMs: 15_000, retryPeriodMs: 250 };
  const config = (podName: string, lease = RELEASE_TIMING): ReconcilerConfig =>
    reconcilerConfig(emulator.url, podName, { token: TOKEN, lease: { name: 'floatip-reconciler', namespace: NS, ...lease }, logLevel: 'warn' });
  const logger = createLogger({ level: 'warn' }, process.stderr);

  /** the real CLI as a child process, as the reconciler service account; JSON log lines collected */
  async function spawnCli(podName: string, args: string[], opts: { apiServer?: string } = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'floatip-reconciler-'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    const kubeconfig = JSON.parse((await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler')).exportConfig()) as { clusters: { cluster: { server: string } }[] };
    if (opts.apiServer) for (const c of kubeconfig.clusters) c.cluster.server = opts.apiServer;
    await writeFile(kubeconfigPath, JSON.stringify(kubeconfig));
    const child = spawn(process.execPath, [MAIN, '--health-port', '0', '--metrics-port', '0', ...args], {
      env: { PATH: process.env['PATH'] ?? '', DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: emulator.url, KUBECONFIG: kubeconfigPath, POD_NAME: podName, POD_NAMESPACE: NS },
    });
    children.push(child);
    const lines: Array<Record<string, unknown>> = [];
    createInterface(child.stdout).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    void exited.then(() => rm(dir, { recursive: true, force: true }));
    return { child, lines, exited };
  }
  const readLease = () => cp.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'floatip-reconciler', namespace: NS });

  test('leader assigns, hands over on stop, the new leader fails over on node loss', async () => {
    const kubeConfig = await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
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
    const cli = await spawnCli('cli-replica', ['--lease-retry-period', '250ms']);
    await waitFor('the CLI to lead', async () => cli.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 20_000 });
    assert.match((await readLease()).spec?.holderIdentity ?? '', /^cli-replica-[0-9a-f]{6}$/);
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
    assert.equal((await readLease()).spec?.holderIdentity, '');
    const messages = cli.lines.map((l) => l['msg']);
    assert.deepEqual(messages.slice(messages.indexOf('shutting down')), ['shutting down', 'stopped leading', 'lease released', 'stopped']);
    assert.equal(JSON.stringify(cli.lines).includes(TOKEN), false, 'the token is never logged');
  });

  test('a killed leader (SIGKILL): the standby takes over after the lease expires and handles the next failover', async () => {
    const timing = { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
    const cli = await spawnCli('doomed', ['--lease-duration', '3s', '--lease-renew-deadline', '2s', '--lease-retry-period', '250ms']);
    await waitFor('the CLI to lead', async () => cli.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 20_000 });
    const kubeConfig = await cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
    const standby = await startReconciler(config('survivor', timing), { kubeConfig, logger: logger.child({ replica: 'survivor' }), identitySuffix: 'e2e' });
    replicas.push(standby);
    await waitFor('the survivor synced', async () => standby.synced());
    assert.equal(standby.isLeader(), false);

    cli.child.kill('SIGKILL');
    await cli.exited;
    const lastRenew = new Date(String((await readLease()).spec?.renewTime)).getTime();
    await waitFor('the survivor to lead', async () => standby.isLeader(), { timeoutMs: 10_000, intervalMs: 20 });
    const lease = await readLease();
    assert.equal(lease.spec?.holderIdentity, 'survivor-e2e');
    const waited = new Date(String(lease.spec?.acquireTime)).getTime() - lastRenew;
    assert.ok(waited > 3000, `took over ${waited} ms after the last renew: before the lease expired`);

    // the IP sits on the one droplet left (the first test deleted the other node); give it a
    // new home, then take the old one away
    const current = await holder();
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const ownerUid = (await core.readNamespacedConfigMap({ namespace: 'default', name: 'web' })).metadata?.uid ?? '';
    await cp.addNode('pool-a-3', { dropletId: 1003 });
    await core.createNamespacedPod({ namespace: 'default', body: webPod('web-3', 'pool-a-3', ownerUid) });
    await cp.deleteNode(current === 1001 ? 'pool-a-1' : 'pool-a-2');
    await waitFor(`${IP} moved to 1003`, async () => (await holder()) === 1003);
    await standby.stop();
  });

  test('fencing: a leader cut off from the API server while its DigitalOcean call is slow writes nothing after its renew deadline; the new leader places the IP on a Ready node', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const ownerUid = (await core.readNamespacedConfigMap({ namespace: 'default', name: 'web' })).metadata?.uid ?? '';
    for (const [name, droplet] of [['pool-a-1', 1001], ['pool-a-2', 1002]] as const) {
      if (!(await core.listNode()).items.some((n) => n.metadata?.name === name)) await cp.addNode(name, { dropletId: droplet });
      await core.createNamespacedPod({ namespace: 'default', body: webPod(`fenced-${droplet}`, name, ownerUid) });
    }
    const holderNode = `pool-a-${Number(await holder()) - 1000}`;
    const lease = ['--lease-duration', '4s', '--lease-renew-deadline', '3s', '--lease-retry-period', '500ms'];
    const proxy = await startTcpProxy(cp.kubeConfig.getCurrentCluster()?.server ?? '');
    try {
      const cutOff = await spawnCli('cut-off', lease, { apiServer: proxy.url });
      await waitFor('the cut-off replica to lead', async () => cutOff.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 20_000 });
      const successor = await spawnCli('successor', lease);
      await waitFor('the successor to join the election', async () => successor.lines.some((l) => l['msg'] === 'informer caches synced; joining leader election'), { timeoutMs: 20_000 });
      const uaOf = (r: LoggedRequest, who: string) => (r.userAgent ?? '').includes(` reconciler/${who}-`);

      // The leader's next assign is slow at DigitalOcean: it is still on the wire when the
      // leader loses the API server.
      await fetch(`${emulator.url}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'POST', path: '/actions$', latencyMs: 8000 }) });
      await core.patchNode({ name: holderNode, body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await waitFor('the leader\'s assign in flight', async () => {
        const flying = (await (await fetch(`${emulator.url}/_emulator/in-flight`)).json()) as { method: string; userAgent: string | null }[];
        return flying.some((f) => f.method === 'POST' && (f.userAgent ?? '').includes(' reconciler/cut-off-'));
      });
      const lastRenew = new Date(String((await readLease()).spec?.renewTime)).getTime();
      proxy.cut();
      const deadline = lastRenew + 3000; // no renewal can succeed after the cut

      await waitFor('the successor to lead', async () => successor.lines.some((l) => l['msg'] === 'started leading'), { timeoutMs: 15_000 });
      const final = await waitFor('the IP on a Ready, schedulable node', async () => {
        const h = await holder();
        return h !== undefined && h !== null && `pool-a-${h - 1000}` !== holderNode ? h : undefined;
      }, { timeoutMs: 15_000 });
      await waitFor('the cut-off replica to step down', async () => cutOff.lines.some((l) => l['msg'] === 'stopped leading'));

      const requests = (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as LoggedRequest[];
      const writes = requests.filter((r) => r.method !== 'GET');
      const fromCutOff = writes.filter((r) => uaOf(r, 'cut-off'));
      const applied = fromCutOff.filter((r) => r.status !== 0);
      assert.deepEqual(applied.filter((r) => Date.parse(r.time) >= deadline), [], 'no write from the cut-off leader reached DigitalOcean after its renew deadline');
      assert.ok(fromCutOff.some((r) => r.aborted === true && r.status === 0), 'its slow assign was aborted on the socket and never applied');
      const last = writes.filter((r) => r.status >= 200 && r.status < 300).at(-1);
      assert.ok(last && uaOf(last, 'successor'), `the last applied write came from the new leader (${last?.userAgent})`);
      assert.ok([1001, 1002].includes(final), `on a Ready node: ${final}`);
      const stepDown = cutOff.lines.find((l) => l['msg'] === 'stopped leading');
      assert.match(String(stepDown?.['reason']), /could not renew/);
      cutOff.child.kill('SIGKILL');
      successor.child.kill('SIGTERM');
      await Promise.all([cutOff.exited, successor.exited]);
    } finally {
      await proxy.close();
    }
  });
});
