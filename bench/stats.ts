// Numbers in, summaries and text out: percentiles, the results table, and the comparison
// with the committed baseline. No I/O except what the caller passes in.

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles (no interpolation: every figure is a sample that happened). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  const mean = sorted.length === 0 ? NaN : sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return { n: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) ?? NaN, mean };
}

/** One measured figure: a flat key (also the JSON/baseline key), a unit, and the value. */
export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly unit: 'ms' | 's' | 'calls' | 'MiB' | 'count' | 'req/s' | 'ratio';
  readonly value: number;
}

export type Baseline = Readonly<Record<string, number>>;

const round = (v: number, unit: Figure['unit']) => {
  const digits = unit === 'ms' ? 2 : unit === 'count' || unit === 'req/s' ? 0 : unit === 'calls' || unit === 'ratio' ? 2 : unit === 's' ? 3 : 1;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export function rounded(figures: readonly Figure[]): Figure[] {
  return figures.map((f) => ({ ...f, value: round(f.value, f.unit) }));
}

/** "+12.3%" / "-4.0%" / "=" against the baseline, or "new" when the baseline lacks the key. */
export function delta(value: number, base: number | undefined): string {
  if (base === undefined || !Number.isFinite(base)) return 'new';
  if (value === base) return '=';
  if (base === 0) return value > 0 ? `+${value}` : `${value}`;
  const pct = ((value - base) / Math.abs(base)) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

export function table(figures: readonly Figure[], baseline: Baseline | undefined): string {
  const rows = figures.map((f) => [f.label, `${f.value} ${f.unit}`, baseline?.[f.key] === undefined ? '—' : `${baseline[f.key]} ${f.unit}`, delta(f.value, baseline?.[f.key])]);
  return grid(['measure', 'now', 'baseline', 'delta'], rows);
}

/** Aligned columns: the first left-aligned, the others right-aligned, a rule under the head. */
export function grid(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** "1.23 s" from milliseconds, "—" for no sample: the side-by-side tables' cells. */
export function seconds(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '—' : `${(ms / 1000).toFixed(2)} s`;
}

/** The baseline file: the figures as a flat object, plus where and how they were taken. */
export interface BaselineFile {
  readonly machine: string;
  readonly recordedAt: string;
  readonly options: Readonly<Record<string, number | boolean>>;
  readonly figures: Baseline;
}

export function toBaselineFile(figures: readonly Figure[], machine: string, options: BaselineFile['options'], at: Date): BaselineFile {
  return { machine, recordedAt: at.toISOString(), options, figures: Object.fromEntries(figures.map((f) => [f.key, f.value])) };
}
