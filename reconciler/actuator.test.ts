import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { ActionOutcome, DoErrorClass, ReservedIpPort } from '../shared/digitalocean/port.ts';
import { createLogger } from '../shared/logger.ts';
import { RetryLater, createActuator } from './actuator.ts';
import type { ActuatorState } from './actuator.ts';
import type { EventRecord } from './events.ts';
import { createReconcilerMetrics } from './metrics.ts';
import type { Action } from './model.ts';

const IP = '104.248.100.100';
const POD: V1Pod = { metadata: { name: 'web-1', namespace: 'shop', uid: 'u1' } };
const ASSIGN: Action = { type: 'assign', ip: IP, reason: 'holder-not-eligible', detail: 'droplet 1001 cannot serve: node n1 is NotReady', dropletId: 1002, pod: { uid: 'u1', namespace: 'shop', name: 'web-1' }, node: 'n2' };

/** A hand-written fake port: each test sets the function it needs; the rest fail loudly. */
function fakePort(overrides: Partial<ReservedIpPort>): ReservedIpPort & { calls: string[] } {
  const calls: string[] = [];
  const fail = (name: string) => async () => {
    throw new Error(`unexpected ${name}`);
  };
  return {
    calls,
    getAccount: fail('getAccount'),
    listReservedIps: fail('listReservedIps'),
    getReservedIp: fail('getReservedIp'),
    assign: async (ip, droplet) => {
      calls.push(`assign ${ip} ${droplet}`);
      if (!overrides.assign) throw new Error('unexpected assign');
      return overrides.assign(ip, droplet);
    },
    unassign: async (ip) => {
      calls.push(`unassign ${ip}`);
      if (!overrides.unassign) throw new Error('unexpected unassign');
      return overrides.unassign(ip);
    },
  };
}

function setup(port: ReservedIpPort, opts: { dryRun?: boolean; t?: number } = {}) {
  const events: EventRecord[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
  const metrics = createReconcilerMetrics();
  const state: ActuatorState = { holders: new Map([[IP, { family: 4, dropletId: 1001, locked: false }]]), memory: new Map() };
  const clock = { t: opts.t ?? 10_000 };
  const actuator = createActuator({
    port,
    events: { record: async (e) => void events.push(e) },
    logger,
    metrics,
    dryRun: opts.dryRun ?? false,
    actionExpiryMs: 60_000,
    pendingPollMs: 2_000,
    now: () => clock.t,
    state,
    pod: (uid) => (uid === 'u1' ? POD : undefined),
  });
  return { actuator, events, logs, metrics, state, clock };
}

const ERROR_CASES: [DoErrorClass, number | undefined, boolean][] = [
  ['NotFound', 60_000, true],
  ['InProgress', 2_000, false],
  ['Conflict', undefined, false],
  ['Transient', undefined, true],
  ['Terminal', 300_000, true],
];
for (const [cls, delay, warns] of ERROR_CASES) {
  test(`actuator: ${cls} becomes RetryLater(${delay ?? 'backoff'})${warns ? ' with a Warning Event' : ''}`, async () => {
    const port = fakePort({ assign: async () => Promise.reject(new DoApiError(cls, 'the droplet is busy (DigitalOcean says so)')) });
    const h = setup(port);
    const err = await h.actuator.execute(ASSIGN).then(
      () => assert.fail('should throw'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RetryLater);
    assert.deepEqual([err.errorClass, err.retryAfterMs, err.refreshHolders], [cls, delay, cls === 'Conflict' || cls === 'NotFound']);
    const expected = warns ? [['Warning', 'FloatingIPAssignFailed', `DigitalOcean refused to assign reserved IP ${IP} to droplet 1002: the droplet is busy (DigitalOcean says so)`]] : [];
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.message]), expected);
    const errors = (await h.metrics.reconcileErrors.get()).values.map((v) => [v.labels.class, v.value]);
    assert.deepEqual(errors, [[cls, 1]]);
  });
}

test("actuator: RateLimited waits for DigitalOcean's reset time", async () => {
  const port = fakePort({ assign: async () => Promise.reject(new DoApiError('RateLimited', '429', { status: 429, retryAfterMs: 12_345 })) });
  const err = await setup(port).actuator.execute(ASSIGN).catch((e: unknown) => e);
  assert.ok(err instanceof RetryLater);
  assert.equal(err.retryAfterMs, 12_345);
});

test('actuator: a completed assign updates holder, memory, metrics, Event and the log line', async () => {
  const port = fakePort({ assign: async (): Promise<ActionOutcome> => ({ actionId: 7, status: 'completed', dropletId: 1002 }) });
  const h = setup(port);
  h.state.memory.set(IP, { holderLostMs: 9_250 });
  assert.deepEqual(await h.actuator.execute(ASSIGN), {});
  assert.deepEqual(h.state.holders.get(IP), { family: 4, dropletId: 1002, locked: false });
  assert.deepEqual(h.state.memory.get(IP), { lastMoveMs: 10_000 });
  const failover = (await h.metrics.failoverSeconds.get()).values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'));
  assert.equal(failover?.value, 0.75);
  const decision = (await h.metrics.decisionSeconds.get()).values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'));
  assert.equal(decision?.value, 0.75);
  assert.deepEqual((await h.metrics.holder.get()).values.map((v) => [v.labels, v.value]), [[{ ip: IP, droplet: '1002' }, 1]]);
  assert.deepEqual(h.events.map((e) => [e.pod, e.type, e.reason]), [[POD, 'Normal', 'FloatingIPAssigned']]);
  const line = h.logs.find((l) => l.msg === 'Floating IP attached to droplet');
  assert.deepEqual([line?.ip, line?.droplet, line?.pod, line?.node, line?.reason], [IP, 1002, 'shop/web-1', 'n2', 'holder-not-eligible']);
});

test('actuator: an action still in progress becomes pending state with an expiry', async () => {
  const port = fakePort({ assign: async (): Promise<ActionOutcome> => ({ actionId: 8, status: 'in-progress', dropletId: 1001 }) });
  const h = setup(port);
  assert.deepEqual(await h.actuator.execute(ASSIGN), { requeueAfterMs: 2_000 });
  assert.deepEqual(h.state.memory.get(IP), { pending: { dropletId: 1002, expiresMs: 70_000, reason: 'holder-not-eligible' } });
  assert.deepEqual(h.state.holders.get(IP), { family: 4, dropletId: 1001, locked: true });
  assert.deepEqual((await h.metrics.moves.get()).values, []);
  assert.equal(h.events.length, 0);
  h.clock.t = 12_000;
  await h.actuator.pendingCompleted(IP);
  assert.deepEqual(h.state.memory.get(IP), { lastMoveMs: 12_000 });
  assert.deepEqual(h.state.holders.get(IP), { family: 4, dropletId: 1002, locked: false });
  assert.deepEqual(h.events.map((e) => e.reason), ['FloatingIPAssigned']);
  assert.deepEqual(h.logs.map((l) => l.msg), ['DigitalOcean action still in progress; waiting for it', 'Floating IP attached to droplet']);
  assert.deepEqual((await h.metrics.moves.get()).values.map((v) => [v.labels, v.value]), [[{ ip: IP, reason: 'holder-not-eligible' }, 1]]);
});

test('actuator: an errored action is retried and the real holder kept', async () => {
  const port = fakePort({ assign: async (): Promise<ActionOutcome> => ({ actionId: 9, status: 'errored', dropletId: 1001 }) });
  const h = setup(port);
  const err = await h.actuator.execute(ASSIGN).catch((e: unknown) => e);
  assert.ok(err instanceof RetryLater);
  assert.equal(err.errorClass, 'Transient');
  assert.deepEqual(h.state.holders.get(IP), { family: 4, dropletId: 1001, locked: false });
});

test('actuator: dry-run logs "would assign" and calls nothing', async () => {
  const port = fakePort({});
  const h = setup(port, { dryRun: true });
  await h.actuator.execute(ASSIGN);
  await h.actuator.execute({ type: 'unassign', ip: IP, reason: 'unplaced', detail: 'no eligible pod' });
  assert.deepEqual(port.calls, []);
  assert.deepEqual(h.logs.map((l) => [l.msg, l.ip, l.droplet]), [['would assign', IP, 1002], ['would unassign', IP, null]]);
  assert.deepEqual(h.events, []);
});

test('actuator: unassign clears the holder and logs it', async () => {
  const port = fakePort({ unassign: async (): Promise<ActionOutcome> => ({ actionId: 10, status: 'completed', dropletId: null }) });
  const h = setup(port);
  await h.actuator.execute({ type: 'unassign', ip: IP, reason: 'unplaced', detail: 'no eligible pod' });
  assert.deepEqual(port.calls, [`unassign ${IP}`]);
  assert.deepEqual(h.state.holders.get(IP), { family: 4, dropletId: null, locked: false });
  assert.deepEqual(h.logs.map((l) => l.msg), ['Floating IP unassigned']);
  assert.deepEqual((await h.metrics.holder.get()).values, []);
});

test('actuator: a report is an Event once per change, again after clearReports', async () => {
  const h = setup(fakePort({}));
  const conflict: Action = { type: 'report', ip: IP, reason: 'conflict', detail: 'claimed by shop/old', pod: { uid: 'u1', namespace: 'shop', name: 'web-1' } };
  await h.actuator.execute(conflict);
  await h.actuator.execute(conflict);
  await h.actuator.execute({ ...conflict, detail: 'claimed by shop/older' });
  h.actuator.clearReports(IP);
  await h.actuator.execute(conflict);
  await h.actuator.execute({ ...conflict, reason: 'unplaced', detail: 'no eligible pod' });
  assert.deepEqual(
    h.events.map((e) => [e.reason, e.message]),
    [
      ['FloatingIPConflict', `Reserved IP ${IP}: claimed by shop/old`],
      ['FloatingIPConflict', `Reserved IP ${IP}: claimed by shop/older`],
      ['FloatingIPConflict', `Reserved IP ${IP}: claimed by shop/old`],
      ['FloatingIPUnplaced', `Reserved IP ${IP}: no eligible pod`],
    ],
  );
});
