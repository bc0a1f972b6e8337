// Reads the droplet's anchor IPv4 from DigitalOcean's metadata service (link-local, no
// token). A reserved IPv4 reaches the droplet with its destination rewritten to this
// address, so it is what Kubernetes must accept traffic for. Failures are one sentence each,
// naming the URL, because the agent exits on them and the sentence is all an operator sees.
import { parseAddress } from '../shared/addresses.ts';
import { ANCHOR_PATH } from './config.ts';

export type MetadataProblem = 'unreachable' | 'no-anchor' | 'invalid';

export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  readonly problem: MetadataProblem;
  constructor(problem: MetadataProblem, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.problem = problem;
  }
}

export interface MetadataOptions {
  /** metadata service root, e.g. http://169.254.169.254 */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** tries for an unreachable service or a 5xx, with `retryDelayMs` doubling between them */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

const MAX_BODY = 64;

interface Answer {
  readonly status: number;
  readonly body: string;
}

/**
 * One GET through node:http(s), not fetch: fetch loads Node's bundled undici, a few MiB the
 * agent has no room for. process.getBuiltinModule, because an ESM import of node:http would
 * evaluate its lazy WebSocket export and load undici anyway.
 */
function get(url: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Answer> {
  const lib = url.startsWith('https:') ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');
  return new Promise<Answer>((resolve, reject) => {
    const req = lib.get(url, { ...(signal ? { signal } : {}), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        // the anchor is a short line; anything long is not the metadata service
        if (size < 1024) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 1024) }));
    });
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })));
    req.on('error', reject);
  });
}

async function readOnce(url: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
  let res: Answer;
  try {
    res = await get(url, timeoutMs, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
    throw new MetadataError('unreachable', `metadata service unreachable at ${url}: ${why}`, err);
  }
  const body = res.body;
  if (res.status === 404) {
    throw new MetadataError(
      'no-anchor',
      `metadata service at ${url} answered 404: this droplet has no anchor IPv4 (droplets from custom images have none; reserved IPv4s then need no anchor)`,
    );
  }
  if (res.status >= 500) throw new MetadataError('unreachable', `metadata service unreachable at ${url}: it answered ${res.status}`);
  if (res.status !== 200) throw new MetadataError('invalid', `metadata service at ${url} answered ${res.status}; is --metadata-url the metadata service?`);
  const text = body.trim();
  const address = parseAddress(text);
  if (address?.family !== 4) {
    const shown = text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}…` : text;
    throw new MetadataError('invalid', `metadata service at ${url} answered "${shown}", which is not an IPv4 address; is --metadata-url the metadata service?`);
  }
  return address.text;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: string; message?: string } } | undefined;
  if (typeof e?.code === 'string') return e.code;
  return e?.cause?.code ?? e?.cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** The anchor IPv4 in canonical dotted-quad form; a MetadataError otherwise. */
export async function readAnchorIpv4(opts: MetadataOptions): Promise<string> {
  const url = `${opts.baseUrl}${ANCHOR_PATH}`;
  const attempts = Math.max(1, opts.attempts ?? 3);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let delay = opts.retryDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(url, opts.timeoutMs, opts.signal);
    } catch (err) {
      // Only an unreachable service may be a blip; a 404 or a wrong answer will not change.
      if (!(err instanceof MetadataError && err.problem === 'unreachable') || attempt >= attempts) throw err;
    }
    await sleep(delay);
    delay *= 2;
  }
}
