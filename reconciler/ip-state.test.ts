// The per-IP state machine: one row per rule of `apply` and its queries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apply, failedTargetsOf, pendingOf, retryBlockedUntil, RETRY_BASE_MS, TARGET_FAILURE_MS, TOKEN_REFUSED_MS } from './ip-state.ts';
import type { IpMemory, Outcome } from './ip-state.ts';
import type { HolderFacts, IpStatus } from './model.ts';

const NOW = 1_000_000;
const IP = '104.248.100.100';
const on = (dropletId: number | null, locked = false): HolderFacts => ({ family: 4, dropletId, locked });
const pending = (dropletId: number | null, expiresMs = NOW + 60_000) => ({ dropletId, actionId: 9, reason: 'holder-not-eligible' as const, startedMs: NOW - 500, expiresMs });
const status = (state: IpStatus['state'], holderLost = false): IpStatus => ({ ip: IP, state, holder: 1001, desired: 1002, holderLost, reportKeys: [] });
const planned = (s: IpStatus, reportKeys: string[] = [], evidenceMs = NOW - 50): Outcome => ({ kind: 'planned', status: s, reportKeys, evidenceMs });

interface Row {
  name: string;
  before: IpMemory | undefined;
  outcome: Outcome;
  after: IpMemory;
}

const rows: Row[] = [
  // --- observations of DigitalOcean
  { name: 'first read records the holder', before: undefined, outcome: { kind: 'observed', holder: on(1001), readStartedMs: NOW - 10 }, after: { holder: on(1001) } },
  { name: 'IP not in the account is remembered as null', before: {}, outcome: { kind: 'observed', holder: null, readStartedMs: NOW }, after: { holder: null } },
  { name: 'a read older than our last move is ignored', before: { holder: on(1002), lastMoveMs: NOW - 5 }, outcome: { kind: 'observed', holder: on(1001), readStartedMs: NOW - 10 }, after: { holder: on(1002), lastMoveMs: NOW - 5 } },
  { name: 'locked IP with our pending action: keep waiting', before: { pending: pending(1002) }, outcome: { kind: 'observed', holder: on(1001, true), readStartedMs: NOW }, after: { pending: pending(1002), holder: on(1001, true) } },
  {
    name: 'pending action seen done (unlocked, on target): completed, cool-off starts',
    before: { pending: pending(1002), holderLostMs: NOW - 900, retry: { dropletId: 1002, failures: 1, atMs: NOW - 800, retryAtMs: NOW - 1, errorClass: 'Transient' } },
    outcome: { kind: 'observed', holder: on(1002), readStartedMs: NOW },
    after: { holder: on(1002), lastMoveMs: NOW },
  },
  {
    name: 'pending action ended elsewhere: that target failed, plan again',
    before: { pending: pending(1002) },
    outcome: { kind: 'observed', holder: on(1001), readStartedMs: NOW },
    after: { holder: on(1001), failedTargets: [{ dropletId: 1002, untilMs: NOW + (TARGET_FAILURE_MS.Terminal as number), errorClass: 'Terminal', message: 'DigitalOcean action 9 ended without moving the IP' }] },
  },
  { name: 'an expired pending action is dropped by the next read', before: { pending: pending(1002, NOW) }, outcome: { kind: 'observed', holder: on(1001, true), readStartedMs: NOW }, after: { holder: on(1001, true) } },
  // --- evidence and plan results
  { name: 'evidence is timestamped', before: { holder: on(1001) }, outcome: { kind: 'evidence' }, after: { holder: on(1001), evidenceMs: NOW } },
  { name: 'holder lost: the failover clock starts at the evidence', before: { holder: on(1001) }, outcome: planned(status('moving', true)), after: { holder: on(1001), reported: [], holderLostMs: NOW - 50 } },
  { name: 'holder lost again: the first evidence counts', before: { holderLostMs: NOW - 900 }, outcome: planned(status('moving', true)), after: { holderLostMs: NOW - 900, reported: [] } },
  { name: 'placed: the failover clock is cleared', before: { holderLostMs: NOW - 900 }, outcome: planned(status('placed')), after: { reported: [] } },
  { name: 'reports no longer true are forgotten (a new one is made again)', before: { reported: ['a', 'b'] }, outcome: planned(status('placed'), ['b', 'c']), after: { reported: ['b'] } },
  { name: 'expired failed targets are dropped', before: { failedTargets: [{ dropletId: 1, untilMs: NOW, errorClass: 'NotFound', message: 'x' }, { dropletId: 2, untilMs: NOW + 1, errorClass: 'NotFound', message: 'y' }] }, outcome: planned(status('placed')), after: { reported: [], failedTargets: [{ dropletId: 2, untilMs: NOW + 1, errorClass: 'NotFound', message: 'y' }] } },
  { name: 'a report made is remembered once', before: { reported: ['k'] }, outcome: { kind: 'reported', key: 'k' }, after: { reported: ['k'] } },
  { name: 'a new report is remembered', before: {}, outcome: { kind: 'reported', key: 'k' }, after: { reported: ['k'] } },
  // --- actions
  { name: 'completed move: new holder, cool-off starts, failover and retry over', before: { holder: on(1001), holderLostMs: NOW - 10, retry: { dropletId: 1002, failures: 2, atMs: NOW - 5, retryAtMs: NOW, errorClass: 'Transient' } }, outcome: { kind: 'moved', dropletId: 1002, family: 4 }, after: { holder: on(1002), lastMoveMs: NOW } },
  { name: 'action still running: pending with expiry, IP locked', before: { holder: on(1001) }, outcome: { kind: 'in-progress', dropletId: 1002, actionId: 9, reason: 'holder-not-eligible', expiresMs: NOW + 60_000, family: 4 }, after: { holder: on(1001, true), pending: { ...pending(1002), startedMs: NOW } } },
  {
    name: 'target refused (404): skipped for a minute',
    before: {},
    outcome: { kind: 'target-failed', dropletId: 1002, errorClass: 'NotFound', message: 'droplet not found' },
    after: { failedTargets: [{ dropletId: 1002, untilMs: NOW + 60_000, errorClass: 'NotFound', message: 'droplet not found' }] },
  },
  {
    name: 'target refused again: one entry, new expiry',
    before: { failedTargets: [{ dropletId: 1002, untilMs: NOW + 5, errorClass: 'InProgress', message: 'busy' }] },
    outcome: { kind: 'target-failed', dropletId: 1002, errorClass: 'Terminal', message: 'region' },
    after: { failedTargets: [{ dropletId: 1002, untilMs: NOW + 300_000, errorClass: 'Terminal', message: 'region' }] },
  },
  { name: 'first failed attempt: short backoff', before: {}, outcome: { kind: 'failed', dropletId: 1002, errorClass: 'Transient' }, after: { retry: { dropletId: 1002, failures: 1, atMs: NOW, retryAtMs: NOW + RETRY_BASE_MS, errorClass: 'Transient' } } },
  { name: 'repeated failures back off exponentially', before: { retry: { dropletId: 1002, failures: 3, atMs: NOW - 1, retryAtMs: NOW, errorClass: 'Transient' } }, outcome: { kind: 'failed', dropletId: 1002, errorClass: 'Transient' }, after: { retry: { dropletId: 1002, failures: 4, atMs: NOW, retryAtMs: NOW + RETRY_BASE_MS * 8, errorClass: 'Transient' } } },
  { name: 'a 429 waits what DigitalOcean said', before: {}, outcome: { kind: 'failed', dropletId: 1002, errorClass: 'RateLimited', retryAfterMs: 7000 }, after: { retry: { dropletId: 1002, failures: 1, atMs: NOW, retryAtMs: NOW + 7000, errorClass: 'RateLimited' } } },
  { name: 'token refused: retry rarely', before: {}, outcome: { kind: 'failed', dropletId: 1002, errorClass: 'Terminal' }, after: { retry: { dropletId: 1002, failures: 1, atMs: NOW, retryAtMs: NOW + TOKEN_REFUSED_MS, errorClass: 'Terminal' } } },
];

for (const r of rows) {
  test(`ip-state: ${r.name}`, () => {
    assert.deepEqual(apply(r.before, r.outcome, NOW), r.after);
  });
}

test('ip-state: apply never mutates its input', () => {
  const before: IpMemory = Object.freeze({ holder: on(1001), reported: Object.freeze(['a']) as readonly string[] });
  for (const r of rows) apply(r.before === undefined ? undefined : structuredClone(r.before), r.outcome, NOW);
  assert.doesNotThrow(() => apply(before, { kind: 'reported', key: 'b' }, NOW));
  assert.deepEqual(before, { holder: on(1001), reported: ['a'] });
});

test('ip-state: queries', () => {
  assert.equal(pendingOf({ pending: pending(1, NOW) }, NOW), undefined, 'expired at its expiry');
  assert.deepEqual(pendingOf({ pending: pending(1, NOW + 1) }, NOW), pending(1, NOW + 1));
  assert.deepEqual(failedTargetsOf({ failedTargets: [{ dropletId: 1, untilMs: NOW, errorClass: 'NotFound', message: '' }] }, NOW), []);
  const retry = { dropletId: 1002, failures: 2, atMs: NOW - 300, retryAtMs: NOW + 4000, errorClass: 'Transient' as const };
  assert.equal(retryBlockedUntil({ retry }, 1002, NOW, 1000), NOW + 4000, 'same target waits');
  assert.equal(retryBlockedUntil({ retry }, 1003, NOW, 1000), undefined, 'another target does not');
  assert.equal(retryBlockedUntil({ retry, evidenceMs: NOW - 100 }, 1002, NOW, 1000), NOW + 700, 'evidence: the floor');
  assert.equal(retryBlockedUntil({ retry, evidenceMs: NOW - 100 }, 1002, NOW + 700, 1000), undefined, 'evidence: after the floor, go');
  assert.equal(retryBlockedUntil({ retry, evidenceMs: NOW - 400 }, 1002, NOW, 1000), NOW + 4000, 'evidence older than the attempt does not count');
  assert.equal(retryBlockedUntil({ retry: { ...retry, errorClass: 'RateLimited' } }, 1003, NOW, 1000), NOW + 4000, 'rate limit holds every target');
});
