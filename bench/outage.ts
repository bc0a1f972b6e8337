// Client-observed outage (issue 16): the packet lab (test/dataplane) with a UDP client sending
// a datagram every 10 ms and a TCP connect every 100 ms to the reserved IP, through the edge's
// NAT, real kube-proxy and the pod's namespace, while the IP's holder fails in one of five ways:
//   deletion  the holder's Node is deleted
//   pod       the holder's pod turns NotReady (a failing readiness probe)
//   drain     the holder's node is cordoned and its pod evicted
//   silent    the droplet dies silently: links down, its processes (agent, kube-proxy, the
//             pod's server) gone, its kubelet silent (the node Lease is no longer renewed);
//             the reconcilers' liveness probes on (issue 17)
//   silent-heartbeat  the same with --no-liveness-probes: heartbeats and node status only
//   leader    the holder's pod turns NotReady and the reconciler leader is SIGKILLed the moment
//             it has exposed the new anchor (mid-failover); the standby must take over
// Kubelet timing is upstream's: node Leases of 40 s renewed every 10 s, the controller-manager's
// node-monitor-grace-period 50 s; DigitalOcean actions take 2 s (PACKET_ACTION_DELAY_MS, and why).
// Two reconciler replicas run inside droplets of their own (pool-a-4 and pool-a-5, cordoned: the
// game's pods run on the other three), on the VPC as in a cluster, so their liveness probes reach
// the holder; agents answer indirect probes (test/liveness-lab.ts). Production defaults (leader
// Lease 4 s / renew 2.5 s / retry 0.5 s, heartbeat grace half a node Lease), except a 2 s cool-off.
// Per run: the longest gap in good UDP replies (from the reserved IP), datagrams lost, TCP
// connects failed, and the gap split into detection (failure → Kubernetes or floatip shows it:
// node gone, status written, pod evicted, "holder node missed its heartbeat", "started
// leading"), decision (→ the emulator starts the assign action), DigitalOcean action (→ it
// completes), dataplane convergence (→ the first good reply from the new holder's pod).
// Instants are epoch ms (this process, the prober's and the emulator's clocks: one machine).
import type { V1Pod } from '@kubernetes/client-node';
import { UPSTREAM_NODE_LEASE_SECONDS, UPSTREAM_NODE_MONITOR_GRACE_MS, waitFor } from '../test/cluster/harness.ts';
import type { Component } from '../test/cluster/processes.ts';
import { livenessProcesses, logLines } from '../test/liveness-lab.ts';
import type { LivenessProcesses } from '../test/liveness-lab.ts';
import { netnsUnavailable } from '../test/dataplane/lab.ts';
import { outage } from '../test/dataplane/outage.ts';
import { deployGame, startPacketWorld } from '../test/dataplane/world.ts';
import type { Game, PacketWorld } from '../test/dataplane/world.ts';
import { APP_NS, dropletOf, nodeOf, servingPods, setUnschedulable } from '../test/reconciler-fixture.ts';

export const OUTAGES = ['deletion', 'pod', 'drain', 'silent', 'silent-heartbeat', 'leader'] as const;
export type OutageKind = (typeof OUTAGES)[number];
export const OUTAGE_LABELS: Record<OutageKind, string> = {
  deletion: 'holder node deleted',
  pod: 'holder pod NotReady',
  drain: 'holder node drained',
  silent: 'droplet dies silently (probes)',
  'silent-heartbeat': 'droplet dies silently (heartbeats only)',
  leader: 'leader killed mid-failover',
};
/** the figures' name of each failure (outage.<name>.*) */
export const OUTAGE_FIGURE: Record<OutageKind, string> = { deletion: 'deletion', pod: 'pod', drain: 'drain', silent: 'silent', 'silent-heartbeat': 'silentHeartbeat', leader: 'leader' };
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

const now = () => performance.timeOrigin + performance.now();
/** droplets of the game's pods, and the reconcilers' own (cordoned) */
const GAME_DROPLETS = [1001, 1002, 1003];
const RECONCILER_NODES = ['pool-a-4', 'pool-a-5'];
const PROBES_MOVE = 'liveness: droplet unreachable from this leader and from every agent that answered; its IPs move';

/** The reconciler replicas, each inside its droplet, all with probes on or all off. */
interface Replicas {
  /** (re)starts the replicas with probes on or off, unless they already run so; resolves once one leads */
  ensure(probes: boolean): Promise<void>;
  /** the leader's process, if one leads */
  leader(): Component | undefined;
  /** SIGKILLs the leader (no Lease release) */
  killLeader(): void;
  /** starts a replica on each reconciler droplet that has none running */
  refill(): Promise<void>;
  /** epoch ms of the first log line of any replica with this message after `after` */
  logged(msg: string, after: number): number | undefined;
  stop(): Promise<void>;
}

const alive = (c: Component) => c.child.exitCode === null && c.child.signalCode === null;
const times = (c: Component, msg: string) => logLines(c).filter((l) => l['msg'] === msg).map((l) => Date.parse(String(l['time'])));

function replicaSet(live: LivenessProcesses): Replicas {
  let probes: boolean | undefined;
  const args = () => ['--log-level=info', '--cool-off=2s', ...(probes ? [] : ['--no-liveness-probes'])];
  const leading = (c: Component) => alive(c) && (times(c, 'started leading').at(-1) ?? -1) > (times(c, 'stopped leading').at(-1) ?? -1);
  const running = () => RECONCILER_NODES.map((n) => live.reconcilers.get(n)).filter((c): c is Component => c !== undefined && alive(c));
  const self: Replicas = {
    async ensure(want) {
      if (probes === want && running().length === RECONCILER_NODES.length) return;
      await Promise.all(running().map((c) => c.stop(5_000)));
      probes = want;
      await self.refill();
    },
    leader: () => running().find(leading),
    killLeader() {
      const c = self.leader();
      if (!c?.child.pid) return;
      try {
        process.kill(-c.child.pid, 'SIGKILL');
      } catch {
        c.child.kill('SIGKILL');
      }
    },
    async refill() {
      for (const n of RECONCILER_NODES) {
        const c = live.reconcilers.get(n);
        if (!c || !alive(c)) live.startReconciler(n, args());
      }
      await waitFor('a reconciler to lead', async () => self.leader() !== undefined, { timeoutMs: 60_000 });
    },
    logged: (msg, after) => running().concat([...live.reconcilers.values()]).map((c) => times(c, msg).find((t) => t >= after)).find((t) => t !== undefined),
    async stop() {
      await Promise.all(running().map((c) => c.stop(1_000)));
    },
  };
  return self;
}

export async function benchOutage(opts: { iterations: number; kinds?: readonly OutageKind[]; log: (s: string) => void }): Promise<OutageResult | string> {
  const why = netnsUnavailable();
  if (why !== undefined) return why;
  const pw = await startPacketWorld({
    droplets: [...GAME_DROPLETS, 1004, 1005],
    controlPlane: { nodeMonitorGracePeriodMs: UPSTREAM_NODE_MONITOR_GRACE_MS, nodeLeaseDurationSeconds: UPSTREAM_NODE_LEASE_SECONDS },
  });
  let replicas: Replicas | undefined;
  let game: Game | undefined;
  try {
    const { world, lab } = pw;
    opts.log(`outage: cluster at ${world.cp.kubeconfigPath}, lab logs in ${lab.dir}`);
    const live = await livenessProcesses(world, lab, pw.nodes.map((n) => n.name));
    // agents that answer indirect probes in place of the lab's plain ones
    for (const n of pw.nodes) {
      await pw.agents.get(n.name)?.stop(500);
      pw.agents.set(n.name, await live.startAgent(n.name));
    }
    for (const n of RECONCILER_NODES) await setUnschedulable(world.core, n, true);
    replicas = replicaSet(live);
    const kinds = opts.kinds ?? OUTAGES;
    await replicas.ensure(kinds[0] !== 'silent-heartbeat');
    game = await deployGame(pw);
    const g = game;
    const runs = Object.fromEntries(OUTAGES.map((k) => [k, [] as OutageRun[]])) as Record<OutageKind, OutageRun[]>;
    const failed = Object.fromEntries(OUTAGES.map((k) => [k, 0])) as Record<OutageKind, number>;

    for (const kind of kinds) {
      await replicas.ensure(kind !== 'silent-heartbeat');
      for (let i = 0; i < opts.iterations; i++) {
        let run: OutageRun;
        try {
          run = await oneRun(pw, live, g, kind, replicas);
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
    await replicas?.stop();
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

async function oneRun(pw: PacketWorld, live: LivenessProcesses, game: Game, kind: OutageKind, replicas: Replicas): Promise<OutageRun> {
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
      const leader = replicas.leader();
      await world.cp.setPodReady(APP_NS, podName, false);
      detected = now();
      if (kind === 'leader' && leader) {
        // mid-failover: once the leader has put the target's anchor into the Service (it does so before the assign)
        await waitFor('the leader to expose the new anchor', async () => (await world.core.readNamespacedService({ namespace: APP_NS, name: game.app })).spec?.externalIPs?.includes(lab.droplet(survivor.spec?.nodeName ?? '').anchor), { timeoutMs: 60_000, intervalMs: 5 });
        replicas.killLeader();
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
      await recover(pw, live, game, kind, node, podName, replicas).catch(() => undefined);
      throw new Error(`${(err as Error).message}; holder ${holder}; UDP conntrack: ${lines.join(' | ') || 'none'}`);
    });
    await probe.nextReply((r) => r.t > back.t + 500, 10_000);
    const record = await probe.stop();
    const o = outage(record, { from: t0, to: now(), expectFrom: game.ip });
    if (kind === 'silent') detected = replicas.logged(PROBES_MOVE, t0) ?? detected;
    if (kind === 'silent-heartbeat') detected = replicas.logged('holder node missed its heartbeat', t0) ?? detected;
    if (kind === 'leader') detected = replicas.logged('started leading', t0) ?? detected;
    const action = lab.edge.view().actions.filter((a) => a.ip === game.ip && a.type === 'assign_ip' && a.startedAt >= t0 - 5).at(0);
    const started = action?.startedAt ?? back.t;
    const completed = action?.completedAt ?? back.t;
    // floatip may act on its watch before our own call returns (an eviction, a node DELETE):
    // detection then ends when the action starts
    detected = Math.min(detected, started);
    const phasesMs = { detection: detected - t0, decision: started - detected, action: completed - started, convergence: back.t - completed };
    await recover(pw, live, game, kind, node, podName, replicas);
    return { gapMs: o.longestGapMs, lost: o.lost, sent: o.sent, tcpFailures: o.tcpFailures, tcpAttempts: o.tcpAttempts, phasesMs };
  } finally {
    await probe.stop();
  }
}

/** Puts the failed part back, so the next run starts from two serving pods on healthy droplets. */
async function recover(pw: PacketWorld, live: LivenessProcesses, game: Game, kind: OutageKind, node: string, podName: string, replicas: Replicas): Promise<void> {
  const { world, lab } = pw;
  const dropletId = dropletOf(node);
  if (kind === 'deletion') {
    // the pod of a deleted node stays until the pod GC's 40 s; `kubectl delete pod --force` now
    await world.core.deleteNamespacedPod({ namespace: APP_NS, name: podName, gracePeriodSeconds: 0 }).catch(() => undefined);
    await pw.agents.get(node)?.stop(500);
    await world.cp.addNode(node, { dropletId });
    pw.agents.set(node, await live.startAgent(node));
  } else if (kind === 'pod') {
    await world.cp.setPodReady(APP_NS, podName, true);
  } else if (kind === 'leader') {
    await world.cp.setPodReady(APP_NS, podName, true);
    await replicas.refill();
  } else if (kind === 'drain') {
    await setUnschedulable(world.core, node, false);
  } else {
    await lab.reviveDroplet(node);
    pw.agents.set(node, await live.startAgent(node));
  }
  await servingPods(world.core, game.app, 2);
}
