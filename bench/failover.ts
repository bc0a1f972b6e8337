// The failover benchmark (`npm run bench`): a script, not a test. It measures, prints a table
// with the delta against the committed baseline (bench/baseline.json), and ends with one JSON
// line holding every number. It never fails on a slow figure; it fails only if something
// breaks. Loopback only; bounded by --time-limit.
//   node bench/failover.ts [--iterations 200] [--e2e | --no-e2e] [--only footprint] [--update-baseline]
//   node bench/failover.ts --only outage [--outage-iterations 5] [--update-baseline]
//   node bench/failover.ts --only liveness [--liveness-runs 5] [--update-baseline]
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchDecision } from './decision.ts';
import { benchEndToEnd } from './e2e.ts';
import { benchFailureToService, FAILURES } from './failure-to-service.ts';
import type { FailureResult } from './failure-to-service.ts';
import { benchWebhookThroughput, ratios, TARGETS } from './webhook-throughput.ts';
import type { RunResult } from './webhook-throughput.ts';
import { binariesAvailable } from '../test/cluster/binaries.ts';
import { benchMemory } from './memory.ts';
import type { MemoryResult } from './memory.ts';
import { benchFootprint, footprintFigures, footprintTable } from './footprint.ts';
import { benchOutage, OUTAGES } from './outage.ts';
import { benchLiveness } from './liveness.ts';
import { netnsUnavailable } from '../test/dataplane/lab.ts';
import type { LivenessResult } from './liveness.ts';
import { benchLivenessCost } from './liveness-cost.ts';
import type { LivenessCost } from './liveness-cost.ts';
import { outageFigures, outageTable } from './outage-report.ts';
import type { OutageKind, OutageResult } from './outage.ts';
import type { FootprintResult } from './footprint.ts';
import { benchScale, scaleFigures, scaleSummary } from './scale.ts';
import type { ScaleResult } from './scale.ts';
import { grid, rounded, seconds, table, toBaselineFile } from './stats.ts';
import type { BaselineFile, Figure, Summary } from './stats.ts';

const USAGE = `Usage: node bench/failover.ts [flags]

  --iterations N          failovers for the decision latency (default 200)
  --warmup N              failovers run first and not counted (default 5)
  --action-delay-ms N     emulator action duration in the decision run (default 20)
  --ips N --pods-per-ip N --nodes N   scale of the memory/resync run (default 200, 5, 250)
  --scale / --no-scale    10,000 pods on 1,000 nodes in two shapes, the reconciler in its own
                          process with DOKS-shaped objects (default on; about 1.5 min)
  --scale-failovers N     failovers measured per shape (default 50)
  --e2e / --no-e2e        end-to-end failovers on the real control plane
                          (default: on when the Kubernetes test binaries are cached)
  --e2e-iterations N      (default 5)
  --failure-iterations N  failure-to-service runs per failure kind and heartbeat mode, on
                          the control plane at upstream grace (50 s) (default 2; a partition
                          with heartbeat detection off takes about a minute)
  --webhook / --no-webhook  webhook throughput against a bare HTTPS echo (default on)
  --webhook-seconds N     duration bound of one throughput figure (default 3)
  --webhook-requests N    request bound of one throughput figure (default 30000)
  --footprint / --no-footprint  RSS of the dist/ processes in a 3-node install and of the
                          reconciler at 10,000 pods (default: on with the test binaries; ~5 min)
  --outage / --no-outage  client-observed outage through the packet lab (real kube-proxy, a UDP
                          client), six failures at upstream kubelet timing (default: with --e2e,
                          where network namespaces can be made; about 10 minutes)
  --outage-iterations N   runs per failure (default 5)
  --outage-failures LIST  which failures, comma-separated (default deletion,pod,drain,silent,silent-heartbeat,leader)
  --liveness / --no-liveness  silent holder deaths on the packet lab at upstream kubelet
                          timing, liveness probes vs heartbeats only, the false-failover cases
                          and the holder dying with the leader (about 8 min); probing cost at
                          100 holders (default: on when the test binaries are cached)
  --liveness-runs N       silent deaths per mode (default 5)
  --only a,b              run only these parts: decision, memory, scale, webhook, e2e, footprint, outage, liveness
  --update-baseline       write bench/baseline.json from this run (with --only: merged into it)
  --time-limit-s N        exit 1 if the whole run takes longer (default 2700: the outage runs take
                          about 8 min, the footprint's 10,000-pod world up to 20 on a loaded machine)
  --verbose               the e2e reconciler logs at info level on stderr
`;

const FLAGS = {
  iterations: { type: 'string', default: '200' },
  warmup: { type: 'string', default: '5' },
  'action-delay-ms': { type: 'string', default: '20' },
  ips: { type: 'string', default: '200' },
  'pods-per-ip': { type: 'string', default: '5' },
  nodes: { type: 'string', default: '250' },
  scale: { type: 'boolean' },
  'no-scale': { type: 'boolean' },
  'scale-failovers': { type: 'string', default: '50' },
  e2e: { type: 'boolean' },
  'no-e2e': { type: 'boolean' },
  'e2e-iterations': { type: 'string', default: '5' },
  'failure-iterations': { type: 'string', default: '2' },
  webhook: { type: 'boolean' },
  'no-webhook': { type: 'boolean' },
  'webhook-seconds': { type: 'string', default: '3' },
  'webhook-requests': { type: 'string', default: '30000' },
  footprint: { type: 'boolean' },
  outage: { type: 'boolean' },
  'no-outage': { type: 'boolean' },
  'outage-iterations': { type: 'string', default: '5' },
  'outage-failures': { type: 'string', default: OUTAGES.join(',') },
  'no-footprint': { type: 'boolean' },
  only: { type: 'string' },
  liveness: { type: 'boolean' },
  'no-liveness': { type: 'boolean' },
  'liveness-runs': { type: 'string', default: '5' },
  'update-baseline': { type: 'boolean', default: false },
  'time-limit-s': { type: 'string', default: '2700' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

const BASELINE = new URL('./baseline.json', import.meta.url);
const PARTS = ['decision', 'memory', 'scale', 'webhook', 'e2e', 'footprint', 'outage', 'liveness'] as const;
type Part = (typeof PARTS)[number];

class UsageError extends Error {}

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min} (got "${text}")`);
  return n;
}

function summaryFigures(prefix: string, label: string, s: Summary, unit: Figure['unit'], which: readonly (keyof Summary)[]): Figure[] {
  return which.map((k) => ({ key: `${prefix}.${k}`, label: `${label} ${k}`, unit, value: s[k] }));
}

const CONNECTIONS = [1, 16, 64] as const;
const FAILURE_LABELS = { partition: 'holder partitioned (kubelet silent)', deletion: 'holder node deleted', pod: 'holder pod NotReady' } as const;

function failureFigures(r: FailureResult): Figure[] {
  const out: Figure[] = [];
  for (const [mode, byFailure] of Object.entries(r.toServiceMs)) {
    for (const failure of FAILURES) {
      out.push(...summaryFigures(`failure.${failure}.${mode}`, `${FAILURE_LABELS[failure]} → IP served, heartbeat ${mode}`, byFailure[failure], 'ms', ['p50', 'max']));
    }
  }
  if (r.nodeNotReadyMs.n > 0) out.push(...summaryFigures('failure.nodeNotReady', 'partition → node controller marks NotReady', r.nodeNotReadyMs, 'ms', ['p50']));
  return out;
}

/** failure × heartbeat mode, side by side: the figure users care about */
function failureTable(r: FailureResult): string[] {
  const cell = (mode: 'on' | 'off', failure: (typeof FAILURES)[number]) => {
    const s = r.toServiceMs[mode]?.[failure];
    return s ? `${seconds(s.p50)} / ${seconds(s.max)}` : '—';
  };
  const n = r.toServiceMs.on?.partition.n ?? 0;
  return [
    `Failure of the IP's holder → IP on a healthy droplet (p50 / max of ${n}), controller-manager node-monitor-grace-period ${r.nodeMonitorGracePeriodMs / 1000} s:`,
    grid(['failure', 'heartbeat detection on', 'off (--no-heartbeat-failover)'], FAILURES.map((f) => [FAILURE_LABELS[f], cell('on', f), cell('off', f)])),
    `The node controller marked a partitioned node NotReady ${r.nodeNotReadyMs.n > 0 ? `${seconds(r.nodeNotReadyMs.p50)} after the partition (p50 of ${r.nodeNotReadyMs.n})` : 'never before the IP had moved'}.`,
  ];
}

function throughputFigures(results: readonly RunResult[]): Figure[] {
  const out: Figure[] = [];
  for (const r of results) {
    const key = `webhook.${r.target}.c${r.connections}`;
    const label = `${r.target === 'echo' ? 'bare https echo' : `webhook /${r.target}`} at ${r.connections} conn.`;
    out.push({ key: `${key}.rps`, label: `${label} throughput`, unit: 'req/s', value: r.perSecond });
    out.push(...summaryFigures(key, label, r.latencyMs, 'ms', ['p50', 'p99']));
  }
  const at16 = ratios(results, 16);
  out.push({ key: 'webhook.ratio.validate.c16', label: 'webhook /validate ÷ echo req/s at 16 conn.', unit: 'ratio', value: at16.validate });
  out.push({ key: 'webhook.ratio.mutate.c16', label: 'webhook /mutate ÷ echo req/s at 16 conn.', unit: 'ratio', value: at16.mutate });
  return out;
}

function throughputTable(results: readonly RunResult[]): string[] {
  const row = (c: number) => [
    String(c),
    ...TARGETS.map((t) => {
      const r = results.find((x) => x.target === t && x.connections === c);
      return r ? `${Math.round(r.perSecond)}/s  ${r.latencyMs.p50.toFixed(2)} / ${r.latencyMs.p99.toFixed(2)} ms` : '—';
    }),
    ...(['validate', 'mutate'] as const).map((t) => ratios(results, c)[t].toFixed(2)),
  ];
  return [
    'Webhook throughput (AdmissionReviews/s, latency p50 / p99) against a bare node:https echo, same run:',
    grid(['connections', '/validate', '/mutate', 'bare https echo', 'validate ÷ echo', 'mutate ÷ echo'], CONNECTIONS.map(row)),
  ];
}

function readBaseline(): BaselineFile | undefined {
  try {
    return JSON.parse(readFileSync(BASELINE, 'utf8')) as BaselineFile;
  } catch {
    return undefined;
  }
}

function machine(): string {
  const cores = cpus();
  const load = loadavg()[0] ?? 0;
  const state = load / cores.length > 0.5 ? 'loaded' : 'idle';
  return `${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown cpu'}), ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load.toFixed(1)} at start (${state}), Node ${process.version}`;
}

async function main(argv: readonly string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = {
    iterations: count('iterations', v.iterations, 1),
    warmup: count('warmup', v.warmup, 0),
    actionDelayMs: count('action-delay-ms', v['action-delay-ms'], 1),
    ips: count('ips', v.ips, 1),
    podsPerIp: count('pods-per-ip', v['pods-per-ip'], 1),
    nodes: count('nodes', v.nodes, 1),
    scaleFailovers: count('scale-failovers', v['scale-failovers'], 1),
    e2eIterations: count('e2e-iterations', v['e2e-iterations'], 1),
    failureIterations: count('failure-iterations', v['failure-iterations'], 1),
    webhookSeconds: count('webhook-seconds', v['webhook-seconds'], 1),
    webhookRequests: count('webhook-requests', v['webhook-requests'], 100),
    outageIterations: count('outage-iterations', v['outage-iterations'], 1),
    livenessRuns: count('liveness-runs', v['liveness-runs'], 1),
  };
  const only = v.only === undefined ? undefined : v.only.split(',').map((p) => p.trim());
  const unknownPart = only?.find((p) => !(PARTS as readonly string[]).includes(p));
  if (unknownPart !== undefined) throw new UsageError(`--only: unknown part "${unknownPart}" (parts: ${PARTS.join(', ')})`);
  const runs = (part: Part, flag: boolean) => (only ? only.includes(part) : flag);
  const decision = runs('decision', true);
  const memory = runs('memory', true);
  const webhook = runs('webhook', v['no-webhook'] ? false : (v.webhook ?? true));
  const scale = runs('scale', v['no-scale'] ? false : (v.scale ?? true));
  const e2e = runs('e2e', v['no-e2e'] ? false : (v.e2e ?? binariesAvailable()));
  const footprint = runs('footprint', v['no-footprint'] ? false : (v.footprint ?? binariesAvailable()));
  const outageOn = runs('outage', v['no-e2e'] || v['no-outage'] ? false : (v.outage ?? binariesAvailable()));
  const livenessOn = runs('liveness', v['no-e2e'] || v['no-liveness'] ? false : (v.liveness ?? binariesAvailable()));
  const outageKinds = v['outage-failures'].split(',').map((k) => k.trim());
  const unknownKind = outageKinds.find((k) => !(OUTAGES as readonly string[]).includes(k));
  if (unknownKind !== undefined) throw new UsageError(`--outage-failures: unknown failure "${unknownKind}" (known: ${OUTAGES.join(', ')})`);
  const limitMs = count('time-limit-s', v['time-limit-s'], 1) * 1000;
  // A hung step must not hang CI: give up loudly. (Child processes of the control plane are
  // stopped by the harness's exit hooks.)
  setTimeout(() => {
    process.stderr.write(`bench: gave up after the --time-limit-s of ${limitMs / 1000} s\n`);
    process.exit(1);
  }, limitMs).unref();

  const host = machine();
  const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
  const figures: Figure[] = [];

  if (decision) {
    log(`decision latency: ${opts.iterations} failovers (+${opts.warmup} warm-up), action delay ${opts.actionDelayMs} ms`);
    const d = await benchDecision(opts);
    figures.push(...summaryFigures('decision', 'decision latency', d.latencyMs, 'ms', ['p50', 'p90', 'p99', 'max', 'mean']));
    figures.push({ key: 'calls.mean', label: 'DO calls per failover mean', unit: 'calls', value: d.callsPerFailover.mean });
    figures.push({ key: 'calls.max', label: 'DO calls per failover max', unit: 'calls', value: d.callsPerFailover.max });
    for (const [route, mean] of Object.entries(d.byRoute)) figures.push({ key: `calls.${route}`, label: `  ${route}`, unit: 'calls', value: mean });
  }

  let m: MemoryResult | undefined;
  if (memory) {
    log(`memory and resync: ${opts.ips} IPs, ${opts.ips * opts.podsPerIp} pods, ${opts.nodes} nodes`);
    m = await benchMemory({ ...opts, scaleFailovers: 10 });
    figures.push(
      { key: 'memory.rssMiB', label: 'RSS (whole process)', unit: 'MiB', value: m.rssMiB },
      { key: 'memory.heapUsedMiB', label: 'heap used (whole process)', unit: 'MiB', value: m.heapUsedMiB },
      { key: 'memory.worldHeapMiB', label: 'heap of the pod/node objects', unit: 'MiB', value: m.worldHeapMiB },
      { key: 'memory.trackingHeapMiB', label: 'heap added by the controller', unit: 'MiB', value: m.trackingHeapMiB },
      { key: 'scale.initialPlacementMs', label: `first placement of ${opts.ips} IPs`, unit: 'ms', value: m.initialPlacementMs },
      { key: 'resync.listMs', label: 'resync: list + mark dirty', unit: 'ms', value: m.resyncListMs },
      { key: 'resync.allMs', label: `resync: until ${opts.ips} IPs re-planned`, unit: 'ms', value: m.resyncAllMs },
      { key: 'resync.calls', label: 'resync: DO calls', unit: 'calls', value: Object.values(m.resyncCalls).reduce((s, x) => s + x, 0) },
      { key: 'resync.writes', label: 'resync: DO write calls', unit: 'calls', value: m.resyncWrites },
      ...summaryFigures('scale.decision', `decision latency among ${opts.ips} IPs`, m.scaleDecisionMs, 'ms', ['p50', 'max']),
    );
  }

  let scaled: ScaleResult | undefined;
  if (scale) {
    scaled = await benchScale({ failovers: opts.scaleFailovers, actionDelayMs: opts.actionDelayMs }, log);
    figures.push(...scaleFigures(scaled));
  }

  let throughput: RunResult[] | undefined;
  if (webhook) {
    log(`webhook throughput: ${TARGETS.join(', ')} at ${CONNECTIONS.join(', ')} connections, ≤ ${opts.webhookSeconds} s each`);
    throughput = await benchWebhookThroughput({ connections: CONNECTIONS, maxMs: opts.webhookSeconds * 1000, maxRequests: opts.webhookRequests, rounds: 6, warmup: 500 });
    figures.push(...throughputFigures(throughput));
  }

  let controlPlaneStartMs: number | undefined;
  let failures: FailureResult | undefined;
  if (e2e) {
    log(`end to end: ${opts.e2eIterations} node deletions on the real control plane`);
    const e = await benchEndToEnd({ iterations: opts.e2eIterations, actionDelayMs: 300, logLevel: v.verbose ? 'info' : 'warn' });
    controlPlaneStartMs = e.controlPlaneStartMs;
    figures.push(...summaryFigures('e2e.deleteAnswered', 'e2e node DELETE answered', e.deleteAnsweredMs, 'ms', ['p50', 'max']));
    figures.push(...summaryFigures('e2e.request', 'e2e node deleted → assign request', e.toAssignRequestMs, 'ms', ['p50', 'max']));
    figures.push(...summaryFigures('e2e.completed', 'e2e node deleted → action completed', e.toActionCompletedMs, 'ms', ['p50', 'p90', 'max']));

    log(`failure to service: ${opts.failureIterations} of each failure, heartbeat detection on and off, controller-manager grace 50 s`);
    failures = await benchFailureToService({ iterations: opts.failureIterations, actionDelayMs: 300, logLevel: v.verbose ? 'info' : 'warn' });
    if (failures.offUnsupported) log(`failure to service: heartbeat off skipped: ${failures.offUnsupported}`);
    figures.push(...failureFigures(failures));
  } else {
    log(only ? 'end to end: not in --only' : 'end to end: skipped (--no-e2e, or the Kubernetes test binaries are not cached: npm run cluster:binaries)');
  }

  let fp: FootprintResult | undefined;
  if (footprint) {
    fp = await benchFootprint({ scale: only ? true : scale }, log);
    figures.push(...footprintFigures(fp));
  } else {
    log(only ? 'footprint: not in --only' : 'footprint: skipped (--no-footprint, or the Kubernetes test binaries are not cached)');
  }

  let outages: OutageResult | undefined;
  if (outageOn) {
    log(`client-observed outage: ${opts.outageIterations} runs of each failure through the packet lab, upstream kubelet timing`);
    const o = await benchOutage({ iterations: opts.outageIterations, kinds: outageKinds as OutageKind[], log });
    if (typeof o === 'string') log(`client-observed outage: skipped, the packet lab cannot run here: ${o}`);
    else {
      outages = o;
      figures.push(...outageFigures(o));
    }
  }

  let live: { lab: LivenessResult; cost: LivenessCost } | undefined;
  if (livenessOn) {
    const unavailable = netnsUnavailable();
    if (unavailable !== undefined) log(`liveness: skipped, the packet lab cannot run here: ${unavailable}`);
    else {
      live = await runLiveness(opts.livenessRuns, log);
      figures.push(...livenessFigures(live.lab, live.cost));
    }
  }

  const result = rounded(figures);
  const baseline = readBaseline();
  const out: string[] = [
    '',
    `floatip failover benchmark — ${host}`,
    baseline ? `baseline: ${baseline.recordedAt} on ${baseline.machine}` : 'baseline: none (run with --update-baseline)',
    '',
    table(result, baseline?.figures),
  ];
  if (m) {
    out.push(
      '',
      `DigitalOcean calls in the resync: ${JSON.stringify(m.resyncCalls)}`,
      'Minimum per failover: 1 call (the assign POST) to move the IP, 2 to also know the move completed',
      '(one action GET). Holders come from the periodic list, so a failover needs no read before its write.',
    );
  }
  if (scaled) out.push('', ...scaleSummary(scaled));
  if (controlPlaneStartMs !== undefined) out.push(`control plane start-up: ${(controlPlaneStartMs / 1000).toFixed(1)} s (not compared)`);
  if (failures) out.push('', ...failureTable(failures));
  if (throughput) out.push('', ...throughputTable(throughput));
  if (fp) out.push('', ...footprintTable(fp));
  if (outages) out.push('', ...outageTable(outages));
  if (live) out.push('', ...livenessTable(live.lab));
  process.stdout.write(`${out.join('\n')}\n`);

  const options = { ...opts, e2e, webhook, scale, footprint, outage: outageOn, liveness: live !== undefined };
  if (v['update-baseline']) {
    // --only: this run's figures replace theirs in the committed baseline, the rest stay
    const file = toBaselineFile(result, host, options, new Date());
    // (the header keeps describing the full run the other figures come from)
    const merged = only && baseline ? { ...baseline, figures: { ...baseline.figures, ...file.figures } } : file;
    writeFileSync(BASELINE, `${JSON.stringify(merged, null, 2)}\n`);
    log(`baseline written: bench/baseline.json`);
  }
  const figuresJson = Object.fromEntries(result.map((f) => [f.key, f.value]));
  process.stdout.write(`${JSON.stringify({ bench: 'failover', machine: host, options, figures: figuresJson })}\n`);
  return 0;
}

async function runLiveness(runs: number, log: (s: string) => void): Promise<{ lab: LivenessResult; cost: LivenessCost }> {
  log('liveness: probing cost, 100 holders and 100 next targets on loopback, 10 s');
  const cost = await benchLivenessCost({ holders: 100, seconds: 10 });
  log(`liveness: ${runs} silent holder deaths with probes and ${runs} with heartbeats only, packet lab, upstream kubelet timing`);
  return { lab: await benchLiveness({ runs }, log), cost };
}

function livenessFigures(r: LivenessResult, cost: LivenessCost): Figure[] {
  return [
    { key: 'liveness.silent.probes.p50', label: 'silent holder → IP moved, probes p50', unit: 'ms', value: r.probesMs.p50 },
    { key: 'liveness.silent.probes.max', label: 'silent holder → IP moved, probes max', unit: 'ms', value: r.probesMs.max },
    { key: 'liveness.silent.probes.runs', label: 'silent holder runs with probes', unit: 'count', value: r.probesMs.n },
    { key: 'liveness.silent.heartbeat.p50', label: 'silent holder → IP moved, heartbeats only p50', unit: 'ms', value: r.heartbeatMs.p50 },
    { key: 'liveness.silent.heartbeat.max', label: 'silent holder → IP moved, heartbeats only max', unit: 'ms', value: r.heartbeatMs.max },
    { key: 'liveness.falseMoves', label: 'IPs moved in the 4 false-failover cases', unit: 'count', value: r.falseMoves },
    { key: 'liveness.silentWithLeader.p50', label: 'holder dies with the leader → IP moved p50', unit: 'ms', value: r.withLeaderMs.p50 },
    { key: 'liveness.cost.probesPerSecond', label: `probes/s at ${cost.holders} holders (${cost.probedDroplets} droplets)`, unit: 'count', value: cost.probesPerSecond },
    { key: 'liveness.cost.kiBPerSecond', label: `probe traffic at ${cost.holders} holders, KiB/s`, unit: 'count', value: cost.bytesPerSecond / 1024 },
    { key: 'liveness.cost.cpuPercent', label: `leader CPU probing ${cost.holders} holders, % of a core`, unit: 'ratio', value: cost.cpuPercent },
  ];
}

function livenessTable(r: LivenessResult): string[] {
  return [
    'Liveness (packet lab, node Leases 40 s / 10 s, controller-manager grace 50 s): the false-failover cases',
    grid(['case', 'IPs moved', 'lasted'], r.falseCases.map((c) => [c.name, String(c.moves), `${c.seconds} s`])),
  ];
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
// Keep-alive sockets of the clients must not hold the finished script open.
process.exit();
