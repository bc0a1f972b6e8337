import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outageFigures, outageTable, spread } from './outage-report.ts';
import type { OutageResult, OutageRun } from './outage.ts';

const run = (gapMs: number, lost: number): OutageRun => ({ gapMs, lost, sent: 100, tcpFailures: lost > 0 ? 1 : 0, tcpAttempts: 10, phasesMs: { detection: 1, decision: 2, action: 300, convergence: gapMs - 303 } });

test('spread: min, lower median, max', () => {
  assert.deepEqual(spread([5, 1, 3]), { min: 1, median: 3, max: 5 });
  assert.deepEqual(spread([4, 1, 3, 2]), { min: 1, median: 2, max: 4 });
});

test('outage figures and table: per failure, only the failures that ran', () => {
  const r: OutageResult = {
    runs: { deletion: [run(400, 3), run(500, 5), run(900, 40)], pod: [], drain: [], silent: [], 'silent-heartbeat': [], leader: [] },
    failed: { deletion: 1, pod: 0, drain: 0, silent: 0, 'silent-heartbeat': 0, leader: 0 },
    nodeLeaseSeconds: 40,
    nodeMonitorGracePeriodMs: 50_000,
  };
  const f = Object.fromEntries(outageFigures(r).map((x) => [x.key, x.value]));
  assert.equal(f['outage.deletion.gap.min'], 400);
  assert.equal(f['outage.deletion.gap.median'], 500);
  assert.equal(f['outage.deletion.gap.max'], 900);
  assert.equal(f['outage.deletion.lost.median'], 5);
  assert.equal(f['outage.deletion.convergence.median'], 197);
  assert.equal(Object.keys(f).some((k) => k.startsWith('outage.pod.')), false);
  assert.equal(f['outage.deletion.failedRuns'], 1);
  const text = outageTable(r).join('\n');
  assert.match(text, /holder node deleted\s+0\.40 s \/ 0\.50 s \/ 0\.90 s\s+5\s+1/);
  assert.match(text, /3 runs each; node Leases 40 s, node-monitor-grace-period 50 s/);
});

test('outage figures: the silent failure with probes and heartbeats only, side by side under their own names', () => {
  const r: OutageResult = {
    runs: { deletion: [], pod: [], drain: [], silent: [run(1_500, 150)], 'silent-heartbeat': [run(22_000, 2_200)], leader: [] },
    failed: { deletion: 0, pod: 0, drain: 0, silent: 0, 'silent-heartbeat': 0, leader: 0 },
    nodeLeaseSeconds: 40,
    nodeMonitorGracePeriodMs: 50_000,
  };
  const f = Object.fromEntries(outageFigures(r).map((x) => [x.key, x.value]));
  assert.equal(f['outage.silent.gap.median'], 1_500);
  assert.equal(f['outage.silentHeartbeat.gap.median'], 22_000);
  const rows = outageTable(r).join('\n').split('\n');
  const probes = rows.findIndex((l) => l.includes('droplet dies silently (probes)'));
  assert.ok(probes >= 0 && rows[probes + 1]?.includes('droplet dies silently (heartbeats only)'), rows.join('\n'));
});
