import assert from 'node:assert/strict';
import { test } from 'node:test';
import { worstCaseMs } from './bounds.ts';

test('worst cases with the defaults, as documented in bounds.ts', () => {
  assert.deepEqual(worstCaseMs(), {
    requestMs: 10_000,
    callMs: 283_500,
    quietCallMs: 43_500,
    createFirewallMs: 2_271_500,
    moveMs: 3_152_000,
    quietMoveMs: 512_000,
  });
});

test('worst cases follow the configuration: one try, short deadline, no rate waits', () => {
  const w = worstCaseMs({ timeoutMs: 2000, retry: { maxAttempts: 1, maxRateLimitWaitMs: 0 }, actionWait: { totalMs: 3000 } });
  assert.deepEqual(w, { requestMs: 2000, callMs: 2000, quietCallMs: 2000, createFirewallMs: 4000, moveMs: 13_000, quietMoveMs: 13_000 });
  // two tries: backoff ceiling 500 ms between them
  const two = worstCaseMs({ timeoutMs: 1000, retry: { maxAttempts: 2, baseMs: 500, maxRateLimitWaitMs: 250 }, actionWait: { totalMs: 0 } });
  assert.equal(two.callMs, 2 * (250 + 1000) + 500);
  assert.equal(two.moveMs, 2 * 2 * two.callMs + 500 + two.callMs + 0 + 2 * two.callMs);
});
