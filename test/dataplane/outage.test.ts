import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outage } from './outage.ts';
import type { ProbeRecord } from './outage.ts';

const IP = '104.248.100.100';

/** a datagram every 10 ms from t=0 to t=endMs; replies 1 ms later from `source(t)` (undefined: none) */
function record(endMs: number, source: (t: number) => string | undefined, pod = (t: number) => (t < 500 ? 'a' : 'b')): ProbeRecord {
  const sends = [];
  const replies = [];
  for (let seq = 0, t = 0; t <= endMs; seq++, t += 10) {
    sends.push({ seq, t });
    const from = source(t);
    if (from !== undefined) replies.push({ seq, t: t + 1, from, pod: pod(t) });
  }
  return { sends, replies, tcp: [{ t: 100, ok: true, ms: 1 }, { t: 300, ok: false, ms: 1000, err: 'timeout' }, { t: 900, ok: true, ms: 1 }] };
}

test('outage: a hole of 200 ms in the replies, table of cases', () => {
  const cases = [
    { name: 'no outage', source: () => IP, gap: 10, lost: 0, wrong: 0, unresolved: false },
    { name: 'silent 300..490', source: (t: number) => (t >= 300 && t < 500 ? undefined : IP), gap: 210, lost: 20, wrong: 0, unresolved: false },
    { name: 'replies from the anchor 300..490 count as lost', source: (t: number) => (t >= 300 && t < 500 ? '10.20.0.11' : IP), gap: 210, lost: 20, wrong: 20, unresolved: false },
    { name: 'never back', source: (t: number) => (t >= 300 ? undefined : IP), gap: 709, lost: 21, wrong: 0, unresolved: true },
  ];
  for (const c of cases) {
    const o = outage(record(1500, c.source), { from: 250, to: 1000, expectFrom: IP });
    assert.equal(Math.round(o.longestGapMs), c.gap, `${c.name}: gap`);
    assert.equal(o.lost, c.lost, `${c.name}: lost`);
    assert.equal(o.wrongSource, c.wrong, `${c.name}: wrong source`);
    assert.equal(o.unresolved, c.unresolved, `${c.name}: unresolved`);
    assert.equal(o.tcpAttempts, 1, `${c.name}: TCP attempts from 250 to 500`);
    assert.equal(o.tcpFailures, 1, `${c.name}: TCP failures`);
  }
});

test('outage: the first good reply after the gap names the pod that answered', () => {
  const o = outage(record(1500, (t) => (t >= 300 && t < 600 ? undefined : IP)), { from: 0, to: 1500, expectFrom: IP });
  assert.equal(o.after?.pod, 'b');
  assert.equal(Math.round(o.gapStart), 291);
  assert.equal(Math.round(o.gapEnd), 601);
});
