// The controller on a fake clock with a hand-written in-memory DigitalOcean port (function
// fields, the state a test needs): the timing rules — retries, backoffs cut short by
// evidence, reports made once across resyncs, term cancellation — without real time. The
// same controller against the real client and the emulator is controller.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { DoApiError } from '../../shared/digitalocean/port.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { createLogger } from '../../shared/logger.ts';
import { createController } from './controller.ts';
import type { ControllerConfig, Term } from './controller.ts';
import type { EventRecord } from '../events.ts';
import { createFakeClock, settle } from '../../test/support/fake-clock.ts';
import { createMemoryPort } from '../../test/support/reserved-ip-port.ts';
import { createReconcilerMetrics } from '../metrics.ts';

const KEYS = floatingIpKeys();
const IP = '104.248.100.100';
const RESYNC = 60_000;

const node = (name: string, droplet: number, ready = true): V1Node => ({
  metadata: { name, uid: `uid-${name}` },
  spec: { providerID: `digitalocean://${droplet}` },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

function pod(name: string, nodeName: string, o: { owner?: string; ageS?: number; ip?: string } = {}): V1Pod {
  const owner = o.owner ?? 'web';
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1) - (o.ageS ?? 0) * 1000),
      labels: { [KEYS.label]: 'true' },
      annotations: { [KEYS.annotation]: o.ip ?? IP },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: owner, uid: `ss-${owner}`, controller: true }],
    },
    spec: { nodeName, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** The memory port's writes as "assign DROPLET@time" / "unassign@time". */
function memoryPort(now: () => number) {
  const port = createMemoryPort({ holders: [[IP, null]], now });
  const writes = () =>
    port.calls.flatMap((c, i) => (c.startsWith('assign ') ? [`assign ${c.split(' ')[2]}@${port.times[i]}`] : c.startsWith('unassign ') ? [`unassign@${port.times[i]}`] : []));
  return { port, holders: port.holders, moveTo: port.moveTo, writes };
}

function setup(o: { term?: Term; config?: Partial<ControllerConfig> } = {}) {
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const mem = memoryPort(clock.now);
  const events: EventRecord[] = [];
  const world = { pods: [] as V1Pod[], nodes: [node('n1', 1001), node('n2', 1002), node('n3', 1003)] };
  const controller = createController({
    port: mem.port,
    world: { listPods: () => world.pods, listNodes: () => world.nodes },
    events: { record: async (e) => void events.push(e) },
    logger: createLogger({ level: 'silent' }),
    metrics: createReconcilerMetrics(),
    now: clock.now,
    setTimer: clock.setTimer,
    config: { keys: KEYS, dryRun: false, coolOffMs: 10_000, unassignWhenUnplaced: false, resyncIntervalMs: RESYNC, actionExpiryMs: 60_000, ...o.config },
  });
  const t0 = clock.now();
  const at = (ms: number) => ms - t0;
  return { clock, controller, world, events, port: mem.port, holders: mem.holders, moveTo: mem.moveTo, get calls() { return mem.writes(); }, at, warnings: (reason: string) => events.filter((e) => e.reason === reason).map((e) => e.pod.metadata?.name) };
}

test('controller (fake clock): a conflict Warning is recorded exactly once across 5 resyncs', async () => {
  const h = setup();
  h.world.pods.push(pod('old', 'n1', { owner: 'a', ageS: 600 }), pod('new', 'n2', { owner: 'b', ageS: 60 }));
  h.controller.start();
  await h.clock.advance(0);
  assert.equal(h.holders.get(IP), 1001);
  for (let i = 0; i < 5; i++) await h.clock.advance(RESYNC);
  assert.deepEqual(h.warnings('FloatingIPConflict'), ['new']);
  assert.deepEqual(h.calls.length, 1);
  await h.controller.stop();
});

test('controller (fake clock): a 404 target droplet does not delay the failover — the next eligible droplet at once', async () => {
  const h = setup();
  h.world.pods.push(pod('a', 'n1', { ageS: 300 }), pod('b', 'n2', { ageS: 200 }), pod('c', 'n3', { ageS: 100 }));
  h.controller.start();
  await h.clock.advance(0);
  assert.equal(h.holders.get(IP), 1001);
  h.port.impl.assign = async (ip, droplet) => {
    if (droplet === 1002) throw new DoApiError('NotFound', 'droplet 1002 not found', { status: 404 });
    return h.moveTo(ip, droplet);
  };
  const before = h.world.nodes[0] as V1Node;
  h.world.nodes[0] = node('n1', 1001, false);
  const t = h.clock.now();
  h.controller.nodeChanged(h.world.nodes[0], before);
  await h.clock.advance(0);
  assert.equal(h.holders.get(IP), 1003);
  assert.deepEqual(h.calls.slice(1), [`assign 1002@${t}`, `assign 1003@${t}`], 'both in the same instant');
  // The failed droplet is remembered for this IP: losing 1003 too leaves no droplet that
  // may take it now, and 1002 is not asked again until its failure expires.
  const n3 = h.world.nodes[2] as V1Node;
  h.world.nodes[2] = node('n3', 1003, false);
  h.controller.nodeChanged(h.world.nodes[2], n3);
  await h.clock.advance(0);
  assert.equal(h.calls.length, 3, 'no new assign');
  assert.match(h.events.filter((e) => e.reason === 'FloatingIPUnplaced').map((e) => e.message).join('|'), /droplet 1002 failed: droplet 1002 not found/);
  await h.clock.advance(60_000);
  assert.equal(h.calls.filter((c) => c.startsWith('assign 1002')).length, 2, 'tried again once the failure expired');
  await h.controller.stop();
});

test('controller (fake clock): a holder lost during a long backoff waits only for the floor', async () => {
  const h = setup();
  h.world.pods.push(pod('a', 'n1', { ageS: 300 }));
  h.port.impl.assign = async () => {
    throw new DoApiError('RateLimited', 'slow down', { status: 429, retryAfterMs: 45_000 });
  };
  h.controller.start();
  await h.clock.advance(0);
  assert.equal(h.calls.length, 1);
  h.port.impl.assign = h.moveTo;
  await h.clock.advance(400);
  h.world.pods.push(pod('b', 'n2', { ageS: 200 }));
  h.controller.podChanged(h.world.pods[1]);
  await h.clock.advance(599);
  assert.equal(h.calls.length, 1, 'within the floor after the failure');
  await h.clock.advance(1);
  assert.deepEqual(h.calls.map((c) => h.at(Number(c.split('@')[1]))), [0, 1000]);
  assert.equal(h.holders.get(IP), 1001);
  await h.controller.stop();
});

test('controller (fake clock): a write in flight when the term ends is cancelled, its outcome dropped, and nothing more is written', async () => {
  const own = new AbortController();
  let valid = true;
  const h = setup({ term: { signal: own.signal, valid: () => valid } });
  h.world.pods.push(pod('a', 'n1', { ageS: 300 }));
  let aborted = false;
  h.port.impl.assign = (_ip, _d, opts) =>
    new Promise((_, reject) =>
      opts?.signal?.addEventListener('abort', () => {
        aborted = true;
        reject(opts.signal?.reason as Error);
      }),
    );
  h.controller.start({ signal: own.signal, valid: () => valid });
  await h.clock.advance(0);
  assert.equal(h.calls.length, 1);
  valid = false;
  own.abort(new Error('leadership lost'));
  await h.controller.stop();
  assert.equal(aborted, true, 'the call was aborted, not awaited');
  h.port.impl.assign = h.moveTo;
  h.controller.podChanged(h.world.pods[0]);
  await h.clock.advance(5 * RESYNC);
  assert.equal(h.calls.length, 1, 'no write after the term');
  assert.deepEqual(h.controller.holders(), [], 'the memory went with the term');
  assert.equal(h.events.length, 0);
});

test('controller (fake clock): no write starts in a term that is no longer valid', async () => {
  let valid = false;
  const term = { signal: new AbortController().signal, valid: () => valid };
  const h = setup();
  h.world.pods.push(pod('a', 'n1', { ageS: 300 }));
  h.controller.start(term);
  await h.clock.advance(0);
  assert.deepEqual(h.calls, []);
  valid = true;
  h.controller.podChanged(h.world.pods[0]);
  await h.clock.advance(0);
  assert.equal(h.holders.get(IP), 1001);
  await h.controller.stop();
});

test('controller (fake clock): a new term starts from a full DigitalOcean list, not the old memory', async () => {
  const h = setup();
  h.world.pods.push(pod('a', 'n1', { ageS: 300 }));
  h.controller.start();
  await h.clock.advance(0);
  await h.controller.stop();
  h.holders.set(IP, 1002); // moved by hand while nobody led
  h.controller.start();
  await h.clock.advance(0);
  assert.equal(h.holders.get(IP), 1001);
  assert.deepEqual(h.controller.holders(), [{ ip: IP, family: 4, dropletId: 1001 }]);
  await h.controller.stop();
  await settle();
});
