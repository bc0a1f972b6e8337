// The runtime on a fake clock: one term starts and ends every controller together, resync is
// a key, and a write port is fenced by the term.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAbort } from '../../shared/digitalocean/port.ts';
import { createFakeClock, settle } from '../../test/support/fake-clock.ts';
import { createRuntime, RESYNC, TermEnded } from './runtime.ts';
import type { ControllerSpec, RunContext, Term } from './runtime.ts';
import { QueueStopped } from './queue.ts';

function recorder(name: string, clock: { now(): number }, more: Partial<ControllerSpec> = {}) {
  const log: string[] = [];
  const signals: AbortSignal[] = [];
  const spec: ControllerSpec = {
    name,
    async reconcile(key: string, ctx: RunContext) {
      signals.push(ctx.signal);
      log.push(`${key === RESYNC ? 'resync' : key}@${clock.now()}`);
    },
    begin: () => log.push(`begin@${clock.now()}`),
    end: () => log.push(`end@${clock.now()}`),
    ...more,
  };
  return { spec, log, signals };
}

function leaderTerm(): { term: Term; abort(): void; invalidate(): void } {
  const abort = new AbortController();
  let valid = true;
  return { term: { signal: abort.signal, valid: () => valid && !abort.signal.aborted }, abort: () => abort.abort(new Error('lost')), invalidate: () => (valid = false) };
}

test('runtime: a term begins every controller, resyncs each as a key, and repeats it every resyncMs', async () => {
  const clock = createFakeClock(0);
  const rt = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  const a = recorder('a', clock, { resyncMs: 1000 });
  const b = recorder('b', clock, { resyncMs: 400 });
  rt.register(a.spec);
  rt.register(b.spec);
  rt.start();
  await clock.advance(1000);
  assert.deepEqual(a.log, ['begin@0', 'resync@0', 'resync@1000']);
  assert.deepEqual(b.log, ['begin@0', 'resync@0', 'resync@400', 'resync@800']);
  await rt.stop();
  await clock.advance(5000);
  assert.deepEqual(a.log.at(-1), 'end@1000');
  assert.deepEqual(b.log.at(-1), 'end@1000');
  assert.equal(clock.pending(), 0, 'no timer outlives the term');
});

test('runtime: a failing resync backs off like any key, then keeps its period', async () => {
  const clock = createFakeClock(0);
  const rt = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  let calls = 0;
  const errors: number[] = [];
  const c = recorder('c', clock, {
    resyncMs: 10_000,
    backoff: { baseMs: 100 },
    onError: (_k, _e, ms) => errors.push(ms),
  });
  const inner = c.spec.reconcile.bind(c.spec);
  rt.register({
    ...c.spec,
    async reconcile(key, ctx) {
      if (++calls <= 2) throw new Error('DigitalOcean down');
      return inner(key, ctx);
    },
  });
  rt.start();
  await clock.advance(10_300);
  assert.deepEqual(errors, [100, 200]);
  assert.deepEqual(c.log, ['begin@0', 'resync@300', 'resync@10300']);
  await rt.stop();
});

test('runtime: the end of the term aborts runs in flight and ends every controller together; handles go quiet', async () => {
  const clock = createFakeClock(0);
  const rt = createRuntime({ setTimer: clock.setTimer, now: clock.now });
  const slow = recorder('slow', clock, {
    reconcile: (_key, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })),
  });
  const other = recorder('other', clock);
  const h = rt.register(slow.spec);
  const o = rt.register(other.spec);
  const lead = leaderTerm();
  rt.start(lead.term);
  await settle();
  assert.equal(h.active(), true);
  lead.abort();
  await settle();
  await settle();
  assert.deepEqual([slow.log, other.log], [['begin@0', 'end@0'], ['begin@0', 'resync@0', 'end@0']]);
  assert.equal(h.active(), false);
  o.add('x');
  await assert.rejects(o.flush('x'), QueueStopped);
  await clock.advance(60_000);
  assert.deepEqual(other.log, ['begin@0', 'resync@0', 'end@0'], 'nothing runs between terms');
  rt.start(leaderTerm().term);
  o.add('x');
  await settle();
  assert.deepEqual(other.log.slice(3), ['begin@60000', 'resync@60000', 'x@60000'], 'a new term starts fresh');
  await rt.stop();
});

test('runtime: a fenced write starts only while the term is valid, and carries its signal', async () => {
  const rt = createRuntime();
  const calls: [string, AbortSignal | undefined][] = [];
  const port = {
    assign: async (ip: string, _droplet: number, opts?: { signal?: AbortSignal }) => void calls.push([ip, opts?.signal]),
    getReservedIp: async (ip: string) => ({ ip }),
  };
  const fenced = rt.fence(port, { assign: 2 });
  const before = await fenced.assign('1.2.3.4', 1).catch((e: unknown) => e);
  assert.ok(before instanceof TermEnded && isAbort(before), 'no term: refused as an abort');
  const lead = leaderTerm();
  rt.start(lead.term);
  const own = new AbortController();
  await fenced.assign('1.2.3.4', 1, { signal: own.signal });
  assert.equal(calls.length, 1);
  own.abort();
  assert.equal(calls[0]?.[1]?.aborted, true, "the caller's signal still reaches the call");
  await fenced.assign('1.2.3.5', 1);
  assert.equal(calls[1]?.[1]?.aborted, false);
  lead.invalidate(); // the renew deadline passed: the signal has not aborted yet
  await assert.rejects(fenced.assign('1.2.3.6', 1), TermEnded);
  assert.equal(calls.length, 2, 'the write never reached the port');
  assert.deepEqual(await fenced.getReservedIp('1.2.3.4'), { ip: '1.2.3.4' }, 'reads are not fenced');
  lead.abort();
  assert.equal(calls[1]?.[1]?.aborted, true, "the term's end aborts a write in flight");
  await rt.stop();
  // a run of the ended term, late: a new term has begun, but the run's own signal says no
  const late = new AbortController();
  late.abort();
  rt.start(leaderTerm().term);
  await assert.rejects(fenced.assign('1.2.3.7', 1, { signal: late.signal }), TermEnded);
  assert.equal(calls.length, 2);
  await rt.stop();
});
