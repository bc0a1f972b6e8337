// Packets through floatip's traffic path (issue 16): reserved IP → the edge's 1:1 NAT to the
// holder's anchor → the Service's externalIPs in real kube-proxy (nftables mode, its own
// process in the droplet's namespace) → the pod's namespace, and the reply back out as the
// reserved IP. The real webhook, reconciler and agent (inside each droplet) drive it; the
// emulator's holders and cloud firewalls drive the edge. Skipped, saying why, only where
// network namespaces cannot be made.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../cluster/harness.ts';
import { DEFAULT_CLUSTER_ID } from '../do-emulator/world.ts';
import { APP_NS, TOKEN, dropletOf, nodeOf, servingPods } from '../reconciler-fixture.ts';
import { CLIENT } from './addresses.ts';
import { missingTools, netnsRefused } from './lab.ts';
import { inNs, run, spawnIn } from './netns.ts';
import { outage } from './outage.ts';
import { echoArgs, untilListening } from './pod-netns.ts';
import { deployGame, startPacketWorld } from './world.ts';
import type { Game, PacketWorld } from './world.ts';

// Skipped only where network namespaces cannot be made; missing tools fail the file (.ci/run installs them).
const unavailable = netnsRefused();
if (unavailable !== undefined) console.error(`# packet lab skipped: ${unavailable}`);
const ANCHOR_KEY = 'k8s.haim.dev/anchor-ipv4';

describe('packets through the reserved IP, real kube-proxy and the edge', { skip: unavailable && `packet lab: ${unavailable}` }, () => {
  let pw: PacketWorld;
  let game: Game;

  before(async () => {
    const missing = missingTools();
    if (missing !== undefined) throw new Error(`the packet lab ${missing}; .ci/run installs it`);
    pw = await startPacketWorld();
    const replica = await pw.world.startReplica('reconciler-0');
    await waitFor('reconciler-0 to lead', async () => replica.running.isLeader());
    game = await deployGame(pw);
    await servingPods(pw.world.core, game.app, 2);
  });
  after(async () => {
    await game?.stop();
    await pw?.stop();
  });

  test('the agent inside each droplet reads its anchor from 169.254.169.254; kube-proxy runs as its own process with the nftables flags', async () => {
    for (const n of pw.nodes) {
      const d = pw.lab.droplet(n.name);
      await waitFor(`the anchor of ${n.name}`, async () => (await pw.world.core.readNode({ name: n.name })).metadata?.annotations?.[ANCHOR_KEY] === d.anchor);
      const pids = (await run('ip', ['netns', 'pids', d.ns])).split('\n').filter((p) => p !== '');
      const procs = await Promise.all(pids.map(async (pid) => ({ comm: (await readFile(`/proc/${pid}/comm`, 'utf8')).trim(), cmdline: (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0') })));
      const kubeProxy = procs.filter((p) => p.comm === 'kube-proxy');
      assert.equal(kubeProxy.length, 1, `one kube-proxy in ${n.name}'s droplet`);
      assert.ok(kubeProxy[0]?.cmdline.includes('--proxy-mode=nftables'));
      assert.ok(kubeProxy[0]?.cmdline.includes(`--hostname-override=${n.name}`));
    }
  });

  test('UDP and TCP to the reserved IP reach the pod on the holder; replies come from the reserved IP; the pod sees the client (externalTrafficPolicy Local)', async () => {
    const holder = await waitFor(`${game.ip} assigned`, async () => (await pw.world.admin.holder(game.ip)) ?? undefined);
    await pw.lab.edge.untilHolder(game.ip, holder);
    await pw.lab.untilServed(game.ip);
    const probe = pw.lab.probe({ target: game.ip, udpPort: game.udp, tcpPort: game.tcp, maxSeconds: 60 });
    try {
      const reply = await probe.nextReply(() => true, 30_000);
      assert.equal(reply.from, game.ip, 'the reply leaves as the reserved IP');
      const pod = (await pw.world.core.readNamespacedPod({ namespace: APP_NS, name: reply.pod ?? '' }));
      assert.equal(pod.spec?.nodeName, nodeOf(holder), 'answered by the pod on the holder');
      assert.equal(reply.saw?.split(':')[0], CLIENT.ipv4, "the pod sees the client's own address");
      const tcp = await probe.nextTcp((a) => a.ok, 10_000);
      assert.equal(tcp.pod, reply.pod);
      assert.equal(tcp.saw?.split(':')[0], CLIENT.ipv4);
    } finally {
      await probe.stop();
    }
  });

  test('a port no floatip Service opens is dropped at the edge, though a server listens behind it', async () => {
    const holder = (await pw.world.admin.holder(game.ip)) as number;
    const d = pw.lab.droplet(nodeOf(holder));
    // a hostNetwork-style server on the anchor: only the cloud firewall stands between it and the client
    const server = spawnIn(d.ns, { name: 'closed-port', binary: process.execPath, args: echoArgs('closed', { udp: [9999] }, d.anchor), logPath: `${pw.lab.dir}/closed-port.log` });
    await untilListening(server);
    const dropsBefore = await pw.lab.edge.firewallDrops(holder);
    const probe = pw.lab.probe({ target: game.ip, udpPort: 9999, maxSeconds: 20 });
    try {
      await waitFor('20 datagrams sent', async () => probe.record.sends.length >= 20, { intervalMs: 20 });
      await waitFor('the edge to count them as dropped', async () => (await pw.lab.edge.firewallDrops(holder)) - dropsBefore >= 20, { intervalMs: 50 });
      assert.equal(probe.record.replies.length, 0, 'no reply to a port no firewall opens');
    } finally {
      await probe.stop();
      await server.stop(0);
    }
  });

  /** a cloud firewall of the user's own on the workers' tag (floatip opens only its Services' ports) */
  async function openUdpPorts(name: string, ports: number[]): Promise<{ close(): Promise<void> }> {
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${pw.world.emulator.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const res = await api('POST', '/v2/firewalls', {
      name,
      tags: [`k8s:${DEFAULT_CLUSTER_ID}`],
      inbound_rules: ports.map((port) => ({ protocol: 'udp', ports: String(port), sources: { addresses: ['0.0.0.0/0', '::/0'] } })),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { firewall } = (await res.json()) as { firewall: { id: string } };
    await waitFor(`the edge to load firewall ${name}`, async () => pw.lab.edge.view().firewalls.some((f) => f.id === firewall.id));
    return { close: async () => void (await api('DELETE', `/v2/firewalls/${firewall.id}`)) };
  }

  test('hostNetwork: a UDP server bound to 0.0.0.0 answers from the droplet address (lost); bound to the anchor it answers as the reserved IP', async () => {
    const holder = (await pw.world.admin.holder(game.ip)) as number;
    const d = pw.lab.droplet(nodeOf(holder));
    // what a user of deploy/examples/hostport-gameserver.yaml adds: a firewall opening the port
    const firewall = await openUdpPorts('hostnetwork-game', [7001, 7002]);
    const servers = [
      spawnIn(d.ns, { name: 'any', binary: process.execPath, args: echoArgs('bound-any', { udp: [7001] }), logPath: `${pw.lab.dir}/hostnet-any.log` }),
      spawnIn(d.ns, { name: 'anchor', binary: process.execPath, args: echoArgs('bound-anchor', { udp: [7002] }, d.anchor), logPath: `${pw.lab.dir}/hostnet-anchor.log` }),
    ];
    await Promise.all(servers.map(untilListening));
    const any = pw.lab.probe({ target: game.ip, udpPort: 7001, maxSeconds: 20 });
    const anchored = pw.lab.probe({ target: game.ip, udpPort: 7002, maxSeconds: 20 });
    try {
      const wrong = await any.nextReply(() => true, 15_000);
      assert.equal(wrong.from, d.public4, `bound to 0.0.0.0 the reply leaves from the droplet's own address, which the client never contacted`);
      const right = await anchored.nextReply(() => true, 15_000);
      assert.equal(right.from, game.ip);
      assert.equal(right.saw?.split(':')[0], CLIENT.ipv4);
    } finally {
      await Promise.all([any.stop(), anchored.stop(), ...servers.map((s) => s.stop(0))]);
      await firewall.close();
    }
  });

  test("the holder's node is deleted: packets reach the pod on the new holder, replies still from the reserved IP", async () => {
    const holder = (await pw.world.admin.holder(game.ip)) as number;
    const pods = await servingPods(pw.world.core, game.app, 2);
    const other = pods.map((p) => dropletOf(p.spec?.nodeName)).find((id) => id !== holder) as number;
    const probe = pw.lab.probe({ target: game.ip, udpPort: game.udp, tcpPort: game.tcp, maxSeconds: 90 });
    try {
      await probe.nextReply((r) => r.from === game.ip, 15_000);
      const deleted = performance.timeOrigin + performance.now();
      await pw.world.cp.deleteNode(nodeOf(holder));
      const moved = await probe.nextReply((r) => r.from === game.ip && r.pod !== undefined && pods.find((p) => p.metadata?.name === r.pod)?.spec?.nodeName === nodeOf(other), 60_000);
      await probe.nextReply((r) => r.t > moved.t + 300, 5_000); // a stretch of service after the move
      const record = await probe.stop();
      const o = outage(record, { from: deleted, to: record.sends.at(-1)?.t ?? moved.t, expectFrom: game.ip });
      assert.equal(o.unresolved, false);
      const wrong = record.replies.filter((r) => r.from !== game.ip && r.t >= deleted).map((r) => `${r.from} (${r.pod})`);
      assert.deepEqual(wrong, [], 'no reply from any address but the reserved IP');
      assert.equal(o.wrongSource, 0);
      console.error(`# node deleted → first reply from the new holder's pod after ${((moved.t - deleted) / 1000).toFixed(2)} s; longest UDP gap ${(o.longestGapMs / 1000).toFixed(2)} s, ${o.lost}/${o.sent} datagrams lost, ${o.tcpFailures}/${o.tcpAttempts} TCP connects failed`);
      // (the first such reply may still come through the old droplet: its kube-proxy, restarted
      // once its Node was gone, can forward to the new pod across the VPC)
      await pw.lab.edge.untilHolder(game.ip, other, 30_000);
    } finally {
      await probe.stop();
    }
  });

  test('the reserved IPv6 is routed to its holder unchanged (no Service: the harness has no dual-stack Services; the address sits on the droplet\'s lo, as DigitalOcean\'s own script puts it)', async () => {
    const ipv6 = '2604:a880:800:14::1000';
    const holder = pw.nodes[0]?.dropletId ?? 1001;
    const d = pw.lab.droplet(nodeOf(holder));
    const firewall = await openUdpPorts('ipv6-game', [7003]);
    await pw.world.admin.setHolder(ipv6, holder);
    await pw.lab.edge.untilHolder(ipv6, holder);
    await inNs(d.ns, 'ip', ['addr', 'add', `${ipv6}/128`, 'dev', 'lo']);
    const server = spawnIn(d.ns, { name: 'v6', binary: process.execPath, args: echoArgs('v6', { udp: [7003] }, ipv6), logPath: `${pw.lab.dir}/v6.log` });
    await untilListening(server);
    const probe = pw.lab.probe({ target: ipv6, udpPort: 7003, maxSeconds: 20 });
    try {
      const reply = await probe.nextReply(() => true, 15_000).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}; the firewall of ${holder} dropped ${await pw.lab.edge.firewallDrops(holder)}`);
      });
      assert.equal(reply.from, ipv6);
      assert.equal(reply.saw?.replace(/:\d+$/, ''), CLIENT.ipv6, 'routed, not translated: the server sees the client');
    } finally {
      await probe.stop();
      await server.stop(0);
      await firewall.close();
    }
  });
});
