// Scale: 10,000 labeled pods on 1,000 nodes, in the two shapes that stress different paths —
// many IPs (500 IPs × 20 pods: a droplet holds one reserved IPv4, so 500 nodes are spare
// for failovers to land on) and few IPs with many claimants (10 IPs × 1,000 pods, one per
// node: a DaemonSet-like pool). This process runs the emulator; the reconciler runs in a
// child process (scale-reconciler.ts) so its RSS is its own. Also measured: the same world
// cached whole (no slimming), and a failover while first placements wait for DigitalOcean's
// 250 requests/min — there the budget, not the reconciler, is the bottleneck.
//   node bench/scale.ts [--failovers N]   (or through npm run bench)
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startEmulator } from '../test/do-emulator/server.ts';
import { NO_LIMITS } from './decision.ts';
import { ipFor } from './memory.ts';
import type { ChildOptions, ChildResult } from './scale-reconciler.ts';
import type { Figure } from './stats.ts';

export interface Shape {
  readonly name: 'many-ips' | 'few-ips';
  readonly ips: number;
  readonly podsPerIp: number;
  readonly nodes: number;
}

export const SHAPES: readonly Shape[] = [
  { name: 'many-ips', ips: 500, podsPerIp: 20, nodes: 1000 },
  { name: 'few-ips', ips: 10, podsPerIp: 1000, nodes: 1000 },
];

export interface ScaleOptions {
  /** failovers measured per shape, one at a time */
  readonly failovers: number;
  readonly actionDelayMs: number;
  readonly shapes?: readonly Shape[];
}

export interface ScaleResult {
  readonly shapes: readonly { readonly shape: Shape; readonly result: ChildResult }[];
  /** the many-IPs world with the objects cached whole */
  readonly whole: ChildResult;
  /** the many-IPs world, half placed, the rest waiting for the 250/min budget (when they can spend it) */
  readonly rateLimited?: ChildResult | undefined;
  readonly rateLimitedShape: Shape;
}

/** DigitalOcean's budget, per minute; a first placement costs at least the POST and one action GET. */
export const BUDGET_PER_MINUTE = 250;
const CALLS_PER_PLACEMENT = 2;
const CHILD_TIMEOUT_MS = 600_000;

const CHILD = new URL('./scale-reconciler.ts', import.meta.url);

async function runShape(shape: Shape, child: Omit<ChildOptions, 'url' | 'ips' | 'podsPerIp' | 'nodes'>, held = 0): Promise<ChildResult> {
  const emu = await startEmulator({
    actionDelayMs: child.actionDelayMs,
    state: {
      region: 'nyc3',
      droplets: Array.from({ length: shape.nodes }, (_, i) => ({ id: 2001 + i, name: `pool-b-${i + 1}`, tags: ['k8s', 'k8s-worker'] })),
      // IP w's oldest pod runs on node w: the first `held` IPs start where they belong
      reservedIps: Array.from({ length: shape.ips }, (_, i) => ({ ip: ipFor(i), ...(i < held ? { dropletId: 2001 + i } : {}) })),
      rateLimit: NO_LIMITS,
    },
  });
  try {
    const options: ChildOptions = { url: emu.url, ips: shape.ips, podsPerIp: shape.podsPerIp, nodes: shape.nodes, ...child };
    return await new Promise<ChildResult>((resolve, reject) => {
      const proc = fork(CHILD, [JSON.stringify(options)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const timer = setTimeout(() => {
        proc.kill();
        reject(new Error(`benchmark: the reconciler process did not finish within ${CHILD_TIMEOUT_MS / 1000} s`));
      }, CHILD_TIMEOUT_MS);
      proc.on('message', (m: { ok: true; result: ChildResult } | { ok: false; error: string }) => {
        clearTimeout(timer);
        if (m.ok) resolve(m.result);
        else reject(new Error(`benchmark: the reconciler process failed: ${m.error}`));
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`benchmark: the reconciler process exited with code ${code} before reporting`));
      });
    });
  } finally {
    await emu.close();
  }
}

export async function benchScale(opts: ScaleOptions, log: (s: string) => void = () => undefined): Promise<ScaleResult> {
  const shapes = opts.shapes ?? SHAPES;
  const results: { shape: Shape; result: ChildResult }[] = [];
  for (const shape of shapes) {
    log(`scale: ${label(shape)}, ${opts.failovers} failovers`);
    results.push({ shape, result: await runShape(shape, { failovers: opts.failovers, slim: true, actionDelayMs: opts.actionDelayMs }) });
  }
  const many = shapes[0] as Shape;
  log(`scale: ${label(many)}, objects cached whole (no slimming)`);
  const whole = await runShape(many, { failovers: 0, slim: false, actionDelayMs: opts.actionDelayMs });
  const held = Math.floor(many.ips / 2);
  // Fewer first placements than the budget's burst never wait for it.
  if ((many.ips - held) * CALLS_PER_PLACEMENT <= BUDGET_PER_MINUTE) return { shapes: results, whole, rateLimitedShape: many };
  log(`scale: ${label(many)}, ${held} placed, ${many.ips - held} first placements at ${BUDGET_PER_MINUTE} requests/min, then a failover`);
  const rateLimited = await runShape(many, { failovers: 1, slim: true, actionDelayMs: opts.actionDelayMs, rateLimited: { held } }, held);
  return { shapes: results, whole, rateLimited, rateLimitedShape: many };
}

const label = (s: Shape) => `${s.ips} IPs × ${s.podsPerIp} pods on ${s.nodes} nodes`;

export function scaleFigures(r: ScaleResult): Figure[] {
  const out: Figure[] = [];
  for (const { shape, result: m } of r.shapes) {
    const k = `scale10k.${shape.name}`;
    const l = `${shape.ips}×${shape.podsPerIp}:`;
    out.push(
      { key: `${k}.decision.p50`, label: `${l} decision latency p50`, unit: 'ms', value: m.decisionMs.p50 },
      { key: `${k}.decision.p99`, label: `${l} decision latency p99`, unit: 'ms', value: m.decisionMs.p99 },
      { key: `${k}.decision.max`, label: `${l} decision latency max`, unit: 'ms', value: m.decisionMs.max },
      { key: `${k}.rssMiB`, label: `${l} reconciler RSS`, unit: 'MiB', value: m.rssMiB },
      { key: `${k}.heapUsedMiB`, label: `${l} reconciler heap used`, unit: 'MiB', value: m.heapUsedMiB },
      { key: `${k}.worldHeapMiB`, label: `${l} heap of informer caches + index`, unit: 'MiB', value: m.worldHeapMiB },
      { key: `${k}.initialPlacementMs`, label: `${l} first placement of ${shape.ips} IPs (budget lifted)`, unit: 'ms', value: m.initialPlacementMs },
      { key: `${k}.resyncListMs`, label: `${l} resync: list + mark dirty`, unit: 'ms', value: m.resyncListMs },
      { key: `${k}.resyncAllMs`, label: `${l} resync: until ${shape.ips} IPs re-planned`, unit: 'ms', value: m.resyncAllMs },
    );
  }
  const many = r.rateLimitedShape;
  out.push(
    { key: 'scale10k.whole.rssMiB', label: `${many.ips}×${many.podsPerIp}: reconciler RSS, objects cached whole`, unit: 'MiB', value: r.whole.rssMiB },
    { key: 'scale10k.whole.worldHeapMiB', label: `${many.ips}×${many.podsPerIp}: heap of informer caches + index, whole`, unit: 'MiB', value: r.whole.worldHeapMiB },
    { key: 'scale10k.rateLimited.failoverMs', label: 'failover while first placements wait for the budget', unit: 'ms', value: r.rateLimited?.rateLimited?.failoverMs ?? NaN },
  );
  return out.filter((f) => Number.isFinite(f.value));
}

/** The sentences that say what the figures mean, the rate budget first. */
export function scaleSummary(r: ScaleResult): string[] {
  const many = r.rateLimitedShape;
  const calls = many.ips * CALLS_PER_PLACEMENT;
  const needs = `A first placement of ${many.ips} IPs needs at least ${calls} DigitalOcean requests`;
  if (calls <= BUDGET_PER_MINUTE) return [`Rate budget: ${needs}, within the burst of ${BUDGET_PER_MINUTE}: the budget is not the bottleneck.`];
  const lifted = r.shapes.find((s) => s.shape === many)?.result.initialPlacementMs;
  const out = [
    `Rate budget: ${needs}: ${(calls / BUDGET_PER_MINUTE).toFixed(1)} min at DigitalOcean's ${BUDGET_PER_MINUTE} requests/min (after a burst of ${BUDGET_PER_MINUTE}).`,
    `There the budget is the bottleneck, not the reconciler${lifted === undefined ? '' : ` (with the budget lifted: ${(lifted / 1000).toFixed(1)} s)`}.`,
  ];
  const rl = r.rateLimited?.rateLimited;
  if (rl) {
    const failover = rl.failoverMs === null ? 'did not start its assign within 30 s' : `started its assign ${(rl.failoverMs / 1000).toFixed(2)} s after the node failed`;
    out.push(`With ${many.ips - Math.floor(many.ips / 2)} first placements queued for the budget (${rl.placedBeforeFailover} done after ${(rl.startedAfterMs / 1000).toFixed(1)} s, ${rl.waiting} waiting), a failover ${failover}: failovers go first.`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { failovers: { type: 'string', default: '50' }, 'action-delay-ms': { type: 'string', default: '20' } } });
  const r = await benchScale({ failovers: Number(values.failovers), actionDelayMs: Number(values['action-delay-ms']) }, (s) => process.stderr.write(`bench: ${s}\n`));
  for (const f of scaleFigures(r)) process.stdout.write(`${f.label}: ${f.value.toFixed(2)} ${f.unit}\n`);
  process.stdout.write(`${scaleSummary(r).join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit();
}
