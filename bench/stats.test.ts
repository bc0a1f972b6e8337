// The benchmark's arithmetic and text: nearest-rank percentiles, deltas, the table, routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAssignRequest, routeOf } from './fixtures.ts';
import { delta, grid, rounded, seconds, summarize, table, toBaselineFile } from './stats.ts';

test('summarize: nearest-rank percentiles over unsorted samples', () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
  assert.deepEqual(summarize(samples), { n: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  assert.deepEqual(summarize([7]), { n: 1, p50: 7, p90: 7, p99: 7, max: 7, mean: 7 });
  assert.deepEqual(summarize([3, 1, 2]), { n: 3, p50: 2, p90: 3, p99: 3, max: 3, mean: 2 });
});

test('delta: percent against the baseline, "=" when equal, "new" without one', () => {
  assert.equal(delta(1.1, 1), '+10.0%');
  assert.equal(delta(0.5, 2), '-75.0%');
  assert.equal(delta(2, 2), '=');
  assert.equal(delta(3, undefined), 'new');
  assert.equal(delta(3, 0), '+3');
});

test('rounded: digits per unit', () => {
  const out = rounded([
    { key: 'a', label: 'a', unit: 'ms', value: 1.23456 },
    { key: 'b', label: 'b', unit: 'MiB', value: 262.1234 },
    { key: 'c', label: 'c', unit: 'calls', value: 2.005 },
  ]);
  assert.deepEqual(out.map((f) => f.value), [1.23, 262.1, 2.01]);
});

test('table: aligned columns with baseline and delta', () => {
  const text = table([{ key: 'd.p50', label: 'decision p50', unit: 'ms', value: 1.5 }], { 'd.p50': 1 });
  assert.equal(text, ['measure          now  baseline   delta', '------------  ------  --------  ------', 'decision p50  1.5 ms      1 ms  +50.0%'].join('\n'));
});

test('grid: columns as wide as their widest cell; seconds: two decimals, a dash for no sample', () => {
  const text = grid(['failure', 'on', 'off'], [['partition', seconds(4321), seconds(51_234.5)], ['pod', seconds(NaN), seconds(undefined)]]);
  assert.equal(text, ['failure        on      off', '---------  ------  -------', 'partition  4.32 s  51.23 s', 'pod             —        —'].join('\n'));
});

test('rounded: whole requests per second, ratios to two digits', () => {
  const out = rounded([
    { key: 'r', label: 'r', unit: 'req/s', value: 2703.6 },
    { key: 'q', label: 'q', unit: 'ratio', value: 0.4567 },
  ]);
  assert.deepEqual(out.map((f) => f.value), [2704, 0.46]);
});

test('toBaselineFile: flat figures with machine, options and time', () => {
  const file = toBaselineFile([{ key: 'calls.mean', label: 'x', unit: 'calls', value: 2 }], '2 cores', { iterations: 200 }, new Date(Date.UTC(2026, 10, 25, 18)));
  assert.deepEqual(file, { machine: '2 cores', recordedAt: '2026-11-25T18:00:00.000Z', options: { iterations: 200 }, figures: { 'calls.mean': 2 } });
});

test('routeOf and isAssignRequest: route templates for IPv4, IPv6 and action ids', () => {
  assert.equal(routeOf('GET', '/v2/reserved_ips/104.248.100.100/actions/70000001'), 'GET /v2/reserved_ips/{ip}/actions/{id}');
  assert.equal(routeOf('POST', '/v2/reserved_ipv6/2604:a880:800:14::1000/actions'), 'POST /v2/reserved_ipv6/{ip}/actions');
  assert.equal(routeOf('GET', '/v2/reserved_ips'), 'GET /v2/reserved_ips');
  const req = (method: string, url: string) => ({ method, url, at: 0 });
  assert.equal(isAssignRequest(req('POST', '/v2/reserved_ips/104.248.100.100/actions')), true);
  assert.equal(isAssignRequest(req('POST', '/v2/reserved_ipv6/2604:a880:800:14::1000/actions')), true);
  assert.equal(isAssignRequest(req('GET', '/v2/reserved_ips/104.248.100.100/actions')), false);
  assert.equal(isAssignRequest(req('POST', '/v2/floating_ips/104.248.100.100/actions')), false);
});
