// The admission gate with a manual clock: who gets room, in which order, and who is told to
// come back; every expectation is an exact list of grants at an exact time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFakeClock } from '../test/support/fake-clock.ts';
import { createAdmissionGate } from './admission-gate.ts';
import type { Release } from './admission-gate.ts';

function setup(budgetBytes = 10, maxWaitMs = 1000) {
  const clock = createFakeClock(0);
  const gate = createAdmissionGate({ budgetBytes, maxWaitMs, setTimer: clock.setTimer });
  const log: string[] = [];
  const releases = new Map<string, Release>();
  const ask = (name: string, bytes: number, signal?: AbortSignal) =>
    gate.acquire(bytes, signal).then((release) => {
      log.push(`${clock.now()} ${name} ${release ? 'in' : 'refused'}`);
      if (release) releases.set(name, release);
    });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, gate, log, releases, ask, settle };
}

test('bodies that fit the budget go in at once; the rest wait in order and go in as room frees', async () => {
  const { gate, log, releases, ask, settle, clock } = setup();
  void ask('a', 6);
  void ask('b', 4);
  void ask('c', 5);
  void ask('d', 1); // fits, but waits behind c: first come, first served
  await settle();
  assert.deepEqual(log, ['0 a in', '0 b in']);
  assert.equal(gate.inFlightBytes, 10);
  assert.equal(gate.waiting, 2);
  clock.tick(300);
  releases.get('a')?.();
  await settle();
  assert.deepEqual(log, ['0 a in', '0 b in', '300 c in', '300 d in']);
  assert.equal(gate.inFlightBytes, 10);
});

test('a request that waits longer than maxWaitMs is refused and leaves the queue', async () => {
  const { gate, log, ask, settle, clock } = setup(10, 1000);
  void ask('a', 10);
  void ask('b', 1);
  await settle();
  clock.tick(999);
  await settle();
  assert.deepEqual(log, ['0 a in']);
  clock.tick(1);
  await settle();
  assert.deepEqual(log, ['0 a in', '1000 b refused']);
  assert.equal(gate.waiting, 0);
  assert.equal(gate.inFlightBytes, 10);
});

test('a refused head no longer blocks smaller requests behind it', async () => {
  const { log, releases, ask, settle, clock } = setup(10, 1000);
  void ask('a', 8);
  await settle();
  clock.tick(500);
  void ask('big', 10);
  void ask('small', 2);
  await settle();
  assert.deepEqual(log, ['0 a in']);
  clock.tick(500); // big has waited 500 ms, small too; nothing changes
  await settle();
  assert.deepEqual(log, ['0 a in']);
  releases.get('a')?.();
  await settle();
  assert.deepEqual(log, ['0 a in', '1000 big in']);
  clock.tick(500); // small times out behind big
  await settle();
  assert.deepEqual(log, ['0 a in', '1000 big in', '1500 small refused']);
});

test('an aborted waiter leaves at once; releasing twice frees the bytes once', async () => {
  const { gate, log, releases, ask, settle } = setup(10);
  void ask('a', 10);
  const ac = new AbortController();
  void ask('b', 5, ac.signal);
  void ask('c', 5);
  await settle();
  ac.abort();
  await settle();
  assert.deepEqual(log, ['0 a in', '0 b refused']);
  assert.equal(gate.waiting, 1);
  const release = releases.get('a');
  release?.();
  release?.();
  await settle();
  assert.deepEqual(log, ['0 a in', '0 b refused', '0 c in']);
  assert.equal(gate.inFlightBytes, 5);
});

test('a body larger than the budget is clamped to it (it waits for an empty gate, never forever)', async () => {
  const { gate, log, releases, ask, settle } = setup(10);
  void ask('a', 1);
  void ask('huge', 50);
  await settle();
  assert.deepEqual(log, ['0 a in']);
  releases.get('a')?.();
  await settle();
  assert.deepEqual(log, ['0 a in', '0 huge in']);
  assert.equal(gate.inFlightBytes, 10);
  assert.equal(await gate.acquire(0).then((r) => typeof r), 'function');
});
