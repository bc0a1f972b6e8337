// Heartbeat-based failover on the real control plane, with the controller-manager at upstream
// timing (--node-monitor-grace-period 50 s). The holder's kubelet falls silent (partitionNode:
// its node Lease keeps holder and duration and stops being renewed, its node and pods keep
// looking Ready until the node controller acts). With heartbeat detection the IP leaves the
// silent node long before that; with most nodes silent at once the guard keeps it; with
// detection off it stays until Kubernetes reports the holder, as before. The tests run in
// order on one Deployment of 3 replicas, one per node.
//
// Why one 50 s control plane also covers the harness's usual 10 s grace period: the node
// controller marks a node NotReady only when `grace` has passed since it last *observed* a
// renewal, so never before renewTime + grace. An IP that moved less than 10 s after the frozen
// renewTime would therefore have moved before a 10 s controller-manager marked the node
// NotReady — and the node being still Ready at that instant shows nobody but floatip acted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { NODE_LEASE_NAMESPACE, readyStatus, UPSTREAM_NODE_MONITOR_GRACE_MS, waitFor } from './cluster/harness.ts';
import { NODE_MONITOR_GRACE_MS } from './cluster/component-args.ts';
import { parseConfig } from '../reconciler/config.ts';
import type { ReconcilerConfig } from '../reconciler/config.ts';
import type { RunningReconciler } from '../reconciler/main.ts';
import { APP_NS, dropletOf, floatingDeployment, nodeOf, podEvents, servingPods, startReconcilerWorld } from './reconciler-fixture.ts';
import type { LogCapture, ReconcilerWorld } from './reconciler-fixture.ts';

const IP = '104.248.100.100';
const APP = 'game';
const GRACE_MS = UPSTREAM_NODE_MONITOR_GRACE_MS;

/** The config fields a command line changes from the defaults: overrides for startReplica. */
function flagOverrides(argv: readonly string[]): Partial<ReconcilerConfig> {
  const parse = (args: readonly string[]) => {
    const r = parseConfig({ argv: args, env: { DIGITALOCEAN_TOKEN: 'unused', KUBECONFIG: 'unused' }, readFile: () => '', hostname: 'unused' });
    if (r.kind !== 'ok') throw new Error(`reconciler flags "${args.join(' ')}" rejected: ${r.kind === 'error' ? r.message : 'help'}`);
    return r.config as unknown as Record<string, unknown>;
  };
  const defaults = parse([]);
  return Object.fromEntries(Object.entries(parse(argv)).filter(([key, value]) => !isDeepStrictEqual(value, defaults[key])));
}

describe('reconciler: a holder whose kubelet falls silent (controller-manager grace 50 s)', () => {
  let world: ReconcilerWorld;
  let replica: { running: RunningReconciler; logs: LogCapture };

  async function lead(name: string, argv: readonly string[]): Promise<void> {
    replica = await world.startReplica(name, flagOverrides(argv));
    await waitFor(`${name} to lead`, async () => replica.running.isLeader(), { timeoutMs: 30_000 });
  }

  before(async () => {
    world = await startReconcilerWorld({ controlPlane: { nodeMonitorGracePeriodMs: GRACE_MS } });
    await lead('reconciler-on', []);
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment(APP, IP, 3) });
  });
  after(() => world?.stop());

  /** the IP's holder (once it sits on a droplet of a serving pod), and the three pods */
  async function placement(): Promise<{ holder: number; pods: V1Pod[] }> {
    const pods = await servingPods(world.core, APP, 3);
    const droplets = pods.map((p) => dropletOf(p.spec?.nodeName));
    const holder = await waitFor(`${IP} on a droplet of ${APP}`, async () => {
      const h = await world.admin.holder(IP);
      return typeof h === 'number' && droplets.includes(h) ? h : undefined;
    }, { timeoutMs: 60_000 });
    return { holder, pods };
  }

  /** Polls the emulator until the IP has left `from`; the instant is this process's clock. */
  async function moveFrom(from: number, timeoutMs: number, why: string): Promise<{ to: number; at: number }> {
    const to = await waitFor(`${IP} to leave droplet ${from} (${why})`, async () => {
      const h = await world.admin.holder(IP);
      return typeof h === 'number' && h !== from ? h : undefined;
    }, { timeoutMs, intervalMs: 20 });
    return { to, at: Date.now() };
  }

  async function attachReason(droplet: number, since: number): Promise<unknown[]> {
    return waitFor(`the attach log line for droplet ${droplet}`, async () => {
      const found = replica.logs.find({ msg: 'Floating IP attached to droplet', ip: IP, droplet }).filter((l) => replica.logs.lines.indexOf(l) >= since);
      return found.length > 0 ? found.map((l) => l.reason) : undefined;
    });
  }

  /** resolves right after kwok renewed that node's Lease, so it is the freshest of all */
  async function justRenewed(node: string): Promise<void> {
    const leases = world.cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const version = async () => (await leases.readNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, name: node })).metadata?.resourceVersion;
    const seen = await version();
    await waitFor(`kwok to renew the Lease of ${node}`, async () => (await version()) !== seen, { timeoutMs: 10_000, intervalMs: 10 });
  }

  /** resolves once the frozen Lease is `ms` old (kwok's clock and ours are one machine's) */
  async function aged(node: string, renewTime: Date | undefined, ms: number): Promise<void> {
    const since = renewTime?.getTime() ?? NaN;
    await waitFor(`the Lease of ${node} ${ms} ms old`, async () => Date.now() - since >= ms, { timeoutMs: ms + 5_000, intervalMs: 50 });
  }

  /** the assign POSTs since the request log was cleared, as [droplet, instant] */
  async function assigns(): Promise<[number, number][]> {
    return (await world.admin.requests())
      .filter((r) => r.method === 'POST' && r.status === 201)
      .map((r) => [(r.body as { droplet_id: number }).droplet_id, Date.parse(r.time)]);
  }

  test('heartbeat on: a silent holder loses the IP to a healthy node in under half the grace period, before NotReady', async (t) => {
    const { holder, pods } = await placement();
    const silent = nodeOf(holder);
    const since = replica.logs.lines.length;
    await world.admin.clearRequests();
    const partitioned = Date.now();
    const frozen = await world.cp.partitionNode(silent, { awaitUnknown: false });
    t.after(() => world.cp.healNode(silent));

    const { to, at } = await moveFrom(holder, GRACE_MS / 2, 'heartbeat lost');
    const node = await world.core.readNode({ name: silent });
    assert.equal(readyStatus(node), 'True', 'the node controller has not acted yet: floatip moved on the stale Lease alone');
    assert.ok(at - partitioned < GRACE_MS / 2, `moved ${at - partitioned} ms after the partition`);
    const renewedAt = frozen.renewTime?.getTime() ?? NaN;
    assert.ok(at - renewedAt < NODE_MONITOR_GRACE_MS, `moved ${at - renewedAt} ms after the last renewal: a 10 s grace period would not have marked the node NotReady yet`);

    const target = pods.find((p) => dropletOf(p.spec?.nodeName) === to);
    assert.ok(target, `droplet ${to} runs a pod of ${APP}`);
    assert.deepEqual((await assigns()).map(([d]) => d), [to], 'one assign, to a droplet still heartbeating');
    assert.deepEqual(await attachReason(to, since), ['holder-heartbeat-lost']);
    const event = await waitFor('the FloatingIPAssigned Event on the new holder', async () =>
      // the message says why: the reason itself, or the missed heartbeat in words
      (await podEvents(world.core, target)).find((e) => e.reason === 'FloatingIPAssigned' && /heartbeat/i.test(e.message ?? '')),
    );
    assert.equal(event.type, 'Normal');
  });

  /** a gauge of the leading replica's /metrics */
  async function gauge(name: string): Promise<number | undefined> {
    const text = await (await fetch(`${replica.running.metricsUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  }

  // The two cases below wait for a positive sign that the reconciler decided with the silence
  // in view, not for the node controller: the full 50 s scenarios (the IP moving once the
  // holder is marked NotReady) are in `npm run bench` (bench/failure-to-service.ts).
  test('most nodes silent at once (2 of 3): the guard holds and nothing moves on heartbeat grounds', async (t) => {
    const { holder, pods } = await placement();
    const silent = nodeOf(holder);
    const other = pods.map((p) => p.spec?.nodeName ?? '').find((n) => n !== silent) ?? '';
    const since = replica.logs.lines.length;
    await world.admin.clearRequests();
    // The other node falls silent first and its Lease is 2 s older than the holder's: it goes
    // stale first, so the holder is never the only stale node.
    t.after(() => Promise.all([silent, other].map((n) => world.cp.healNode(n))));
    const first = await world.cp.partitionNode(other, { awaitUnknown: false });
    await aged(other, first.renewTime, 2_000);
    await justRenewed(silent);
    const frozen = await world.cp.partitionNode(silent, { awaitUnknown: false });
    // plan() re-decides the IP the moment its holder's Lease goes stale (requeueAfterMs), and
    // reports what the Leases said: 2 stale of 3 and the guard up.
    await waitFor('the reconciler to decide with 2 of 3 nodes silent', async () => (await gauge('floatip_heartbeat_guard')) === 1 && (await gauge('floatip_nodes_heartbeat_stale')) === 2, { timeoutMs: 20_000, intervalMs: 100 });
    assert.ok(Date.now() > (frozen.renewTime?.getTime() ?? Infinity), 'decided after the holder fell silent');
    assert.equal(await world.admin.holder(IP), holder, 'the IP stays on the silent holder');
    assert.deepEqual(await assigns(), [], 'no assign');
    assert.deepEqual(replica.logs.find({ msg: 'Floating IP attached to droplet' }).filter((l) => replica.logs.lines.indexOf(l) >= since), []);
  });

  test('heartbeat off (--no-heartbeat-failover): a silent holder keeps the IP until Kubernetes reports it; then it moves as before', async (t) => {
    await replica.running.stop();
    await lead('reconciler-off', ['--no-heartbeat-failover']);
    const { holder, pods } = await placement();
    const silent = nodeOf(holder);
    const since = replica.logs.lines.length;
    await world.admin.clearRequests();
    const frozen = await world.cp.partitionNode(silent, { awaitUnknown: false });
    t.after(() => world.cp.healNode(silent));
    // Long past the heartbeat grace (half the 8 s Lease): detection on would have moved by now.
    await aged(silent, frozen.renewTime, 8_000);
    // What Kubernetes reports: the holder's pod turns NotReady (as the node controller would
    // make it after its grace period, 50 s here).
    const onHolder = pods.find((p) => p.spec?.nodeName === silent) as V1Pod;
    const flipped = Date.now();
    await world.cp.setPodReady(APP_NS, onHolder.metadata?.name ?? '', false);
    const { to } = await moveFrom(holder, 10_000, 'its pod turned NotReady');
    const moves = await assigns();
    assert.deepEqual(moves.map(([d]) => d), [to], 'one assign');
    assert.ok((moves[0]?.[1] ?? 0) >= flipped, 'and only after Kubernetes reported the pod NotReady');
    assert.deepEqual(await attachReason(to, since), ['holder-not-eligible']);
    assert.equal(await gauge('floatip_heartbeat_guard'), 0, 'no Lease was judged');
  });
});
