// Leader election against an in-memory Lease store with the API server's rules
// (resourceVersion checks, 404/409) and virtual time. The real API server is in leader.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Lease } from '@kubernetes/client-node';
import { createLogger } from '../shared/logger.ts';
import { createLeaderElector, leaseAvailable } from './leader.ts';
import type { LeadershipTerm, LeaseApi, LeaderElector } from './leader.ts';

const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

/** Stores the lease as JSON, like etcd: times come back as strings. */
class LeaseStore {
  lease: V1Lease | undefined;
  rv = 0;
  writes: string[] = [];
  read(): V1Lease {
    if (!this.lease) throw apiError(404);
    return JSON.parse(JSON.stringify(this.lease)) as V1Lease;
  }
  write(body: V1Lease, create: boolean): V1Lease {
    if (create && this.lease) throw apiError(409);
    if (!create && body.metadata?.resourceVersion !== String(this.rv)) throw apiError(409);
    this.rv += 1;
    this.lease = JSON.parse(JSON.stringify({ ...body, metadata: { ...body.metadata, resourceVersion: String(this.rv) } })) as V1Lease;
    this.writes.push(this.lease.spec?.holderIdentity ?? '');
    return this.read();
  }
  /** the client of one replica; `fault` can fail or hang its calls */
  api(fault: { mode?: 'ok' | 'fail' | 'hang' } = {}): LeaseApi {
    const call = <T>(fn: () => T): Promise<T> =>
      fault.mode === 'hang' ? new Promise<T>(() => {}) : fault.mode === 'fail' ? Promise.reject(apiError(503)) : Promise.resolve().then(fn);
    return {
      readNamespacedLease: () => call(() => this.read()),
      createNamespacedLease: ({ body }) => call(() => this.write(body, true)),
      replaceNamespacedLease: ({ body }) => call(() => this.write(body, false)),
    };
  }
}

/** Virtual time: sleeps resolve when advance() passes them. */
class VirtualTime {
  t = 1_000_000;
  private timers: Array<{ at: number; resolve: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = { at: this.t + ms, resolve };
      this.timers.push(timer);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.resolve();
    }
    this.t = end;
    await new Promise<void>((r) => setImmediate(r));
  }
}

function replica(store: LeaseStore, time: VirtualTime, identity: string, fault: { mode?: 'ok' | 'fail' | 'hang' } = {}, api: LeaseApi = store.api(fault), skewMs = 0) {
  const log: string[] = [];
  const terms: LeadershipTerm[] = [];
  const elector: LeaderElector = createLeaderElector({
    api,
    name: 'floatip-reconciler',
    namespace: 'floatip-system',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 1000,
    onStartedLeading: (term) => {
      log.push(`started@${time.t}`);
      terms.push(term);
      term.signal.addEventListener('abort', () => log.push(`term aborted@${time.t}`), { once: true });
    },
    onStoppedLeading: () => {
      log.push(`stopped@${time.t}`);
    },
    logger: createLogger({ level: 'silent' }),
    // a skewed replica reads its own clock (renewTime it writes included); sleeps run at the same rate
    now: () => time.now() + skewMs,
    sleep: time.sleep,
    random: () => 0,
  });
  return { elector, log, fault, terms };
}

const T0 = 1_000_000;

test('leaseAvailable: empty holder, own lease, expiry counted from the instant this replica observed the record', () => {
  const lease = (holder: string | undefined, renew: string | undefined): V1Lease => ({
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime: renew as unknown as Date },
  });
  const seen = 5_000_000;
  const renew = '2026-11-25T12:00:00.000000Z';
  const rows: [string, V1Lease, number, boolean][] = [
    ['nobody holds it', lease('', renew), seen, true],
    ['our own lease', lease('me', renew), seen, true],
    ['never renewed', lease('other', undefined), seen, true],
    ['15 s after we saw it change: not yet', lease('other', renew), seen + 15_000, false],
    ['just past 15 s after we saw it change', lease('other', renew), seen + 15_001, true],
    // the holder's renewTime says nothing: a day-old timestamp from a clock far behind ours
    ['renewTime a day old by our clock, seen 1 s ago', lease('other', renew), seen + 1000, false],
  ];
  for (const [name, l, now, want] of rows) assert.equal(leaseAvailable(l, now, 'me', seen), want, name);
});

/** Steps virtual time and checks, at every step, that at most one term is valid. */
async function neverTwoValidTerms(time: VirtualTime, replicas: readonly { terms: LeadershipTerm[] }[], ms: number, stepMs = 100): Promise<number> {
  let maxValid = 0;
  for (let t = 0; t < ms; t += stepMs) {
    await time.advance(stepMs);
    const valid = replicas.flatMap((r) => r.terms).filter((term) => term.valid()).length;
    maxValid = Math.max(maxValid, valid);
  }
  return maxValid;
}

for (const skewMs of [30_000, 15_000, -30_000, 3_600_000]) {
  test(`a standby whose clock is ${skewMs / 1000} s off: never two valid terms, and it takes over only after its own lease duration`, async () => {
    const store = new LeaseStore();
    const time = new VirtualTime();
    const a = replica(store, time, 'a');
    const b = replica(store, time, 'b', {}, undefined, skewMs);
    a.elector.start();
    await time.advance(0);
    b.elector.start();
    assert.equal(await neverTwoValidTerms(time, [a, b], 20_000), 1, 'a leads alone while it renews');
    assert.equal(b.log.length, 0, 'the skewed standby never took a renewed lease');
    a.fault.mode = 'fail'; // a is cut off at T0 + 20 s: its last renewal was sent at T0 + 20 s
    assert.equal(await neverTwoValidTerms(time, [a, b], 30_000), 1);
    const started = Number(b.log[0]?.split('@')[1]);
    // b saw the last change at its first poll after T0 + 20 s and waits 15 s of its own time
    assert.ok(started >= T0 + 20_000 + 15_000 && started <= T0 + 20_000 + 17_000, `b took over at +${started - T0} ms`);
    assert.deepEqual(a.log, [`started@${T0}`, `term aborted@${T0 + 30_000}`, `stopped@${T0 + 30_000}`]);
    await a.elector.stop();
    await b.elector.stop();
  });
}

test('a leader whose clock is 30 s ahead is not deposed by a correct standby while it renews', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a', {}, undefined, -30_000);
  const b = replica(store, time, 'b');
  a.elector.start();
  await time.advance(0);
  b.elector.start();
  assert.equal(await neverTwoValidTerms(time, [a, b], 40_000), 1);
  assert.deepEqual(b.log, []);
  assert.equal(store.lease?.spec?.holderIdentity, 'a');
  await a.elector.stop();
  await b.elector.stop();
});

test('two replicas: the first creates the lease and leads, the second stays standby', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  const b = replica(store, time, 'b');
  a.elector.start();
  await time.advance(0);
  b.elector.start();
  await time.advance(20_000);
  assert.deepEqual(a.log, [`started@${T0}`]);
  assert.deepEqual(b.log, []);
  assert.equal(a.elector.isLeader(), true);
  assert.equal(b.elector.observedLeader(), 'a');
  assert.equal(store.lease?.spec?.holderIdentity, 'a');
  assert.equal(store.lease?.spec?.leaseDurationSeconds, 15);
  assert.equal(store.lease?.spec?.leaseTransitions, 0);
  // one create, then one renew per retry period with no GET and no conflict
  assert.equal(store.writes.length, 21);
  await a.elector.stop();
  await b.elector.stop();
});

test('release on stop: the standby takes over within one retry period', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  const b = replica(store, time, 'b');
  a.elector.start();
  await time.advance(0);
  b.elector.start();
  await time.advance(5000);
  await a.elector.stop();
  assert.deepEqual(a.log, [`started@${T0}`, `term aborted@${T0 + 5000}`, `stopped@${T0 + 5000}`]);
  assert.equal(store.lease?.spec?.holderIdentity, '');
  assert.equal(store.lease?.spec?.leaseDurationSeconds, 1);
  await time.advance(1000);
  assert.deepEqual(b.log, [`started@${T0 + 6000}`]);
  assert.equal(store.lease?.spec?.holderIdentity, 'b');
  assert.equal(store.lease?.spec?.leaseTransitions, 1);
  await b.elector.stop();
});

test('a killed leader: the standby waits for expiry; the cut-off leader steps down at its renew deadline', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  const b = replica(store, time, 'b');
  a.elector.start();
  await time.advance(0);
  b.elector.start();
  await time.advance(3000); // last renew of a at T0 + 3000
  a.fault.mode = 'fail'; // a loses the API server (partition): it cannot renew any more
  await time.advance(15_000);
  assert.deepEqual(b.log, [], 'the lease is valid until renewTime + 15 s');
  assert.deepEqual(a.log, [`started@${T0}`, `term aborted@${T0 + 13_000}`, `stopped@${T0 + 13_000}`]);
  await time.advance(1000);
  assert.deepEqual(b.log, [`started@${T0 + 18_001}`], 'right at the expiry (the last renewal, observed at T0 + 3 s, + 15 s), not up to a retry period later');
  assert.equal(store.lease?.spec?.leaseTransitions, 1);
  await a.elector.stop();
  await b.elector.stop();
});

test('a renew call that hangs cannot keep a leader past its renew deadline', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  a.elector.start();
  await time.advance(2000); // renews at +1000 and +2000
  a.fault.mode = 'hang';
  await time.advance(12_000);
  assert.deepEqual(a.log, [`started@${T0}`, `term aborted@${T0 + 12_000}`, `stopped@${T0 + 12_000}`]);
  assert.equal(a.elector.isLeader(), false);
  await a.elector.stop();
});

test('a conflict on renew re-reads the lease and keeps leading', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  a.elector.start();
  await time.advance(0);
  // someone (kubectl annotate, say) writes the lease: our cached resourceVersion is stale
  store.write({ ...store.read(), metadata: { ...store.read().metadata, annotations: { touched: 'yes' } } }, false);
  await time.advance(1000);
  assert.equal(a.elector.isLeader(), true);
  assert.equal(store.lease?.spec?.holderIdentity, 'a');
  assert.equal(store.lease?.metadata?.annotations?.['touched'], 'yes');
  assert.deepEqual(a.log, [`started@${T0}`]);
  await a.elector.stop();
});

test('a leader that finds another valid holder steps down at once', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  a.elector.start();
  await time.advance(0);
  const current = store.read();
  store.write({ ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new Date(time.t).toISOString() as unknown as Date } }, false);
  await time.advance(1000);
  assert.deepEqual(a.log, [`started@${T0}`, `term aborted@${T0 + 1000}`, `stopped@${T0 + 1000}`]);
  assert.equal(a.elector.observedLeader(), 'intruder');
  await a.elector.stop();
  assert.equal(store.lease?.spec?.holderIdentity, 'intruder', 'stop does not release a lease it does not hold');
});

test('two replicas starting together: exactly one wins the create', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  const b = replica(store, time, 'b');
  a.elector.start();
  b.elector.start();
  await time.advance(10_000);
  assert.equal([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean).length, 1);
  assert.equal(a.log.length + b.log.length, 1);
  await a.elector.stop();
  await b.elector.stop();
});

test('fencing: the term is valid until renewDeadline after the last renewal was sent, and ends before anyone else may lead', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  const a = replica(store, time, 'a');
  const b = replica(store, time, 'b');
  a.elector.start();
  await time.advance(0);
  b.elector.start();
  await time.advance(3000); // a renews at T0 + 3000
  const [term] = a.terms;
  assert.ok(term?.valid(), 'valid while renewed');
  a.fault.mode = 'fail';
  await time.advance(9_999); // T0 + 12_999
  assert.equal(term?.valid(), true, 'still inside the renew deadline');
  assert.equal(term?.signal.aborted, false);
  await time.advance(1); // T0 + 13_000 = last renewal + renew deadline
  assert.equal(term?.valid(), false);
  assert.equal(term?.signal.aborted, true, 'aborted at the deadline, not later');
  await time.advance(10_000);
  const started = Number(b.log[0]?.split('@')[1]);
  assert.ok(started > T0 + 13_000 + 4_000, `the standby leads only after the lease expired (${started - T0})`);
  assert.equal(b.terms[0]?.valid(), true);
  await a.elector.stop();
  await b.elector.stop();
  assert.equal(b.terms[0]?.signal.aborted, true, 'stop ends the term');
  assert.equal(a.terms.length, 1, 'a stays a standby with no new term');
});

test('fencing: a renewal that arrives late does not extend the term from its arrival', async () => {
  const store = new LeaseStore();
  const time = new VirtualTime();
  let delayMs = 0;
  const api = store.api();
  const slow: LeaseApi = {
    ...api,
    replaceNamespacedLease: async (p) => {
      await time.sleep(delayMs, new AbortController().signal);
      return api.replaceNamespacedLease(p);
    },
  };
  const { elector, terms } = replica(store, time, 'a', {}, slow);
  elector.start();
  await time.advance(0);
  delayMs = 4000; // the next renewal is sent at T0 + 1000 and answered at T0 + 5000
  await time.advance(5000);
  delayMs = 1_000_000; // and then nothing gets through
  await time.advance(5_999); // T0 + 10_999: 9_999 ms after the renewal was *sent*
  assert.equal(terms[0]?.valid(), true);
  await time.advance(1);
  assert.equal(terms[0]?.valid(), false, 'counted from T0 + 1000, when the renewal left, not T0 + 5000');
  await elector.stop();
});
