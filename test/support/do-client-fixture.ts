// Shared set-up of the client-against-emulator tests: one emulator per test file on a manual
// clock, a fresh world before each test, and a client whose injected sleep records each wait
// and advances that clock (so action completion and rate windows follow the waits exactly).
// Only the request timeout is real time.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, beforeEach } from 'node:test';
import { createFakeClock } from './fake-clock.ts';
import { startEmulator } from '../do-emulator/server.ts';
import type { RunningEmulator } from '../do-emulator/server.ts';
import { adminClient } from '../do-emulator/testing.ts';
import { createLogger } from '../../shared/logger.ts';
import { createDoClient } from '../../shared/digitalocean/client.ts';
import type { DoClientOptions, ResponseRecord } from '../../shared/digitalocean/client.ts';
import { DoApiError } from '../../shared/digitalocean/port.ts';

export const TOKEN = 'dop_v1_0123456789abcdef-never-print-me';
export const V4 = '104.248.100.100';
export const V4B = '104.248.100.101';
export const V6 = '2604:a880:800:14::1000';

export interface Logged {
  method: string;
  path: string;
  query: string;
  status: number;
  body: unknown;
  userAgent: string | null;
  aborted?: true;
}

/** Registers the hooks; call once at the top of a test file. */
export function emulatorFixture() {
  const clock = createFakeClock();
  let emu: RunningEmulator | undefined;
  const running = () => emu ?? assert.fail('emulator not started');
  const admin = (method: string, path: string, body?: unknown) => adminClient(running().url)(method, path, body);

  before(async () => {
    emu = await startEmulator({ clock, token: TOKEN, actionDelayMs: 2000 });
  });
  after(() => emu?.close());
  beforeEach(() => admin('POST', '/reset'));

  const requests = async () => (await admin('GET', '/requests')).body as Logged[];

  return {
    clock,
    admin,
    requests,
    /** the request log as "METHOD path status" (status 0: no answer) */
    calls: async () => (await requests()).map((r) => `${r.method} ${r.path} ${r.status}`),
    fault: (spec: Record<string, unknown>) => admin('POST', '/faults', spec),
    setup(extra: Partial<DoClientOptions> = {}) {
      const waits: number[] = [];
      const logLines: string[] = [];
      const responses: ResponseRecord[] = [];
      const client = createDoClient({
        token: TOKEN,
        baseUrl: running().url,
        timeoutMs: 400,
        now: clock.now,
        sleep: async (ms) => {
          waits.push(ms);
          clock.tick(ms);
        },
        random: () => 0.5,
        retry: { maxAttempts: 4, baseMs: 100, capMs: 1000 },
        actionWait: { initialMs: 500, maxMs: 2000, totalMs: 10_000 },
        logger: createLogger({ level: 'debug', name: 'test' }, { write: (line: string) => logLines.push(line) }),
        onResponse: (r) => responses.push(r),
        ...extra,
      });
      return { client, waits, logLines, responses };
    },
  };
}

export async function rejection(p: Promise<unknown>): Promise<DoApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DoApiError, `expected DoApiError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}
