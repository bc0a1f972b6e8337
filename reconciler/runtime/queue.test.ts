import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkQueue, QueueStopped } from './queue.ts';
import type { RunResult } from './queue.ts';
import { createFakeClock, settle } from '../../test/support/fake-clock.ts';

interface Gate {
  promise: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A worker that records runs as "key@time" and lets each test script the outcome. */
function harness(script: (key: string, n: number) => Promise<RunResult | void> | RunResult | void = () => undefined, concurrency = 4, priority?: (key: string) => number) {
  const clock = createFakeClock(0);
  const runs: string[] = [];
  const active = new Set<string>();
  let maxParallel = 0;
  const errors: string[] = [];
  const depths: number[] = [];
  const queue = createWorkQueue({
    concurrency,
    ...(priority ? { priority } : {}),
    backoff: { baseMs: 100, capMs: 1000 },
    setTimer: clock.setTimer,
    now: clock.now,
    onDepth: (d) => depths.push(d),
    onError: (key, err, ms) => errors.push(`${key} ${(err as Error).message} retry ${ms}`),
    async worker(key) {
      assert.ok(!active.has(key), `${key} ran concurrently with itself`);
      active.add(key);
      maxParallel = Math.max(maxParallel, active.size);
      runs.push(`${key}@${clock.now()}`);
      try {
        return await script(key, runs.filter((r) => r.startsWith(`${key}@`)).length);
      } finally {
        active.delete(key);
      }
    },
  });
  return { clock, queue, runs, errors, depths, maxParallel: () => maxParallel };
}

test('queue: a key added several times while waiting runs once', async () => {
  const g = gate();
  const h = harness((k) => (k === 'x' ? g.promise : undefined), 1);
  h.queue.add('x');
  h.queue.add('a');
  h.queue.add('a');
  h.queue.add('a');
  assert.equal(h.queue.depth(), 1);
  g.open();
  await settle();
  await settle();
  assert.deepEqual(h.runs, ['x@0', 'a@0']);
  assert.deepEqual(h.depths, [1, 0, 1, 0]);
});

test('queue: a key added while running re-runs once afterwards, never concurrently', async () => {
  const g = gate();
  const h = harness((_k, n) => (n === 1 ? g.promise : undefined));
  h.queue.add('a');
  await settle();
  h.queue.add('a');
  h.queue.add('a');
  await settle();
  assert.deepEqual(h.runs, ['a@0']);
  g.open();
  await settle();
  await settle();
  assert.deepEqual(h.runs, ['a@0', 'a@0']);
});

test('queue: different keys run in parallel up to the concurrency', async () => {
  const g = gate();
  const h = harness(() => g.promise, 2);
  for (const k of ['a', 'b', 'c']) h.queue.add(k);
  await settle();
  assert.deepEqual(h.runs, ['a@0', 'b@0']);
  assert.equal(h.queue.depth(), 1);
  g.open();
  await settle();
  await settle();
  assert.deepEqual(h.runs, ['a@0', 'b@0', 'c@0']);
  assert.equal(h.maxParallel(), 2);
});

test('queue: failures back off exponentially per key, capped, and reset on success', async () => {
  const h = harness((_k, n) => {
    if (n <= 5) throw new Error(`fail${n}`);
  });
  h.queue.add('a');
  await h.clock.advance(2000);
  assert.deepEqual(h.runs, ['a@0', 'a@100', 'a@300', 'a@700', 'a@1500']);
  await h.clock.advance(1000);
  assert.deepEqual(h.runs.slice(5), ['a@2500']);
  assert.deepEqual(h.errors, ['a fail1 retry 100', 'a fail2 retry 200', 'a fail3 retry 400', 'a fail4 retry 800', 'a fail5 retry 1000']);
  assert.equal(h.queue.failures('a'), 0);
  assert.equal(h.clock.pending(), 0);
});

test("queue: an error's retryAfterMs is honoured", async () => {
  const h = harness((_k, n) => {
    if (n === 1) throw Object.assign(new Error('429'), { retryAfterMs: 5000 });
  });
  h.queue.add('a');
  await h.clock.advance(4999);
  assert.deepEqual(h.runs, ['a@0']);
  await h.clock.advance(1);
  assert.deepEqual(h.runs, ['a@0', 'a@5000']);
});

test('queue: new events within the floor do not bypass the backoff of a failing key', async () => {
  const h = harness((_k, n) => {
    if (n === 1) throw new Error('boom');
  });
  h.queue.add('a');
  await h.clock.advance(50);
  h.queue.add('a');
  h.queue.add('b');
  await h.clock.advance(10);
  assert.deepEqual(h.runs, ['a@0', 'b@50']);
  await h.clock.advance(40);
  assert.deepEqual(h.runs, ['a@0', 'b@50', 'a@100']);
});

test('queue: new evidence cuts a long backoff short, but not below the floor', async () => {
  const h = harness((_k, n) => {
    if (n <= 2) throw Object.assign(new Error('slow down'), { retryAfterMs: 60_000 });
  });
  h.queue.add('a');
  await h.clock.advance(300);
  h.queue.add('a'); // evidence 300 ms after the failure: waits for the 1 s floor
  await h.clock.advance(699);
  assert.deepEqual(h.runs, ['a@0']);
  await h.clock.advance(1);
  assert.deepEqual(h.runs, ['a@0', 'a@1000']);
  await h.clock.advance(5000); // failed again at 1000; evidence after the floor runs at once
  h.queue.add('a');
  await h.clock.advance(0);
  assert.deepEqual(h.runs, ['a@0', 'a@1000', 'a@6000']);
  await h.clock.advance(120_000);
  assert.deepEqual(h.runs, ['a@0', 'a@1000', 'a@6000'], 'a success ends the backoff: nothing more');
});

test('queue: evidence that arrives during a failing run retries after the floor', async () => {
  const g = gate();
  const h = harness(async (_k, n) => {
    if (n === 1) {
      await g.promise;
      throw Object.assign(new Error('boom'), { retryAfterMs: 30_000 });
    }
  });
  h.queue.add('a');
  await settle();
  h.queue.add('a');
  await h.clock.advance(200);
  g.open();
  await h.clock.advance(999);
  assert.deepEqual(h.runs, ['a@0']);
  await h.clock.advance(1);
  assert.deepEqual(h.runs, ['a@0', 'a@1200']);
});

test('queue: shutdown aborts the signal the runs in flight were given', async () => {
  let seen: AbortSignal | undefined;
  const clock = createFakeClock(0);
  const queue = createWorkQueue({
    setTimer: clock.setTimer,
    now: clock.now,
    worker: (_key, signal) =>
      new Promise<void>((_, reject) => {
        seen = signal;
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }),
  });
  queue.add('a');
  await settle();
  assert.equal(seen?.aborted, false);
  await queue.shutdown(); // resolves because the run rejects on abort: it does not wait for it to finish its work
  assert.equal(seen?.aborted, true);
});

test('queue: requeueAfterMs looks again later; a new event does not wait for it', async () => {
  const h = harness((_k, n) => (n === 1 ? { requeueAfterMs: 1000 } : undefined));
  h.queue.add('a');
  await h.clock.advance(200);
  h.queue.add('a');
  await h.clock.advance(1000);
  assert.deepEqual(h.runs, ['a@0', 'a@200', 'a@1000']);
});

test('queue: addAfter keeps the earliest due time', async () => {
  const h = harness();
  h.queue.addAfter('a', 500);
  h.queue.addAfter('a', 300);
  h.queue.addAfter('a', 900);
  await h.clock.advance(1000);
  assert.deepEqual(h.runs, ['a@300']);
});

test('queue: shutdown waits for runs in flight to settle, drops waiting keys and timers', async () => {
  const g = gate();
  let finished = false;
  const h = harness(async (k) => {
    if (k === 'a') {
      await g.promise;
      finished = true;
    }
  }, 1);
  h.queue.add('a');
  h.queue.add('b');
  h.queue.addAfter('c', 100);
  await settle();
  const done = h.queue.shutdown();
  let resolved = false;
  void done.then(() => (resolved = true));
  await settle();
  assert.equal(resolved, false);
  g.open();
  await done;
  assert.equal(finished, true);
  h.queue.add('d');
  await h.clock.advance(1000);
  assert.deepEqual(h.runs, ['a@0']);
  assert.equal(h.clock.pending(), 0);
});

test('queue: with many first placements waiting, a failover added later runs first', async () => {
  // Each run takes 100 ms of the fake clock (a placement waiting for the rate budget).
  const clock = createFakeClock(0);
  const runs: string[] = [];
  const queue = createWorkQueue({
    concurrency: 2,
    setTimer: clock.setTimer,
    now: clock.now,
    priority: (key) => (key.startsWith('failover') ? 0 : 1),
    worker: async (key) => {
      runs.push(`${key}@${clock.now()}`);
      await new Promise<void>((resolve) => clock.setTimer(resolve, 100));
    },
  });
  for (let i = 1; i <= 50; i++) queue.add(`first-${i}`);
  await clock.advance(250);
  queue.add('failover-a');
  queue.add('first-51');
  queue.add('failover-b');
  assert.equal(queue.depth(), 47);
  await clock.advance(100);
  assert.deepEqual(runs.slice(-4), ['first-5@200', 'first-6@200', 'failover-a@300', 'failover-b@300'], 'the next two free workers take the failovers');
  await clock.advance(100);
  assert.deepEqual(runs.slice(-2), ['first-7@400', 'first-8@400'], 'then the first placements, in the order they came');
  await clock.advance(10_000);
  assert.deepEqual(runs.slice(-2), ['first-50@2500', 'first-51@2600']);
  await queue.shutdown();
});

test('queue: the priority is asked each time a key is queued, also for a retry', async () => {
  const held = new Set<string>();
  const g = gate();
  const h = harness(
    (k, n) => {
      if (k === 'x' && n === 1) throw new Error('boom');
      if (k === 'block') return g.promise;
    },
    1,
    (key) => (held.has(key) ? 0 : 1),
  );
  h.queue.add('x'); // fails at once; retried after 100 ms
  h.queue.add('block');
  h.queue.add('y');
  h.queue.add('z');
  await settle();
  held.add('x'); // by its retry, x has a holder: it goes before y and z, queued long before
  await h.clock.advance(100);
  g.open();
  await h.clock.advance(0);
  assert.deepEqual(h.runs, ['x@0', 'block@0', 'x@100', 'y@100', 'z@100']);
});

test('queue: flush runs the key now, above every priority and past the concurrency, with that run\'s result', async () => {
  const g = gate();
  const h = harness((k) => (k === 'busy' ? g.promise : k === 'svc' ? { requeueAfterMs: 5000 } : undefined), 1, (k) => (k === 'svc' ? 5 : 0));
  h.queue.add('busy');
  h.queue.add('a');
  h.queue.add('svc');
  h.queue.add('b');
  const result = await h.queue.flush('svc');
  assert.deepEqual(result, { requeueAfterMs: 5000 });
  assert.deepEqual(h.runs, ['busy@0', 'svc@0'], 'svc ran beside the busy key, before a and b');
  assert.equal(h.queue.depth(), 2, 'svc left the queue; a and b still wait');
  g.open();
  await settle();
  await settle();
  assert.deepEqual(h.runs, ['busy@0', 'svc@0', 'a@0', 'b@0']);
});

test('queue: flush cuts a backoff short and rejects with the error of its run', async () => {
  const h = harness((_k, n) => {
    if (n <= 2) throw Object.assign(new Error(`refused ${n}`), { retryAfterMs: 60_000 });
  });
  h.queue.add('a');
  await h.clock.advance(10);
  await assert.rejects(h.queue.flush('a'), /refused 2/);
  assert.deepEqual(h.runs, ['a@0', 'a@10']);
  assert.deepEqual(await h.queue.flush('a'), undefined);
  assert.deepEqual(h.runs, ['a@0', 'a@10', 'a@10']);
  await h.clock.advance(120_000);
  assert.equal(h.runs.length, 3, 'the success ended the backoff');
});

test('queue: flush during a run of the key resolves after the next run, which starts at once', async () => {
  const g = gate();
  const h = harness((_k, n) => (n === 1 ? g.promise.then(() => ({ requeueAfterMs: 1 })) : { requeueAfterMs: 2 }), 1);
  h.queue.add('a');
  h.queue.add('b');
  await settle();
  const flushed = h.queue.flush('a');
  g.open();
  assert.deepEqual(await flushed, { requeueAfterMs: 2 }, 'the result of the run that started after the flush');
  assert.deepEqual(h.runs, ['a@0', 'a@0']);
  await settle();
  assert.deepEqual(h.runs, ['a@0', 'a@0', 'b@0']);
});

test("queue: a flush's signal abandons the wait; shutdown rejects waiting flushes", async () => {
  const g = gate();
  const h = harness(() => g.promise, 1);
  h.queue.add('a');
  const abort = new AbortController();
  const abandoned = h.queue.flush('a', abort.signal);
  abort.abort(new Error('caller gave up'));
  await assert.rejects(abandoned, /caller gave up/);
  const waiting = h.queue.flush('a');
  const stopped = h.queue.shutdown();
  await assert.rejects(waiting, QueueStopped);
  g.open();
  await stopped;
  await assert.rejects(h.queue.flush('a'), QueueStopped);
});
