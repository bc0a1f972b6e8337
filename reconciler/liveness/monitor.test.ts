import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../../shared/logger.ts';
import type { TcpProber } from '../../shared/tcp-probe.ts';
import { createFakeClock } from '../../test/support/fake-clock.ts';
import type { FakeClock } from '../../test/support/fake-clock.ts';
import type { IndirectAnswer, IndirectProber } from './indirect.ts';
import { createLivenessMetrics } from './metrics.ts';
import { createLivenessMonitor } from './monitor.ts';
import type { NodeAddress } from './monitor.ts';

const NODES: NodeAddress[] = [1, 2, 3, 4, 5].map((i) => ({ name: `n${i}`, dropletId: 1000 + i, address: `10.0.0.${i}`, ready: true }));
const HOLDER = 1001;
const NEXT = 1002;
const CONFIG = { intervalMs: 250, timeoutMs: 300, indirectProbers: 3, failuresToSuspect: 2, kubeletPort: 10250, selfNode: 'n5' };
const INDIRECT_RTT_MS = 40;

interface World {
  /** may the leader reach this address now? */
  reach(address: string, now: number): boolean;
  /** what an agent at `from` says about `to` (undefined: the agent does not answer) */
  agent(from: string, to: string, now: number): IndirectAnswer;
}

function setup(world: World) {
  const clock: FakeClock = createFakeClock(0);
  const registry = new Registry();
  const metrics = createLivenessMetrics(registry);
  const changes: { atMs: number; dead: [number, number][] }[] = [];
  const asked: string[] = [];
  // Probes end on the fake clock: an answer after 1 ms, silence at the timeout.
  const probe: TcpProber = (host, _port, timeoutMs) =>
    new Promise((resolve) => {
      const ok = world.reach(host, clock.now());
      clock.setTimer(() => resolve(ok ? { reached: true, rttMs: 1 } : { reached: false, error: 'timeout' }), ok ? 1 : timeoutMs);
    });
  const indirect: IndirectProber = (agent, target) =>
    new Promise((resolve) => {
      asked.push(`${agent}→${target.host}`);
      const answer = world.agent(agent, target.host, clock.now());
      clock.setTimer(() => resolve(answer), answer === 'no-answer' ? target.timeoutMs + 250 : INDIRECT_RTT_MS);
    });
  const monitor = createLivenessMonitor({
    config: CONFIG,
    probe,
    indirect,
    targets: () => [HOLDER, NEXT],
    nodes: () => NODES,
    onChange: (dead) => changes.push({ atMs: clock.now(), dead: [...dead] }),
    metrics,
    logger: createLogger({ level: 'silent', name: 'test' }),
    now: clock.now,
    setTimer: clock.setTimer,
  });
  const term = new AbortController();
  monitor.start(term.signal);
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  return { clock, monitor, changes, asked, value, stop: () => term.abort() };
}

const addr = (droplet: number) => `10.0.0.${droplet - 1000}`;

test('monitor: a holder dying at 600 ms is confirmed dead at 1,340 ms (probes every 250 ms, timeout 300 ms, two failures, one indirect round of 40 ms)', async () => {
  const DEATH = 600;
  const alive = (a: string, now: number) => a !== addr(HOLDER) || now < DEATH;
  const m = setup({ reach: alive, agent: (_f, to, now) => (alive(to, now) ? 'reached' : 'unreached') });
  await m.clock.advance(3_000);
  // probes sent at 750 and 1000 fail at 1050 and 1300; the round asks n2, n3, n4 and ends at 1340
  assert.deepEqual(m.changes, [{ atMs: 1_340, dead: [[HOLDER, 750]] }]);
  assert.deepEqual(m.asked.slice(0, 3), ['10.0.0.2→10.0.0.1', '10.0.0.3→10.0.0.1', '10.0.0.4→10.0.0.1'], 'never the leader\'s own node (n5)');
  assert.equal(await m.value('floatip_liveness_confirmed_dead_total'), 1);
  assert.equal(await m.value('floatip_liveness_suspicions_total'), 1);
  m.stop();
});

test('monitor: only the leader\'s path to the holder is cut — the agents reach it, nothing is dead, every suspicion clears', async () => {
  const m = setup({ reach: (a) => a !== addr(HOLDER), agent: () => 'reached' });
  await m.clock.advance(30_000);
  assert.deepEqual(m.changes, []);
  const suspicions = await m.value('floatip_liveness_suspicions_total');
  assert.ok(suspicions >= 1);
  assert.equal(await m.value('floatip_liveness_suspicions_cleared_total', { by: 'indirect' }), suspicions);
  m.stop();
});

test('monitor: a leader cut off from most nodes (and their agents) confirms nothing', async () => {
  // The leader reaches only n2; n2's agent says the others are unreachable too (it is on the leader's side of the cut).
  const m = setup({ reach: (a) => a === addr(NEXT), agent: (from) => (from === addr(NEXT) ? 'unreached' : 'no-answer') });
  await m.clock.advance(30_000);
  assert.deepEqual(m.changes, []);
  assert.equal(await m.value('floatip_liveness_guard'), 1);
  m.stop();
});

test('monitor: 30 % loss between the leader and the holder for 60 s moves nothing', async () => {
  // A fixed pseudo-random pattern (LCG), so the run is the same every time.
  let seed = 17;
  const lost = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) < 0.3;
  const m = setup({ reach: (a) => a !== addr(HOLDER) || !lost(), agent: () => 'reached' });
  await m.clock.advance(60_000);
  assert.deepEqual(m.changes, []);
  const failed = await m.value('floatip_liveness_probes_total', { result: 'failed' });
  const reached = await m.value('floatip_liveness_probes_total', { result: 'reached' });
  assert.ok(failed > 0 && reached > 0, `failed ${failed}, reached ${reached}`);
  m.stop();
});

test('monitor: a new leader after earlier deaths — droplets NotReady by now, or whose node Lease went quiet, are no witnesses or probers', async () => {
  // n2 died a minute ago (NotReady), n3 and n4 twenty seconds ago (still Ready, their Leases
  // quiet); the holder n1 dies now; n5 is this leader, n6 and n7 are alive
  const nodes: NodeAddress[] = [1, 2, 3, 4, 5, 6, 7].map((i) => ({ name: `n${i}`, dropletId: 1000 + i, address: `10.0.0.${i}`, ready: i !== 2 }));
  const deadAddresses = new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  const clock = createFakeClock(0);
  const changes: number[][] = [];
  const monitor = createLivenessMonitor({
    config: CONFIG,
    probe: (host, _port, timeoutMs) =>
      new Promise((resolve) => {
        const ok = !deadAddresses.has(host);
        clock.setTimer(() => resolve(ok ? { reached: true, rttMs: 1 } : { reached: false, error: 'timeout' }), ok ? 1 : timeoutMs);
      }),
    indirect: (_agent, target) => new Promise((resolve) => clock.setTimer(() => resolve(deadAddresses.has(target.host) ? 'unreached' : 'reached'), INDIRECT_RTT_MS)),
    targets: () => [HOLDER, 1006],
    nodes: () => nodes,
    quiet: () => new Set([1003, 1004]),
    onChange: (dead) => changes.push([...dead.keys()]),
    metrics: createLivenessMetrics(new Registry()),
    logger: createLogger({ level: 'silent', name: 'test' }),
    now: clock.now,
    setTimer: clock.setTimer,
  });
  const term = new AbortController();
  monitor.start(term.signal);
  await clock.advance(2_000);
  assert.deepEqual(changes, [[HOLDER]]);
  assert.deepEqual([...monitor.state().keys()].sort(), [1001, 1006, 1007], 'the holder, the next target and the one Ready witness left');
  term.abort();
});

test('monitor: a dead holder that answers again is revived; the end of the term stops probing', async () => {
  let up = false;
  const alive = (a: string) => a !== addr(HOLDER) || up;
  const m = setup({ reach: alive, agent: (_f, to) => (alive(to) ? 'reached' : 'unreached') });
  await m.clock.advance(2_000);
  assert.deepEqual(m.changes.map((c) => c.dead.map(([d]) => d)), [[HOLDER]]);
  up = true;
  await m.clock.advance(1_000);
  assert.deepEqual(m.changes.map((c) => c.dead.map(([d]) => d)), [[HOLDER], []]);
  m.stop();
  await m.clock.advance(1_000);
  assert.equal(m.clock.pending(), 0, 'no timer left after the term');
});
