// The chart's memory requests and limits follow the footprint the benchmark measured and
// committed (bench/baseline.json, `node bench/failover.ts --only footprint --update-baseline`),
// so a change to either shows up here instead of drifting apart silently. The rule:
//   request = 1.1 × the process's measured RSS in the 3-node world, rounded up to 8 Mi
//   limit   = 1.5 × its largest measured RSS (the reconciler's: at 10,000 pods), rounded up
//             to 16 Mi; the webhook's limit is also sized for concurrent large reviews
//             (bench/webhook-memory.ts), so here it only has to hold 1.5 × its measured peak.
// Also: the V8 old-space cap of a container stays below its limit (V8 collects before the
// kernel kills), and each container runs node with its values' flags (the command line: the
// NODE_OPTIONS variable refuses most V8 flags), which this Node accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chartValues, nodeFlags } from '../bench/footprint-processes.ts';
import type { Component } from '../bench/footprint-processes.ts';
import { parseManifests, renderChart } from './chart/helm.ts';
import { runnable } from './chart/workloads.ts';
import type { RunnableContainer } from './chart/workloads.ts';

const baseline = (JSON.parse(readFileSync(new URL('../bench/baseline.json', import.meta.url), 'utf8')) as { figures: Record<string, number> }).figures;
const figure = (key: string): number => {
  const value = baseline[key];
  assert.ok(typeof value === 'number' && value > 0, `bench/baseline.json has no ${key}: run node bench/failover.ts --only footprint --update-baseline`);
  return value;
};

const REQUEST_MARGIN = 1.1;
const LIMIT_MARGIN = 1.5;
const roundUp = (mib: number, step: number) => Math.ceil(mib / step) * step;
const requestFor = (measuredMiB: number) => roundUp(measuredMiB * REQUEST_MARGIN, 8);
const limitFor = (measuredMiB: number) => roundUp(measuredMiB * LIMIT_MARGIN, 16);

function mebibytes(quantity: string | undefined): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity ?? '');
  assert.ok(m, `memory quantity "${quantity}" is not a whole number of Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

const objects = parseManifests(renderChart());
const containers: Record<'agent' | 'webhook' | 'reconciler', RunnableContainer> = {
  agent: runnable(objects, 'DaemonSet', 'floatip-agent'),
  webhook: runnable(objects, 'Deployment', 'floatip-webhook'),
  reconciler: runnable(objects, 'Deployment', 'floatip-reconciler'),
};
const memory = (c: RunnableContainer) => {
  const resources = c.container.resources as { requests?: Record<string, string>; limits?: Record<string, string> } | undefined;
  return { request: mebibytes(resources?.requests?.['memory']), limit: mebibytes(resources?.limits?.['memory']) };
};

test('requests and limits are the committed footprint with the stated margins', () => {
  assert.deepEqual(memory(containers.agent), { request: requestFor(figure('footprint.agent.rss')), limit: limitFor(figure('footprint.agent.rss')) });
  assert.deepEqual(memory(containers.reconciler), { request: requestFor(figure('footprint.reconciler.rss')), limit: limitFor(figure('footprint.reconciler.scale.rss')) });
  const webhook = memory(containers.webhook);
  assert.equal(webhook.request, requestFor(figure('footprint.webhook.rss')));
  assert.ok(webhook.limit >= limitFor(figure('footprint.webhook.work.rss')), `webhook limit ${webhook.limit} Mi < ${limitFor(figure('footprint.webhook.work.rss'))} Mi`);
});

test('every container runs node with the flags of its values, node accepts them, and a V8 old-space cap stays below the limit', () => {
  const values = chartValues();
  for (const [name, c] of Object.entries(containers) as [Component, RunnableContainer][]) {
    const command = c.container.command ?? [];
    assert.deepEqual(command, ['node', ...nodeFlags(name), `dist/${name}/main.js`], `${name}: command`);
    assert.ok(values[name].nodeFlags, `${name}: no nodeFlags in values.yaml`);
    // a flag this Node no longer knows would stop the container at start-up
    const run = spawnSync(process.execPath, [...nodeFlags(name), '-e', '0'], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${name}: node ${nodeFlags(name).join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr, '', `${name}: node warns about its flags`);
    const oldSpace = nodeFlags(name).map((f) => /^--max-old-space-size=(\d+)$/.exec(f)?.[1]).find((v) => v !== undefined);
    if (oldSpace !== undefined) assert.ok(Number(oldSpace) < memory(c).limit, `${name}: --max-old-space-size=${oldSpace} is not below the ${memory(c).limit} Mi limit`);
  }
  assert.ok(nodeFlags('reconciler').some((f) => f.startsWith('--max-old-space-size=')), 'reconciler: no old-space cap');
});
