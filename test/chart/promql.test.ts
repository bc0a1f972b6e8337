import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardExpressions, exportedNames, metricNames } from './promql.ts';

test('metricNames: the metrics an expression reads, nothing else', () => {
  const cases: [string, string[]][] = [
    ['floatip_leader', ['floatip_leader']],
    ['max by (ip) (floatip_ip_unplaced) == 1', ['floatip_ip_unplaced']],
    ['(sum(floatip_leader) or vector(0)) < 1', ['floatip_leader']],
    ['sum(rate(floatip_digitalocean_requests_total{code=~"5..|429|error"}[10m])) / sum(rate(floatip_digitalocean_requests_total[10m])) > 0.1', ['floatip_digitalocean_requests_total']],
    ['histogram_quantile(0.99, sum by (le, webhook) (rate(floatip_webhook_review_duration_seconds_bucket[$__rate_interval])))', ['floatip_webhook_review_duration_seconds_bucket']],
    ['(min(floatip_webhook_certificate_expiry_timestamp_seconds) - time()) < 21 * 86400', ['floatip_webhook_certificate_expiry_timestamp_seconds']],
    ['a_total offset 5m + on (pod) group_left (node) b_info unless c', ['a_total', 'b_info', 'c']],
    ['x > 1e3 and bool y', ['x', 'y']],
    ["up{job='floatip'} == 0", ['up']],
    ['sum without (instance) (m)', ['m']],
  ];
  for (const [expr, names] of cases) assert.deepEqual(metricNames(expr), names, expr);
});

test('exportedNames: every TYPE family, histograms and summaries with their series', () => {
  const text = [
    '# HELP floatip_leader 1 while leading',
    '# TYPE floatip_leader gauge',
    'floatip_leader 0',
    '# TYPE floatip_moves_total counter',
    '# TYPE floatip_failover_duration_seconds histogram',
    'floatip_failover_duration_seconds_bucket{le="1"} 0',
    '# TYPE nodejs_gc summary',
    '',
  ].join('\n');
  assert.deepEqual([...exportedNames(text)].sort(), [
    'floatip_failover_duration_seconds',
    'floatip_failover_duration_seconds_bucket',
    'floatip_failover_duration_seconds_count',
    'floatip_failover_duration_seconds_sum',
    'floatip_leader',
    'floatip_moves_total',
    'nodejs_gc',
    'nodejs_gc_count',
    'nodejs_gc_sum',
  ]);
});

test('dashboardExpressions: panels and panels inside rows', () => {
  const dashboard = { panels: [{ targets: [{ expr: 'a' }, { expr: '' }] }, { panels: [{ targets: [{ expr: 'b' }] }] }, {}] };
  assert.deepEqual(dashboardExpressions(dashboard), ['a', 'b']);
});
