// CLI: run the DigitalOcean API emulator by itself.
//   node test/do-emulator/main.ts --port 8080 [--host 127.0.0.1] [--state seed.json]
//        [--action-delay-ms 300] [--token T]
// Prints one JSON log line with the URL once listening; SIGTERM/SIGINT close it cleanly.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../shared/logger.ts';
import { startEmulator } from './server.ts';
import type { EmulatorSeed } from './world.ts';

function nonNegativeInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got "${text}"`);
  return n;
}

const USAGE = `Usage: node dist/test/do-emulator/main.js [flags]

A stateful emulator of DigitalOcean's reserved-IP, action, droplet, firewall and account API
(under /v2), the droplet metadata service (under /_metadata/<dropletId>/metadata/v1/) and an
admin API under /_emulator (see README "Emulator"). Loopback by default.

Flags:
  --port P               port to listen on (default 0: any free port; the URL is logged)
  --host ADDR            address to bind (default 127.0.0.1)
  --state seed.json      initial world (default: 3 DOKS-like droplets in nyc3, 3 reserved
                         IPv4 and 2 reserved IPv6 addresses, one DOKS-style firewall)
  --action-delay-ms N    how long an action stays in-progress (default 300)
  --token T              accept only this bearer token (default: any non-empty token)
  --help                 print this text
`;

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const logger = createLogger({ name: 'do-emulator' });
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      state: { type: 'string' },
      'action-delay-ms': { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  const seed = values.state === undefined ? undefined : (JSON.parse(readFileSync(values.state, 'utf8')) as EmulatorSeed);
  const emulator = await startEmulator({
    host: values.host,
    port: nonNegativeInt(values.port, '--port'),
    actionDelayMs: nonNegativeInt(values['action-delay-ms'], '--action-delay-ms'),
    token: values.token,
    state: seed,
  });
  logger.info(
    { url: emulator.url, seed: values.state ?? 'default world', tokenRequired: values.token !== undefined },
    'DigitalOcean API emulator listening',
  );
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'emulator failed to start', err: String(err) }));
  process.exit(1);
});
