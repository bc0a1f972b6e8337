// The controller against the real DigitalOcean client and the emulator, with the Kubernetes
// side given as plain arrays of V1Pod/V1Node (what the informer caches hold).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { createDoClient } from '../../shared/digitalocean/client.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { startEmulator } from '../../test/do-emulator/server.ts';
import { createController } from './controller.ts';
import type { ControllerConfig, EventSink } from './controller.ts';
import type { EventRecord } from '../events.ts';
import { createReconcilerMetrics } from '../metrics.ts';

const KEYS = floatingIpKeys();
const IP = '104.248.100.100';

function node(name: string, droplet: number, ready = true): V1Node {
  return {
    metadata: { name, uid: `uid-${name}` },
    spec: { providerID: `digitalocean://${droplet}` },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function pod(name: string, nodeName: string, opts: { ip?: string; ready?: boolean; ageS?: number } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1) - (opts.ageS ?? 0) * 1000),
      labels: { [KEYS.label]: 'true', 'pod-template-hash': 'abc12' },
      annotations: { [KEYS.annotation]: opts.ip ?? IP },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc12', uid: 'rs-1', controller: true }],
    },
    spec: { nodeName, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: TestContext, config: Partial<ControllerConfig> = {}, client: { timeoutMs?: number; actionWaitMs?: number } = {}, opts: { droplets?: boolean } = {}) {
  const emu = await startEmulator({ actionDelayMs: 20 });
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emu.url}/_emulator${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return res.status === 204 ? undefined : res.json();
  };
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
  const port = createDoClient({ token: 'test-token', baseUrl: emu.url, retry: { maxAttempts: 1 }, timeoutMs: client.timeoutMs ?? 15_000, actionWait: { initialMs: 10, maxMs: 40, totalMs: client.actionWaitMs ?? 3000 } });
  const events: EventRecord[] = [];
  const sink: EventSink = { record: async (e) => void events.push(e) };
  const world = { pods: [] as V1Pod[], nodes: [node('n1', 1001), node('n2', 1002), node('n3', 1003)] };
  const metrics = createReconcilerMetrics();
  const controller = createController({
    port,
    droplets: opts.droplets ? port : undefined,
    world: { listPods: () => world.pods, listNodes: () => world.nodes },
    events: sink,
    logger,
    metrics,
    backoff: { baseMs: 20 },
    pendingPollMs: 50,
    config: { keys: KEYS, dryRun: false, coolOffMs: 30_000, unassignWhenUnplaced: false, resyncIntervalMs: 60_000, actionExpiryMs: 60_000, ...config },
  });
  t.after(async () => {
    await controller.stop();
    await emu.close();
  });
  const holders = async () => (await admin('GET', '/holders')) as Record<string, number | null>;
  const writes = async () => ((await admin('GET', '/requests')) as { method: string; path: string; status: number }[]).filter((r) => r.method !== 'GET');
  const metric = async (name: string) => (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  /** the moves metric once `n` moves completed (the holder flips in the emulator a little earlier) */
  const moves = (n: number, timeoutMs?: number) =>
    waitUntil(
      `${n} moves`,
      async () => {
        const values = (await metric('floatip_ip_moves_total')).map((v) => [v.labels.reason, v.value]);
        return values.reduce((sum, [, v]) => sum + Number(v), 0) >= n && values;
      },
      timeoutMs,
    );
  return { emu, admin, logs, events, world, controller, metrics, holders, writes, metric, moves };
}

test('controller: assigns the IP to the droplet of a Ready pod, with Event, log line and metrics', async (t) => {
  const h = await setup(t);
  h.world.pods.push(pod('web-1', 'n2'));
  h.controller.start();
  await waitUntil('IP on droplet 1002', async () => (await h.holders())[IP] === 1002);
  await waitUntil('event', async () => h.events.length === 1);
  assert.deepEqual(
    h.events.map((e) => [e.pod.metadata?.name, e.type, e.reason, e.message]),
    [['web-1', 'Normal', 'FloatingIPAssigned', `Reserved IP ${IP} assigned to droplet 1002 (node n2): the IP has no holder`]],
  );
  const line = h.logs.find((l) => l.msg === 'Floating IP attached to droplet');
  assert.deepEqual([line?.ip, line?.droplet, line?.pod, line?.node, line?.reason], [IP, 1002, 'shop/web-1', 'n2', 'unassigned']);
  assert.deepEqual((await h.metric('floatip_ip_moves_total')).map((v) => [v.labels, v.value]), [[{ ip: IP, reason: 'unassigned' }, 1]]);
  const holderGauge = (await h.metric('floatip_ip_holder')).filter((v) => v.labels.ip === IP);
  assert.deepEqual(holderGauge.map((v) => [v.labels.droplet, v.value]), [['1002', 1]]);
  assert.deepEqual((await h.writes()).map((r) => `${r.method} ${r.path}`), [`POST /v2/reserved_ips/${IP}/actions`]);
});

test('controller: fails over when the holder node goes NotReady, and measures it', async (t) => {
  const h = await setup(t);
  h.world.pods.push(pod('web-1', 'n1', { ageS: 60 }), pod('web-2', 'n2'));
  h.controller.start();
  await h.moves(1);
  assert.equal((await h.holders())[IP], 1001);
  const old = h.world.nodes[0] as V1Node;
  h.world.nodes[0] = node('n1', 1001, false);
  h.controller.nodeChanged(h.world.nodes[0], old);
  assert.deepEqual(await h.moves(2), [['unassigned', 1], ['holder-not-eligible', 1]]);
  assert.equal((await h.holders())[IP], 1002);
  const failover = await h.metrics.failoverSeconds.get();
  const count = failover.values.find((v) => (v as { metricName?: string }).metricName === 'floatip_failover_duration_seconds_count');
  assert.deepEqual([count?.labels, count?.value], [{ family: '4' }, 1]);
  await waitUntil('second event', async () => h.events.length === 2);
  assert.equal(h.events[1]?.message, `Reserved IP ${IP} assigned to droplet 1002 (node n2): droplet 1001 cannot serve: node n1 is NotReady`);
});

test('controller: DigitalOcean 5xx on the assign is retried through the queue until it converges', async (t) => {
  const h = await setup(t);
  await h.admin('POST', '/faults', { method: 'POST', path: '/actions$', status: 503, count: 3 });
  h.world.pods.push(pod('web-1', 'n3'));
  h.controller.start();
  await h.moves(1);
  assert.equal((await h.holders())[IP], 1003);
  const errors = (await h.metric('floatip_reconcile_errors_total')).map((v) => [v.labels.class, v.value]);
  assert.deepEqual(errors, [['Transient', 3]]);
  assert.deepEqual((await h.writes()).map((r) => r.status), [503, 503, 503, 201]);
  const warnings = h.events.filter((e) => e.type === 'Warning').map((e) => e.reason);
  assert.deepEqual(warnings, ['FloatingIPAssignFailed', 'FloatingIPAssignFailed', 'FloatingIPAssignFailed']);
});

test('controller: dry-run decides and logs "would assign" without any write call', async (t) => {
  const h = await setup(t, { dryRun: true });
  h.world.pods.push(pod('web-1', 'n1'));
  h.controller.start();
  const line = await waitUntil('would assign', async () => h.logs.find((l) => l.msg === 'would assign'));
  assert.deepEqual([line.ip, line.droplet, line.pod, line.node], [IP, 1001, 'shop/web-1', 'n1']);
  await h.controller.resyncNow();
  assert.deepEqual(await h.writes(), []);
  assert.equal((await h.holders())[IP], null);
});

test('controller: the resync repairs an IP moved by hand to another node of the cluster', async (t) => {
  const h = await setup(t);
  h.world.pods.push(pod('web-1', 'n1'));
  h.controller.start();
  await h.moves(1);
  await h.admin('PUT', `/holders/${IP}`, { droplet_id: 1003 });
  await h.controller.resyncNow();
  assert.deepEqual(await h.moves(2), [['unassigned', 1], ['holder-not-eligible', 1]]);
  assert.equal((await h.holders())[IP], 1001);
});

test('controller: an IP held by a droplet outside the cluster is left there and reported once; with a cluster-tagged droplet it is repaired', async (t) => {
  const h = await setup(t, {}, {}, { droplets: true });
  h.world.pods.push(pod('web-1', 'n1'));
  h.controller.start();
  await h.moves(1);
  await h.admin('POST', '/droplets', { id: 4242, name: 'someone-elses' });
  await h.admin('PUT', `/holders/${IP}`, { droplet_id: 4242 });
  for (let i = 0; i < 3; i++) await h.controller.resyncNow();
  await waitUntil('the report', async () => h.events.some((e) => e.reason === 'FloatingIPHeldOutsideCluster'));
  await h.controller.resyncNow();
  await waitUntil('the foreign gauge', async () => (await h.metric('floatip_ip_held_outside_cluster')).some((v) => v.labels.droplet === '4242' && v.value === 1));
  assert.equal((await h.holders())[IP], 4242, 'not taken back');
  assert.equal(h.events.filter((e) => e.reason === 'FloatingIPHeldOutsideCluster').length, 1);
  const line = h.logs.find((l) => l.reason === 'held-outside-cluster');
  assert.match(String(line?.detail), /reserved IP 104\.248\.100\.100 is held by droplet 4242, which is not part of this cluster/);
  assert.deepEqual((await h.writes()).filter((w) => w.path.includes('/actions')).length, 1, 'only the first assignment was written');
});

test('controller: no eligible pod leaves the IP in place and reports it once', async (t) => {
  const h = await setup(t);
  h.world.pods.push(pod('web-1', 'n1', { ready: false }));
  h.controller.start();
  await waitUntil('unplaced event', async () => h.events.length === 1);
  await h.controller.resyncNow();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    h.events.map((e) => [e.type, e.reason, e.message]),
    [['Warning', 'FloatingIPUnplaced', `Reserved IP ${IP}: no eligible pod (pod shop/web-1 is not Ready)`]],
  );
  assert.deepEqual(await h.writes(), []);
  const unplaced = (await h.metric('floatip_ip_unplaced')).map((v) => [v.labels.ip, v.value]);
  assert.deepEqual(unplaced, [[IP, 1]]);
});

test('controller: a failover through 429, 503, a reset connection and a timeout still converges', async (t) => {
  const h = await setup(t, {}, { timeoutMs: 300 });
  h.world.pods.push(pod('web-1', 'n1', { ageS: 60 }), pod('web-2', 'n2'));
  h.controller.start();
  await h.moves(1);
  for (const fault of [{ status: 429 }, { status: 503 }, { reset: true }, { hang: true }]) {
    await h.admin('POST', '/faults', { method: 'POST', path: '/actions$', ...fault });
  }
  const old = h.world.nodes[0] as V1Node;
  h.world.nodes[0] = node('n1', 1001, false);
  h.controller.nodeChanged(h.world.nodes[0], old);
  assert.deepEqual(await h.moves(2, 10_000), [['unassigned', 1], ['holder-not-eligible', 1]]);
  assert.equal((await h.holders())[IP], 1002);
  const errors = (await h.metric('floatip_reconcile_errors_total')).map((v) => [v.labels.class, v.value]);
  assert.deepEqual(errors, [['RateLimited', 1], ['Transient', 3]]);
  assert.deepEqual((await h.writes()).map((r) => r.status), [201, 429, 503, 0, 0, 201]);
});

test('controller: a stale holder cache (422 Conflict) refreshes from DigitalOcean and re-plans', async (t) => {
  const h = await setup(t);
  h.controller.start();
  await h.controller.resyncNow();
  await h.admin('PUT', '/holders/104.248.100.102', { droplet_id: 1002 }); // by hand, unseen by the cache
  h.world.pods.push(pod('web-1', 'n2', { ageS: 60 }), pod('web-2', 'n3'));
  for (const p of h.world.pods) h.controller.podChanged(p);
  assert.deepEqual(await h.moves(1), [['unassigned', 1]]);
  assert.equal((await h.holders())[IP], 1003);
  const errors = (await h.metric('floatip_reconcile_errors_total')).map((v) => [v.labels.class, v.value]);
  assert.deepEqual(errors, [['Conflict', 1]]);
});

test('controller: a pool spreads over droplets and only the lost IP moves', async (t) => {
  const h = await setup(t);
  const POOL = `${IP}, 104.248.100.101`;
  h.world.pods.push(pod('web-1', 'n1', { ip: POOL, ageS: 60 }), pod('web-2', 'n2', { ip: POOL, ageS: 30 }), pod('web-3', 'n3', { ip: POOL }));
  h.controller.start();
  await h.moves(2);
  assert.deepEqual(await h.holders(), { [IP]: 1001, '104.248.100.101': 1002, '104.248.100.102': null, '2604:a880:800:14::1000': null, '2604:a880:800:14::1001': null });
  const old = h.world.nodes[1] as V1Node;
  h.world.nodes[1] = { ...old, spec: { ...old.spec, unschedulable: true } };
  h.controller.nodeChanged(h.world.nodes[1], old);
  await h.moves(3);
  assert.deepEqual([(await h.holders())[IP], (await h.holders())['104.248.100.101']], [1001, 1003]);
});

test('controller: an action still running after the bounded wait is kept as pending state, then completed', async (t) => {
  const h = await setup(t, {}, { actionWaitMs: 30 });
  await h.admin('PUT', '/action-delay', { ms: 400 });
  h.world.pods.push(pod('web-1', 'n1'));
  h.controller.start();
  await waitUntil('pending log', async () => h.logs.some((l) => l.msg === 'DigitalOcean action still in progress; waiting for it'));
  assert.deepEqual((await h.writes()).map((r) => `${r.method} ${r.status}`), ['POST 201']);
  assert.deepEqual(await h.moves(1), [['unassigned', 1]]);
  assert.equal((await h.holders())[IP], 1001);
  const line = await waitUntil('log line', async () => h.logs.find((l) => l.msg === 'Floating IP attached to droplet'));
  assert.deepEqual([line.ip, line.droplet, line.pod, line.node], [IP, 1001, 'shop/web-1', 'n1']);
  assert.deepEqual(h.events.map((e) => e.reason), ['FloatingIPAssigned']);
  // waiting never sent a second action
  assert.deepEqual((await h.writes()).map((r) => `${r.method} ${r.status}`), ['POST 201']);
});

test('controller: a terminating holder pod hands the IP over before it is gone, then its deletion changes nothing', async (t) => {
  const h = await setup(t);
  h.world.pods.push(pod('web-1', 'n1', { ageS: 60 }), pod('web-2', 'n3'));
  h.controller.start();
  await h.moves(1);
  const old = h.world.pods[0] as V1Pod;
  const terminating: V1Pod = { ...old, metadata: { ...old.metadata, deletionTimestamp: new Date() } };
  h.world.pods[0] = terminating;
  h.controller.podChanged(terminating, old);
  assert.deepEqual(await h.moves(2), [['unassigned', 1], ['holder-not-eligible', 1]]);
  assert.equal((await h.holders())[IP], 1003);
  h.world.pods.shift();
  h.controller.podChanged(undefined, terminating);
  await h.controller.resyncNow();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await h.writes()).length, 2);
});

test('controller: an invalid annotation is warned about once per pod and value, and forgotten with the pod', async (t) => {
  const h = await setup(t);
  h.controller.start();
  const bad = pod('web-1', 'n1', { ip: '104.248.100' });
  const invalid = () => h.events.filter((e) => e.reason === 'FloatingIPInvalid').map((e) => [e.pod.metadata?.name, e.type]);
  h.controller.podChanged(bad);
  h.controller.podChanged(bad, bad); // a resync or status update: same value, no second Warning
  assert.deepEqual(invalid(), [['web-1', 'Warning']]);
  const worse = pod('web-1', 'n1', { ip: '10.0.0.1' });
  h.controller.podChanged(worse, bad); // a new bad value is worth a new Warning
  assert.equal(invalid().length, 2);
  h.controller.podChanged(undefined, worse); // deleted: no Warning about a pod that is gone
  assert.equal(invalid().length, 2);
  h.controller.podChanged(worse); // a pod recreated with the same uid is warned about again
  assert.equal(invalid().length, 3);
  assert.equal(h.logs.filter((l) => l.msg === 'pod annotation ignored').length, 3);
});
