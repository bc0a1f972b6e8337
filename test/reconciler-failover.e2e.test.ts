// The reconciler on the whole chain (API server + webhook + scheduler + kwok + emulator):
// assign on Ready, fail over when the holder's node is deleted, hand over on cordon (before
// the pod is gone) and on a NoExecute taint, and converge through injected DigitalOcean
// errors. The tests run in order on one control plane and one Deployment of 2 replicas on
// 3 nodes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1Taint } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import { createDoClient } from '../shared/digitalocean/client.ts';
import { APP_NS, TOKEN, dropletOf, floatingDeployment, nodeOf, patchNode, podEvents, servingPods, setUnschedulable, startReconcilerWorld } from './reconciler-fixture.ts';
import type { LogCapture, ReconcilerWorld } from './reconciler-fixture.ts';

const IP = '104.248.100.100';
const APP = 'web';

describe('reconciler failover on the real control plane', () => {
  let world: ReconcilerWorld;
  let logs: LogCapture;

  before(async () => {
    world = await startReconcilerWorld();
    // The real client, with a short request timeout so an injected hang costs 2.5 s, not 10.
    const port = createDoClient({ token: TOKEN, baseUrl: world.emulator.url, timeoutMs: 2500, retry: { maxAttempts: 3, baseMs: 50, capMs: 200 } });
    const replica = await world.startReplica('reconciler-0', {}, { port });
    logs = replica.logs;
    await waitFor('reconciler-0 to lead', async () => replica.running.isLeader());
  });
  after(() => world?.stop());

  /** The pods of the Deployment, and which one sits on the IP's current holder. */
  async function placement(): Promise<{ holder: number; pods: V1Pod[]; onHolder: V1Pod; other: V1Pod }> {
    const pods = await servingPods(world.core, APP, 2);
    const droplets = pods.map((p) => dropletOf(p.spec?.nodeName));
    const holder = await waitFor(`${IP} on a droplet of ${APP}`, async () => {
      const h = await world.admin.holder(IP);
      return typeof h === 'number' && droplets.includes(h) ? h : undefined;
    });
    const onHolder = pods.find((p) => dropletOf(p.spec?.nodeName) === holder) as V1Pod;
    const other = pods.find((p) => p !== onHolder) as V1Pod;
    return { holder, pods, onHolder, other };
  }

  /** The emulator shows the new holder when the action completes; the log line follows. */
  const attachedLines = (match: Record<string, unknown>, since: number) =>
    waitFor('the attach log line', async () => {
      const found = logs.find({ msg: 'Floating IP attached to droplet', ...match }).filter((l) => logs.lines.indexOf(l) >= since);
      return found.length > 0 ? found : undefined;
    });
  async function setTaints(name: string, taints: V1Taint[]): Promise<void> {
    const node = await world.core.readNode({ name });
    const others = (node.spec?.taints ?? []).filter((x) => x.key !== 'floatip.test/maintenance');
    await patchNode(world.core, name, { spec: { taints: [...others, ...taints] } });
  }
  const eventNames = async (pod: V1Pod) => new Set((await podEvents(world.core, pod)).map((e) => e.metadata?.name));
  /** [type, reason] of the Events recorded since `seen`, once a FloatingIPAssigned naming `why` is among them */
  async function newEvents(pod: V1Pod, seen: Set<string | undefined>, why: string): Promise<string[][] | undefined> {
    const fresh = (await podEvents(world.core, pod)).filter((e) => !seen.has(e.metadata?.name));
    const done = fresh.some((e) => e.reason === 'FloatingIPAssigned' && e.message?.includes(why));
    return done ? fresh.map((e) => [e.type ?? '', e.reason ?? '']) : undefined;
  }

  test('assign on Ready: the IP lands on the pod droplet, with a FloatingIPAssigned Event and the log line', async () => {
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment(APP, IP, 2) });
    const { holder, onHolder } = await placement();
    const node = nodeOf(holder);
    assert.equal(onHolder.spec?.nodeName, node);
    assert.equal(onHolder.metadata?.labels?.['k8s.haim.dev/floating-ip'], 'true', 'labeled by the webhook');

    const events = await waitFor('the FloatingIPAssigned Event', async () => {
      const list = await podEvents(world.core, onHolder);
      return list.some((e) => e.reason === 'FloatingIPAssigned') ? list : undefined;
    });
    // while the pod was still Pending the reconciler may have reported it unplaced
    assert.deepEqual(events.filter((e) => e.reason !== 'FloatingIPUnplaced').map((e) => [e.type, e.reason, e.count]), [['Normal', 'FloatingIPAssigned', 1]]);
    assert.deepEqual([...new Set(events.filter((e) => e.reason === 'FloatingIPUnplaced').map((e) => e.type))], events.length === 1 ? [] : ['Warning']);
    const assigned = events.find((e) => e.reason === 'FloatingIPAssigned');
    assert.match(assigned?.message ?? '', new RegExp(`^Reserved IP ${IP.replaceAll('.', '\\.')} assigned to droplet ${holder} \\(node ${node}\\): `));

    const attached = logs.find({ msg: 'Floating IP attached to droplet' });
    assert.equal(attached.length, 1);
    assert.deepEqual(
      { ip: attached[0]?.ip, droplet: attached[0]?.droplet, pod: attached[0]?.pod, node: attached[0]?.node, reason: attached[0]?.reason },
      { ip: IP, droplet: holder, pod: `${APP_NS}/${onHolder.metadata?.name}`, node, reason: 'unassigned' },
    );
    // one assign action, accepted at once
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => [r.path, r.status, r.body]), [[`/v2/reserved_ips/${IP}/actions`, 201, { type: 'assign', droplet_id: holder }]]);
  });

  test('holder node deleted: the IP moves to the other ready pod droplet', async () => {
    const { holder, other } = await placement();
    const target = dropletOf(other.spec?.nodeName);
    const seen = await eventNames(other);
    const since = logs.lines.length;
    await world.admin.clearRequests();
    await world.cp.deleteNode(nodeOf(holder));
    await waitFor(`${IP} moved to ${target}`, async () => (await world.admin.holder(IP)) === target, { timeoutMs: 30_000 });

    const moved = await attachedLines({ droplet: target }, since);
    assert.deepEqual(moved.map((l) => [l.ip, l.pod, l.node, l.reason]), [[IP, `${APP_NS}/${other.metadata?.name}`, nodeOf(target), 'holder-node-deleted']]);
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => [r.status, r.body]), [[201, { type: 'assign', droplet_id: target }]]);
    const events = await waitFor('the Event on the new holder', () => newEvents(other, seen, `node ${nodeOf(holder)} (droplet ${holder}) was deleted`));
    assert.deepEqual(events, [['Normal', 'FloatingIPAssigned']]);

    // the node comes back (same droplet) for the next tests; the lost replica is rescheduled
    await world.cp.addNode(nodeOf(holder), { dropletId: holder });
  });

  test('drain: cordoning the holder node hands the IP over while its pod still serves', async (t) => {
    const { holder, onHolder, other } = await placement();
    const target = dropletOf(other.spec?.nodeName);
    const since = logs.lines.length;
    await world.admin.clearRequests();
    await setUnschedulable(world.core, nodeOf(holder), true);
    t.after(() => setUnschedulable(world.core, nodeOf(holder), false));
    await waitFor(`${IP} handed over to ${target}`, async () => (await world.admin.holder(IP)) === target, { timeoutMs: 30_000 });

    // cordon evicts nothing: the old holder's pod is still there, Running and Ready
    const still = await world.core.readNamespacedPod({ namespace: APP_NS, name: onHolder.metadata?.name ?? '' });
    assert.equal(still.metadata?.uid, onHolder.metadata?.uid);
    assert.equal(still.metadata?.deletionTimestamp, undefined);
    assert.equal(still.status?.phase, 'Running');
    const handover = await attachedLines({ pod: `${APP_NS}/${other.metadata?.name}` }, since);
    assert.deepEqual(handover.map((l) => [l.droplet, l.reason]), [[target, 'holder-not-eligible']]);
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => [r.status, r.body]), [[201, { type: 'assign', droplet_id: target }]]);
  });

  test('drain: a NoExecute taint on the holder node hands the IP over', async (t) => {
    const { holder, other } = await placement();
    const target = dropletOf(other.spec?.nodeName);
    const since = logs.lines.length;
    await world.admin.clearRequests();
    const taint = { key: 'floatip.test/maintenance', value: 'true', effect: 'NoExecute' };
    await setTaints(nodeOf(holder), [taint]);
    t.after(() => setTaints(nodeOf(holder), []));
    await waitFor(`${IP} handed over to ${target}`, async () => (await world.admin.holder(IP)) === target, { timeoutMs: 30_000 });

    const handover = await attachedLines({ droplet: target }, since);
    assert.deepEqual(handover.map((l) => [l.pod, l.reason]), [[`${APP_NS}/${other.metadata?.name}`, 'holder-not-eligible']]);
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST');
    assert.deepEqual(posts.map((r) => [r.status, r.body]), [[201, { type: 'assign', droplet_id: target }]]);
  });

  test('DigitalOcean 503, 429 and a timeout during a failover: converges on the right droplet', async (t) => {
    const { holder, other } = await placement();
    const target = dropletOf(other.spec?.nodeName);
    const seen = await eventNames(other);
    await world.admin.clearRequests();
    const path = `^/v2/reserved_ips/${IP.replaceAll('.', '\\.')}/actions$`;
    // consumed in this order by the next three assign requests
    await world.admin.fault({ method: 'POST', path, status: 503 });
    await world.admin.fault({ method: 'POST', path, status: 429 });
    await world.admin.fault({ method: 'POST', path, hang: true });
    await world.cp.setNodeReady(nodeOf(holder), false);
    t.after(() => world.cp.setNodeReady(nodeOf(holder), true));
    await waitFor(`${IP} failed over to ${target}`, async () => (await world.admin.holder(IP)) === target, { timeoutMs: 45_000 });

    // the client retried 503 and 429 itself; after the timeout it read the IP (the POST may
    // have been applied) and, seeing it unmoved, sent it once more: four assign requests, all
    // to the same target, the last one accepted, within one call of the client
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => [r.status, r.body]),
      [503, 429, 0, 201].map((status) => [status, { type: 'assign', droplet_id: target }]),
    );
    const gets = (await world.admin.requests()).filter((r) => r.method === 'GET' && r.path === `/v2/reserved_ips/${IP}`);
    assert.ok(gets.length >= 1, 'the IP was read before the POST that timed out was sent again');
    const events = await waitFor('the Events on the new holder', () => newEvents(other, seen, 'is NotReady'));
    assert.deepEqual(events.sort(), [['Normal', 'FloatingIPAssigned']]);
  });
});
