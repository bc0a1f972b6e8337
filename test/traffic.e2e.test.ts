// Traffic actually arrives (issue 9), on the whole chain: the real control plane with kwok
// nodes, the webhook, the reconciler as its service account, the DigitalOcean emulator, and
// one floatip agent *process* per node (token bound to the DaemonSet's pod on that node).
// A Deployment (2 replicas) and a Service of class k8s.haim.dev/floating-ip: the Service's
// externalIPs follow the reserved IP's holder (the target's anchor is added before the IP
// moves), its ingress is the reserved IP, and the cluster's floatip firewall follows the
// Service ports — the DOKS firewall is never touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Watch } from '@kubernetes/client-node';
import type { V1Service } from '@kubernetes/client-node';
import { waitFor } from './cluster/harness.ts';
import { createDoClient } from '../shared/digitalocean/client.ts';
import { DEFAULT_CLUSTER_ID } from './do-emulator/world.ts';
import { APP_NS, TOKEN, dropletOf, floatingDeployment, nodeOf, servingPods, startReconcilerWorld } from './reconciler-fixture.ts';
import type { LogCapture, ReconcilerWorld } from './reconciler-fixture.ts';
import { applyAgentManifests, startAgents } from './agent-fixture.ts';
import type { AgentProcess } from './agent-fixture.ts';

const IP = '104.248.100.100';
const APP = 'game';
const CLASS = 'k8s.haim.dev/floating-ip';
const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';
const FIREWALL = `floatip-${DEFAULT_CLUSTER_ID}`;
const DOKS_FIREWALL = `k8s-${DEFAULT_CLUSTER_ID}-worker`;
const EVERYWHERE = { addresses: ['0.0.0.0/0', '::/0'] };
const NODES = [1001, 1002, 1003].map((id) => ({ name: nodeOf(id), dropletId: id }));
const anchorOf = (dropletId: number) => `10.20.0.${dropletId - 990}`; // the emulator's default world: 1001 → 10.20.0.11

function gameService(name: string, ports: { name: string; protocol: 'TCP' | 'UDP'; port: number }[]): V1Service {
  return {
    metadata: { name, namespace: APP_NS },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: CLASS,
      selector: { app: APP },
      externalTrafficPolicy: 'Local',
      allocateLoadBalancerNodePorts: false,
      ports,
    },
  };
}

interface StateFirewall {
  name: string;
  tags: string[];
  droplet_ids: number[];
  inbound_rules: { protocol: string; ports: string; sources: unknown }[];
  outbound_rules: unknown[];
}

describe('traffic arrives: agent anchors, Service externalIPs and ingress, the floatip firewall', () => {
  let world: ReconcilerWorld;
  let logs: LogCapture;
  let metricsUrl: string;
  let agents: AgentProcess[] = [];
  let doksBefore: string;
  /** every spec.externalIPs the Service showed, in watch order */
  const seen: string[][] = [];
  let stopWatch: (() => void) | undefined;

  const firewalls = async () => ((await (await fetch(`${world.emulator.url}/_emulator/state`)).json()) as { firewalls: StateFirewall[] }).firewalls;
  const ours = async () => (await firewalls()).find((f) => f.name === FIREWALL);
  const rules = (fw: StateFirewall | undefined) => fw?.inbound_rules.map((r) => `${r.protocol}/${r.ports}`).sort();
  const readService = (name = APP) => world.core.readNamespacedService({ namespace: APP_NS, name });

  before(async () => {
    world = await startReconcilerWorld({ droplets: NODES.map((n) => n.dropletId) });
    doksBefore = JSON.stringify((await firewalls()).find((f) => f.name === DOKS_FIREWALL));
    await applyAgentManifests(world.cp);
    agents = await startAgents(world.cp, world.emulator.url, NODES);
    const port = createDoClient({ token: TOKEN, baseUrl: world.emulator.url, timeoutMs: 2500, retry: { maxAttempts: 3, baseMs: 50, capMs: 200 } });
    // This file checks the order (the anchor is in the Service before the assign is sent), not
    // the bound: a loaded test machine must not turn it into "moved without waiting" (1 s).
    const replica = await world.startReplica('reconciler-0', { exposeWaitMs: 10_000 }, { port });
    logs = replica.logs;
    metricsUrl = replica.running.metricsUrl;
    await waitFor('reconciler-0 to lead', async () => replica.running.isLeader());
  });
  after(async () => {
    stopWatch?.();
    await Promise.all(agents.map((a) => a.stop()));
    await world?.stop();
  });

  test(`every node gets ${ANCHOR_KEY} from its agent`, async () => {
    for (const n of NODES) {
      await waitFor(`the anchor of ${n.name}`, async () => (await world.core.readNode({ name: n.name })).metadata?.annotations?.[ANCHOR_KEY] === anchorOf(n.dropletId));
    }
  });

  test('Deployment + Service: externalIPs is exactly the holder anchor, ingress the reserved IP, firewall floatip-<cluster> opens the ports', async () => {
    const watch = new Watch(world.cp.kubeConfig);
    const request = await watch.watch(
      `/api/v1/namespaces/${APP_NS}/services`,
      { fieldSelector: `metadata.name=${APP}` },
      (_phase: string, svc: V1Service) => {
        const ips = svc.spec?.externalIPs ?? [];
        const last = seen.at(-1);
        if (!last || last.join() !== ips.join()) seen.push(ips);
      },
      () => undefined,
    );
    stopWatch = () => request.abort();

    await world.apps.createNamespacedDeployment({ namespace: APP_NS, body: floatingDeployment(APP, IP, 2) });
    await world.core.createNamespacedService({
      namespace: APP_NS,
      body: gameService(APP, [
        { name: 'game', protocol: 'UDP', port: 7777 },
        { name: 'admin', protocol: 'TCP', port: 8080 },
      ]),
    });
    await servingPods(world.core, APP, 2);
    const holder = await waitFor(`${IP} assigned`, async () => (await world.admin.holder(IP)) ?? undefined);
    const svc = await waitFor('externalIPs and ingress', async () => {
      const s = await readService();
      return s.spec?.externalIPs?.length && s.status?.loadBalancer?.ingress?.length ? s : undefined;
    });
    assert.deepEqual(svc.spec?.externalIPs, [anchorOf(holder)]);
    assert.deepEqual(svc.status?.loadBalancer?.ingress?.map((i) => i.ip), [IP]);
    const managers = (svc.metadata?.managedFields ?? []).filter((m) => m.manager === 'floatip').map((m) => [m.operation, m.subresource ?? '']);
    assert.deepEqual(managers.sort(), [['Apply', ''], ['Apply', 'status']], 'server-side apply under field manager floatip');
    assert.equal(svc.spec?.externalTrafficPolicy, 'Local', "the user's fields are left alone");

    const events = await waitFor('the FloatingIPExposed Event', async () => {
      const list = (await world.core.listNamespacedEvent({ namespace: APP_NS, fieldSelector: `involvedObject.kind=Service,involvedObject.name=${APP}` })).items;
      return list.some((e) => e.reason === 'FloatingIPExposed') ? list : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.message]),
      // written before the assign was sent: the IP is not placed yet
      [['Normal', 'FloatingIPExposed', `externalIPs ${anchorOf(holder)} (anchor of droplet ${holder} for ${IP}); ingress none yet`]],
    );

    const fw = await waitFor(`firewall ${FIREWALL}`, () => ours());
    assert.deepEqual(
      { tags: fw.tags, droplets: fw.droplet_ids, inbound: [...fw.inbound_rules].sort((a, b) => a.ports.localeCompare(b.ports)), outbound: fw.outbound_rules },
      {
        tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
        droplets: [],
        inbound: [
          { protocol: 'udp', ports: '7777', sources: EVERYWHERE },
          { protocol: 'tcp', ports: '8080', sources: EVERYWHERE },
        ],
        outbound: [],
      },
    );
    assert.equal(JSON.stringify((await firewalls()).find((f) => f.name === DOKS_FIREWALL)), doksBefore, 'the DOKS firewall is byte-for-byte unchanged');
  });

  test("the holder's node is deleted: externalIPs becomes the new holder's anchor, never empty in between", async () => {
    const pods = await servingPods(world.core, APP, 2);
    const holder = (await world.admin.holder(IP)) as number;
    const other = pods.map((p) => dropletOf(p.spec?.nodeName)).find((d) => d !== holder) as number;
    const firstSeen = seen.length;
    await world.admin.clearRequests();
    const agentOfHolder = agents.find((a) => a.nodeName === nodeOf(holder));
    await world.cp.deleteNode(nodeOf(holder));
    await agentOfHolder?.stop();

    await waitFor(`${IP} on ${other}`, async () => (await world.admin.holder(IP)) === other, { timeoutMs: 30_000 });
    const svc = await waitFor('externalIPs of the new holder only', async () => {
      const s = await readService();
      return s.spec?.externalIPs?.join() === anchorOf(other) && s.status?.loadBalancer?.ingress?.[0]?.ip === IP ? s : undefined;
    });
    assert.deepEqual(svc.spec?.externalIPs, [anchorOf(other)]);
    await waitFor('the watch to catch up', async () => seen.at(-1)?.join() === anchorOf(other));

    const during = seen.slice(firstSeen - 1);
    console.error(`# externalIPs during the failover: ${JSON.stringify(during)}`);
    assert.ok(during.every((ips) => ips.length > 0), `externalIPs never empty: ${JSON.stringify(during)}`);
    const firstWithTarget = during.find((ips) => ips.includes(anchorOf(other)));
    assert.deepEqual(firstWithTarget, [anchorOf(holder), anchorOf(other)].sort(), 'the target anchor joins while the old one is still listed');

    // the anchor was in the Service before the assign request left the reconciler
    const added = logs.find({ msg: 'Service externalIPs updated' }).find((l) => (l['externalIPs'] as string[]).includes(anchorOf(other)));
    const assign = (await world.admin.requests()).find((r) => r.method === 'POST' && (r.body as { droplet_id?: number }).droplet_id === other);
    assert.ok(added && assign, 'both the Service update and the assign happened');
    assert.ok(Date.parse(String(added['time'])) <= Date.parse(assign.time), `Service updated at ${String(added['time'])}, assign sent at ${assign.time}`);
    const scrape = await (await fetch(`${metricsUrl}/metrics`)).text();
    const sum = Number(/^floatip_expose_before_assign_seconds_sum (\S+)$/m.exec(scrape)?.[1]);
    const count = Number(/^floatip_expose_before_assign_seconds_count (\S+)$/m.exec(scrape)?.[1]);
    const notConfirmed = logs.lines.filter((l) => l['msg'] === 'Service not updated yet; moving the IP anyway' || l['msg'] === 'Service write refused; moving the IP anyway');
    assert.ok(count >= 2, `the first assign and the failover each waited for the Service (${count} waits observed; moved without it: ${JSON.stringify(notConfirmed)})`);
    console.error(`# anchor in the Service before an assign: ${((sum / count) * 1000).toFixed(1)} ms on average over ${count} assigns`);
  });

  test('a port added to the Service: the firewall follows within seconds', async () => {
    const svc = await readService();
    const started = Date.now();
    await world.core.replaceNamespacedService({
      namespace: APP_NS,
      name: APP,
      body: { ...svc, spec: { ...svc.spec, ports: [...(svc.spec?.ports ?? []), { name: 'rcon', protocol: 'TCP', port: 27015 }] } },
    });
    await waitFor('tcp/27015 in the firewall', async () => rules(await ours())?.includes('tcp/27015'), { timeoutMs: 10_000, intervalMs: 50 });
    console.error(`# firewall followed the new port in ${Date.now() - started} ms`);
    assert.deepEqual(rules(await ours()), ['tcp/27015', 'tcp/8080', 'udp/7777']);
    const after = await readService();
    assert.deepEqual(after.spec?.externalIPs, svc.spec?.externalIPs, 'the replace kept floatip-owned externalIPs as they were');
  });

  test("the Service is deleted: its rules go, then with the last Service the firewall", async () => {
    await world.core.createNamespacedService({ namespace: APP_NS, body: gameService('game-query', [{ name: 'query', protocol: 'UDP', port: 27016 }]) });
    await waitFor('udp/27016 in the firewall', async () => rules(await ours())?.includes('udp/27016'));
    await world.core.deleteNamespacedService({ namespace: APP_NS, name: APP });
    await waitFor("the game Service's rules removed", async () => rules(await ours())?.join() === 'udp/27016');
    await world.core.deleteNamespacedService({ namespace: APP_NS, name: 'game-query' });
    await waitFor(`${FIREWALL} deleted`, async () => (await ours()) === undefined);
    assert.equal(JSON.stringify((await firewalls()).find((f) => f.name === DOKS_FIREWALL)), doksBefore, 'the DOKS firewall is still byte-for-byte unchanged');
    const lines = logs.find({ msg: 'DigitalOcean firewall deleted' });
    assert.deepEqual(lines.map((l) => [l['firewall'], l['reason']]), [[FIREWALL, 'no Service of floatip class is left']]);
  });
});
