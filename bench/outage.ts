// Client-observed outage (issue 16): the packet lab (test/dataplane) with a UDP client sending
// a datagram every 10 ms and a TCP connect every 100 ms to the reserved IP, through the edge's
// NAT, real kube-proxy and the pod's namespace, while the IP's holder fails in one of five ways:
//   deletion  the holder's Node is deleted
//   pod       the holder's pod turns NotReady (a failing readiness probe)
//   drain     the holder's node is cordoned and its pod evicted
//   silent    the droplet dies silently: links down, its processes (agent, kube-proxy, the
//             pod's server) gone, its kubelet silent (the node Lease is no longer renewed)
//   leader    the holder's pod turns NotReady and the reconciler leader is SIGKILLed the moment
//             it has exposed the new anchor (mid-failover); the standby must take over
// Kubelet timing is upstream's: node Leases of 40 s renewed every 10 s, the controller-manager's
// node-monitor-grace-period 50 s; DigitalOcean actions take 2 s (PACKET_ACTION_DELAY_MS, and why). Two reconciler replicas run as processes with production
// defaults (lease 15 s, heartbeat grace half a Lease), except a 2 s cool-off.
// Per run: the longest gap in good UDP replies (from the reserved IP), datagrams lost, TCP
// connects failed, and the gap split into detection (failure → Kubernetes or floatip shows it:
// node gone, status written, pod evicted, "holder node missed its heartbeat", "started
// leading"), decision (→ the emulator starts the assign action), DigitalOcean action (→ it
// completes), dataplane convergence (→ the first good reply from the new holder's pod).
// Instants are epoch ms (this process, the prober's and the emulator's clocks: one machine).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { UPSTREAM_NODE_LEASE_SECONDS, UPSTREAM_NODE_MONITOR_GRACE_MS, waitFor } from '../test/cluster/harness.ts';
import { kubeConfigYaml } from '../test/cluster/kubeconfig.ts';
import { collectOutput } from '../test/child-output.ts';
import type { ChildOutput } from '../test/child-output.ts';
import { agentCredentials } from '../test/agent-fixture.ts';
import { netnsUnavailable } from '../test/dataplane/lab.ts';
import { outage } from '../test/dataplane/outage.ts';
import { deployGame, startPacketWorld } from '../test/dataplane/world.ts';
import type { Game, PacketWorld } from '../test/dataplane/world.ts';
import { APP_NS, NS, TOKEN, dropletOf, nodeOf, servingPods, setUnschedulable } from '../test/reconciler-fixture.ts';

export const OUTAGES = ['deletion', 'pod', 'drain', 'silent', 'leader'] as const;
export type OutageKind = (typeof OUTAGES)[number];
export const OUTAGE_LABELS: Record<OutageKind, string> = {
  deletion: 'holder node deleted',
  pod: 'holder pod NotReady',
  drain: 'holder node drained',
  silent: 'droplet dies silently',
  leader: 'leader killed mid-failover',
};
export const PHASES = ['detection', 'decision', 'action', 'convergence'] as const;

export interface OutageRun {
  readonly gapMs: number;
  readonly lost: number;
  readonly sent: number;
  readonly tcpFailures: number;
  readonly tcpAttempts: number;
  readonly phasesMs: Record<(typeof PHASES)[number], number>;
}

export interface OutageResult {
  readonly runs: Record<OutageKind, OutageRun[]>;
  /** runs where the client got no good reply within 180 s (a broken run, counted, not measured) */
  readonly failed: Record<OutageKind, number>;
  readonly nodeLeaseSeconds: number;
  readonly nodeMonitorGracePeriodMs: number;
}

const RECONCILER_MAIN = fileURLToPath(new URL('../reconciler/main.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

interface Replica {
  readonly name: string;
  readonly output: ChildOutput;
  readonly child: ReturnType<typeof spawn>;
  leading(): boolean;
  /** epoch ms of its first log line with this message after `after` */
  logged(msg: string, after: number): number | undefined;
}

async function startReplica(pw: PacketWorld, name: string, kubeconfig: string): Promise<Replica> {
  const child = spawn(process.execPath, [RECONCILER_MAIN, '--lease-namespace', NS, '--health-port', '0', '--metrics-port', '0', '--cool-off', '2s', '--log-level', 'info'], {
    env: { PATH: process.env['PATH'] ?? '', DIGITALOCEAN_TOKEN: TOKEN, DIGITALOCEAN_API_URL: pw.world.emulator.url, KUBECONFIG: kubeconfig, POD_NAME: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const times = (msg: string) => output.lines.filter((l) => l['msg'] === msg).map((l) => Date.parse(String(l['time'])));
  return {
    name,
    output,
    child,
    leading: () => {
      const started = times('started leading').at(-1) ?? -1;
      const stopped = times('stopped leading').at(-1) ?? -1;
      return started > stopped && child.exitCode === null && child.signalCode === null;
    },
    logged: (msg, after) => times(msg).find((t) => t >= after),
  };
}

export async function benchOutage(opts: { iterations: number; kinds?: readonly OutageKind[]; log: (s: string) => void }): Promise<OutageResult | string> {
  const why = netnsUnavailable();
  if (why !== undefined) return why;
  const pw = await startPacketWorld({
    controlPlane: { nodeMonitorGracePeriodMs: UPSTREAM_NODE_MONITOR_GRACE_MS, nodeLeaseDurationSeconds: UPSTREAM_NODE_LEASE_SECONDS },
  });
  const replicas: Replica[] = [];
  let game: Game | undefined;
  try {
    const { world, lab } = pw;
    opts.log(`outage: cluster at ${world.cp.kubeconfigPath}, lab logs in ${lab.dir}`);
    const sa = await world.cp.kubeConfigForServiceAccount(NS, 'floatip-reconciler');
    const kubeconfig = join(lab.dir, 'reconciler.kubeconfig');
    await writeFile(kubeconfig, kubeConfigYaml(world.cp.server, world.cp.caPem, { token: sa.getCurrentUser()?.token ?? '' }), { mode: 0o600 });
    let replicaCount = 0;
    const addReplica = async () => replicas.push(await startReplica(pw, `reconciler-${replicaCount++}`, kubeconfig));
    await addReplica();
    await addReplica();
    await waitFor('a reconciler to lead', async () => replicas.some((r) => r.leading()), { timeoutMs: 60_000 });
    game = await deployGame(pw);
    const g = game;
    const runs = Object.fromEntries(OUTAGES.map((k) => [k, [] as OutageRun[]])) as Record<OutageKind, OutageRun[]>;
    const failed = Object.fromEntries(OUTAGES.map((k) => [k, 0])) as Record<OutageKind, number>;

    for (const kind of opts.kinds ?? OUTAGES) {
      for (let i = 0; i < opts.iterations; i++) {
        let run: OutageRun;
        try {
          run = await oneRun(pw, g, kind, replicas, addReplica);
        } catch (err) {
          failed[kind]++;
          opts.log(`outage ${kind} #${i + 1}: FAILED (${(err as Error).message.split('\n')[0]}); lab logs in ${lab.dir}`);
          continue;
        }
        runs[kind].push(run);
        opts.log(`outage ${kind} #${i + 1}: gap ${(run.gapMs / 1000).toFixed(2)} s, lost ${run.lost}/${run.sent}, TCP failed ${run.tcpFailures}/${run.tcpAttempts}; ${PHASES.map((p) => `${p} ${(run.phasesMs[p] / 1000).toFixed(2)} s`).join(', ')}`);
      }
    }
    return { runs, failed, nodeLeaseSeconds: UPSTREAM_NODE_LEASE_SECONDS, nodeMonitorGracePeriodMs: UPSTREAM_NODE_MONITOR_GRACE_MS };
  } finally {
    for (const r of replicas) r.child.kill('SIGKILL');
    await game?.stop();
    await pw.stop();
  }
}

/** Waits until the IP is served from a pod on its holder, with 2 pods serving; returns the holder and the pods. */
async function steady(pw: PacketWorld, game: Game): Promise<{ holder: number; pods: V1Pod[] }> {
  const pods = await servingPods(pw.world.core, game.app, 2);
  const holder = await waitFor(`${game.ip} on a droplet running a pod`, async () => {
    const h = await pw.world.admin.holder(game.ip);
    return typeof h === 'number' && pods.some((p) => dropletOf(p.spec?.nodeName) === h) ? h : undefined;
  }, { timeoutMs: 120_000, intervalMs: 100 });
  await pw.lab.edge.untilHolder(game.ip, holder, 30_000);
  await pw.lab.untilServed(game.ip, 30_000);
  await waitFor('the lab to run both pods', async () => (await pw.lab.syncPods(APP_NS, `app=${game.app}`, game.ports)).length === 2, { timeoutMs: 30_000 });
  return { holder, pods };
}

async function oneRun(pw: PacketWorld, game: Game, kind: OutageKind, replicas: Replica[], addReplica: () => Promise<unknown>): Promise<OutageRun> {
  const { world, lab } = pw;
  const { holder, pods } = await steady(pw, game);
  const node = nodeOf(holder);
  const victim = pods.find((p) => p.spec?.nodeName === node);
  const survivor = pods.find((p) => p.spec?.nodeName !== node);
  if (!victim || !survivor) throw new Error(`no pod on the holder ${node} and elsewhere`);
  const probe = lab.probe({ target: game.ip, udpPort: game.udp, tcpPort: game.tcp, maxSeconds: 240 });
  try {
    await probe.nextReply((r) => r.from === game.ip && r.pod === victim.metadata?.name, 30_000);
    await probe.nextReply((r) => r.from === game.ip, 5_000);
    const t0 = now();
    let detected = t0;
    const podName = victim.metadata?.name ?? '';
    if (kind === 'deletion') {
      await world.cp.deleteNode(node);
      detected = now();
    } else if (kind === 'pod' || kind === 'leader') {
      const leader = replicas.find((r) => r.leading());
      await world.cp.setPodReady(APP_NS, podName, false);
      detected = now();
      if (kind === 'leader' && leader) {
        // mid-failover: once the leader has put the target's anchor into the Service (it does so before the assign)
        await waitFor('the leader to expose the new anchor', async () => (await world.core.readNamespacedService({ namespace: APP_NS, name: game.app })).spec?.externalIPs?.includes(lab.droplet(survivor.spec?.nodeName ?? '').anchor), { timeoutMs: 60_000, intervalMs: 5 });
        leader.child.kill('SIGKILL');
        replicas.splice(replicas.indexOf(leader), 1);
      }
    } else if (kind === 'drain') {
      await setUnschedulable(world.core, node, true);
      await world.core.createNamespacedPodEviction({ namespace: APP_NS, name: podName, body: { metadata: { name: podName, namespace: APP_NS } } });
      detected = now();
    } else {
      await lab.killDroplet(node);
    }
    const back = await probe.nextReply((r) => r.t > t0 && r.from === game.ip && r.pod !== podName, 180_000).catch(async (err: unknown) => {
      // what the packets' path looked like, then the world put back for the next run
      const holder = await world.admin.holder(game.ip).catch(() => undefined);
      const lines = await lab.conntrackLines(game.udp).catch(() => []);
      await recover(pw, game, kind, node, podName, addReplica).catch(() => undefined);
      throw new Error(`${(err as Error).message}; holder ${holder}; UDP conntrack: ${lines.join(' | ') || 'none'}`);
    });
    await probe.nextReply((r) => r.t > back.t + 500, 10_000);
    const record = await probe.stop();
    const o = outage(record, { from: t0, to: now(), expectFrom: game.ip });
    if (kind === 'silent') detected = replicas.map((r) => r.logged('holder node missed its heartbeat', t0)).find((t) => t !== undefined) ?? detected;
    if (kind === 'leader') detected = replicas.map((r) => r.logged('started leading', t0)).find((t) => t !== undefined) ?? detected;
    const action = lab.edge.view().actions.filter((a) => a.ip === game.ip && a.type === 'assign_ip' && a.startedAt >= t0 - 5).at(0);
    const started = action?.startedAt ?? back.t;
    const completed = action?.completedAt ?? back.t;
    // floatip may act on its watch before our own call returns (an eviction, a node DELETE):
    // detection then ends when the action starts
    detected = Math.min(detected, started);
    const phasesMs = { detection: detected - t0, decision: started - detected, action: completed - started, convergence: back.t - completed };
    await recover(pw, game, kind, node, podName, addReplica);
    return { gapMs: o.longestGapMs, lost: o.lost, sent: o.sent, tcpFailures: o.tcpFailures, tcpAttempts: o.tcpAttempts, phasesMs };
  } finally {
    await probe.stop();
  }
}

/** Puts the failed part back, so the next run starts from two serving pods on healthy droplets. */
async function recover(pw: PacketWorld, game: Game, kind: OutageKind, node: string, podName: string, addReplica: () => Promise<unknown>): Promise<void> {
  const { world, lab } = pw;
  const dropletId = dropletOf(node);
  if (kind === 'deletion') {
    // the pod of a deleted node stays until the pod GC's 40 s; `kubectl delete pod --force` now
    await world.core.deleteNamespacedPod({ namespace: APP_NS, name: podName, gracePeriodSeconds: 0 }).catch(() => undefined);
    await pw.agents.get(node)?.stop(500);
    await world.cp.addNode(node, { dropletId });
    pw.agents.set(node, await lab.startAgent(node, (await agentCredentials(world.cp, node)).yaml));
  } else if (kind === 'pod') {
    await world.cp.setPodReady(APP_NS, podName, true);
  } else if (kind === 'leader') {
    await world.cp.setPodReady(APP_NS, podName, true);
    await addReplica();
  } else if (kind === 'drain') {
    await setUnschedulable(world.core, node, false);
  } else {
    await lab.reviveDroplet(node);
    pw.agents.set(node, await lab.startAgent(node, (await agentCredentials(world.cp, node)).yaml));
  }
  await servingPods(world.core, game.app, 2);
}
