// Value parsers shared by both processes' configuration (webhook/config.ts,
// reconciler/config.ts): one spelling of each rule and of each error sentence.
// They throw ConfigError; each config module turns it into its `{ kind: 'error' }` result.
import type { LevelWithSilent } from 'pino';
import { DEFAULT_KEY } from './keys.ts';

export class ConfigError extends Error {}

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** RFC 1123 label: namespaces, Service names */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: most object names, the prefix of a label key */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations: "500ms", "1.5s", "10m", "1h". A bare number is refused: seconds or ms? */
export function parseDuration(flag: string, text: string, allowZero = false): number {
  const match = DURATION.exec(text.trim());
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !allowZero)) {
    throw new ConfigError(`--${flag} must be a ${allowZero ? '' : 'positive '}duration like 500ms, 10s or 5m (got "${text}")`);
  }
  return Math.round(ms);
}

export function parsePort(flag: string, text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new ConfigError(`--${flag} must be a port number from 0 to 65535 (got "${text}")`);
  return port;
}

/** A qualified Kubernetes label key, because the key is used as both annotation and label. */
export function parseKey(text: string): string {
  const slash = text.lastIndexOf('/');
  const prefix = slash === -1 ? '' : text.slice(0, slash);
  const name = slash === -1 ? text : text.slice(slash + 1);
  const prefixOk = slash === -1 || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!prefixOk || name.length > 63 || !LABEL_NAME.test(name)) {
    throw new ConfigError(`--key "${text}" is not a valid label key (e.g. ${DEFAULT_KEY})`);
  }
  return text;
}

export function parseLogLevel(text: string): LevelWithSilent {
  const level = LOG_LEVELS.find((l) => l === text);
  if (level === undefined) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${text}")`);
  return level;
}

/** What parsing a process's flags and environment gives: its config, the --help text, or one error line. */
export type ParsedConfig<T> =
  | { readonly kind: 'ok'; readonly config: T }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };
