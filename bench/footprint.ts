// Footprint: the memory of floatip's processes where they run — the built dist/ entry points
// with the chart's node flags, as processes on the harness's control plane (see
// footprint-worlds.ts), read from /proc/<pid>/status. Figures (MiB; names fixed by issue 18):
//   footprint.agent.rss              largest agent, start-up or after its re-checks
//   footprint.webhook.rss            largest webhook replica at rest (15 s after start)
//   footprint.reconciler.rss         largest reconciler replica, 3 nodes, start-up or after work
//   footprint.reconciler.scale.rss   the reconciler at 10,000 pods / 1,000 nodes
//   footprint.install3.rss           the sum of all seven processes of a 3-node install
// plus the anonymous part of each (.anon), the webhook after 800 reviews (.work.rss), and
// Node's floor measured beside them with the agent's flags (bench/footprint-floor.js):
//   footprint.floor.idle.rss         node doing nothing
//   footprint.floor.https.rss        node keeping one HTTPS connection to the API server
//   node bench/footprint.ts [--no-scale]   (or node bench/failover.ts --only footprint)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDist, chartValues, mebibytes, peak } from './footprint-processes.ts';
import type { Component, Measured, Memory } from './footprint-processes.ts';
import { SCALE, scaleWorld, threeNodeWorld } from './footprint-worlds.ts';
import type { Floor, Log } from './footprint-worlds.ts';
import { grid } from './stats.ts';
import type { Figure } from './stats.ts';

export interface FootprintResult {
  readonly processes: readonly Measured[];
  /** Node's floor beside them, with the agent's flags (not part of the install) */
  readonly floor?: Floor<Measured>;
  readonly scale?: Measured | undefined;
}

export async function benchFootprint(opts: { readonly scale: boolean }, log: Log = () => undefined): Promise<FootprintResult> {
  log('footprint: npm run build (the processes run from dist/)');
  buildDist();
  const dir = await mkdtemp(join(tmpdir(), 'floatip-footprint-'));
  try {
    const { processes, floor } = await threeNodeWorld(dir, log);
    // printed now: the scale world takes long and may fail on a loaded machine
    log(`footprint: 3-node world measured\n${footprintTable({ processes, floor }).join('\n')}`);
    const scale = opts.scale ? await scaleWorld(dir, log) : undefined;
    return { processes, floor, scale };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const largest = (ms: readonly Memory[]): Memory => ({ rssMiB: Math.max(0, ...ms.map((m) => m.rssMiB)), anonMiB: Math.max(0, ...ms.map((m) => m.anonMiB)) });
const of = (r: FootprintResult, c: Component) => r.processes.filter((p) => p.component === c);

export function footprintFigures(r: FootprintResult): Figure[] {
  const agent = largest(of(r, 'agent').map(peak));
  const webhookRest = largest(of(r, 'webhook').map((p) => p.startup ?? { rssMiB: NaN, anonMiB: NaN }));
  const webhookWork = largest(of(r, 'webhook').map((p) => p.work ?? { rssMiB: NaN, anonMiB: NaN }));
  const reconciler = largest(of(r, 'reconciler').map(peak));
  const install = r.processes.map(peak).reduce((sum, m) => ({ rssMiB: sum.rssMiB + m.rssMiB, anonMiB: sum.anonMiB + m.anonMiB }), { rssMiB: 0, anonMiB: 0 });
  const out: Figure[] = [
    { key: 'footprint.agent.rss', label: 'agent RSS (largest of 3)', unit: 'MiB', value: agent.rssMiB },
    { key: 'footprint.agent.anon', label: 'agent anonymous RSS', unit: 'MiB', value: agent.anonMiB },
    { key: 'footprint.webhook.rss', label: 'webhook RSS at rest (largest of 2)', unit: 'MiB', value: webhookRest.rssMiB },
    { key: 'footprint.webhook.anon', label: 'webhook anonymous RSS at rest', unit: 'MiB', value: webhookRest.anonMiB },
    { key: 'footprint.webhook.work.rss', label: 'webhook RSS after 400 reviews each', unit: 'MiB', value: webhookWork.rssMiB },
    { key: 'footprint.reconciler.rss', label: 'reconciler RSS, 3 nodes (largest of 2)', unit: 'MiB', value: reconciler.rssMiB },
    { key: 'footprint.reconciler.anon', label: 'reconciler anonymous RSS, 3 nodes', unit: 'MiB', value: reconciler.anonMiB },
    { key: 'footprint.install3.rss', label: 'default install on 3 nodes, sum of 7 processes', unit: 'MiB', value: install.rssMiB },
    { key: 'footprint.install3.anon', label: 'default install on 3 nodes, anonymous', unit: 'MiB', value: install.anonMiB },
  ];
  if (r.floor) {
    out.push(
      { key: 'footprint.floor.idle.rss', label: "node doing nothing, the agent's flags", unit: 'MiB', value: peak(r.floor.idle).rssMiB },
      { key: 'footprint.floor.https.rss', label: "node keeping one HTTPS connection to the API server, the agent's flags", unit: 'MiB', value: peak(r.floor.https).rssMiB },
    );
  }
  if (r.scale) {
    const s = peak(r.scale);
    const label = `${SCALE.ips * SCALE.podsPerIp} pods / ${SCALE.nodes} nodes`;
    out.push(
      { key: 'footprint.reconciler.scale.rss', label: `reconciler RSS at ${label}`, unit: 'MiB', value: s.rssMiB },
      { key: 'footprint.reconciler.scale.anon', label: `reconciler anonymous RSS at ${label}`, unit: 'MiB', value: s.anonMiB },
    );
  }
  return out;
}

/** Every process, both readings, next to the chart's limit for it. */
export function footprintTable(r: FootprintResult): string[] {
  const values = chartValues();
  const cell = (m: Memory | undefined) => (m ? `${m.rssMiB.toFixed(1)} (${m.anonMiB.toFixed(1)})` : '—');
  const rows = [...r.processes, ...(r.scale ? [r.scale] : [])].map((p) => {
    const limit = values[p.component].resources?.limits?.memory;
    return [p.name, cell(p.startup), cell(p.work), limit ? `${mebibytes(limit)} MiB` : '—', values[p.component].nodeFlags ?? ''];
  });
  for (const p of r.floor ? [r.floor.idle, r.floor.https] : []) rows.push([`(${p.name})`, cell(p.startup), cell(p.work), '—', values.agent.nodeFlags ?? '']);
  return ['Footprint: RSS (anonymous) in MiB of the dist/ processes, from /proc/<pid>/status:', grid(['process', 'after start-up', 'after work', 'chart limit', 'node flags'], rows)];
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'no-scale': { type: 'boolean', default: false } } });
  const r = await benchFootprint({ scale: !values['no-scale'] }, (s) => process.stderr.write(`bench: ${s}\n`));
  process.stdout.write(`${footprintTable(r).join('\n')}\n`);
  const figures = Object.fromEntries(footprintFigures(r).map((f) => [f.key, Math.round(f.value * 10) / 10]));
  process.stdout.write(`${JSON.stringify({ bench: 'footprint', figures })}\n`);
  process.exit();
}
