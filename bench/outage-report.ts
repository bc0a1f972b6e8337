// The outage benchmark's figures and table (pure): per failure, the longest UDP gap as
// min / median / max over the runs, the datagrams lost and TCP connects failed (median), and
// the median of each phase the gap splits into.
import { grid, seconds } from './stats.ts';
import type { Figure } from './stats.ts';
import { OUTAGE_FIGURE, OUTAGE_LABELS, OUTAGES, PHASES } from './outage.ts';
import type { OutageResult, OutageRun } from './outage.ts';

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

/** min, median (the lower middle sample of an even count: a run that happened) and max */
export function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN, max: sorted.at(-1) ?? NaN };
}

const of = (runs: readonly OutageRun[], pick: (r: OutageRun) => number) => spread(runs.map(pick));

export function outageFigures(r: OutageResult): Figure[] {
  const out: Figure[] = [];
  for (const kind of OUTAGES) {
    const runs = r.runs[kind];
    if (runs.length === 0) continue;
    const label = `outage, ${OUTAGE_LABELS[kind]}:`;
    const key = `outage.${OUTAGE_FIGURE[kind]}`;
    const gap = of(runs, (x) => x.gapMs);
    for (const k of ['min', 'median', 'max'] as const) out.push({ key: `${key}.gap.${k}`, label: `${label} longest UDP gap ${k}`, unit: 'ms', value: gap[k] });
    out.push({ key: `${key}.lost.median`, label: `${label} datagrams lost median`, unit: 'count', value: of(runs, (x) => x.lost).median });
    out.push({ key: `${key}.tcpFailures.median`, label: `${label} TCP connects failed median`, unit: 'count', value: of(runs, (x) => x.tcpFailures).median });
    for (const p of PHASES) out.push({ key: `${key}.${p}.median`, label: `${label} ${p} median`, unit: 'ms', value: of(runs, (x) => x.phasesMs[p]).median });
    if (r.failed[kind] > 0) out.push({ key: `${key}.failedRuns`, label: `${label} runs never served again within 180 s`, unit: 'count', value: r.failed[kind] });
  }
  return out;
}

export function outageTable(r: OutageResult): string[] {
  const rows = OUTAGES.filter((k) => r.runs[k].length > 0).map((kind) => {
    const runs = r.runs[kind];
    const gap = of(runs, (x) => x.gapMs);
    return [
      OUTAGE_LABELS[kind],
      `${seconds(gap.min)} / ${seconds(gap.median)} / ${seconds(gap.max)}`,
      String(of(runs, (x) => x.lost).median),
      String(of(runs, (x) => x.tcpFailures).median),
      ...PHASES.map((p) => seconds(of(runs, (x) => x.phasesMs[p]).median)),
      String(r.failed[kind]),
    ];
  });
  const n = Math.max(...OUTAGES.map((k) => r.runs[k].length));
  return [
    `Client-observed outage (UDP every 10 ms, TCP connect every 100 ms; ${n} runs each; node Leases ${r.nodeLeaseSeconds} s, node-monitor-grace-period ${r.nodeMonitorGracePeriodMs / 1000} s):`,
    grid(['failure', 'longest UDP gap min / median / max', 'lost', 'TCP failed', 'detection', 'decision', 'DO action', 'dataplane', 'failed runs'], rows),
    'lost, TCP failed and the phases are medians; the phases split the gap: failure → Kubernetes or floatip shows it (or the',
    'assign action starts, if earlier) → the action started → completed → first reply from the new holder.',
  ];
}
