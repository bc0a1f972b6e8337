import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realTimer } from './timers.ts';

test('realTimer: a delay beyond 2^31-1 ms is clamped instead of firing at once', async () => {
  let fired = false;
  const cancel = realTimer(() => (fired = true), 40 * 24 * 3600 * 1000);
  await new Promise((resolve) => setTimeout(resolve, 20));
  cancel();
  assert.equal(fired, false);
});

test('realTimer: fires after the delay; cancel stops it', async () => {
  const fired: string[] = [];
  realTimer(() => fired.push('a'), 5);
  const cancel = realTimer(() => fired.push('b'), 5);
  cancel();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(fired, ['a']);
});
