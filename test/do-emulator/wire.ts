// Writing answers: JSON or plain text with a content-length, all at once or trickled, and
// the client's side of a request (did it leave before the answer was complete?).
import type { ServerResponse } from 'node:http';

export type Payload = { readonly json: unknown } | { readonly text: string };

export interface Answer {
  readonly status: number;
  /** absent: no body (204, or a 401/429 without one) */
  readonly payload?: Payload;
  readonly headers: Record<string, string>;
}

/** How long one piece of a trickled body waits at least, so a long body is not one byte a tick. */
const TRICKLE_STEP_MS = 20;

function encode(answer: Answer): { headers: Record<string, string>; bytes: Buffer | undefined } {
  const p = answer.payload;
  if (answer.status === 204 || p === undefined) return { headers: answer.headers, bytes: undefined };
  const [type, text] = 'json' in p ? ['application/json; charset=utf-8', JSON.stringify(p.json)] : ['text/plain; charset=utf-8', p.text];
  const bytes = Buffer.from(text, 'utf8');
  return { headers: { ...answer.headers, 'content-type': type, 'content-length': String(bytes.length) }, bytes };
}

export function send(res: ServerResponse, answer: Answer): void {
  const { headers, bytes } = encode(answer);
  res.writeHead(answer.status, headers).end(bytes);
}

/**
 * The client's side of one request: whether it went away before the answer was complete,
 * and real-time waits that end early when it does (latency and trickle faults).
 */
export function watchClient(res: ServerResponse) {
  let gone = false;
  const wakers = new Set<() => void>();
  res.once('close', () => {
    if (!res.writableFinished) gone = true;
    for (const wake of wakers) wake();
  });
  return {
    get gone() {
      return gone;
    },
    wait(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        wakers.add(wake);
      });
    },
  };
}

export type Client = ReturnType<typeof watchClient>;

/** Headers first, then the body in pieces spread over `trickleMs`; stops when the client leaves. */
export async function trickle(res: ServerResponse, answer: Answer, trickleMs: number, client: Client): Promise<void> {
  const { headers, bytes } = encode(answer);
  res.writeHead(answer.status, headers);
  res.flushHeaders();
  if (bytes === undefined || bytes.length === 0) {
    res.end();
    return;
  }
  const pieces = Math.max(1, Math.min(bytes.length, Math.floor(trickleMs / TRICKLE_STEP_MS)));
  const size = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += size) {
    await client.wait(trickleMs / pieces);
    if (client.gone) return;
    res.write(bytes.subarray(at, at + size));
  }
  res.end();
}
