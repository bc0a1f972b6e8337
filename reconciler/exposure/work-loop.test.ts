import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFakeClock, settle } from '../../test/support/fake-clock.ts';
import { createWorkLoop, LoopStopped } from './work-loop.ts';

/** A run that records keys and can be made to fail or to block until released. */
function recorder() {
  const runs: string[] = [];
  const failing = new Map<string, number>();
  const gates = new Map<string, () => void>();
  const signals: AbortSignal[] = [];
  const run = async (key: string, signal: AbortSignal) => {
    runs.push(key);
    signals.push(signal);
    const gate = gates.get(key);
    if (gate) await new Promise<void>((resolve) => gates.set(key, resolve));
    const left = failing.get(key) ?? 0;
    if (left > 0) {
      failing.set(key, left - 1);
      throw new Error(`${key} failed`);
    }
  };
  return { runs, failing, gates, signals, run };
}

test('marks are deduplicated and drained in order, one key at a time', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.gates.set('x', () => undefined);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  loop.mark('x');
  loop.mark('a');
  loop.mark('b');
  loop.mark('a');
  r.gates.get('x')?.();
  await settle();
  assert.deepEqual(r.runs, ['x', 'a', 'b']);
  assert.equal(loop.pending(), 0);
});

test('a mark while the key runs makes it run once more afterwards', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.gates.set('a', () => undefined);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  loop.mark('a');
  await settle();
  loop.mark('a');
  loop.mark('a');
  r.gates.get('a')?.();
  r.gates.delete('a');
  await settle();
  await settle();
  assert.deepEqual(r.runs, ['a', 'a']);
});

test('a failure backs off 500 ms doubling; events do not cut the backoff short', async () => {
  const clock = createFakeClock();
  const r = recorder();
  const errors: [string, number][] = [];
  r.failing.set('svc', 2);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer, onError: (key, _err, ms) => errors.push([key, ms]) });
  loop.mark('svc');
  await settle();
  assert.deepEqual(errors, [['svc', 500]]);
  loop.mark('svc');
  await clock.advance(499);
  assert.deepEqual(r.runs, ['svc'], 'not before the backoff');
  await clock.advance(1);
  assert.deepEqual(errors, [['svc', 500], ['svc', 1000]]);
  assert.equal(loop.failures('svc'), 2);
  await clock.advance(1000);
  assert.deepEqual(r.runs, ['svc', 'svc', 'svc']);
  assert.equal(loop.failures('svc'), 0);
  assert.equal(clock.pending(), 0);
});

test('flush bypasses the backoff and resolves after a run that started after it', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.failing.set('svc', 1);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  loop.mark('svc');
  await settle();
  assert.equal(loop.failures('svc'), 1);
  await loop.flush(['svc', 'other']);
  assert.deepEqual(r.runs, ['svc', 'svc', 'other']);
  assert.equal(clock.pending(), 0, 'the backoff timer is cancelled');
});

test('flush rejects with the failure of its run (the caller retries the move later)', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.failing.set('svc', 1);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  await assert.rejects(loop.flush(['svc']), /svc failed/);
  await loop.flush(['svc']);
  assert.deepEqual(r.runs, ['svc', 'svc']);
});

test('flush during a run of the key waits for the next run, which sees the newer state', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.gates.set('svc', () => undefined);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  loop.mark('svc');
  await settle();
  let flushed = false;
  const flushing = loop.flush(['svc']).then(() => (flushed = true));
  r.gates.get('svc')?.();
  r.gates.delete('svc');
  await settle();
  await flushing;
  assert.equal(flushed, true);
  assert.deepEqual(r.runs, ['svc', 'svc']);
});

test('batchMs: a burst of marks is one run after the delay; a flush does not wait for it', async () => {
  const clock = createFakeClock();
  const r = recorder();
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer, batchMs: 200 });
  loop.mark('fw');
  await clock.advance(100);
  loop.mark('fw');
  await clock.advance(99);
  assert.deepEqual(r.runs, []);
  await clock.advance(1);
  assert.deepEqual(r.runs, ['fw']);
  loop.mark('fw');
  await loop.flush(['fw']);
  assert.deepEqual(r.runs, ['fw', 'fw']);
  assert.equal(clock.pending(), 0);
});

test('stop aborts the run in flight, rejects waiting flushes and ignores later marks', async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.gates.set('a', () => undefined);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  const waiting = loop.flush(['a', 'b']);
  await settle();
  const stopping = loop.stop();
  assert.equal(r.signals[0]?.aborted, true);
  r.gates.get('a')?.();
  await stopping;
  await assert.rejects(waiting, LoopStopped);
  loop.mark('b');
  await settle();
  assert.deepEqual(r.runs, ['a']);
  await assert.rejects(loop.flush(['b']), /leadership ended/);
});

test("a flush's own signal abandons the wait", async () => {
  const clock = createFakeClock();
  const r = recorder();
  r.gates.set('a', () => undefined);
  const loop = createWorkLoop({ run: r.run, setTimer: clock.setTimer });
  const caller = new AbortController();
  const waiting = loop.flush(['a'], caller.signal);
  caller.abort(new Error('assign cancelled'));
  await assert.rejects(waiting, /assign cancelled/);
  r.gates.get('a')?.();
  await loop.stop();
});
