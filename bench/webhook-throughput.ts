// Webhook throughput: AdmissionReviews per second and latency at 1, 16 and 64 keep-alive
// connections against /validate and /mutate, and against a bare node:https echo server
// measured the same way in the same run. Absolute numbers move with the machine (here the
// load generator shares 2 cores with the server); the ratio webhook / echo is the figure.
// Closed loop: each connection sends its next request when the previous answer is read. Every
// run is bounded by a request count and a duration. Loopback only.
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { summarize } from './stats.ts';
import type { Summary } from './stats.ts';
import type { ServerUrls } from './webhook-servers.ts';

export interface ThroughputOptions {
  readonly connections: readonly number[];
  /** bounds of one figure (split over the rounds) */
  readonly maxRequests: number;
  readonly maxMs: number;
  /** the whole matrix is measured this many times, interleaved, and the rounds summed */
  readonly rounds: number;
  /** requests sent first on each server and not counted */
  readonly warmup: number;
}

export type Target = 'validate' | 'mutate' | 'echo';
export const TARGETS: readonly Target[] = ['validate', 'mutate', 'echo'];

export interface RunResult {
  readonly target: Target;
  readonly connections: number;
  readonly requests: number;
  readonly perSecond: number;
  readonly latencyMs: Summary;
}

// A Pod CREATE as the ReplicaSet controller sends it, two IPs in the annotation: /validate
// allows it, /mutate answers with the label patch.
const REVIEW = readFileSync(new URL('../webhook/fixtures/pod-create-from-replicaset.json', import.meta.url));

function post(agent: Agent, url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json', 'content-length': REVIEW.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`benchmark: POST ${url} answered ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(REVIEW);
  });
}

interface Sample {
  readonly requests: number;
  readonly elapsedMs: number;
  readonly latencies: number[];
}

/**
 * `connections` loops, each on its own keep-alive socket, until maxRequests or maxMs. The
 * sockets are opened (TLS handshakes) by two untimed rounds first: the figure is steady state.
 */
async function run(url: string, ca: string, connections: number, maxRequests: number, maxMs: number): Promise<Sample> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  for (let round = 0; round < 2; round++) await Promise.all(Array.from({ length: connections }, () => post(agent, url, ca)));
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const loop = async () => {
    while (started < maxRequests && performance.now() - t0 < maxMs) {
      started++;
      const s = performance.now();
      await post(agent, url, ca);
      latencies.push(performance.now() - s);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, loop));
  } finally {
    agent.destroy();
  }
  return { requests: latencies.length, elapsedMs: performance.now() - t0, latencies };
}

/** The answers are checked once, outside the timing: the benchmark must measure real reviews. */
async function checkAnswers(urls: ServerUrls): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  const uid = (JSON.parse(REVIEW.toString('utf8')) as { request: { uid: string } }).request.uid;
  const answer = async (path: string) => JSON.parse(await post(agent, `${urls.webhookUrl}${path}`, urls.caPem)) as { response?: { uid?: string; allowed?: boolean; patchType?: string } };
  const validated = await answer('/validate');
  const mutated = await answer('/mutate');
  if (validated.response?.uid !== uid || validated.response.allowed !== true) throw new Error(`benchmark: /validate did not allow the fixture: ${JSON.stringify(validated)}`);
  if (mutated.response?.uid !== uid || mutated.response.patchType !== 'JSONPatch') throw new Error(`benchmark: /mutate returned no patch for the fixture: ${JSON.stringify(mutated)}`);
  const echoed = await post(agent, urls.echoUrl, urls.caPem);
  if (echoed !== REVIEW.toString('utf8')) throw new Error('benchmark: the echo server did not echo');
  agent.destroy();
}

export async function benchWebhookThroughput(opts: ThroughputOptions): Promise<RunResult[]> {
  const worker = new Worker(new URL('./webhook-servers.ts', import.meta.url));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  try {
    const urls = await new Promise<ServerUrls>((resolve, reject) => {
      worker.once('message', (m: ServerUrls) => resolve(m));
      worker.once('error', reject);
    });
    await checkAnswers(urls);
    const urlOf = (t: Target) => (t === 'echo' ? urls.echoUrl : `${urls.webhookUrl}/${t}`);
    for (const t of TARGETS) await run(urlOf(t), urls.caPem, 16, opts.warmup, opts.maxMs);
    // Interleaved in short rounds (every target at every connection count, then again) so a
    // load change on the shared machine hits the webhook and the echo server alike.
    const samples = new Map<string, Sample[]>();
    const key = (target: Target, connections: number) => `${target}@${connections}`;
    for (let round = 0; round < opts.rounds; round++) {
      for (const connections of opts.connections) {
        for (const target of TARGETS) {
          const sample = await run(urlOf(target), urls.caPem, connections, Math.ceil(opts.maxRequests / opts.rounds), opts.maxMs / opts.rounds);
          samples.set(key(target, connections), [...(samples.get(key(target, connections)) ?? []), sample]);
        }
      }
    }
    return opts.connections.flatMap((connections) =>
      TARGETS.map((target) => {
        const all = samples.get(key(target, connections)) ?? [];
        const requests = all.reduce((n, s) => n + s.requests, 0);
        const elapsedMs = all.reduce((n, s) => n + s.elapsedMs, 0);
        return { target, connections, requests, perSecond: (requests / elapsedMs) * 1000, latencyMs: summarize(all.flatMap((s) => s.latencies)) };
      }),
    );
  } finally {
    worker.postMessage('close');
    // a worker that does not close by itself within a second is terminated
    const timer = setTimeout(() => void worker.terminate(), 1_000);
    await exited;
    clearTimeout(timer);
  }
}

/** webhook req/s over echo req/s at `connections`, per webhook path */
export function ratios(results: readonly RunResult[], connections: number): Record<'validate' | 'mutate', number> {
  const rps = (t: Target) => results.find((r) => r.target === t && r.connections === connections)?.perSecond ?? NaN;
  return { validate: rps('validate') / rps('echo'), mutate: rps('mutate') / rps('echo') };
}
