// The claim policy, failed targets and workload identity on the whole chain (API server +
// webhook + scheduler + kwok + emulator + an in-process reconciler as its service account):
// an IP held by a droplet outside the cluster stays there and is reported, unless listed as
// adoptable; a target droplet that answers 404 does not hold up a failover; a rollout that
// adds an IP to the annotation moves nothing for a conflict and reports none.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import { parseAdoptableIps } from '../reconciler/adoptable.ts';
import { APP_NS, dropletOf, floatingDeployment, keys, nodeOf, podEvents, servingPods, setUnschedulable, startReconcilerWorld, isServing } from './reconciler-fixture.ts';
import type { ReconcilerWorld } from './reconciler-fixture.ts';

const FOREIGN_IP = '104.248.100.101';
const FAILOVER_IP = '104.248.100.102';
const ROLL_IP = '104.248.100.100';
const ROLL_IP6 = '2604:a880:800:14::1000';

describe('claim policy, failed targets and rollouts on the real control plane', () => {
  let world: ReconcilerWorld;
  before(async () => {
    world = await startReconcilerWorld();
  });
  after(() => world?.stop());

  const eventsOf = async (app: string, reason: string) => {
    const pods = (await world.core.listNamespacedPod({ namespace: APP_NS, labelSelector: `app=${app}` })).items;
    return (await Promise.all(pods.map((p) => podEvents(world.core, p)))).flat().filter((e) => e.reason === reason);
  };

  test('an IP held by a droplet outside the cluster is reported, not moved; listed as adoptable it is taken', async () => {
    await world.admin.addDroplet(4242, 'node-of-another-cluster');
    await world.admin.setHolder(FOREIGN_IP, 4242);
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment('foreign', FOREIGN_IP, 1) });
    const [pod] = await servingPods(world.core, 'foreign', 1);
    const first = await world.startReplica('claims-0');
    await waitFor('claims-0 to lead', async () => first.running.isLeader());
    const [event] = await waitFor('the report on the claiming pod', async () => {
      const found = await eventsOf('foreign', 'FloatingIPHeldOutsideCluster');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(event?.type, 'Warning');
    assert.equal(event?.involvedObject.uid, pod?.metadata?.uid);
    assert.match(event?.message ?? '', /Reserved IP 104\.248\.100\.101: reserved IP 104\.248\.100\.101 is held by droplet 4242, which is not part of this cluster/);
    for (let i = 0; i < 3; i++) await first.running.controller.resyncNow();
    assert.equal(await world.admin.holder(FOREIGN_IP), 4242, 'left where it is');
    const writes = (await world.admin.requests()).filter((r) => r.method === 'POST' && r.path.includes(FOREIGN_IP));
    assert.deepEqual(writes, [], 'no write touched it');
    assert.equal((await eventsOf('foreign', 'FloatingIPHeldOutsideCluster')).reduce((n, e) => n + (e.count ?? 1), 0), 1, 'reported once');
    const line = first.logs.find({ reason: 'held-outside-cluster' })[0];
    assert.match(String(line?.['detail']), /droplet 4242/);
    await first.running.stop();

    const adopting = await world.startReplica('claims-1', { adoptable: parseAdoptableIps(`${FOREIGN_IP}/32`) });
    await waitFor('claims-1 to lead', async () => adopting.running.isLeader());
    const target = dropletOf(pod?.spec?.nodeName);
    await waitFor(`${FOREIGN_IP} adopted onto ${target}`, async () => (await world.admin.holder(FOREIGN_IP)) === target);
    // the emulator flips the holder as the action completes; the client sees it on its next poll
    const attached = await waitFor('the attach line', async () => adopting.logs.find({ msg: 'Floating IP attached to droplet', ip: FOREIGN_IP })[0]);
    assert.equal(attached['reason'], 'holder-outside-cluster');
    await adopting.running.stop();

    // clean up: the IP no longer claimed is not unassigned by floatip; free the droplet by hand
    await world.apps.deleteNamespacedDeployment({ namespace: APP_NS, name: 'foreign' });
    await waitFor('foreign pods gone', async () => (await world.core.listNamespacedPod({ namespace: APP_NS, labelSelector: 'app=foreign' })).items.length === 0);
    await world.admin.setHolder(FOREIGN_IP, null);
  });

  test('a target droplet that answers 404 does not delay the failover to another eligible node', async () => {
    // pool-a-4 is a node whose droplet DigitalOcean does not know (404 on assign)
    await world.cp.addNode(nodeOf(1004), { dropletId: 1004 });
    const bare = (name: string, node: string): V1Pod => ({
      metadata: { name, namespace: APP_NS, labels: { app: 'bare' }, annotations: { [keys.annotation]: FAILOVER_IP } },
      spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.invalid/app:1' }], automountServiceAccountToken: false, terminationGracePeriodSeconds: 0 },
    });
    const serving = (name: string) => waitFor(`${name} serving`, async () => {
      const p = await world.core.readNamespacedPod({ namespace: APP_NS, name });
      return isServing(p) ? p : undefined;
    });
    // Created one after another, a second apart (creationTimestamp has second resolution):
    // the oldest pod holds the IP, the next oldest (on the 404 droplet) is the first choice.
    const created: number[] = [];
    for (const [name, node] of [['bare-1', nodeOf(1001)], ['bare-2', nodeOf(1004)], ['bare-3', nodeOf(1002)]] as const) {
      if (created.length > 0) await waitFor('the next second', async () => Math.floor(Date.now() / 1000) > Math.floor((created.at(-1) as number) / 1000));
      await world.core.createNamespacedPod({ namespace: APP_NS, body: bare(name, node) });
      created.push(Date.parse(String((await serving(name)).metadata?.creationTimestamp)) || Date.now());
    }
    const replica = await world.startReplica('claims-2');
    await waitFor('claims-2 to lead', async () => replica.running.isLeader());
    await waitFor(`${FAILOVER_IP} on 1001`, async () => (await world.admin.holder(FAILOVER_IP)) === 1001);
    await world.admin.clearRequests();

    const cordoned = Date.now();
    await setUnschedulable(world.core, nodeOf(1001), true);
    await waitFor(`${FAILOVER_IP} on 1002`, async () => (await world.admin.holder(FAILOVER_IP)) === 1002, { intervalMs: 20 });
    const tookMs = Date.now() - cordoned;
    console.error(`# failover past a 404 target droplet: ${tookMs} ms`);
    const posts = (await world.admin.requests()).filter((r) => r.method === 'POST' && r.path.includes(FAILOVER_IP));
    assert.deepEqual(posts.map((r) => [(r.body as { droplet_id?: number }).droplet_id, r.status]), [[1004, 404], [1002, 201]]);
    assert.ok(tookMs < 2500, `the 404 target cost ${tookMs} ms`);
    await setUnschedulable(world.core, nodeOf(1001), false);
    for (const name of ['bare-1', 'bare-2', 'bare-3']) await world.core.deleteNamespacedPod({ namespace: APP_NS, name, gracePeriodSeconds: 0 });
    await world.cp.deleteNode(nodeOf(1004));
    await world.admin.setHolder(FAILOVER_IP, null);
    await replica.running.stop();
  });

  test('a rollout that adds an IP to the annotation hands it out with no conflict report', async () => {
    const replica = await world.startReplica('claims-3');
    await waitFor('claims-3 to lead', async () => replica.running.isLeader());
    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment('roll', ROLL_IP, 2) });
    const before = await servingPods(world.core, 'roll', 2);
    await waitFor(`${ROLL_IP} placed`, async () => before.map((p) => dropletOf(p.spec?.nodeName)).includes((await world.admin.holder(ROLL_IP)) ?? 0));

    await world.apps.patchNamespacedDeployment(
      { namespace: APP_NS, name: 'roll', body: [{ op: 'replace', path: `/spec/template/metadata/annotations/${keys.annotation.replace('/', '~1')}`, value: `${ROLL_IP}, ${ROLL_IP6}` }] },
    );
    const after = await waitFor('the rollout done', async () => {
      const pods = (await world.core.listNamespacedPod({ namespace: APP_NS, labelSelector: 'app=roll' })).items;
      const fresh = pods.filter((p) => p.metadata?.annotations?.[keys.annotation]?.includes(ROLL_IP6));
      return pods.length === 2 && fresh.length === 2 && pods.every(isServing) ? pods : undefined;
    }, { timeoutMs: 60_000 });
    const droplets = after.map((p) => dropletOf(p.spec?.nodeName));
    await waitFor('both IPs on the new pods', async () => {
      const h = await world.admin.holders();
      return droplets.includes(h[ROLL_IP] ?? 0) && droplets.includes(h[ROLL_IP6] ?? 0);
    });
    assert.deepEqual(await eventsOf('roll', 'FloatingIPConflict'), [], 'one workload: no conflict');
    await waitFor('the IPv6 attach line', async () => replica.logs.find({ msg: 'Floating IP attached to droplet', ip: ROLL_IP6 }).length > 0);
    const moves = replica.logs.find({ msg: 'Floating IP attached to droplet' });
    const reasons = new Set(moves.filter((l) => l['ip'] === ROLL_IP).map((l) => l['reason']));
    for (const r of reasons) assert.ok(r === 'unassigned' || r === 'holder-not-eligible', `${ROLL_IP} moved for ${String(r)}`);
    assert.deepEqual(moves.filter((l) => l['ip'] === ROLL_IP6).map((l) => l['reason']), ['unassigned']);
    await replica.running.stop();
  });
});
