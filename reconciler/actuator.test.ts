// The actuator turns one action into outcomes (data for ip-state.ts) plus Events, log lines
// and metrics. A hand-written fake port: each test sets the functions it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { DoApiError } from '../shared/digitalocean/port.ts';
import type { ActionOutcome, ReservedIp, ReservedIpPort } from '../shared/digitalocean/port.ts';
import { createLogger } from '../shared/logger.ts';
import { createMemoryPort } from '../test/support/reserved-ip-port.ts';
import type { MemoryPort } from '../test/support/reserved-ip-port.ts';
import { createActuator } from './actuator.ts';
import type { Exposure } from './actuator.ts';
import type { EventRecord } from './events.ts';
import type { Outcome } from './ip-state.ts';
import { createReconcilerMetrics } from './metrics.ts';
import type { Action } from './model.ts';

const IP = '104.248.100.100';
const POD: V1Pod = { metadata: { name: 'web-1', namespace: 'shop', uid: 'u1' } };
const ASSIGN: Action = { type: 'assign', ip: IP, reason: 'holder-not-eligible', detail: 'droplet 1001 cannot serve: node n1 is NotReady', dropletId: 1002, pod: { uid: 'u1', namespace: 'shop', name: 'web-1' }, node: 'n2' };
const T = 10_000;

/** The memory port (IP on droplet 1001); each test replaces the methods it scripts. */
function fakePort(overrides: Partial<ReservedIpPort>): MemoryPort {
  const port = createMemoryPort({ holders: [[IP, 1001]] });
  Object.assign(port.impl, overrides);
  return port;
}

function setup(port: ReservedIpPort, opts: { dryRun?: boolean; exposure?: Exposure } = {}) {
  const events: EventRecord[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as Record<string, unknown>) });
  const metrics = createReconcilerMetrics();
  const actuator = createActuator({
    port,
    events: { record: async (e) => void events.push(e) },
    logger,
    metrics,
    dryRun: opts.dryRun ?? false,
    actionExpiryMs: 60_000,
    now: () => T,
    pod: (uid) => (uid === 'u1' ? POD : undefined),
    exposure: opts.exposure,
  });
  return { actuator, events, logs, metrics, signal: new AbortController().signal };
}

const held = (dropletId: number | null, locked = false): ReservedIp => ({ ip: IP, family: 4, region: 'nyc3', dropletId, locked });
const done = (dropletId: number | null): ActionOutcome => ({ actionId: 5, status: 'completed', dropletId });
const refuse = (cls: DoApiError['errorClass'], status?: number) => () => Promise.reject(new DoApiError(cls, `refused (${cls})`, status === undefined ? {} : { status }));

interface ErrorRow {
  name: string;
  port: Partial<ReservedIpPort>;
  expect: Outcome[];
  event: boolean;
}
const ERROR_ROWS: ErrorRow[] = [
  {
    name: 'droplet 404 (the IP exists): the target failed',
    port: { assign: refuse('NotFound', 404), getReservedIp: async () => held(1001) },
    expect: [{ kind: 'observed', holder: { family: 4, dropletId: 1001, locked: false }, readStartedMs: T }, { kind: 'target-failed', dropletId: 1002, errorClass: 'NotFound', message: 'refused (NotFound)' }],
    event: true,
  },
  {
    name: 'IP 404 (not in this account): the attempt failed, slowly retried',
    port: { assign: refuse('NotFound', 404), getReservedIp: refuse('NotFound', 404) },
    expect: [{ kind: 'observed', holder: null, readStartedMs: T }, { kind: 'failed', dropletId: 1002, errorClass: 'NotFound', retryAfterMs: 60_000 }],
    event: true,
  },
  {
    name: 'busy droplet (422 pending event, IP not locked): the target failed',
    port: { assign: refuse('InProgress', 422), getReservedIp: async () => held(1001) },
    expect: [{ kind: 'observed', holder: { family: 4, dropletId: 1001, locked: false }, readStartedMs: T }, { kind: 'target-failed', dropletId: 1002, errorClass: 'InProgress', message: 'refused (InProgress)' }],
    event: false,
  },
  {
    name: 'IP locked by a running action: not the target’s fault',
    port: { assign: refuse('InProgress', 422), getReservedIp: async () => held(1001, true) },
    expect: [{ kind: 'observed', holder: { family: 4, dropletId: 1001, locked: true }, readStartedMs: T }, { kind: 'failed', dropletId: 1002, errorClass: 'InProgress', retryAfterMs: undefined }],
    event: false,
  },
  { name: 'droplet holds another IPv4 (Conflict): the target failed', port: { assign: refuse('Conflict', 422) }, expect: [{ kind: 'target-failed', dropletId: 1002, errorClass: 'Conflict', message: 'refused (Conflict)' }], event: false },
  { name: '422 for another reason (Terminal): the target failed', port: { assign: refuse('Terminal', 422) }, expect: [{ kind: 'target-failed', dropletId: 1002, errorClass: 'Terminal', message: 'refused (Terminal)' }], event: true },
  { name: 'token refused (403): the attempt failed', port: { assign: refuse('Terminal', 403) }, expect: [{ kind: 'failed', dropletId: 1002, errorClass: 'Terminal', retryAfterMs: undefined }], event: true },
  { name: 'network error: the attempt failed', port: { assign: refuse('Transient') }, expect: [{ kind: 'failed', dropletId: 1002, errorClass: 'Transient', retryAfterMs: undefined }], event: true },
  {
    name: '429: the attempt failed with DigitalOcean’s wait',
    port: { assign: () => Promise.reject(new DoApiError('RateLimited', 'slow down', { status: 429, retryAfterMs: 7000 })) },
    expect: [{ kind: 'failed', dropletId: 1002, errorClass: 'RateLimited', retryAfterMs: 7000 }],
    event: true,
  },
];

for (const row of ERROR_ROWS) {
  test(`actuator: ${row.name}`, async () => {
    const h = setup(fakePort(row.port));
    assert.deepEqual(await h.actuator.execute(ASSIGN, { holder: { family: 4, dropletId: 1001, locked: false } }, h.signal), row.expect);
    assert.equal(h.events.some((e) => e.reason === 'FloatingIPAssignFailed'), row.event);
    assert.ok(h.logs.some((l) => l.level === 'warn' && l.ip === IP), 'a warn line names the IP');
  });
}

test('actuator: a completed assign is a move, with metrics, Event and the log line', async () => {
  const port = fakePort({ assign: async () => done(1002) });
  const h = setup(port);
  assert.deepEqual(await h.actuator.execute(ASSIGN, { holderLostMs: T - 250 }, h.signal), [{ kind: 'moved', dropletId: 1002, family: 4 }]);
  assert.equal(port.signals[0], h.signal, 'the term signal reaches the port');
  assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.message]), [['Normal', 'FloatingIPAssigned', `Reserved IP ${IP} assigned to droplet 1002 (node n2): droplet 1001 cannot serve: node n1 is NotReady`]]);
  const line = h.logs.find((l) => l.msg === 'Floating IP attached to droplet');
  assert.deepEqual([line?.ip, line?.droplet, line?.pod, line?.node, line?.reason], [IP, 1002, 'shop/web-1', 'n2', 'holder-not-eligible']);
  const failover = (await h.metrics.failoverSeconds.get()).values.find((v) => v.metricName === 'floatip_failover_duration_seconds_sum');
  assert.equal(failover?.value, 0.25);
});

test('actuator: an action still in progress becomes pending with an expiry', async () => {
  const h = setup(fakePort({ assign: async () => ({ actionId: 77, status: 'in-progress', dropletId: 1001 }) }));
  assert.deepEqual(await h.actuator.execute(ASSIGN, undefined, h.signal), [{ kind: 'in-progress', dropletId: 1002, actionId: 77, reason: 'holder-not-eligible', expiresMs: T + 60_000, family: 4, action: ASSIGN }]);
});

test('actuator: an errored action fails that target and records the real holder', async () => {
  const h = setup(fakePort({ assign: async () => ({ actionId: 78, status: 'errored', dropletId: 1001 }) }));
  assert.deepEqual(await h.actuator.execute(ASSIGN, undefined, h.signal), [
    { kind: 'observed', holder: { family: 4, dropletId: 1001, locked: false }, readStartedMs: T },
    { kind: 'target-failed', dropletId: 1002, errorClass: 'Terminal', message: 'DigitalOcean action 78 errored; the IP is on droplet 1001' },
  ]);
});

test('actuator: dry-run logs "would assign" and calls nothing', async () => {
  const port = fakePort({});
  const h = setup(port, { dryRun: true });
  assert.deepEqual(await h.actuator.execute(ASSIGN, undefined, h.signal), []);
  assert.deepEqual(port.calls, []);
  assert.ok(h.logs.some((l) => l.msg === 'would assign' && l.droplet === 1002));
});

test('actuator: unassign is a move to no droplet', async () => {
  const h = setup(fakePort({ unassign: async () => done(null) }));
  const outcomes = await h.actuator.execute({ type: 'unassign', ip: IP, reason: 'unplaced', detail: 'no eligible pod' }, undefined, h.signal);
  assert.deepEqual(outcomes, [{ kind: 'moved', dropletId: null, family: 4 }]);
  assert.ok(h.logs.some((l) => l.msg === 'Floating IP unassigned'));
});

test('actuator: a report is a Warning Event and a reported outcome', async () => {
  const h = setup(fakePort({}));
  const report: Action = { type: 'report', ip: IP, reason: 'conflict', detail: 'also claimed by shop/old-1', pod: ASSIGN.pod, reportKey: 'conflict\nu1\nshop\nA' };
  assert.deepEqual(await h.actuator.execute(report, undefined, h.signal), [{ kind: 'reported', key: 'conflict\nu1\nshop\nA' }]);
  assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.message]), [['Warning', 'FloatingIPConflict', `Reserved IP ${IP}: also claimed by shop/old-1`]]);
});

test('actuator: the exposure is prepared before the assign, bounded by the failover wait (1 s) or the placement wait (5 s)', async () => {
  const order: string[] = [];
  const port = fakePort({ assign: async () => (order.push('assign'), done(1002)) });
  const exposure: Exposure = { beforeAssign: async (ip, droplet, waitMs) => (order.push(`expose ${ip} ${droplet} within ${waitMs}`), { kind: 'exposed' }), holdersChanged: () => undefined };
  const h = setup(port, { exposure });
  await h.actuator.execute(ASSIGN, undefined, h.signal);
  await h.actuator.execute({ ...ASSIGN, reason: 'unassigned' }, undefined, h.signal);
  assert.deepEqual(order, [`expose ${IP} 1002 within 1000`, 'assign', `expose ${IP} 1002 within 5000`, 'assign']);
});

test('actuator: a refused Service write is expose-failed — the IP still moves, with its own Event, metric and log line, and no DigitalOcean error', async () => {
  const port = fakePort({ assign: async () => done(1002) });
  const refused = 'services "web" is forbidden: ValidatingAdmissionPolicy \'no-external-ips\' denied request';
  const h = setup(port, { exposure: { beforeAssign: async () => ({ kind: 'expose-failed', service: 'shop/web', message: refused }), holdersChanged: () => undefined } });
  assert.deepEqual(await h.actuator.execute(ASSIGN, undefined, h.signal), [{ kind: 'moved', dropletId: 1002, family: 4 }]);
  assert.deepEqual(port.calls, [`assign ${IP} 1002`]);
  assert.deepEqual(
    h.events.map((e) => [e.type, e.reason]),
    [['Warning', 'FloatingIPExposeFailed'], ['Normal', 'FloatingIPAssigned']],
  );
  assert.match(h.events[0]?.message ?? '', /^Service shop\/web could not be updated for reserved IP 104\.248\.100\.100 \(services "web" is forbidden/);
  assert.ok(!h.events.some((e) => /DigitalOcean/.test(e.message)), 'no Event blames DigitalOcean');
  assert.deepEqual((await h.metrics.exposeFailures.get()).values.map((v) => v.value), [1]);
  assert.deepEqual((await h.metrics.reconcileErrors.get()).values, []);
  assert.deepEqual(h.logs.filter((l) => l.level === 'warn').map((l) => [l.msg, l.service]), [['Service write refused; moving the IP anyway', 'shop/web']]);

  const slow = setup(fakePort({ assign: async () => done(1002) }), { exposure: { beforeAssign: async () => ({ kind: 'not-confirmed', waitedMs: 1000 }), holdersChanged: () => undefined } });
  assert.deepEqual(await slow.actuator.execute(ASSIGN, undefined, slow.signal), [{ kind: 'moved', dropletId: 1002, family: 4 }]);
  assert.deepEqual(slow.events.map((e) => e.reason), ['FloatingIPAssigned'], 'a slow Service is no Warning: it catches up');
});

test('actuator: no write starts once the term is over; an abort mid-call rejects', async () => {
  const port = fakePort({ assign: async () => done(1002) });
  const h = setup(port);
  const ended = new AbortController();
  ended.abort(new Error('leadership lost'));
  await assert.rejects(h.actuator.execute(ASSIGN, undefined, ended.signal), /leadership lost/);
  assert.deepEqual(port.calls, [], 'nothing was sent');

  const term = new AbortController();
  const hanging = fakePort({ assign: (_ip, _d, opts) => new Promise((_, reject) => opts?.signal?.addEventListener('abort', () => reject(opts.signal?.reason))) });
  const pending = setup(hanging).actuator.execute(ASSIGN, undefined, term.signal);
  term.abort(new Error('term over'));
  await assert.rejects(pending, /term over/);
});
