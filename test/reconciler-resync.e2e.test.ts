// The reconciler on the whole chain, part two: drift made by hand in DigitalOcean is repaired
// by the periodic resync, --dry-run decides without a single write call, a pool annotation
// spreads IPv4 over distinct droplets, and a leader killed with SIGKILL (no Lease release)
// is replaced by a warm standby that keeps failing over. The tests run in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import { APP_NS, NS, TOKEN, captureLogs, dropletOf, floatingDeployment, nodeOf, servingPods, startReconcilerWorld } from './reconciler-fixture.ts';
import type { LogCapture, ReconcilerWorld } from './reconciler-fixture.ts';
import type { RunningReconciler } from '../reconciler/main.ts';

const SOLO_IP = '104.248.100.100';
const POOL = ['104.248.100.101', '104.248.100.102', '2604:a880:800:14::1000'] as const;
const MAIN = fileURLToPath(new URL('../reconciler/main.ts', import.meta.url));
/** a short lease: a killed leader never releases it, the standby waits for the expiry */
const SHORT_LEASE = { name: 'floatip-reconciler', namespace: NS, durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };

describe('reconciler resync, dry-run, pools and a killed leader on the real control plane', () => {
  let world: ReconcilerWorld;
  let tmp: string;
  let killed: ChildProcess | undefined;
  let exited: Promise<NodeJS.Signals | number | null>;
  const droplets = async (app: string, count: number) => (await servingPods(world.core, app, count)).map((p: V1Pod) => dropletOf(p.spec?.nodeName));
  const lines = (logs: LogCapture, msg: string, since = 0) => logs.find({ msg }).filter((l) => logs.lines.indexOf(l) >= since);

  before(async () => {
    [world, tmp] = await Promise.all([startReconcilerWorld(), mkdtemp(join(tmpdir(), 'floatip-reconciler-e2e-'))]);
  });
  after(async () => {
    killed?.kill('SIGKILL');
    await world?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  let solo: number;
  let first: RunningReconciler;

  test('an IP moved by hand to another node of the cluster is moved back by the periodic resync', async () => {
    const replica = await world.startReplica('reconciler-0', { resyncIntervalMs: 1500 });
    first = replica.running;
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment('solo', SOLO_IP, 1) });
    [solo] = (await droplets('solo', 1)) as [number];
    await waitFor(`${SOLO_IP} on ${solo}`, async () => (await world.admin.holder(SOLO_IP)) === solo);
    // the emulator shows the holder when the action completes; the log line follows
    await waitFor('the first attach', async () => lines(replica.logs, 'Floating IP attached to droplet').length === 1);

    // someone reassigns the IP in the DigitalOcean console to another node of the cluster
    // (a droplet outside it would be left alone: the claim policy, reconciler-claims.e2e)
    const elsewhere = [1001, 1002, 1003].find((d) => d !== solo) as number;
    const since = replica.logs.lines.length;
    await world.admin.clearRequests();
    await world.admin.setHolder(SOLO_IP, elsewhere);
    // no Kubernetes object changed: only the resync (every 1.5 s) can notice
    const repaired = await waitFor('the repair log line', async () => {
      const found = lines(replica.logs, 'Floating IP attached to droplet', since);
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual(repaired.map((l) => [l.ip, l.droplet, l.node, l.reason]), [[SOLO_IP, solo, nodeOf(solo), 'holder-not-eligible']]);
    assert.equal(await world.admin.holder(SOLO_IP), solo);
    const requests = await world.admin.requests();
    assert.deepEqual(
      requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.status, r.body]),
      [[`/v2/reserved_ips/${SOLO_IP}/actions`, 201, { type: 'assign', droplet_id: solo }]],
    );
    // the resync lists the IPs (one request per page); it does not read them one by one
    assert.ok(requests.some((r) => r.method === 'GET' && r.path === '/v2/reserved_ips'));
    assert.deepEqual(requests.filter((r) => r.method === 'GET' && r.path === `/v2/reserved_ips/${SOLO_IP}`), []);
  });

  test('dry-run: decides and logs "would assign", makes no write call', async () => {
    await first.stop();
    await world.admin.setHolder(SOLO_IP, null);
    await world.admin.clearRequests();
    const dry = await world.startReplica('reconciler-dry', { dryRun: true, resyncIntervalMs: 1500 });
    // two resync rounds: the decision is made (and not carried out) again each time
    const would = await waitFor('two "would assign" lines', async () => {
      const found = dry.logs.find({ msg: 'would assign' });
      return found.length >= 2 ? found : undefined;
    });
    for (const l of would) assert.deepEqual([l.ip, l.droplet, l.node, l.reason], [SOLO_IP, solo, nodeOf(solo), 'unassigned']);
    assert.deepEqual(dry.logs.find({ msg: 'Floating IP attached to droplet' }), []);
    assert.equal(await world.admin.holder(SOLO_IP), null);
    const methods = new Set((await world.admin.requests()).map((r) => r.method));
    assert.deepEqual([...methods], ['GET']);
    await dry.running.stop();
  });

  let standby: { running: RunningReconciler; logs: LogCapture };
  let poolDroplets: number[];
  let placed: [number, number, number];
  const leases = () => world.cp.kubeConfig.makeApiClient(CoordinationV1Api);
  const holderIdentity = async () => (await leases().readNamespacedLease({ name: 'floatip-reconciler', namespace: NS })).spec?.holderIdentity ?? '';

  test('a pool of 2 IPv4 + 1 IPv6 on 2 replicas: the IPv4 on distinct droplets, the IPv6 on one of them', async () => {
    // the solo workload goes away (its IP stays unassigned since the dry run), so every
    // droplet can take an IPv4
    await world.apps.deleteNamespacedDeployment({ namespace: APP_NS, name: 'solo' });
    await waitFor('solo pods gone', async () => (await world.core.listNamespacedPod({ namespace: APP_NS, labelSelector: 'app=solo' })).items.length === 0);

    // the leader is a real process (node reconciler/main.ts), so it can really be killed
    const kubeconfig = join(tmp, 'reconciler.kubeconfig');
    await writeFile(kubeconfig, world.reconcilerKubeConfig.exportConfig());
    const { capture: childLogs, stream } = captureLogs();
    killed = spawn(
      process.execPath,
      [MAIN, '--lease-duration=3s', '--lease-renew-deadline=2s', '--lease-retry-period=250ms', '--cool-off=1s', '--health-port=0', '--metrics-port=0', '--log-level=info'],
      {
        env: { PATH: process.env['PATH'] ?? '', KUBECONFIG: kubeconfig, DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: world.emulator.url, POD_NAME: 'reconciler-killed', POD_NAMESPACE: NS },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    killed.stdout?.pipe(stream);
    const child = killed;
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    await waitFor('the process to lead', async () => (await holderIdentity()).startsWith('reconciler-killed-'), { timeoutMs: 30_000 });
    standby = await world.startReplica('reconciler-standby', { lease: SHORT_LEASE });
    await waitFor('the standby to sync', async () => standby.running.synced());

    // a pool: 2 IPv4 + 1 IPv6 on 2 replicas
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment('pool', POOL.join(', '), 2) });
    poolDroplets = await droplets('pool', 2);
    placed = await waitFor('the pool placed', async () => {
      const h = await world.admin.holders();
      const all = POOL.map((ip) => h[ip]);
      return all.every((d) => typeof d === 'number' && poolDroplets.includes(d)) ? (all as [number, number, number]) : undefined;
    });
    const [v4a, v4b, v6] = placed;
    assert.deepEqual([v4a, v4b].sort(), [...poolDroplets].sort(), 'the two IPv4 on distinct droplets of the pool');
    assert.ok(poolDroplets.includes(v6));
    await waitFor('three attach lines from the process', async () => childLogs.find({ msg: 'Floating IP attached to droplet' }).length === 3);
    assert.equal(standby.running.isLeader(), false);
  });

  test('leader killed without releasing the Lease: the warm standby takes over after expiry and fails over', async () => {
    const [v4a, v4b, v6] = placed;
    assert.ok(killed);
    // SIGKILL: no graceful stop, the Lease still names the dead process until it expires
    killed.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.match(await holderIdentity(), /^reconciler-killed-/);
    await waitFor('the standby to lead', async () => standby.running.isLeader(), { timeoutMs: 15_000 });
    assert.match(await holderIdentity(), /^reconciler-standby-/);

    // the new leader fails over: the IPv6 holder's node goes NotReady → the IPv6 moves to the
    // other pool droplet (free for IPv6); that droplet already has an IPv4, so the IPv4 on the
    // lost node has nowhere to go and is left where it is (and reported)
    const other = poolDroplets.find((d) => d !== v6) as number;
    const strandedV4 = v4a === v6 ? POOL[0] : POOL[1];
    await world.cp.setNodeReady(nodeOf(v6), false);
    await waitFor(`${POOL[2]} moved to ${other}`, async () => (await world.admin.holder(POOL[2])) === other, { timeoutMs: 30_000 });
    await waitFor('the unplaced report', async () => standby.logs.find({ msg: 'reserved IP unplaced', ip: strandedV4 }).length > 0);
    const h = await world.admin.holders();
    assert.deepEqual(POOL.map((ip) => h[ip]), [v4a, v4b, other]);
    await world.cp.setNodeReady(nodeOf(v6), true);
  });
});
