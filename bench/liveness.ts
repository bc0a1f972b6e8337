// Liveness on the packet lab, with the kubelet at upstream timing (node Leases 40 s renewed
// every 10 s, controller-manager grace 50 s): how long after a holder droplet dies silently
// (links down, processes killed, kubelet silent: Lab.killDroplet) the emulator shows its IP on
// a healthy droplet — with liveness probes (the default) and with heartbeats only
// (--no-liveness-probes) — plus the IPs moved in the four cases that must move nothing, and
// the holder dying together with the leader. t0: just before killDroplet; t1: the emulator's
// holder changed (polled every 20 ms; the assign action takes 100 ms).
import { performance } from 'node:perf_hooks';
import type { V1Deployment } from '@kubernetes/client-node';
import { waitFor } from '../test/cluster/harness.ts';
import { joinedElection, startLivenessLab } from '../test/liveness-lab.ts';
import type { LivenessLab } from '../test/liveness-lab.ts';
import { APP_NS, floatingDeployment, nodeOf, servingPods } from '../test/reconciler-fixture.ts';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';

const IP = '104.248.100.100';
const APP = 'game';

export interface LivenessResult {
  readonly probesMs: Summary;
  readonly heartbeatMs: Summary;
  readonly withLeaderMs: Summary;
  /** IPs moved in the cases that must move none */
  readonly falseMoves: number;
  readonly falseCases: readonly { readonly name: string; readonly moves: number; readonly seconds: number }[];
}

/** A world whose last droplet runs the leader and no pod of the game; `pods` droplets run one pod each. */
async function world(pods: number, leaderArgs: readonly string[], log: (s: string) => void): Promise<{ ll: LivenessLab; leader: string }> {
  const ids = Array.from({ length: pods + 1 }, (_, i) => 1001 + i);
  const leader = nodeOf(ids.at(-1) as number);
  log(`liveness: ${ids.length} droplets, the leader on ${leader} ${leaderArgs.join(' ')}`.trim());
  const ll = await startLivenessLab(ids);
  try {
    ll.startReconciler(leader, leaderArgs);
    await waitFor(`the reconciler on ${leader} to lead`, async () => (await ll.leaderNode()) === leader, { timeoutMs: 90_000 });
    const game: V1Deployment = floatingDeployment(APP, IP, pods);
    const spec = game.spec?.template.spec;
    if (spec) spec.affinity = { ...spec.affinity, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: [leader] }] }] } } };
    await ll.world.apps.createNamespacedDeployment({ namespace: APP_NS, body: game });
    await servingPods(ll.world.core, APP, pods);
    await waitFor(`${IP} assigned`, async () => (await ll.world.admin.holder(IP)) ?? undefined, { timeoutMs: 60_000 });
    return { ll, leader };
  } catch (err) {
    await ll.stop();
    throw err;
  }
}

const holderOf = async (ll: LivenessLab): Promise<number> => (await ll.world.admin.holder(IP)) as number;

/** Kill the holder's droplet; ms until the emulator shows the IP elsewhere. */
async function silentDeath(ll: LivenessLab, timeoutMs: number): Promise<number> {
  const holder = await holderOf(ll);
  const t0 = performance.now();
  const killing = ll.lab.killDroplet(nodeOf(holder));
  for (;;) {
    const now = (await ll.world.admin.holder(IP)) ?? null;
    if (now !== null && now !== holder) {
      await killing;
      return performance.now() - t0;
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${IP} stayed on ${holder} for ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `during` while counting changes of the IP's holder (polled every 50 ms). */
async function movesDuring(ll: LivenessLab, during: () => Promise<void>): Promise<number> {
  let last = await holderOf(ll);
  let moves = 0;
  let running = true;
  const watch = (async () => {
    while (running) {
      const now = (await ll.world.admin.holder(IP)) ?? null;
      if (now !== last) {
        moves += 1;
        last = now as number;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await during();
  } finally {
    running = false;
    await watch;
  }
  return moves;
}

export async function benchLiveness(opts: { runs: number }, log: (s: string) => void): Promise<LivenessResult> {
  const counter = async (ll: LivenessLab, node: string, name: string) => (await ll.metrics(node)).get(name) ?? 0;
  const untilGrown = async (ll: LivenessLab, node: string, name: string, by: number, timeoutMs: number) => {
    const start = await counter(ll, node, name);
    await waitFor(`${name} +${by}`, async () => (await counter(ll, node, name)) >= start + by, { timeoutMs, intervalMs: 250 });
  };

  // With probes: the four false-failover cases (all droplets alive: "most nodes" means most),
  // `runs` silent deaths, the holder dying with the leader.
  const probes: number[] = [];
  const withLeader: number[] = [];
  const falseCases: { name: string; moves: number; seconds: number }[] = [];
  {
    const { ll, leader } = await world(opts.runs + 2, [], log);
    try {
      const timed = async (name: string, body: () => Promise<void>) => {
        const t0 = performance.now();
        const moves = await movesDuring(ll, body);
        falseCases.push({ name, moves, seconds: Math.round((performance.now() - t0) / 100) / 10 });
        log(`liveness: ${name}: ${moves} moves`);
      };
      const holderNode = async () => nodeOf(await holderOf(ll));
      await timed('agent killed on the holder', async () => {
        const node = await holderNode();
        await ll.agents.get(node)?.stop(0);
        await untilGrown(ll, leader, 'floatip_liveness_probes_total{result="reached"}', 12, 30_000);
        await ll.startAgent(node);
      });
      await timed('only the leader cut from the holder', async () => {
        await ll.cut(leader, [await holderNode()]);
        await untilGrown(ll, leader, 'floatip_liveness_suspicions_cleared_total{by="indirect"}', 3, 30_000).finally(() => ll.heal(leader));
      });
      await timed('leader cut off from most nodes', async () => {
        const holder = await holderNode();
        const live = [...ll.lab.droplets.values()].filter((d) => !d.dead && d.node !== leader).map((d) => d.node);
        const friend = live.find((n) => n !== holder) as string;
        const others = live.filter((n) => n !== friend);
        await ll.cut(leader, others);
        await ll.cut(friend, others);
        try {
          await waitFor('the liveness guard', async () => (await counter(ll, leader, 'floatip_liveness_guard')) === 1, { timeoutMs: 20_000, intervalMs: 250 });
          await untilGrown(ll, leader, 'floatip_liveness_indirect_probes_total{answer="unreached"}', 3, 30_000);
        } finally {
          await ll.heal(leader);
          await ll.heal(friend);
        }
      });
      await timed('30 % loss between leader and holder (until 5 suspicions)', async () => {
        await ll.cut(leader, [await holderNode()], 30);
        await untilGrown(ll, leader, 'floatip_liveness_suspicions_total', 5, 120_000).finally(() => ll.heal(leader));
      });
      for (let i = 0; i < opts.runs; i++) {
        await untilGrown(ll, leader, 'floatip_liveness_probes_total{result="reached"}', 8, 30_000);
        const ms = await silentDeath(ll, 30_000);
        probes.push(ms);
        log(`liveness: probes, run ${i + 1}: ${Math.round(ms)} ms`);
      }
      // The holder dies with the leader: a reconciler on the holder leads, a standby waits on the leader's droplet.
      const node = await holderNode();
      const here = ll.startReconciler(node);
      await waitFor(`the reconciler on ${node} to join the election`, async () => joinedElection(here), { timeoutMs: 60_000 });
      await ll.reconcilers.get(leader)?.stop(5_000); // releases the Lease: the one on the holder leads
      await waitFor(`the reconciler on ${node} to lead`, async () => (await ll.leaderNode()) === node, { timeoutMs: 60_000 });
      const standby = ll.startReconciler(leader);
      await waitFor('the standby to join the election', async () => joinedElection(standby), { timeoutMs: 60_000 });
      await untilGrown(ll, node, 'floatip_liveness_probes_total{result="reached"}', 4, 30_000);
      const ms = await silentDeath(ll, 30_000);
      withLeader.push(ms);
      log(`liveness: holder and leader on one droplet: ${Math.round(ms)} ms`);
    } finally {
      await ll.stop();
    }
  }

  // Heartbeats only: the same silent deaths, detected by the node Leases (grace 20 s).
  const heartbeat: number[] = [];
  {
    const { ll } = await world(opts.runs + 1, ['--no-liveness-probes'], log);
    try {
      for (let i = 0; i < opts.runs; i++) {
        const ms = await silentDeath(ll, 90_000);
        heartbeat.push(ms);
        log(`liveness: heartbeats only, run ${i + 1}: ${Math.round(ms)} ms`);
      }
    } finally {
      await ll.stop();
    }
  }
  return {
    probesMs: summarize(probes),
    heartbeatMs: summarize(heartbeat),
    withLeaderMs: summarize(withLeader),
    falseMoves: falseCases.reduce((s, c) => s + c.moves, 0),
    falseCases,
  };
}
