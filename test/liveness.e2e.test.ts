// Liveness probes on the packet lab with the kubelet at upstream timing (node Leases 40 s,
// renewed every 10 s; controller-manager grace 50 s): without probes a silent holder keeps
// its IP for 20 s (heartbeats) to 50 s (NotReady). Five droplets, each a network namespace on
// one VPC bridge with a kubelet stand-in on :10250, the real agent (answering indirect
// probes) and, on some, a real reconciler process. The leader starts on pool-a-5, which runs
// no pod of the game, so the holder is another droplet. In order, on one control plane:
// the silent holder (≤ 2 s), the four cases that must move nothing, and the holder dying with
// the leader (≤ 6 s). Skipped, saying why, only where network namespaces cannot be made.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment } from '@kubernetes/client-node';
import { readyStatus, waitFor } from './cluster/harness.ts';
import type { Component } from './cluster/processes.ts';
import { netnsUnavailable } from './dataplane/lab.ts';
import { joinedElection, logLines, nextHolder, startLivenessLab } from './liveness-lab.ts';
import type { LivenessLab } from './liveness-lab.ts';
import { APP_NS, floatingDeployment, nodeOf, servingPods } from './reconciler-fixture.ts';

const unavailable = netnsUnavailable();
if (unavailable !== undefined) console.error(`# liveness e2e skipped: ${unavailable}`);
const IP = '104.248.100.100';
const APP = 'game';
const LEADER_NODE = 'pool-a-5';

const lines = logLines;

describe('liveness: a silent holder droplet at upstream kubelet timing', { skip: unavailable && `packet lab: ${unavailable}` }, () => {
  let ll: LivenessLab;
  let holder: number;

  const holderNode = () => nodeOf(holder);
  const counter = async (name: string) => (await ll.metrics(LEADER_NODE)).get(name) ?? 0;
  const untilGrown = async (what: string, name: string, by: number, timeoutMs: number) => {
    const start = await counter(name);
    await waitFor(`${what} (${name} +${by})`, async () => (await counter(name)) >= start + by, { timeoutMs, intervalMs: 250 });
  };
  const stillHeld = async (why: string) => assert.equal((await ll.world.admin.holder(IP)) ?? null, holder, why);

  before(async () => {
    ll = await startLivenessLab([1001, 1002, 1003, 1004, 1005]);
    const first = ll.startReconciler(LEADER_NODE);
    await waitFor(`the reconciler on ${LEADER_NODE} to lead`, async () => (await ll.leaderNode()) === LEADER_NODE, { timeoutMs: 60_000 }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; its log:\n${first.tail(40)}`);
    });
    const game: V1Deployment = floatingDeployment(APP, IP, 4);
    const pod = game.spec?.template.spec;
    if (pod) pod.affinity = { ...pod.affinity, nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: [LEADER_NODE] }] }] } } };
    await ll.world.apps.createNamespacedDeployment({ namespace: APP_NS, body: game });
    await servingPods(ll.world.core, APP, 4);
    holder = await waitFor(`${IP} assigned`, async () => (await ll.world.admin.holder(IP)) ?? undefined, { timeoutMs: 30_000 });
    // the leader probes the holder and its agents answer: a first suspicion-free second
    await untilGrown('probes reaching the holder and the others', 'floatip_liveness_probes_total{result="reached"}', 8, 20_000);
  });
  after(() => ll?.stop());

  test('the holder droplet dies silently: its IP is on another droplet within 2 s, long before Kubernetes notices', async (t) => {
    const dead = holderNode();
    const t0 = Date.now();
    const killing = ll.lab.killDroplet(dead);
    const moved = await nextHolder(ll.world, IP, holder, 15_000);
    await killing;
    const ms = moved.atMs - t0;
    t.diagnostic(`IP moved ${ms} ms after the droplet's links went down`);
    assert.ok(moved.holder !== null && moved.holder !== holder);
    assert.ok(ms <= 2_000, `moved after ${ms} ms (goal: ≤ 2,000)`);
    const node = await ll.world.core.readNode({ name: dead });
    assert.equal(readyStatus(node), 'True', 'the node still looks Ready: neither its Lease (40 s) nor the node controller (50 s) moved the IP');
    const leader = ll.reconcilers.get(LEADER_NODE) as Component;
    // the leader logs the move once it has seen the action complete, just after the emulator shows it
    const attached = await waitFor('the leader to log the move', async () => lines(leader).find((l) => l['msg'] === 'Floating IP attached to droplet' && l['ip'] === IP && l['droplet'] === moved.holder), { timeoutMs: 5_000 });
    assert.equal(attached['reason'], 'holder-unreachable');
    assert.ok(lines(leader).some((l) => l['msg'] === 'liveness: droplet unreachable from this leader and from every agent that answered; its IPs move' && l['node'] === dead));
    holder = moved.holder;
  });

  test('the agent on the holder is killed (a rollout, an OOM): the kubelet port still answers, nothing moves', async () => {
    const node = holderNode();
    const suspicions = await counter('floatip_liveness_suspicions_total');
    await ll.agents.get(node)?.stop(0);
    await untilGrown('probes after the agent died', 'floatip_liveness_probes_total{result="reached"}', 12, 20_000);
    assert.equal(await counter('floatip_liveness_suspicions_total'), suspicions, 'not even a suspicion');
    await stillHeld('an agent restart is not a dead droplet');
    await ll.startAgent(node);
  });

  test('only the leader cannot reach the holder: the agents on other nodes can, every suspicion clears, nothing moves', async () => {
    await ll.cut(LEADER_NODE, [holderNode()]);
    try {
      await untilGrown('suspicions cleared by indirect probes', 'floatip_liveness_suspicions_cleared_total{by="indirect"}', 3, 30_000);
      await stillHeld('a one-link cut is not a dead droplet');
    } finally {
      await ll.heal(LEADER_NODE);
    }
  });

  test('the leader is cut off from most nodes (its side: one node that reaches nobody else either): the guard holds, nothing moves', async () => {
    const live = ['pool-a-1', 'pool-a-2', 'pool-a-3', 'pool-a-4'].filter((n) => !ll.droplet(n).dead);
    const friend = live.find((n) => n !== holderNode()) as string;
    const others = live.filter((n) => n !== friend);
    await ll.cut(LEADER_NODE, others);
    await ll.cut(friend, others);
    try {
      await waitFor('the liveness guard', async () => (await counter('floatip_liveness_guard')) === 1, { timeoutMs: 20_000, intervalMs: 250 });
      // the friend's agent answers "unreached" for the holder: a round that would confirm it, but for the guard
      await untilGrown('answers from the agent on the leader\'s side', 'floatip_liveness_indirect_probes_total{answer="unreached"}', 3, 30_000);
      await stillHeld('a cut-off leader moves nothing');
    } finally {
      await ll.heal(LEADER_NODE);
      await ll.heal(friend);
    }
    await waitFor('the guard to lift', async () => (await counter('floatip_liveness_guard')) === 0, { timeoutMs: 20_000, intervalMs: 250 });
  });

  test('30 % packet loss each way between the leader and the holder, until 5 suspicions were raised and cleared: nothing moves', async (t) => {
    const cleared = await counter('floatip_liveness_suspicions_cleared_total{by="indirect"}');
    const raised = await counter('floatip_liveness_suspicions_total');
    const t0 = Date.now();
    await ll.cut(LEADER_NODE, [holderNode()], 30);
    try {
      await untilGrown('suspicions under loss', 'floatip_liveness_suspicions_total', 5, 120_000);
      await stillHeld('a lossy link is not a dead droplet');
    } finally {
      await ll.heal(LEADER_NODE);
    }
    const m = await ll.metrics(LEADER_NODE);
    t.diagnostic(`${Math.round((Date.now() - t0) / 1000)} s of loss: ${(m.get('floatip_liveness_suspicions_total') ?? 0) - raised} suspicions, ${(m.get('floatip_liveness_suspicions_cleared_total{by="indirect"}') ?? 0) - cleared} cleared by agents`);
  });

  test('the holder dies with the leader on one droplet: a standby leads at the Lease expiry (4 s) and the IP moves within 6 s', async (t) => {
    const node = holderNode();
    const leaderHere = ll.startReconciler(node);
    await waitFor(`the reconciler on ${node} to join the election`, async () => joinedElection(leaderHere), { timeoutMs: 60_000 });
    await ll.reconcilers.get(LEADER_NODE)?.stop(5_000); // releases the Lease: the one on the holder leads
    await waitFor(`the reconciler on ${node} to lead`, async () => (await ll.leaderNode()) === node, { timeoutMs: 20_000 });
    const standby = ll.startReconciler(LEADER_NODE);
    await waitFor('the standby to join the election', async () => joinedElection(standby), { timeoutMs: 60_000 });
    const t0 = Date.now();
    const killing = ll.lab.killDroplet(node);
    const moved = await nextHolder(ll.world, IP, holder, 20_000);
    await killing;
    const ms = moved.atMs - t0;
    t.diagnostic(`IP moved ${ms} ms after the droplet of the holder and the leader died`);
    assert.ok(moved.holder !== null && moved.holder !== holder);
    assert.ok(ms <= 6_000, `moved after ${ms} ms (goal: ≤ 6,000)`);
    assert.equal(await ll.leaderNode(), LEADER_NODE);
    const attached = await waitFor('the new leader to log the move', async () => lines(standby).find((l) => l['msg'] === 'Floating IP attached to droplet' && l['ip'] === IP && l['droplet'] === moved.holder), { timeoutMs: 5_000 });
    assert.equal(attached['reason'], 'holder-unreachable');
  });
});
