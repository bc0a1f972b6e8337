import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateBudget } from './budget.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const reserveN = (b: { reserve(): number }, n: number) => Array.from({ length: n }, () => b.reserve());

test('a full bucket lets 250 requests through at once, then queues callers 240 ms apart', () => {
  const c = clock();
  const b = createRateBudget({ now: c.now });
  assert.deepEqual(new Set(reserveN(b, 250)), new Set([0]));
  assert.deepEqual(reserveN(b, 3), [240, 480, 720]);
  assert.equal(b.available(), -3);
});

test('the bucket refills at the per-minute rate and never above capacity', () => {
  const c = clock();
  const b = createRateBudget({ perMinute: 60, now: c.now });
  reserveN(b, 60);
  c.advance(3000);
  assert.deepEqual(reserveN(b, 4), [0, 0, 0, 1000]);
  c.advance(10 * 60_000);
  assert.equal(b.available(), 60);
});

test('ratelimit-remaining below the bucket lowers it; above or missing changes nothing', () => {
  const c = clock();
  const b = createRateBudget({ perMinute: 60, now: c.now });
  b.observe(undefined);
  b.observe(4816);
  assert.equal(b.available(), 60);
  b.observe(2);
  assert.equal(b.available(), 2);
  assert.deepEqual(reserveN(b, 3), [0, 0, 1000]);
  b.observe(-5);
  assert.equal(b.available(), -1, 'a negative header cannot push queued callers further back');
});

test('after a 429 nobody is let through before the block ends', () => {
  const c = clock();
  const b = createRateBudget({ perMinute: 60, now: c.now });
  b.blockUntil(c.now() + 5000);
  assert.equal(b.reserve(), 5000);
  assert.equal(b.reserve(), 5000);
  c.advance(5000);
  // 5 s of refill from the emptied bucket, minus the two reservations already made
  assert.equal(b.available(), 3);
  assert.deepEqual(reserveN(b, 4), [0, 0, 0, 1000]);
});

test('a refunded reservation frees its place in the queue', () => {
  const c = clock();
  const b = createRateBudget({ perMinute: 60, now: c.now });
  reserveN(b, 60);
  assert.equal(b.reserve(), 1000);
  b.refund();
  assert.equal(b.reserve(), 1000);
  c.advance(10 * 60_000);
  b.refund();
  assert.equal(b.available(), 60, 'never above capacity');
});

test('perMinute must be positive', () => {
  assert.throws(() => createRateBudget({ perMinute: 0 }), RangeError);
});
