// The one pino root for both processes. JSON lines on stdout; child loggers carry the
// object (kind, namespace, name, uid) or the IP and droplet they work on.
import { pino } from 'pino';
import type { Logger, LevelWithSilent, DestinationStream } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line: tokens, auth headers, TLS keys. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'config.headers.Authorization',
  'err.config.headers.Authorization',
  'tlsKey',
  '*.tlsKey',
];

export function createLogger(
  opts: { level?: LevelWithSilent; name?: string } = {},
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      name: opts.name ?? 'floatip',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // `msg` first and ISO time: readable in `kubectl logs`, parseable by log shippers.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
