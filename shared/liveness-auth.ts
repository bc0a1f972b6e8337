// The indirect-probe wire format, signed both ways with HMAC-SHA256 and a shared key (the
// Secret the reconciler keeps). Agents run with hostNetwork, so a NetworkPolicy cannot tell
// the reconciler's packets from any other process on a node: the key is what says "the
// reconciler asked". A request carries its time and a nonce (replays are refused outside a
// short window and within it by nonce); the answer is signed over the request's nonce, so a
// forged "unreached" cannot make a healthy holder look dead.
// Builtins come from process.getBuiltinModule, not `import`: see eslint.config.js (footprint).
const { createHmac, randomBytes, timingSafeEqual } = process.getBuiltinModule('node:crypto');

export const PROBE_PATH = '/v1/probe';
export const SIGNATURE_HEADER = 'x-floatip-signature';
/** how far a request's time may be from the agent's clock */
export const MAX_SKEW_MS = 10_000;
/** the key is at least this long (bytes) */
export const MIN_KEY_BYTES = 16;

export interface ProbeRequest {
  /** the address to probe (a node's InternalIP) */
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** the sender's clock, ms since the epoch */
  readonly sentMs: number;
  readonly nonce: string;
}

export interface ProbeAnswer {
  readonly nonce: string;
  readonly reached: boolean;
  readonly rttMs?: number | undefined;
  readonly error?: string | undefined;
}

export const newNonce = (): string => randomBytes(12).toString('base64url');

export function sign(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}

export function verify(key: Buffer, body: string, signature: string | undefined): boolean {
  if (signature === undefined) return false;
  const want = Buffer.from(sign(key, body));
  const got = Buffer.from(signature);
  return got.length === want.length && timingSafeEqual(got, want);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Parse a request body; undefined when malformed (the caller answers 400). */
export function parseProbeRequest(body: string): ProbeRequest | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const { host, port, timeoutMs, sentMs, nonce } = v;
  if (typeof host !== 'string' || host.length > 64 || typeof nonce !== 'string' || nonce.length > 64) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= 5_000)) return undefined;
  if (typeof sentMs !== 'number' || !Number.isFinite(sentMs)) return undefined;
  return { host, port, timeoutMs, sentMs, nonce };
}

export function parseProbeAnswer(body: string): ProbeAnswer | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v['nonce'] !== 'string' || typeof v['reached'] !== 'boolean') return undefined;
  const rtt = v['rttMs'];
  const error = v['error'];
  return { nonce: v['nonce'], reached: v['reached'], rttMs: typeof rtt === 'number' ? rtt : undefined, error: typeof error === 'string' ? error : undefined };
}

/** Decode the key as stored in the Secret (base64 text of random bytes); undefined when too short. */
export function decodeKey(text: string): Buffer | undefined {
  const key = Buffer.from(text.trim(), 'base64');
  return key.length >= MIN_KEY_BYTES ? key : undefined;
}
