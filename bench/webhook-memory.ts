// Webhook memory under concurrent maximum-size reviews: the webhook runs as its own process
// (as in the pod, so its RSS is its own), 16 clients post a review of the largest size it
// accepts at the same moment, a few rounds in a row, and the peak RSS (the kernel's VmHWM
// high-water mark, not a sample) is printed next to the memory limit of
// deploy/manifests/webhook.yaml. Loopback only; bounded in requests and time.
//   node bench/webhook-memory.ts [--concurrency 16] [--rounds 3] [--body-mib 3.5]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_MAX_BODY_BYTES } from '../webhook/app.ts';
import { generateLoopbackTls } from '../webhook/tls/certs.ts';

// Run from dist/ (npm run build), the webhook is the compiled main.js, as in the image.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN = fileURLToPath(new URL(FROM_SOURCE ? '../webhook/main.ts' : '../webhook/main.js', import.meta.url));
export const WEBHOOK_MANIFEST = fileURLToPath(new URL(`${FROM_SOURCE ? '..' : '../..'}/deploy/manifests/webhook.yaml`, import.meta.url));
const MiB = 1024 * 1024;

export interface WebhookMemoryOptions {
  readonly concurrency: number;
  readonly rounds: number;
  /** size of every review body (default: the webhook's body limit minus 1 KiB) */
  readonly bodyBytes: number;
  /** the whole run fails after this long */
  readonly timeLimitMs: number;
}

export interface WebhookMemoryResult {
  readonly bodyBytes: number;
  readonly concurrency: number;
  readonly rounds: number;
  /** RSS after start and one small review, before the load */
  readonly restRssBytes: number;
  /** the process's RSS high-water mark over the whole run */
  readonly peakRssBytes: number;
  readonly limitBytes: number;
  /** HTTP status → count, over every request */
  readonly statuses: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 };

/** A Kubernetes memory quantity ("256Mi", "512M", "1Gi") in bytes. */
export function quantityBytes(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(text);
  const unit = UNITS[match?.[2] ?? ''];
  if (!match || unit === undefined) throw new Error(`"${text}" is not a memory quantity such as 256Mi`);
  return Number(match[1]) * unit;
}

/** resources.limits.memory of the webhook container in the Deployment manifest. */
export function manifestMemoryLimitBytes(path = WEBHOOK_MANIFEST): number {
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    const o = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Array<{ name?: string; resources?: { limits?: { memory?: string } } }> } } } };
    if (o?.kind !== 'Deployment') continue;
    const memory = o.spec?.template?.spec?.containers?.find((c) => c.name === 'webhook')?.resources?.limits?.memory;
    if (memory) return quantityBytes(String(memory));
  }
  throw new Error(`${path} has no Deployment with a webhook container memory limit`);
}

/**
 * An UPDATE review of a Pod whose object and old object carry long env lists: many small
 * JSON objects, the shape that costs the most heap per byte. Exactly `bytes` long.
 */
export function maxSizeReview(bytes: number, uid: string): Buffer {
  const env = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `VAR_${String(i).padStart(7, '0')}`, value: 'x'.repeat(16) }));
  const pod = (n: number, pad: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'big', namespace: 'bench', annotations: { 'k8s.haim.dev/floating-ip': '104.248.100.100' }, labels: { pad } },
    spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', env: env(n) }] },
  });
  const review = (n: number, pad = '') => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'UPDATE',
      namespace: 'bench',
      name: 'big',
      object: pod(n, pad),
      oldObject: pod(n, ''),
    },
  });
  const perEntry = Buffer.byteLength(JSON.stringify(review(2))) - Buffer.byteLength(JSON.stringify(review(1)));
  const base = Buffer.byteLength(JSON.stringify(review(0)));
  const n = Math.max(0, Math.floor((bytes - base) / perEntry) - 1);
  const fill = bytes - Buffer.byteLength(JSON.stringify(review(n)));
  const body = Buffer.from(JSON.stringify(review(n, 'p'.repeat(Math.max(0, fill)))));
  if (body.length !== bytes) throw new Error(`review is ${body.length} bytes, wanted ${bytes}`);
  return body;
}

function statusOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`/proc/${pid}/status has no ${field} (this benchmark needs Linux)`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

function post(port: number, ca: string, body: Buffer, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/validate', method: 'POST', ca, agent: false, signal, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function listeningPort(child: ChildProcess, signal: AbortSignal): Promise<number> {
  let out = '';
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error(`the webhook did not start listening in time; its output:\n${out}`));
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('exit', (code) => reject(new Error(`the webhook exited (${code}) before listening; its output:\n${out}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"webhook listening"'));
      if (line) {
        signal.removeEventListener('abort', onAbort);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
}

export async function benchWebhookMemory(opts: WebhookMemoryOptions): Promise<WebhookMemoryResult> {
  const signal = AbortSignal.timeout(opts.timeLimitMs);
  const dir = mkdtempSync(join(tmpdir(), 'floatip-webhook-memory-'));
  const tls = generateLoopbackTls();
  writeFileSync(join(dir, 'tls.crt'), tls.certPem);
  writeFileSync(join(dir, 'tls.key'), tls.keyPem);
  const child = spawn(
    process.execPath,
    [MAIN, '--port', '0', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--shutdown-delay', '0s', '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const port = await listeningPort(child, signal);
    const pid = child.pid ?? 0;
    const small = Buffer.from(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'warm', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: {} } }));
    await post(port, tls.caPem, small, signal);
    const restRssBytes = statusOf(pid, 'VmRSS');
    const bodies = Array.from({ length: opts.concurrency }, (_, i) => maxSizeReview(opts.bodyBytes, `bench-${i}`));
    const statuses: Record<string, number> = {};
    const started = performance.now();
    for (let round = 0; round < opts.rounds; round++) {
      const answers = await Promise.all(bodies.map((b) => post(port, tls.caPem, b, signal)));
      for (const s of answers) statuses[s] = (statuses[s] ?? 0) + 1;
    }
    const elapsedMs = performance.now() - started;
    return {
      bodyBytes: opts.bodyBytes,
      concurrency: opts.concurrency,
      rounds: opts.rounds,
      restRssBytes,
      peakRssBytes: statusOf(pid, 'VmHWM'),
      limitBytes: manifestMemoryLimitBytes(),
      statuses,
      elapsedMs,
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatWebhookMemory(r: WebhookMemoryResult): string {
  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  const answers = Object.entries(r.statuses)
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ');
  return [
    `webhook memory: ${r.concurrency} concurrent reviews of ${mib(r.bodyBytes)}, ${r.rounds} rounds, webhook in its own process`,
    `  RSS at rest          ${mib(r.restRssBytes)}`,
    `  peak RSS (VmHWM)     ${mib(r.peakRssBytes)}   limit ${mib(r.limitBytes)} (deploy/manifests/webhook.yaml): ${Math.round((100 * r.peakRssBytes) / r.limitBytes)} %`,
    `  answers              ${answers}`,
    `  elapsed              ${(r.elapsedMs / 1000).toFixed(2)} s`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '16' },
      rounds: { type: 'string', default: '3' },
      'body-mib': { type: 'string' },
      'time-limit-s': { type: 'string', default: '120' },
    },
  });
  const bodyBytes = v['body-mib'] ? Math.round(Number(v['body-mib']) * MiB) : DEFAULT_MAX_BODY_BYTES - 1024;
  const result = await benchWebhookMemory({
    concurrency: Number(v.concurrency),
    rounds: Number(v.rounds),
    bodyBytes,
    timeLimitMs: Number(v['time-limit-s']) * 1000,
  });
  process.stdout.write(`${formatWebhookMemory(result)}\n${JSON.stringify(result)}\n`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main();
