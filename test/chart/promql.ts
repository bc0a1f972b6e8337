// The metric names a PromQL expression reads, and the names a /metrics page exports, so a test
// can hold every alert and dashboard query to what the processes really serve. Small on
// purpose: it knows only the syntax floatip's own expressions use and is tested on it.

/** Words that look like metric names but are operators or modifiers. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/** Metric names in `expr`, sorted and without duplicates. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    // string literals (label values, regexes) first: they may hold anything
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    // label matchers, ranges and subqueries ([5m], [$__rate_interval])
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    // label lists of aggregations and vector matching
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const before = stripped[match.index - 1] ?? ' ';
    const after = stripped.slice(match.index + word.length).trimStart();
    // 1e3 or 5m (a number's exponent or unit), a function call, an operator word
    if (/[0-9.]/.test(before) || after.startsWith('(') || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/**
 * Series names a Prometheus text exposition offers: each `# TYPE` family (also one with no
 * samples yet, such as a labelled counter never incremented), with a histogram's _bucket,
 * _sum and _count and a summary's _sum and _count.
 */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)$/gm)) {
    const [, name = '', type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

interface DashboardNode {
  panels?: DashboardNode[];
  targets?: { expr?: string }[];
}

/** Every query expression of a Grafana dashboard, rows included. */
export function dashboardExpressions(dashboard: DashboardNode): string[] {
  return (dashboard.panels ?? []).flatMap((panel) => [
    ...(panel.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])),
    ...dashboardExpressions(panel),
  ]);
}
